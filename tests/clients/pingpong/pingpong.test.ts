import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { Kernel } from '../../../core/kernel';
import { ModuleDecl } from '../../../core/module/module';
import { msecs, secs } from '../../../core/time/units';
import { World } from '../../../core/world';
import { NtbDev, NtbDevOps, NtbTopo, ntbCorePlugin, registerNtbDev } from '../../../drivers/ntb';
import { testdevPlugin } from '../../../drivers/testdev';
import { ntbPingpongModule } from '../../../clients/pingpong';
import { eduDevices, FakeHwOptions, FakeNtbHw, fakeHwPlugin, fakeNtbHwModule } from '../../drivers/ntb/fake-ntb-hw';
import { expectErrno } from '../../helpers/world';
import { FakeNtbPair } from '../perf/fake-pair';

interface Setup {
  world: World;
  host: Host;
  k: Kernel;
  hws: FakeNtbHw[];
  /** debugfs path of the count file of the (first) fake device. */
  count: string;
}

async function boot(hw: FakeHwOptions = { spads: 1, msgs: 1 }, edus = 1): Promise<Setup> {
  const hws: FakeNtbHw[] = [];
  const modules: Array<ModuleDecl<Kernel, any, any>> = [fakeNtbHwModule(hw, hws), ntbPingpongModule];
  const world = await World.create({ hosts: [{ name: 'host0' }], hardware: Array.from({ length: edus }, () => ({ type: 'edu' })) }, [
    testdevPlugin,
    ntbCorePlugin,
    fakeHwPlugin(modules),
  ]);
  const host = world.host('host0');
  const k = host.kernel;
  return { world, host, k, hws, count: `/sys/kernel/debug/ntb_pingpong/${eduDevices(k)[0].name}/count` };
}

async function load(s: Setup, args: string[] = []): Promise<FakeNtbHw> {
  // Only the first edu function becomes a fake NTB device; tests add others by hand.
  await s.host.modprobe('ntb_fake_hw', ['ndev=1']);
  await s.host.modprobe('ntb_pingpong', args);
  return s.hws[0];
}

/** Register one extra NTB device with hand-made ops on the host's second edu function. */
async function addDevice(s: Setup, ops: NtbDevOps, topo = NtbTopo.B2B_USD): Promise<NtbDev> {
  const ntb = new NtbDev(eduDevices(s.k)[1], ops, topo);
  await s.host.run('register', (k) => registerNtbDev(k, ntb));
  return ntb;
}

describe('clients/pingpong: ntb_pingpong module, debugfs and probe checks', () => {
  it('shows unsafe and delay_ms (0644) in /sys/module/ntb_pingpong/parameters with their defaults', async () => {
    const s = await boot();
    await load(s);
    const dir = '/sys/module/ntb_pingpong/parameters';
    expect(s.host.ls(dir)).to.deep.equal(['delay_ms', 'unsafe']);
    expect(await s.host.read(`${dir}/unsafe`)).to.equal('0\n');
    expect(await s.host.read(`${dir}/delay_ms`)).to.equal('1000\n');
    expect(s.k.fs.stat(`${dir}/unsafe`).mode).to.equal(0o644);
    expect(s.k.fs.stat(`${dir}/delay_ms`).mode).to.equal(0o644);
  });

  it('refuses a non-numeric delay_ms at load with EINVAL', async () => {
    const s = await boot();
    await s.host.modprobe('ntb_fake_hw');
    await expectErrno(s.host.modprobe('ntb_pingpong', ['delay_ms=soon']), Errno.EINVAL);
    expect(s.host.exists('/sys/kernel/debug/ntb_pingpong')).to.equal(false);
  });

  it('binds the device and creates only ntb_pingpong/<pci name>/count (0600), reading 0', async () => {
    const s = await boot();
    const hw = await load(s);
    const dev = eduDevices(s.k)[0].name;
    expect(s.host.ls('/sys/kernel/debug/ntb_pingpong')).to.deep.equal([dev]);
    expect(s.host.ls(`/sys/kernel/debug/ntb_pingpong/${dev}`)).to.deep.equal(['count']);
    expect(s.k.fs.stat(s.count).mode).to.equal(0o600);
    expect(await s.host.read(s.count)).to.equal('0\n');
    expect(s.host.exists(`/sys/bus/ntb/drivers/ntb_pingpong/${dev}`)).to.equal(true);
    // Probe enabled the link and masked every doorbell and message event.
    expect(hw.linkEnabled).to.equal(true);
    expect(hw.dbMask).to.equal(hw.dbValid);
    expect(hw.msgMask).to.equal(0x1n);
  });

  it('count: kstrtoll base 0 writes (decimal, hex, octal, negative, one newline); truncated to the 32-bit atomic_t', async () => {
    const s = await boot();
    await load(s);
    const cases: Array<[string, string]> = [
      ['5\n', '5\n'],
      ['0x10', '16\n'],
      ['010\n', '8\n'],
      ['-3\n', '-3\n'],
      ['+7', '7\n'],
      ['4294967297\n', '1\n'],
      ['2147483648\n', '-2147483648\n'],
      ['-9223372036854775808', '0\n'],
    ];
    for (const [input, shown] of cases) {
      expect(await s.host.write(s.count, input), input).to.equal(input.length);
      expect(await s.host.read(s.count), input).to.equal(shown);
    }
  });

  it('count: only the first 23 bytes are parsed', async () => {
    const s = await boot();
    await load(s);
    const input = '0'.repeat(22) + '7' + 'garbage\n';
    expect(await s.host.write(s.count, input)).to.equal(input.length);
    expect(await s.host.read(s.count)).to.equal('7\n');
  });

  it('count: bad input fails with EINVAL or ERANGE and leaves the counter alone', async () => {
    const s = await boot();
    await load(s);
    await s.host.write(s.count, '42\n');
    for (const bad of ['', '\n', 'abc', '12abc', '1 2', ' 1', '0x', '--1', '9\r\n']) {
      await expectErrno(s.host.write(s.count, bad), Errno.EINVAL);
    }
    await expectErrno(s.host.write(s.count, '9223372036854775808'), Errno.ERANGE);
    await expectErrno(s.host.write(s.count, '-9223372036854775809'), Errno.ERANGE);
    await expectErrno(s.host.write(s.count, '0xffffffffffffffffff'), Errno.ERANGE);
    expect(await s.host.read(s.count)).to.equal('42\n');
  });

  it('refuses hardware with unsafe doorbells or scratchpads unless unsafe=1', async () => {
    for (const which of ['dbIsUnsafe', 'spadIsUnsafe'] as const) {
      const s = await boot({ spads: 1, msgs: 1 }, 2);
      await load(s);
      const ops = { ...new FakeNtbHw({ spads: 1 }).ops(), [which]: () => true };
      const ntb = await addDevice(s, ops);
      expect(ntb.driver, which).to.equal(undefined);
      expect(s.host.printk.lines()).to.include(`ntb_pingpong: probe of ${ntb.name} failed with error -22`);

      const t = await boot({ spads: 1, msgs: 1 }, 2);
      await load(t, ['unsafe=1']);
      const ntb2 = await addDevice(t, { ...new FakeNtbHw({ spads: 1 }).ops(), [which]: () => true });
      expect(ntb2.driver?.name, which).to.equal('ntb_pingpong');
      expect(t.host.exists(`/sys/kernel/debug/ntb_pingpong/${ntb2.name}/count`)).to.equal(true);
    }
  });

  it('refuses a doorbell mask that does not cover bits 0..peer_count ("Unsupported DB configuration")', async () => {
    const s = await boot({ spads: 1, msgs: 1 }, 2);
    await load(s);
    const ntb = await addDevice(s, { ...new FakeNtbHw({ spads: 1 }).ops(), dbValidMask: () => 0x1n });
    expect(ntb.driver).to.equal(undefined);
    expect(s.host.printk.lines()).to.include(`ntb_pingpong ${ntb.name}: Unsupported DB configuration`);
    expect(s.host.exists(`/sys/kernel/debug/ntb_pingpong/${ntb.name}`)).to.equal(false);
  });

  it('refuses hardware with neither scratchpads nor messages; accepts either one alone', async () => {
    const s = await boot({ spads: 1, msgs: 1 }, 2);
    await load(s);
    const ntb = await addDevice(s, new FakeNtbHw({}).ops());
    expect(ntb.driver).to.equal(undefined);
    expect(s.host.printk.lines()).to.include(`ntb_pingpong ${ntb.name}: Scratchpads and messages unsupported`);

    for (const opts of [{ spads: 1 }, { msgs: 1 }]) {
      const t = await boot(opts);
      await load(t);
      expect(t.hws[0].ntb!.driver?.name).to.equal('ntb_pingpong');
    }
  });
});

describe('clients/pingpong: the ping/pong state machine (fake hardware, test as the peer)', () => {
  it('pings delay_ms after link-up: count into the peer spad 0 and msg 0, rings BIT(peer port), unmasks BIT(own port)', async () => {
    const s = await boot();
    const hw = await load(s);
    await s.world.runFor(secs(5));
    expect(hw.peerDb, 'no ping while the link is down').to.equal(0n);

    const t0 = s.world.now;
    hw.setLink(true);
    await s.world.runFor(msecs(1000) - 1);
    expect(hw.peerDb, 'not before delay_ms').to.equal(0n);
    await s.world.runFor(1);
    expect(s.world.now - t0).to.equal(msecs(1000));
    // B2B upstream: local port 0, peer port 1.
    expect(hw.peerDb).to.equal(0x2n);
    expect(hw.peerSpad[0]).to.equal(0);
    expect(hw.sentMsgs).to.deep.equal([{ pidx: 0, midx: 0, msg: 0 }]);
    expect(hw.dbMask & 0x1n).to.equal(0n);
    expect(hw.dbMask & ~0x1n & hw.dbValid).to.equal(hw.dbValid & ~0x1n);
  });

  it('counts a pong per doorbell on its bit, masks and clears the bit, and pings again delay_ms later with the new count', async () => {
    const s = await boot();
    const hw = await load(s);
    hw.setLink(true);
    await s.world.runFor(msecs(1000));
    hw.peerDb = 0n;

    hw.msgArrives(0, 0, 77);
    hw.peerRings(0x1n);
    expect(await s.host.read(s.count)).to.equal('1\n');
    expect(hw.db & 0x1n, 'doorbell cleared').to.equal(0n);
    expect(hw.dbMask & 0x1n, 'bit masked again').to.equal(0x1n);
    expect(hw.msgSts, 'message status cleared').to.equal(0n);

    const t = s.world.now;
    await s.world.runFor(msecs(999));
    expect(hw.peerDb).to.equal(0n);
    await s.world.runFor(msecs(1));
    expect(s.world.now - t).to.equal(msecs(1000));
    expect(hw.peerDb).to.equal(0x2n);
    expect(hw.peerSpad[0]).to.equal(1);
    expect(hw.sentMsgs.at(-1)).to.deep.equal({ pidx: 0, midx: 0, msg: 1 });
  });

  it('ignores doorbells while its bit is masked (before the first ping)', async () => {
    const s = await boot();
    const hw = await load(s);
    hw.peerRings(0x1n);
    expect(await s.host.read(s.count)).to.equal('0\n');
  });

  it('sends the value written to count with the next ping', async () => {
    const s = await boot();
    const hw = await load(s);
    await s.host.write(s.count, '-2\n');
    hw.setLink(true);
    await s.world.runFor(msecs(1000));
    expect(hw.peerSpad[0]).to.equal(0xfffffffe);
    expect(hw.sentMsgs.at(-1)!.msg).to.equal(0xfffffffe);
  });

  it('reads delay_ms each time the timer starts (a sysfs change applies to the next ping)', async () => {
    const s = await boot();
    const hw = await load(s, ['delay_ms=250']);
    hw.setLink(true);
    await s.world.runFor(msecs(250));
    expect(hw.peerDb).to.equal(0x2n);
    await s.host.write('/sys/module/ntb_pingpong/parameters/delay_ms', '40\n');
    hw.peerDb = 0n;
    hw.peerRings(0x1n);
    await s.world.runFor(msecs(39));
    expect(hw.peerDb).to.equal(0n);
    await s.world.runFor(msecs(1));
    expect(hw.peerDb).to.equal(0x2n);
  });

  it('stops pinging when the link goes down ("Got no peers") and restarts on the next link-up', async () => {
    const s = await boot();
    const hw = await load(s, ['delay_ms=100']);
    hw.setLink(true);
    await s.world.runFor(msecs(50));
    hw.setLink(false);
    await s.world.runFor(secs(2));
    expect(hw.peerDb).to.equal(0n);
    expect(hw.dbMask & 0x1n).to.equal(0x1n);
    hw.setLink(true);
    await s.world.runFor(msecs(100));
    expect(hw.peerDb).to.equal(0x2n);
  });

  it('multi-port: plays with the lowest linked peer after it; rings BIT(that peer\'s port)', async () => {
    // Local port 2 among {0,1,2,3,4}: in_db 0x4, peers after us are pidx 2 (port 3) and 3 (port 4).
    const s = await boot({ spads: 1, ports: { port: 2, peers: [0, 1, 3, 4] } });
    const hw = await load(s, ['delay_ms=10']);
    hw.setLink(true);
    await s.world.runFor(msecs(10));
    expect(hw.peerDb).to.equal(0x8n);
    expect(hw.dbMask & 0x4n).to.equal(0n);
    hw.peerRings(0x4n);
    expect(await s.host.read(s.count)).to.equal('1\n');
  });

  it('remove (rmmod): debugfs gone, link disabled, no further pings, own bit masked', async () => {
    const s = await boot();
    const hw = await load(s, ['delay_ms=100']);
    hw.setLink(true);
    await s.world.runFor(msecs(100));
    hw.peerRings(0x1n);
    await s.host.rmmod('ntb_pingpong');
    expect(s.host.exists('/sys/kernel/debug/ntb_pingpong')).to.equal(false);
    expect(hw.linkEnabled).to.equal(false);
    expect(hw.ntb!.ctxOps).to.equal(null);
    expect(hw.dbMask & 0x1n).to.equal(0x1n);
    hw.peerDb = 0n;
    await s.world.runFor(secs(2));
    expect(hw.peerDb).to.equal(0n);
    expect(s.k.bugs).to.deep.equal([]);
    // And it can be loaded again.
    await s.host.modprobe('ntb_pingpong');
    expect(await s.host.read(s.count)).to.equal('0\n');
  });
});

describe('clients/pingpong: two hosts back to back (fake pair)', () => {
  it('both counters grow by about one per delay_ms, and each side sees the other\'s count in spad 0', async () => {
    const pair = new FakeNtbPair({ spads: 1, msgs: 1 });
    const world = await World.create(
      { hosts: [{ name: 'host0', iommu: false, intremap: false }, { name: 'host1', iommu: false, intremap: false }], hardware: [{ type: 'edu' }] },
      [testdevPlugin, ntbCorePlugin, pair.plugin([ntbPingpongModule])],
    );
    const [h0, h1] = world.hosts;
    for (const h of world.hosts) await h.modprobe('ntb_fake_pair');
    for (const h of world.hosts) await h.modprobe('ntb_pingpong');
    const path = (h: Host) => `/sys/kernel/debug/ntb_pingpong/${eduDevices(h.kernel)[0].name}/count`;

    await world.runFor(secs(7));
    const c0 = Number((await h0.read(path(h0))).trim());
    const c1 = Number((await h1.read(path(h1))).trim());
    expect(c0).to.be.within(5, 7);
    expect(c1).to.be.within(5, 7);
    // The last ping of each side carried its count at that moment.
    expect(pair.side(1).hw.spad[0]).to.be.within(c0 - 1, c0);
    expect(pair.side(0).hw.spad[0]).to.be.within(c1 - 1, c1);

    await world.runFor(secs(10));
    expect(Number((await h0.read(path(h0))).trim()) - c0).to.be.within(9, 10);

    // Unloading one side takes the link down: the other side stops counting.
    await h1.rmmod('ntb_pingpong');
    await world.runFor(secs(1));
    const frozen = await h0.read(path(h0));
    await world.runFor(secs(5));
    expect(await h0.read(path(h0))).to.equal(frozen);
    expect(h0.kernel.bugs).to.deep.equal([]);
    expect(h1.kernel.bugs).to.deep.equal([]);
  });
});
