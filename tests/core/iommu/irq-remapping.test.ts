import 'reflect-metadata';
import { expect } from 'chai';
import { Host } from '../../../core/host';
import { PCI_IRQ_MSIX } from '../../../core/pci/msi';
import { World } from '../../../core/world';
import { vectorDriver } from '../../helpers/vector-driver';
import { eduDev, eduIrqCounts, eduWorld, HostSpec, lines, linesSince, TWO_HOSTS } from '../../helpers/world';

/** Inject vector `i`'s MSI message as a DWORD write from `rid`, then let it be delivered. */
async function inject(w: World, h: Host, i: number, rid: number): Promise<void> {
  const md = eduDev(h).msiDescs[i];
  h.platform.rc.memWrite32(rid, md.address, md.msg.data);
  await w.runFor(1000);
}

async function loaded(hosts: HostSpec[] = TWO_HOSTS, hostName = 'host0', before?: (h: Host) => void): Promise<{ w: World; h: Host }> {
  const w = await eduWorld({ hosts });
  const h = w.host(hostName);
  before?.(h);
  await h.modprobe('edu');
  return { w, h };
}

describe('core/iommu: interrupt remapping', () => {
  it('uses remappable messages and the IR-PCI-MSI chip on a host with interrupt remapping', async () => {
    const { h } = await loaded();
    const dev = eduDev(h);
    const desc = h.kernel.irq.desc(dev.msiDescs[2].irq);
    expect(desc.irteIndex).to.equal(2);
    expect(dev.msiDescs[2].msg).to.deep.equal({ addressLo: (0xfee00000 | (2 << 5) | 0x18) >>> 0, addressHi: 0, data: 0 });
    expect(h.kernel.irqRemapping!.irte(2)).to.include({ present: true, svt: 1, sq: 0, sid: 0x0100, vector: desc.vector, dest: desc.cpu });
    expect(await h.read('/proc/interrupts')).to.match(/IR-PCI-MSI 524290-edge {6}edu/);
    expect(lines(h)).to.include('DMAR-IR: Enabled IRQ remapping in xapic mode');
  });

  it('delivers an MSI carrying the device\'s exact requester ID', async () => {
    const { w, h } = await loaded();
    const dev = eduDev(h);
    await inject(w, h, 1, dev.requesterId);
    expect(await eduIrqCounts(h)).to.deep.equal([0, 1, 0, 0]);
    expect(h.platform.rc.stats).to.include({ interruptRequests: 1, blocked: 0 });
  });

  it('interrupt remapping blocks an MSI from an un-aliased requester ID', async () => {
    const { w, h } = await loaded();
    const mark = lines(h).length;
    await inject(w, h, 3, 0x0200);
    expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 0, 0]);
    expect(h.kernel.irq.desc(eduDev(h).msiDescs[3].irq).total).to.equal(0);
    expect(linesSince(h, mark)).to.deep.equal([
      'DMAR: DRHD: handling fault status reg 2',
      'DMAR: [INTR-REMAP] Request device [02:00.0] fault index 0x3 [fault reason 0x26] Blocked an interrupt request due to source-id verification failure',
    ]);
    expect(h.platform.rc.stats.blocked).to.equal(1);
  });

  it('blocks an un-aliased requester ID on the device\'s own bus too (exact requester-ID check)', async () => {
    const { w, h } = await loaded();
    await inject(w, h, 0, 0x0101);
    expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 0, 0]);
    expect(lines(h).at(-1)).to.equal(
      'DMAR: [INTR-REMAP] Request device [01:00.1] fault index 0x0 [fault reason 0x26] Blocked an interrupt request due to source-id verification failure',
    );
  });

  it('verifies only the bus when a DMA alias was added before the vectors were allocated', async () => {
    const { w, h } = await loaded(TWO_HOSTS, 'host0', (host) => host.kernel.pci.addDmaAlias(eduDev(host), 0x01));
    const dev = eduDev(h);
    const irte = h.kernel.irqRemapping!.irte(h.kernel.irq.desc(dev.msiDescs[0].irq).irteIndex!);
    expect(irte).to.include({ svt: 2, sid: 0x0101 }); // bus range 01..01
    await inject(w, h, 0, 0x0101); // the alias
    await inject(w, h, 0, 0x0100); // the device itself
    expect(await eduIrqCounts(h)).to.deep.equal([2, 0, 0, 0]);
    const mark = lines(h).length;
    await inject(w, h, 0, 0x0200); // another bus
    expect(await eduIrqCounts(h)).to.deep.equal([2, 0, 0, 0]);
    expect(linesSince(h, mark)).to.include(
      'DMAR: [INTR-REMAP] Request device [02:00.0] fault index 0x0 [fault reason 0x26] Blocked an interrupt request due to source-id verification failure',
    );
  });

  it('keeps the exact requester-ID check for an alias added after the vectors were allocated', async () => {
    const { w, h } = await loaded();
    h.kernel.pci.addDmaAlias(eduDev(h), 0x01);
    await inject(w, h, 0, 0x0101);
    expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 0, 0]);
    expect(lines(h).at(-1)).to.match(/Request device \[01:00\.1\] .*\[fault reason 0x26\]/);
  });

  it('applies the alias when a driver adds it in probe right before pci_alloc_irq_vectors', async () => {
    const drv = vectorDriver({ flags: PCI_IRQ_MSIX, nvec: 2, beforeAlloc: (k, dev) => k.pci.addDmaAlias(dev, 0x03) });
    const w = await eduWorld({ plugins: [drv.plugin] });
    const h = w.host('host0');
    await h.modprobe(drv.name);
    const dev = eduDev(h);
    const md = dev.msiDescs[1];
    h.platform.rc.memWrite32(0x0103, md.address, md.msg.data);
    h.platform.rc.memWrite32(0x0303, md.address, md.msg.data);
    await w.runFor(1000);
    expect(drv.state.counts.get(dev)).to.deep.equal([0, 1]);
    expect(lines(h).at(-1)).to.match(/Request device \[03:00\.3\] fault index 0x1 \[fault reason 0x26\]/);
  });

  it('delivers MSIs without any validation when the IOMMU is off', async () => {
    const { w, h } = await loaded(TWO_HOSTS, 'host1');
    const dev = eduDev(h);
    expect(dev.msiDescs[0].msg).to.deep.equal({ addressLo: 0xfee00000, addressHi: 0, data: 0x4000 | h.kernel.irq.desc(dev.msiDescs[0].irq).vector });
    await inject(w, h, 0, 0x0500);
    await inject(w, h, 2, 0x0200);
    await inject(w, h, 2, dev.requesterId);
    expect(await eduIrqCounts(h)).to.deep.equal([1, 0, 2, 0]);
    expect(lines(h).some((l) => l.includes('INTR-REMAP'))).to.equal(false);
    expect(await h.read('/proc/interrupts')).to.match(/ PCI-MSI 524288-edge {6}edu/);
  });

  it('does not validate the source with intremap=nosid', async () => {
    const { w, h } = await loaded([{ name: 'nosid', intremapNoSid: true }], 'nosid');
    const dev = eduDev(h);
    expect(h.kernel.irqRemapping!.irte(h.kernel.irq.desc(dev.msiDescs[0].irq).irteIndex!)).to.include({ svt: 0 });
    await inject(w, h, 0, 0x0500);
    expect(await eduIrqCounts(h)).to.deep.equal([1, 0, 0, 0]);
  });

  it('delivers compatibility-format MSIs when the IOMMU translates DMA but intremap is off', async () => {
    const { w, h } = await loaded([{ name: 'noir', iommu: true, intremap: false }], 'noir');
    expect(h.kernel.irqRemapping).to.equal(undefined);
    await inject(w, h, 1, 0x0700);
    expect(await eduIrqCounts(h)).to.deep.equal([0, 1, 0, 0]);
  });

  it('blocks a compatibility-format MSI with fault reason 0x25 while remapping is on', async () => {
    const { w, h } = await loaded();
    const dev = eduDev(h);
    const desc = h.kernel.irq.desc(dev.msiDescs[0].irq);
    h.platform.rc.memWrite32(dev.requesterId, (0xfee00000 | (desc.cpu << 12)) >>> 0, 0x4000 | desc.vector);
    await w.runFor(1000);
    expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 0, 0]);
    expect(lines(h).at(-1)).to.equal('DMAR: [INTR-REMAP] Request device [01:00.0] fault index 0x0 [fault reason 0x25] Blocked a compatibility format interrupt request');
  });

  it('faults a remappable MSI naming an IRTE that is not present with reason 0x22', async () => {
    const { w, h } = await loaded();
    h.platform.rc.memWrite32(eduDev(h).requesterId, (0xfee00000 | (0x123 << 5) | 0x18) >>> 0, 0);
    await w.runFor(1000);
    expect(lines(h).at(-1)).to.equal('DMAR: [INTR-REMAP] Request device [01:00.0] fault index 0x123 [fault reason 0x22] Present field in the IRTE entry is clear');
  });

  it('frees the IRTEs when the vectors are freed', async () => {
    const { w, h } = await loaded();
    const md = eduDev(h).msiDescs[0];
    const msg = { ...md.msg };
    await h.rmmod('edu');
    expect(h.kernel.irqRemapping!.irte(0)).to.equal(undefined);
    h.platform.rc.memWrite32(0x0100, msg.addressLo, msg.data);
    await w.runFor(1000);
    expect(lines(h).at(-1)).to.match(/fault index 0x0 \[fault reason 0x22\]/);
  });
});
