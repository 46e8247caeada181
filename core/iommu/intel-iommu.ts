import { Errno, KernelError } from '../errno';
import { RangeAllocator } from '../mm/range-allocator';
import type { PciCore } from '../pci/pci-core';
import type { PciDev } from '../pci/pci-dev';
import { Printk } from '../printk';
import { DmarFault, DmarUnit, DomainTables } from './dmar-unit';
import { DmarFaultHandler } from './dmar-fault';

/** An IOMMU domain: page tables plus the IOVA space of the devices attached to it. */
export class IommuDomain {
  readonly iova = new RangeAllocator(0x100000, 2 ** 48 - 0x100000);
  readonly devices = new Set<PciDev>();
  constructor(readonly tables: DomainTables) {}
}

/**
 * The kernel side of VT-d DMA remapping (drivers/iommu/intel): one domain per IOMMU group with
 * context entries for every DMA alias of its devices, IOVA allocation as Intel's allocator does
 * it (power-of-two sizes, size-aligned, top-down, below 4 GiB first).
 */
export class IntelIommu {
  private domains = new Map<PciDev, IommuDomain>();
  private nextDomainId = 1;
  private nextGroup = 0;

  constructor(
    readonly unit: DmarUnit,
    private readonly pci: PciCore,
    private readonly printk: Printk,
    /** The unit's fault reporting (shared with interrupt remapping). */
    readonly faultHandler: DmarFaultHandler,
  ) {}

  /** Faults reported so far (what dmesg shows, also for tests). */
  get faults(): readonly DmarFault[] {
    return this.faultHandler.faults;
  }

  /** intel_iommu_init: turn translation on and attach every PCI device to a default domain. */
  enableTranslation(): void {
    this.printk.info('DMAR: Intel(R) Virtualization Technology for Directed I/O');
    for (const dev of this.pci.devices) this.attach(dev);
    this.unit.translation = true;
  }

  /** Attach a device (and every alias ID it may use) to its group's domain. */
  attach(dev: PciDev): IommuDomain {
    const existing = this.domains.get(dev);
    if (existing) {
      // Re-attaching refreshes context entries for aliases added since (same group, same domain).
      this.pci.forEachDmaAlias(dev, (_owner, alias) => {
        this.unit.context.set(alias, existing.tables);
        return 0;
      });
      return existing;
    }
    let domain = [...this.domains.entries()].find(([other]) => this.pci.devsAreDmaAliases(other, dev))?.[1];
    if (!domain) {
      domain = new IommuDomain(new DomainTables(this.nextDomainId++));
      this.pci.devInfo(dev, `Adding to iommu group ${this.nextGroup++}`);
    }
    domain.devices.add(dev);
    this.domains.set(dev, domain);
    this.pci.forEachDmaAlias(dev, (_owner, alias) => {
      this.unit.context.set(alias, domain!.tables);
      return 0;
    });
    return domain;
  }

  domainOf(dev: PciDev): IommuDomain {
    const d = this.domains.get(dev);
    if (!d) throw new KernelError(Errno.ENODEV, `${dev.name} has no IOMMU domain`);
    return d;
  }

  /** Allocate an IOVA range for `size` bytes (rounded to a power-of-two number of pages). */
  allocIova(dev: PciDev, size: number): number {
    const d = this.domainOf(dev);
    const pages = 2 ** Math.ceil(Math.log2(Math.ceil(size / 4096)));
    const bytes = pages * 4096;
    const limit = Math.min(dev.dmaMask + 1, 2 ** 48);
    try {
      return d.iova.alloc(bytes, bytes, { topDown: true, limit: Math.min(limit, 2 ** 32) });
    } catch (e) {
      if (!(e instanceof KernelError) || limit <= 2 ** 32) throw e;
      return d.iova.alloc(bytes, bytes, { topDown: true, limit });
    }
  }

  freeIova(dev: PciDev, iova: number, size: number): void {
    const pages = 2 ** Math.ceil(Math.log2(Math.ceil(size / 4096)));
    this.domainOf(dev).iova.release(iova, pages * 4096);
  }

  map(dev: PciDev, iova: number, phys: number, size: number, read: boolean, write: boolean): void {
    const t = this.domainOf(dev).tables;
    for (let off = 0; off < size; off += 4096) t.ptes.set(Math.floor((iova + off) / 4096), { pfn: Math.floor((phys + off) / 4096), read, write });
  }

  unmap(dev: PciDev, iova: number, size: number): void {
    const t = this.domainOf(dev).tables;
    for (let off = 0; off < size; off += 4096) t.ptes.delete(Math.floor((iova + off) / 4096));
  }
}
