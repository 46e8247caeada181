import { Errno, KernelError } from '../errno';
import type { IntelIommu } from '../iommu/intel-iommu';
import { KernelBuffer } from '../mm/io';
import { PageAllocator } from '../mm/page-alloc';
import { PhysicalMemory } from '../mm/physmem';
import { alignUp, PAGE_SIZE } from '../mm/range-allocator';
import type { PciDev } from '../pci/pci-dev';

export enum DmaDirection {
  BIDIRECTIONAL = 0,
  TO_DEVICE = 1,
  FROM_DEVICE = 2,
}

/** A dma_alloc_coherent buffer: the CPU's mapping and the address the device uses. */
export interface DmaBuffer {
  cpu: KernelBuffer;
  dmaAddr: number;
  size: number;
}

/**
 * The DMA API of one kernel. With the IOMMU on, bus addresses are IOVAs mapped in the device's
 * domain; without it (dma-direct) they are physical addresses, aligned as the page allocator (or
 * the host's `directDmaAlign` setting) gives them.
 */
export class DmaApi {
  constructor(
    private readonly mem: PhysicalMemory,
    private readonly pages: PageAllocator,
    private readonly iommu: IntelIommu | undefined,
    private readonly directAlign: number,
  ) {}

  get translated(): boolean {
    return this.iommu !== undefined;
  }

  setMask(dev: PciDev, bits: number): void {
    if (bits < 24 || bits > 64) throw new KernelError(Errno.EIO, `bad DMA mask ${bits}`);
    dev.dmaMask = bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
  }

  allocCoherent(dev: PciDev, size: number): DmaBuffer {
    const bytes = alignUp(size, PAGE_SIZE);
    if (this.iommu) {
      const phys = this.pages.allocPhys(bytes);
      const iova = this.iommu.allocIova(dev, bytes);
      this.iommu.map(dev, iova, phys, bytes, true, true);
      return { cpu: new KernelBuffer(this.mem, phys, size), dmaAddr: iova, size };
    }
    const align = Math.min(this.directAlign, 2 ** Math.ceil(Math.log2(bytes)));
    const phys = this.pages.allocPhys(bytes, align, dev.dmaMask + 1);
    return { cpu: new KernelBuffer(this.mem, phys, size), dmaAddr: phys, size };
  }

  freeCoherent(dev: PciDev, buf: DmaBuffer): void {
    if (this.iommu) {
      const bytes = alignUp(buf.size, PAGE_SIZE);
      this.iommu.unmap(dev, buf.dmaAddr, bytes);
      this.iommu.freeIova(dev, buf.dmaAddr, bytes);
    }
    this.pages.freePhys(buf.cpu.phys);
  }

  /** dmam_alloc_coherent: freed when the driver unbinds. */
  dmamAllocCoherent(dev: PciDev, size: number): DmaBuffer {
    const buf = this.allocCoherent(dev, size);
    dev.devres.add('dmam_alloc_coherent', () => this.freeCoherent(dev, buf));
    return buf;
  }

  /** dma_map_single of a kernel buffer range. */
  mapSingle(dev: PciDev, buf: KernelBuffer, offset: number, size: number, dir: DmaDirection): number {
    return this.mapPhys(dev, buf.phys + offset, size, dir);
  }

  unmapSingle(dev: PciDev, dmaAddr: number, size: number): void {
    this.unmapPhys(dev, dmaAddr, size);
  }

  /** dma_map_resource: let a device reach an MMIO range (e.g. a peer's BAR). */
  mapResource(dev: PciDev, phys: number, size: number, dir: DmaDirection): number {
    return this.mapPhys(dev, phys, size, dir);
  }

  unmapResource(dev: PciDev, dmaAddr: number, size: number): void {
    this.unmapPhys(dev, dmaAddr, size);
  }

  private mapPhys(dev: PciDev, phys: number, size: number, dir: DmaDirection): number {
    if (!this.iommu) return phys;
    const first = Math.floor(phys / PAGE_SIZE) * PAGE_SIZE;
    const span = alignUp(phys + size, PAGE_SIZE) - first;
    const iova = this.iommu.allocIova(dev, span);
    this.iommu.map(dev, iova, first, span, dir !== DmaDirection.FROM_DEVICE, dir !== DmaDirection.TO_DEVICE);
    return iova + (phys - first);
  }

  private unmapPhys(dev: PciDev, dmaAddr: number, size: number): void {
    if (!this.iommu) return;
    const first = Math.floor(dmaAddr / PAGE_SIZE) * PAGE_SIZE;
    const span = alignUp(dmaAddr + size, PAGE_SIZE) - first;
    this.iommu.unmap(dev, first, span);
    this.iommu.freeIova(dev, first, span);
  }
}
