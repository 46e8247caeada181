import 'reflect-metadata';
import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { HostConfig } from '../../../core/host-config';
import { IrqReturn } from '../../../core/irq/irqdesc';
import { msecs } from '../../../core/time/units';
import { World } from '../../../core/world';
import {
  NtbDev,
  NtbMsiDesc,
  ntbBus,
  ntbLinkEnable,
  ntbLinkIsUp,
  ntbmMsiFreeIrq,
  ntbmMsiRequestIrq,
  ntbMsiClearMws,
  ntbMsiInit,
  ntbMsiPeerAddr,
  ntbMsiPeerTrigger,
  ntbMsiSetupMws,
  ntbPeerMwGetAddr,
  ntbSetCtx,
} from '../../../drivers/ntb';
import { SWITCHTEC_ALIAS_QUIRK, switchtecTopology } from '../../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../../plugins';
import { expectErrno, linesSince } from '../../helpers/world';

type HostOpts = Partial<HostConfig>;

/** One side of the test: the NTB device, its requested irqs, their descriptors and hit counts. */
interface Side {
  host: Host;
  ntb: NtbDev;
  irqs: number[];
  descs: NtbMsiDesc[];
  hits: number[];
  changed: number;
}

async function msiWorld(opts: { hosts?: [HostOpts, HostOpts]; switchtecArgs?: string } = {}): Promise<{ world: World; a: Side; b: Side }> {
  const spec = switchtecTopology();
  if (opts.hosts) spec.hosts = spec.hosts.map((h, i) => ({ ...h, ...opts.hosts![i] }));
  if (opts.switchtecArgs) spec.modules = { host0: [`switchtec ${opts.switchtecArgs}`], host1: [`switchtec ${opts.switchtecArgs}`] };
  const world = await World.create(spec, builtinPlugins());
  const side = (host: Host): Side => {
    const ntb = host.kernel.driverCore.devices(ntbBus(host.kernel)!)[0] as NtbDev;
    return { host, ntb, irqs: [], descs: [], hits: [], changed: 0 };
  };
  const [a, b] = [side(world.host('host0')), side(world.host('host1'))];
  for (const s of [a, b]) {
    await s.host.run('msi init', (k) => {
      ntbSetCtx(s.ntb, s, {});
      ntbMsiInit(k, s.ntb, (ctx) => (ctx as Side).changed++);
      ntbLinkEnable(s.ntb);
    });
  }
  await world.runFor(msecs(10));
  for (const s of [a, b]) expect(ntbLinkIsUp(s.ntb), `${s.host.name} link`).to.equal(1n);
  return { world, a, b };
}

async function setupAndRequest(s: Side, n: number): Promise<void> {
  await s.host.run('msi setup', () => ntbMsiSetupMws(s.ntb));
  for (let i = 0; i < n; i++) {
    const desc: NtbMsiDesc = { addrOffset: 0, data: 0 };
    s.hits.push(0);
    const irq = await s.host.run('msi request', () =>
      ntbmMsiRequestIrq(s.ntb, () => (s.hits[i]++, IrqReturn.HANDLED), 'msi-lib-test', s, desc),
    );
    s.irqs.push(irq);
    s.descs.push(desc);
  }
}

const trigger = (from: Side, desc: NtbMsiDesc) => from.host.run('trigger', () => ntbMsiPeerTrigger(from.ntb, 0, desc));

describe('drivers/ntb/msi: interrupts through a Switchtec memory window', () => {
  it('delivers each trigger exactly once on the peer, both ways, before the trigger returns', async () => {
    const { a, b } = await msiWorld();
    await setupAndRequest(a, 4);
    await setupAndRequest(b, 4);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      for (let i = 0; i < 4; i++) {
        const before = [...to.hits];
        await trigger(from, to.descs[i]);
        expect(to.hits).to.deep.equal(before.map((h, j) => (j === i ? h + 1 : h)), `${from.host.name} → ${to.host.name} irq ${i}`);
      }
    }
    expect(await b.host.read('/proc/interrupts')).to.match(new RegExp(`^\\s*${b.irqs[0]}:.* msi-lib-test$`, 'm'));
  });

  it('uses virtual vectors beyond the 4-entry MSI-X table (switchtec nirqs=32), and they fire', async () => {
    const { a, b } = await msiWorld();
    await setupAndRequest(b, 8);
    const descs = b.ntb.pdev.msiDescs;
    const virtual = b.irqs.filter((irq) => descs.find((d) => d.irq === irq)!.isVirtual);
    expect(virtual.length).to.be.at.least(7, 'entries 0–2 serve the event, doorbell and message irqs');
    for (let i = 0; i < 8; i++) await trigger(a, b.descs[i]);
    expect(b.hits).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('runs out of vectors without the nirqs parameter`s extra ones (nirqs=4): ENODEV', async () => {
    const { b } = await msiWorld({ switchtecArgs: 'nirqs=4' });
    await setupAndRequest(b, 1);
    await expectErrno(b.host.run('req', () => ntbmMsiRequestIrq(b.ntb, () => IrqReturn.HANDLED, 'x', b, { addrOffset: 0, data: 0 })), Errno.ENODEV);
  });

  it('refuses every call before ntb_msi_init with EINVAL, and setup after clear keeps working', async () => {
    const { a, b } = await msiWorld();
    const fresh = { ...a, ntb: a.ntb };
    fresh.ntb.msi = undefined;
    await expectErrno(a.host.run('setup', () => ntbMsiSetupMws(fresh.ntb)), Errno.EINVAL);
    await expectErrno(a.host.run('req', () => ntbmMsiRequestIrq(fresh.ntb, () => IrqReturn.HANDLED, 'x', a, { addrOffset: 0, data: 0 })), Errno.EINVAL);
    await expectErrno(a.host.run('trig', () => ntbMsiPeerTrigger(fresh.ntb, 0, { addrOffset: 0, data: 0 })), Errno.EINVAL);
    await setupAndRequest(b, 1);
    await b.host.run('clear', () => ntbMsiClearMws(b.ntb));
    await b.host.run('setup', () => ntbMsiSetupMws(b.ntb));
  });

  it('drops a trigger whose descriptor points outside the peer window, with a warning, instead of writing past the mapping', async () => {
    const { a, b } = await msiWorld();
    await setupAndRequest(b, 1);
    const { size } = ntbPeerMwGetAddr(a.ntb, 0);
    const mark = a.host.kernel.printk.lines().length;
    for (const addrOffset of [size, size + 4, 0xfffffffc]) await trigger(a, { addrOffset, data: b.descs[0].data });
    await trigger(a, b.descs[0]);
    expect(b.hits).to.deep.equal([1], 'only the good descriptor raised the interrupt');
    const warnings = linesSince(a.host, mark).filter((l) => l.includes('is outside the'));
    expect(warnings).to.have.length(3);
    expect(warnings[0]).to.match(new RegExp(`: MSI descriptor offset 0x${size.toString(16)} is outside the 0x${size.toString(16)}-byte window of peer 0: interrupt not sent$`));
    expect(a.host.kernel.bugs).to.deep.equal([]);
  });

  it('gives the peer address of a descriptor inside the last outbound window, and frees irqs', async () => {
    const { a, b } = await msiWorld();
    await setupAndRequest(b, 2);
    const { base } = ntbPeerMwGetAddr(a.ntb, 0);
    expect(ntbMsiPeerAddr(a.ntb, 0, b.descs[1])).to.equal(base + b.descs[1].addrOffset);
    await b.host.run('free', () => ntbmMsiFreeIrq(b.ntb, b.irqs[1], b));
    expect(await b.host.read('/proc/interrupts')).to.not.match(new RegExp(`^\\s*${b.irqs[1]}:`, 'm'));
    expect(b.host.kernel.bugs).to.deep.equal([]);
  });

  it('is blocked by the peer`s interrupt remapping without the DMA-alias quirk: fault logged, nothing counted', async () => {
    // DMA remapping off (intel_iommu=off) lets the link come up without aliases; interrupt
    // remapping stays on and checks each MSI's source ID.
    const noAlias: HostOpts = { cmdline: [`ntbsim.noquirk=${SWITCHTEC_ALIAS_QUIRK}`, 'intel_iommu=off'] };
    const { a, b } = await msiWorld({ hosts: [noAlias, noAlias] });
    await setupAndRequest(b, 2);
    const mark = b.host.printk.lines().length;
    await trigger(a, b.descs[0]);
    expect(b.hits).to.deep.equal([0, 0]);
    expect(linesSince(b.host, mark).some((l) => /DMAR: \[INTR-REMAP\] .*fault reason 0x26/.test(l)), linesSince(b.host, mark).join('\n')).to.equal(true);
  });

  it('is delivered unvalidated when the peer has no IOMMU at all', async () => {
    const off: HostOpts = { iommu: false, intremap: false, cmdline: [`ntbsim.noquirk=${SWITCHTEC_ALIAS_QUIRK}`] };
    const { a, b } = await msiWorld({ hosts: [off, off] });
    await setupAndRequest(b, 2);
    await trigger(a, b.descs[1]);
    expect(b.hits).to.deep.equal([0, 1]);
  });

  it('rewrites the message on an affinity change without interrupt remapping: callback, new descriptor lands, old does not', async () => {
    const noIr: HostOpts = { intremap: false };
    const { a, b } = await msiWorld({ hosts: [noIr, noIr] });
    await setupAndRequest(b, 1);
    const old = { ...b.descs[0] };
    await b.host.write(`/proc/irq/${b.irqs[0]}/smp_affinity_list`, '2');
    expect(b.changed).to.equal(1, 'desc_changed ran with ntb->ctx');
    expect(b.descs[0]).to.not.deep.equal(old);
    await trigger(a, b.descs[0]);
    expect(b.hits).to.deep.equal([1]);
    await trigger(a, old);
    expect(b.hits).to.deep.equal([1], 'the old message no longer reaches the handler');
  });

  it('keeps the message on an affinity change with interrupt remapping: no callback, the old descriptor still lands', async () => {
    const { a, b } = await msiWorld();
    await setupAndRequest(b, 1);
    const old = { ...b.descs[0] };
    await b.host.write(`/proc/irq/${b.irqs[0]}/smp_affinity_list`, '3');
    expect(b.changed).to.equal(0);
    expect(b.descs[0]).to.deep.equal(old);
    await trigger(a, old);
    expect(b.hits).to.deep.equal([1]);
  });
});
