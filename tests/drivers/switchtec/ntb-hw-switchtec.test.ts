import 'reflect-metadata';
import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { msecs } from '../../../core/time/units';
import { World } from '../../../core/world';
import { builtinPlugins } from '../../../plugins';
import {
  NtbDev,
  NtbSpeed,
  ntbBus,
  ntbDbClear,
  ntbDbClearMask,
  ntbDbRead,
  ntbDbReadMask,
  ntbDbSetMask,
  ntbDbValidMask,
  ntbLinkDisable,
  ntbLinkEnable,
  ntbLinkIsUp,
  ntbMwCount,
  ntbMwGetAlign,
  ntbMwSetTrans,
  ntbPeerDbSet,
  ntbPeerMwCount,
  ntbPeerMwGetAddr,
  ntbPeerSpadRead,
  ntbPeerSpadWrite,
  ntbSetCtx,
  ntbSpadCount,
  ntbSpadRead,
  ntbSpadWrite,
} from '../../../drivers/ntb';
import { switchtecTopology, SwitchtecTopologyOptions } from '../../../drivers/switchtec/silicon/topology';
import { expectErrno, linesSince } from '../../helpers/world';

async function switchtecWorld(opts: SwitchtecTopologyOptions & { hosts?: Array<Record<string, unknown>> } = {}): Promise<World> {
  const spec = switchtecTopology(opts);
  if (opts.hosts) spec.hosts = spec.hosts.map((h, i) => ({ ...h, ...opts.hosts![i] }));
  const world = await World.create(spec, builtinPlugins());
  await world.runFor(msecs(1000)); // request_module work and the probes' CTRL handshakes
  return world;
}

function ntbOf(host: Host): NtbDev {
  const bus = ntbBus(host.kernel);
  expect(bus, `ntb bus on ${host.name}`).to.not.equal(undefined);
  const devs = host.kernel.driverCore.devices(bus!);
  expect(devs, `ntb devices on ${host.name}`).to.have.length(1);
  return devs[0] as NtbDev;
}

/** Enable the link on both sides and let the messages settle. */
async function linkUp(world: World, a: Host, b: Host): Promise<void> {
  await a.run('link', () => ntbLinkEnable(ntbOf(a)));
  await b.run('link', () => ntbLinkEnable(ntbOf(b)));
  await world.runFor(msecs(10));
}

describe('ntb_hw_switchtec on a two-partition switch', () => {
  let world: World;
  let h0: Host;
  let h1: Host;
  beforeEach(async () => {
    world = await switchtecWorld();
    h0 = world.host('host0');
    h1 = world.host('host1');
  });

  it('registers one NTB device per host, loaded by the management driver', async () => {
    for (const h of [h0, h1]) {
      expect(h.ls('/sys/bus/ntb/devices')).to.deep.equal(['0000:01:00.1']);
      expect(h.kernel.modules.isLoaded('ntb_hw_switchtec')).to.equal(true);
      expect(h.printk.lines()).to.include('switchtec switchtec0: NTB device registered');
      const interrupts = await h.read('/proc/interrupts');
      expect(interrupts).to.match(/switchtec_ntb_doorbell/);
      expect(interrupts).to.match(/switchtec_ntb_message/);
    }
    expect(ntbMwCount(ntbOf(h0), 0)).to.equal(1);
    expect(ntbPeerMwCount(ntbOf(h0))).to.equal(1);
    expect(ntbSpadCount(ntbOf(h0))).to.equal(128);
    expect(ntbDbValidMask(ntbOf(h0))).to.equal(0x0fffffffn);
    expect(ntbDbReadMask(ntbOf(h0))).to.equal(0x0fffffffn, 'all doorbells masked after probe');
  });

  it('brings the link up only when both sides enable it, and down again when one disables it', async () => {
    const mark0 = h0.printk.lines().length;
    await h0.run('link', () => ntbLinkEnable(ntbOf(h0)));
    await world.runFor(msecs(10));
    expect(ntbLinkIsUp(ntbOf(h0))).to.equal(0n);
    await h1.run('link', () => ntbLinkEnable(ntbOf(h1)));
    await world.runFor(msecs(10));
    const info: { speed?: number; width?: number } = {};
    expect(ntbLinkIsUp(ntbOf(h0), info)).to.equal(1n);
    expect(ntbLinkIsUp(ntbOf(h1))).to.equal(1n);
    expect(info.speed).to.equal(NtbSpeed.GEN3);
    expect(info.width).to.equal(8);
    expect(linesSince(h0, mark0)).to.include('switchtec switchtec0: ntb link up');
    await h1.run('link', () => ntbLinkDisable(ntbOf(h1)));
    await world.runFor(msecs(10));
    expect(ntbLinkIsUp(ntbOf(h0))).to.equal(0n);
    expect(ntbLinkIsUp(ntbOf(h1))).to.equal(0n);
    expect(linesSince(h0, mark0)).to.include('switchtec switchtec0: ntb link down');
  });

  it('rings doorbells both ways through the split doorbell register, with masks and events', async () => {
    const events: Array<[string, number]> = [];
    ntbSetCtx(ntbOf(h0), 'h0', { dbEvent: (c: string, v: number) => events.push([c, v]) });
    ntbSetCtx(ntbOf(h1), 'h1', { dbEvent: (c: string, v: number) => events.push([c, v]) });
    await h1.run('unmask', () => ntbDbClearMask(ntbOf(h1), 0x0fffffffn));
    await h0.run('ring', () => ntbPeerDbSet(ntbOf(h0), 0x5n));
    await world.runFor(msecs(1));
    expect(ntbDbRead(ntbOf(h1))).to.equal(0x5n);
    expect(ntbDbRead(ntbOf(h0))).to.equal(0n, 'no echo on the sender');
    expect(events).to.deep.equal([['h1', 0]]);
    await h1.run('clear', () => ntbDbClear(ntbOf(h1), 0x5n));
    expect(ntbDbRead(ntbOf(h1))).to.equal(0n);

    // Masked doorbells latch without an interrupt; unmasking delivers the event.
    await h1.run('ring', () => ntbPeerDbSet(ntbOf(h1), 0x8000000n));
    await world.runFor(msecs(1));
    expect(ntbDbRead(ntbOf(h0))).to.equal(0x8000000n);
    expect(events).to.have.length(1);
    await h0.run('unmask', () => ntbDbClearMask(ntbOf(h0), 0x8000000n));
    await world.runFor(msecs(1));
    expect(events).to.deep.equal([['h1', 0], ['h0', 0]]);
    await expectErrno(() => ntbDbSetMask(ntbOf(h0), 1n << 28n), Errno.EINVAL);
  });

  it('keeps scratchpads in the shared window: a peer write lands in the other host`s spad', async () => {
    await linkUp(world, h0, h1);
    await h0.run('spad', () => ntbPeerSpadWrite(ntbOf(h0), 0, 7, 0xdeadbeef));
    expect(ntbSpadRead(ntbOf(h1), 7)).to.equal(0xdeadbeef);
    await h1.run('spad', () => ntbSpadWrite(ntbOf(h1), 3, 42));
    expect(await h0.run('spad', () => ntbPeerSpadRead(ntbOf(h0), 0, 3))).to.equal(42);
    await expectErrno(() => ntbSpadWrite(ntbOf(h1), 128, 1), Errno.EINVAL);
    expect(ntbSpadRead(ntbOf(h1), 128)).to.equal(0);
  });

  it('translates a direct memory window into the peer`s DMA buffer, programmed with the CTRL handshake', async () => {
    await linkUp(world, h0, h1);
    const align = ntbMwGetAlign(ntbOf(h1), 0, 0);
    expect(align).to.deep.equal({ addrAlign: 0x1000, sizeAlign: 0x1000, sizeMax: 2 << 20 });
    const size = 1 << 20;
    const buf = h1.kernel.dma.allocCoherent(h1.kernel.pci.devices.find((d) => d.name === '0000:01:00.1')!, size);
    const t0 = world.now;
    await h1.run('mw', () => ntbMwSetTrans(ntbOf(h1), 0, 0, buf.dmaAddr, size));
    expect(world.now - t0).to.be.at.least(msecs(100), 'LOCK and CFG each cost one 50 ms poll');
    const { base, size: winSize } = ntbPeerMwGetAddr(ntbOf(h0), 0);
    expect(winSize).to.equal(2 << 20);
    const payload = Uint8Array.from({ length: 256 }, (_, i) => (i * 7) & 0xff);
    await h0.run('copy', (k) => k.pci.ioremap(base, size).memcpyToio(0x1000, payload));
    await world.runFor(msecs(1));
    expect(Array.from(buf.cpu.read(0x1000, 256))).to.deep.equal(Array.from(payload));
  });

  it('refuses a window whose address is not aligned to its size, as the driver does', async () => {
    await linkUp(world, h0, h1);
    const mark = h1.printk.lines().length;
    await expectErrno(h1.run('mw', () => ntbMwSetTrans(ntbOf(h1), 0, 0, 0x1_0000_1000, 0x10_0000)), Errno.EINVAL);
    expect(linesSince(h1, mark)).to.include('switchtec switchtec0: ERROR: Memory window address is not aligned to its size!');
    await expectErrno(h1.run('mw', () => ntbMwSetTrans(ntbOf(h1), 0, 0, 0x1_0000_0000, 0x800)), Errno.EINVAL);
    await expectErrno(h1.run('mw', () => ntbMwSetTrans(ntbOf(h1), 0, 1, 0x1_0000_0000, 0x1000)), Errno.EINVAL);
  });

  it('tells the peer its link is forced down when the driver is reloaded', async () => {
    await linkUp(world, h0, h1);
    await h1.rmmod('ntb_hw_switchtec');
    const mark = h0.printk.lines().length;
    await h1.modprobe('ntb_hw_switchtec');
    await world.runFor(msecs(500));
    expect(linesSince(h0, mark)).to.include.members(['switchtec switchtec0: reinitialize shared memory window', 'switchtec switchtec0: ntb link forced down']);
    expect(ntbLinkIsUp(ntbOf(h0))).to.equal(0n);
    await linkUp(world, h0, h1);
    expect(ntbLinkIsUp(ntbOf(h0))).to.equal(1n);
    await h0.run('spad', () => ntbPeerSpadWrite(ntbOf(h0), 0, 1, 99));
    expect(ntbSpadRead(ntbOf(h1), 1)).to.equal(99);
  });
});

describe('ntb_hw_switchtec LUT windows (use_lut_mws=1)', () => {
  it('exposes the LUT entries beyond the reserved one as 64 KiB windows that translate', async () => {
    const world = await switchtecWorld();
    const [h0, h1] = [world.host('host0'), world.host('host1')];
    for (const h of [h0, h1]) await h.write('/sys/module/ntb_hw_switchtec/parameters/use_lut_mws', '1');
    await linkUp(world, h0, h1);
    expect(ntbMwCount(ntbOf(h1), 0)).to.equal(1 + 31);
    const last = ntbMwCount(ntbOf(h1), 0) - 1;
    expect(ntbMwGetAlign(ntbOf(h1), 0, last)).to.deep.equal({ addrAlign: 0x10000, sizeAlign: 0x10000, sizeMax: 0x10000 });
    const pdev = h1.kernel.pci.devices.find((d) => d.name === '0000:01:00.1')!;
    const buf = h1.kernel.dma.allocCoherent(pdev, 0x10000);
    await h1.run('mw', () => ntbMwSetTrans(ntbOf(h1), 0, last, buf.dmaAddr, 0x10000));
    const { base, size } = ntbPeerMwGetAddr(ntbOf(h0), last);
    expect(size).to.equal(0x10000);
    await h0.run('poke', (k) => k.pci.ioremap(base, size).iowrite32(0x12345678, 0x40));
    await world.runFor(msecs(1));
    expect(buf.cpu.read32(0x40)).to.equal(0x12345678);
  });
});

describe('ntb_hw_switchtec without the DMA-alias quirk', () => {
  it('loses cross-NTB traffic to the peer`s IOMMU, which logs the fault', async () => {
    const world = await switchtecWorld({ noAliasQuirk: true });
    const [h0, h1] = [world.host('host0'), world.host('host1')];
    expect(h1.printk.lines().some((l) => l.includes('Setting Switchtec proxy ID aliases'))).to.equal(false);
    const mark = h1.printk.lines().length;
    await h0.run('spad', () => ntbPeerSpadWrite(ntbOf(h0), 0, 7, 0xdeadbeef));
    await world.runFor(msecs(1));
    expect(ntbSpadRead(ntbOf(h1), 7)).to.equal(0, 'the write never reached host1');
    expect(linesSince(h1, mark).some((l) => /DMAR: \[DMA Write/.test(l))).to.equal(true);
    await linkUp(world, h0, h1);
    expect(ntbLinkIsUp(ntbOf(h0))).to.equal(0n, 'the shared window cannot be read, so the link never comes up');
  });

  it('works when the peer has no IOMMU: nothing checks the proxy IDs', async () => {
    const world = await switchtecWorld({ noAliasQuirk: true, hosts: [{ iommu: false, intremap: false }, { iommu: false, intremap: false }] });
    const [h0, h1] = [world.host('host0'), world.host('host1')];
    await linkUp(world, h0, h1);
    expect(ntbLinkIsUp(ntbOf(h0))).to.equal(1n);
    await h0.run('spad', () => ntbPeerSpadWrite(ntbOf(h0), 0, 7, 0xdeadbeef));
    expect(ntbSpadRead(ntbOf(h1), 7)).to.equal(0xdeadbeef);
  });
});
