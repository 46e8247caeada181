import { expect } from 'chai';
import { Errno, KernelError } from '../../../core/errno';
import { Kernel } from '../../../core/kernel';
import { ModuleDecl } from '../../../core/module/module';
import { World } from '../../../core/world';
import { testdevPlugin } from '../../../drivers/testdev';
import {
  ENOTCONN,
  NtbClient,
  NtbCtxOps,
  NtbDev,
  NtbDevOps,
  NtbTopo,
  moduleNtbClient,
  ntbBoundClient,
  ntbClearCtx,
  ntbCorePlugin,
  ntbDbClearMask,
  ntbDbIsUnsafe,
  ntbDbEvent,
  ntbDbRead,
  ntbDbReadMask,
  ntbDbSet,
  ntbDbSetMask,
  ntbDbVectorCount,
  ntbDbVectorMask,
  ntbLinkEvent,
  ntbLinkIsUp,
  ntbMsgCount,
  ntbMsgEvent,
  ntbMsgInbits,
  ntbMsgRead,
  ntbMsgReadSts,
  ntbMsgSetMask,
  ntbMwClearTrans,
  ntbMwGetAlign,
  ntbPeerDbAddr,
  ntbPeerDbRead,
  ntbPeerMsgWrite,
  ntbPeerMwSetTrans,
  ntbPeerPortCount,
  ntbPeerPortIdx,
  ntbPeerPortNumber,
  ntbPeerSpadAddr,
  ntbPeerSpadRead,
  ntbPeerSpadWrite,
  ntbPortNumber,
  ntbRegisterClient,
  ntbSetCtx,
  ntbSpadCount,
  ntbSpadIsUnsafe,
  ntbSpadRead,
  ntbSpadWrite,
  ntbUnregisterClient,
  registerNtbDev,
  unregisterNtbDev,
} from '../../../drivers/ntb';
import { FakeHwOptions, FakeNtbHw, eduDevices, fakeHwPlugin, fakeNtbHwModule } from './fake-ntb-hw';
import { expectErrno } from '../../helpers/world';

/** A client that records what the core does to it and installs a recording context on probe. */
class RecordingClient implements NtbClient {
  readonly probed: NtbDev[] = [];
  readonly removed: NtbDev[] = [];
  readonly events: string[] = [];
  name?: string;
  readonly ctxOps: NtbCtxOps<RecordingClient> = {
    linkEvent: (c) => void c.events.push('link'),
    dbEvent: (c, v) => void c.events.push(`db ${v}`),
    msgEvent: (c) => void c.events.push('msg'),
  };

  constructor(readonly opts: { decline?: boolean; noCtx?: boolean } = {}) {}

  probe(ntb: NtbDev): void {
    if (this.opts.decline) throw new KernelError(Errno.ENODEV, 'not for me');
    if (!this.opts.noCtx) ntbSetCtx(ntb, this, this.ctxOps);
    this.probed.push(ntb);
  }

  remove(ntb: NtbDev): void {
    ntbClearCtx(ntb);
    this.removed.push(ntb);
  }
}

interface Setup {
  world: World;
  k: Kernel;
  hws: FakeNtbHw[];
  run<T>(fn: (k: Kernel) => Promise<T> | T): Promise<T>;
}

async function boot(opts: { edus?: number; hw?: FakeHwOptions; clients?: Record<string, NtbClient>; hosts?: number } = {}): Promise<Setup> {
  const hws: FakeNtbHw[] = [];
  const modules: Array<ModuleDecl<Kernel, any, any>> = [fakeNtbHwModule(opts.hw, hws)];
  for (const [name, client] of Object.entries(opts.clients ?? {})) modules.push(moduleNtbClient(name, client));
  const world = await World.create(
    {
      hosts: Array.from({ length: opts.hosts ?? 1 }, (_, i) => ({ name: `host${i}` })),
      hardware: Array.from({ length: opts.edus ?? 1 }, () => ({ type: 'edu' })),
    },
    [testdevPlugin, ntbCorePlugin, fakeHwPlugin(modules)],
  );
  const host = world.host('host0');
  return { world, k: host.kernel, hws, run: (fn) => host.run('test', fn) };
}


describe('drivers/ntb core: bus, devices and clients', () => {
  it('lists a registered NTB device under /sys/bus/ntb/devices by its PCI name, child of the PCI device', async () => {
    const s = await boot();
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    const ntb = s.hws[0].ntb!;
    const pdev = eduDevices(s.k)[0];
    expect(ntb.name).to.equal(pdev.name);
    expect(ntb.parent).to.equal(pdev);
    expect(ntb.pdev).to.equal(pdev);
    expect(s.world.host('host0').exists(`/sys/bus/ntb/devices/${pdev.name}`)).to.equal(true);
    expect(s.world.host('host0').exists(`${pdev.sysfsPath}/${pdev.name}`)).to.equal(true);
  });

  it('probes a client registered after the device with that device', async () => {
    const client = new RecordingClient();
    const s = await boot({ clients: { ntb_rec: client } });
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    expect(client.probed).to.have.length(0);
    await s.run((k) => k.modprobe('ntb_rec'));
    expect(client.probed).to.deep.equal([s.hws[0].ntb]);
    expect(ntbBoundClient(s.hws[0].ntb!)).to.equal(client);
    expect(s.world.host('host0').exists(`/sys/bus/ntb/drivers/ntb_rec/${s.hws[0].ntb!.name}`)).to.equal(true);
  });

  it('offers a device registered later to an already registered client', async () => {
    const client = new RecordingClient();
    const s = await boot({ edus: 2, clients: { ntb_rec: client } });
    await s.run((k) => k.modprobe('ntb_rec'));
    await s.run((k) => k.modprobe('ntb_fake_hw', ['ndev=1']));
    expect(client.probed).to.have.length(1);
    // A second device registered directly by a driver, while the client is live.
    const late = new NtbDev(eduDevices(s.k)[1], new FakeNtbHw().ops(), NtbTopo.B2B_DSD);
    await s.run((k) => registerNtbDev(k, late));
    expect(client.probed).to.deep.equal([s.hws[0].ntb, late]);
    await s.run((k) => unregisterNtbDev(k, late));
    expect(client.removed).to.deep.equal([late]);
  });

  it('binds each device to only the first client whose probe succeeds', async () => {
    const first = new RecordingClient();
    const second = new RecordingClient();
    const s = await boot({ clients: { ntb_first: first, ntb_second: second } });
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    await s.run((k) => k.modprobe('ntb_first'));
    await s.run((k) => k.modprobe('ntb_second'));
    expect(first.probed).to.have.length(1);
    expect(second.probed).to.have.length(0);
    // Once the first client goes away, the device stays unbound until a client is offered it again.
    await s.run((k) => k.rmmod('ntb_first'));
    expect(first.removed).to.have.length(1);
    expect(s.hws[0].ntb!.driver).to.equal(undefined);
  });

  it('passes a device declined by one client (probe error) on to the next client', async () => {
    const picky = new RecordingClient({ decline: true });
    const taker = new RecordingClient();
    const s = await boot({ clients: { ntb_picky: picky, ntb_taker: taker } });
    await s.run((k) => k.modprobe('ntb_picky'));
    await s.run((k) => k.modprobe('ntb_taker'));
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    expect(picky.probed).to.have.length(0);
    expect(taker.probed).to.deep.equal([s.hws[0].ntb]);
  });

  it('calls remove for every bound device when the client is unregistered', async () => {
    const client = new RecordingClient();
    const s = await boot({ edus: 2 });
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    client.name = 'ntb_direct';
    await s.run((k) => ntbRegisterClient(k, client));
    expect(client.probed).to.have.length(2);
    expect(s.k.driverCore.drivers(s.hws[0].ntb!.bus!).map((d) => d.name)).to.deep.equal(['ntb_direct']);
    await s.run((k) => ntbUnregisterClient(k, client));
    expect(client.removed).to.have.length(2);
    expect(client.removed).to.have.members(client.probed);
    for (const hw of s.hws) {
      expect(hw.ntb!.driver).to.equal(undefined);
      expect(hw.ntb!.ctxOps).to.equal(null);
    }
  });

  it('rejects a client without probe or remove with EINVAL', async () => {
    const s = await boot();
    await s.run((k) => k.modprobe('ntb'));
    await expectErrno(s.run((k) => ntbRegisterClient(k, { name: 'x', probe: () => undefined } as unknown as NtbClient)), Errno.EINVAL);
  });

  it('refuses to unload the ntb module while a module depending on it is loaded (EBUSY)', async () => {
    const client = new RecordingClient();
    const s = await boot({ clients: { ntb_rec: client } });
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    await expectErrno(s.run((k) => k.rmmod('ntb')), Errno.EBUSY);
    await s.run((k) => k.modprobe('ntb_rec'));
    await expectErrno(s.run((k) => k.rmmod('ntb')), Errno.EBUSY);
    await s.run((k) => k.rmmod('ntb_rec'));
    await s.run((k) => k.rmmod('ntb_fake_hw'));
    await s.run((k) => k.rmmod('ntb'));
    expect(s.world.host('host0').exists('/sys/bus/ntb')).to.equal(false);
    expect(s.k.bugs).to.deep.equal([]);
  });

  it('keeps a separate ntb bus per host: loading ntb on one host does not register it on another', async () => {
    const s = await boot({ hosts: 2 });
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    const other = s.world.host('host1');
    expect(s.world.host('host0').exists('/sys/bus/ntb/devices')).to.equal(true);
    expect(other.exists('/sys/bus/ntb')).to.equal(false);
    const dev = new NtbDev(eduDevices(other.kernel)[0], new FakeNtbHw().ops(), NtbTopo.B2B_USD);
    await expectErrno(other.run('reg', (k) => registerNtbDev(k, dev)), Errno.ENODEV);
    await other.run('modprobe', (k) => k.modprobe('ntb_fake_hw'));
    expect(other.exists(`/sys/bus/ntb/devices/${dev.name}`)).to.equal(true);
    expect(s.hws).to.have.length(2);
    expect(s.hws[0].ntb!.bus).to.not.equal(s.hws[1].ntb!.bus);
  });
});

describe('drivers/ntb core: device registration checks', () => {
  const drop = (ops: NtbDevOps, ...names: Array<keyof NtbDevOps>): NtbDevOps => {
    const copy = { ...ops } as Record<string, unknown>;
    for (const n of names) delete copy[n];
    return copy as unknown as NtbDevOps;
  };
  const cases: Array<[string, (hw: FakeNtbHw) => NtbDevOps]> = [
    ['link_is_up missing', (hw) => drop(hw.ops(), 'linkIsUp')],
    ['link_disable missing', (hw) => drop(hw.ops(), 'linkDisable')],
    ['mw_get_align missing', (hw) => drop(hw.ops(), 'mwGetAlign')],
    ['peer_mw_get_addr missing', (hw) => drop(hw.ops(), 'peerMwGetAddr')],
    ['both mw_set_trans and peer_mw_set_trans missing', (hw) => drop(hw.ops(), 'mwSetTrans', 'peerMwSetTrans')],
    ['peer_db_set missing', (hw) => drop(hw.ops(), 'peerDbSet')],
    ['db_clear_mask missing', (hw) => drop(hw.ops(), 'dbClearMask')],
    ['only part of the port group', (hw) => ({ ...hw.ops(), portNumber: () => 3 })],
    ['db_vector_count without db_vector_mask', (hw) => ({ ...hw.ops(), dbVectorCount: () => 2 })],
    ['spad_count without peer_spad_write', (hw) => drop(new FakeNtbHw({ spads: 4 }).ops(), 'peerSpadWrite')],
    ['msg group without msg_read', (hw) => drop(new FakeNtbHw({ msgs: 4 }).ops(), 'msgRead')],
  ];
  for (const [what, makeOps] of cases) {
    it(`refuses a device whose ops have ${what} with EINVAL and creates no sysfs entry`, async () => {
      const s = await boot();
      await s.run((k) => k.modprobe('ntb'));
      const ntb = new NtbDev(eduDevices(s.k)[0], makeOps(new FakeNtbHw()), NtbTopo.B2B_USD);
      await expectErrno(s.run((k) => registerNtbDev(k, ntb)), Errno.EINVAL);
      expect(s.world.host('host0').exists(`/sys/bus/ntb/devices/${ntb.name}`)).to.equal(false);
    });
  }

  it('accepts an ops table with only peer_mw_set_trans (no mw_set_trans)', async () => {
    const s = await boot();
    await s.run((k) => k.modprobe('ntb'));
    const ops = { ...new FakeNtbHw().ops(), peerMwSetTrans: () => undefined } as NtbDevOps;
    delete (ops as Partial<NtbDevOps>).mwSetTrans;
    const ntb = new NtbDev(eduDevices(s.k)[0], ops, NtbTopo.B2B_USD);
    await s.run((k) => registerNtbDev(k, ntb));
    expect(ntb.registered).to.equal(true);
  });

  it('refuses a device without a PCI device with EINVAL', async () => {
    const s = await boot();
    await s.run((k) => k.modprobe('ntb'));
    const ntb = new NtbDev(undefined as never, new FakeNtbHw().ops(), NtbTopo.B2B_USD);
    await expectErrno(s.run((k) => registerNtbDev(k, ntb)), Errno.EINVAL);
  });
});

describe('drivers/ntb core: context and events', () => {
  async function bound(hw: FakeHwOptions = {}) {
    const client = new RecordingClient();
    const s = await boot({ hw, clients: { ntb_rec: client } });
    await s.run((k) => k.modprobe('ntb_rec'));
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    return { s, client, hw: s.hws[0], ntb: s.hws[0].ntb! };
  }

  it('fails a second ntbSetCtx on the same device with EINVAL and keeps the first context', async () => {
    const { client, ntb } = await bound();
    await expectErrno(() => ntbSetCtx(ntb, 'other', {}), Errno.EINVAL);
    expect(ntb.ctx).to.equal(client);
    ntbClearCtx(ntb);
    ntbSetCtx(ntb, 'other', {});
    expect(ntb.ctx).to.equal('other');
  });

  it('delivers link, doorbell and message events to the context callbacks', async () => {
    const { client, hw, ntb } = await bound({ msgs: 2, vectors: 4 });
    hw.setLink(true);
    hw.peerRings(0b10n, 1);
    hw.msgArrives(0, 1, 0xabcd);
    expect(client.events).to.deep.equal(['link', 'db 1', 'msg']);
    expect(ntbLinkIsUp(ntb)).to.equal(1n);
    expect(ntbDbRead(ntb)).to.equal(0b10n);
    const src: { pidx?: number } = {};
    expect(ntbMsgRead(ntb, 1, src)).to.equal(0xabcd);
    expect(src.pidx).to.equal(0);
    expect(ntbMsgReadSts(ntb)).to.equal(0b10n);
  });

  it('latches a masked doorbell without an event and raises it when the bit is unmasked', async () => {
    const { client, hw, ntb } = await bound();
    ntbDbSetMask(ntb, 0b1n);
    hw.peerRings(0b1n);
    expect(client.events).to.deep.equal([]);
    expect(ntbDbRead(ntb)).to.equal(1n);
    ntbDbClearMask(ntb, 0b1n);
    expect(client.events).to.deep.equal(['db 0']);
  });

  it('drops events while no context is set and after ntbClearCtx', async () => {
    const client = new RecordingClient({ noCtx: true });
    const s = await boot({ clients: { ntb_rec: client } });
    await s.run((k) => k.modprobe('ntb_rec'));
    await s.run((k) => k.modprobe('ntb_fake_hw'));
    const ntb = s.hws[0].ntb!;
    ntbLinkEvent(ntb);
    ntbDbEvent(ntb, 0);
    ntbMsgEvent(ntb);
    ntbSetCtx(ntb, client, { linkEvent: (c: RecordingClient) => c.events.push('link') });
    ntbDbEvent(ntb, 0); // no db callback in this table
    ntbLinkEvent(ntb);
    ntbClearCtx(ntb);
    ntbLinkEvent(ntb);
    expect(client.events).to.deep.equal(['link']);
  });

  it('delivers an event raised inside a callback after that callback returns, never nested', async () => {
    const { client, hw, ntb } = await bound();
    const order: string[] = [];
    let depth = 0;
    ntbClearCtx(ntb);
    ntbSetCtx(ntb, client, {
      linkEvent: () => {
        depth++;
        order.push(`link depth ${depth}`);
        if (order.length === 1) ntbDbEvent(ntb, 0);
        depth--;
      },
      dbEvent: () => {
        depth++;
        order.push(`db depth ${depth}`);
        depth--;
      },
    });
    hw.setLink(true);
    expect(order).to.deep.equal(['link depth 1', 'db depth 1']);
  });
});

describe('drivers/ntb core: wrappers of optional ops', () => {
  async function device(hw: FakeHwOptions = {}, topo = NtbTopo.B2B_USD) {
    const s = await boot({ hw });
    await s.run((k) => k.modprobe('ntb_fake_hw', [`topo=${topo}`]));
    return { s, hw: s.hws[0], ntb: s.hws[0].ntb! };
  }

  it('gives a device without spad, message or vector ops Linux defaults (0 counts, all-ones reads, EINVAL writes)', async () => {
    const { ntb } = await device();
    expect(ntbSpadCount(ntb)).to.equal(0);
    expect(ntbSpadRead(ntb, 0)).to.equal(0xffffffff);
    expect(ntbPeerSpadRead(ntb, 0, 0)).to.equal(0xffffffff);
    await expectErrno(() => ntbSpadWrite(ntb, 0, 1), Errno.EINVAL);
    await expectErrno(() => ntbPeerSpadWrite(ntb, 0, 0, 1), Errno.EINVAL);
    await expectErrno(() => ntbPeerSpadAddr(ntb, 0, 0), Errno.EINVAL);
    expect(ntbSpadIsUnsafe(ntb)).to.equal(false);
    expect(ntbMsgCount(ntb)).to.equal(0);
    expect(ntbMsgInbits(ntb)).to.equal(0n);
    expect(ntbMsgReadSts(ntb)).to.equal(0n);
    const src = { pidx: 7 };
    expect(ntbMsgRead(ntb, 0, src)).to.equal(0xffffffff);
    expect(src.pidx).to.equal(7);
    await expectErrno(() => ntbPeerMsgWrite(ntb, 0, 0, 1), Errno.EINVAL);
    await expectErrno(() => ntbMsgSetMask(ntb, 1n), Errno.EINVAL);
    expect(ntbDbVectorCount(ntb)).to.equal(1);
    expect(ntbDbVectorMask(ntb, 0)).to.equal(0xffffn);
    expect(ntbDbReadMask(ntb)).to.equal(0n);
    expect(ntbPeerDbRead(ntb)).to.equal(0n);
    expect(ntbDbIsUnsafe(ntb)).to.equal(false);
    await expectErrno(() => ntbDbSet(ntb, 1n), Errno.EINVAL);
    await expectErrno(() => ntbPeerDbAddr(ntb, 0), Errno.EINVAL);
  });

  it('clears an inbound translation through mw_set_trans(0, 0) when mw_clear_trans is missing, and ignores a missing peer_mw_set_trans', async () => {
    const { hw, ntb } = await device();
    await ntbMwClearTrans(ntb, 0, 1);
    expect(hw.inTrans.get('0/1')).to.deep.equal({ addr: 0, size: 0 });
    await ntbPeerMwSetTrans(ntb, 0, 0, 0x1000, 0x1000);
  });

  it('uses the hardware spad and message ops when present', async () => {
    const { hw, ntb } = await device({ spads: 4, msgs: 2 });
    expect(ntbSpadCount(ntb)).to.equal(4);
    ntbSpadWrite(ntb, 2, 0x1234);
    expect(ntbSpadRead(ntb, 2)).to.equal(0x1234);
    ntbPeerSpadWrite(ntb, 0, 3, -1);
    expect(hw.peerSpad[3]).to.equal(0xffffffff);
    ntbPeerMsgWrite(ntb, 0, 1, 42);
    expect(hw.sentMsgs).to.deep.equal([{ pidx: 0, midx: 1, msg: 42 }]);
  });

  it('fails ntbMwGetAlign with ENOTCONN while the link to that peer is down, and answers once it is up', async () => {
    const { hw, ntb } = await device();
    await expectErrno(() => ntbMwGetAlign(ntb, 0, 0), ENOTCONN);
    hw.setLink(true);
    expect(ntbMwGetAlign(ntb, 0, 0)).to.deep.equal({ addrAlign: 4096, sizeAlign: 4096, sizeMax: 1 << 20 });
    // the bit of another peer index is still clear
    await expectErrno(() => ntbMwGetAlign(ntb, 1, 0), ENOTCONN);
  });

  const defaults: Array<[string, NtbTopo, number, number]> = [
    ['primary', NtbTopo.PRI, 0, 1],
    ['secondary', NtbTopo.SEC, 1, 0],
    ['B2B upstream', NtbTopo.B2B_USD, 0, 1],
    ['B2B downstream', NtbTopo.B2B_DSD, 1, 0],
    ['switch (legacy, both ports 0)', NtbTopo.SWITCH, 0, 0],
    ['crosslink', NtbTopo.CROSSLINK, 0, 0],
    ['no topology', NtbTopo.NONE, 0, 0],
  ];
  for (const [what, topo, port, peer] of defaults) {
    it(`numbers the ports of a ${what} device without port ops: local ${port}, peer ${peer}`, async () => {
      const { ntb } = await device({}, topo);
      expect(ntbPortNumber(ntb)).to.equal(port);
      expect(ntbPeerPortCount(ntb)).to.equal(1);
      expect(ntbPeerPortNumber(ntb, 0)).to.equal(peer);
      expect(ntbPeerPortIdx(ntb, peer)).to.equal(0);
      await expectErrno(() => ntbPeerPortNumber(ntb, 1), Errno.EINVAL);
      await expectErrno(() => ntbPeerPortIdx(ntb, peer + 5), Errno.EINVAL);
    });
  }

  it('uses the hardware port ops when the driver provides them', async () => {
    const { ntb } = await device({ ports: { port: 5, peers: [1, 9] } }, NtbTopo.SWITCH);
    expect(ntbPortNumber(ntb)).to.equal(5);
    expect(ntbPeerPortCount(ntb)).to.equal(2);
    expect(ntbPeerPortNumber(ntb, 1)).to.equal(9);
    expect(ntbPeerPortIdx(ntb, 1)).to.equal(0);
  });
});
