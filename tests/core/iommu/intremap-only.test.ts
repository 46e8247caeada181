import 'reflect-metadata';
import { expect } from 'chai';
import { eduDev, eduWorld } from '../../helpers/world';

describe('core/iommu: intel_iommu=off keeps interrupt remapping', () => {
  it('boots with IR on and DMA remapping off: DMA buffers are plain physical addresses', async () => {
    const w = await eduWorld({ hosts: [{ name: 'host0', cmdline: ['intel_iommu=off'] }] });
    const h = w.host('host0');
    expect(h.printk.lines()).to.include.members(['DMAR-IR: Enabled IRQ remapping in xapic mode', 'DMAR: IOMMU disabled']);
    expect(h.printk.lines()).to.not.include('DMAR: Intel(R) Virtualization Technology for Directed I/O');
    expect(h.kernel.iommu).to.equal(undefined);
    expect(h.kernel.irqRemapping?.enabled).to.equal(true);
    const buf = h.kernel.dma.allocCoherent(eduDev(h), 0x1000);
    expect(buf.dmaAddr).to.equal(buf.cpu.phys, 'no IOVA without DMA remapping');
  });
});
