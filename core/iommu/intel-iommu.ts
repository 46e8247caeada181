import { Errno, KernelError } from '../errno';
import { bdf } from '../lib/printf';
import { RangeAllocator } from '../mm/range-allocator';
import type { PciCore } from '../pci/pci-core';
import type { PciDev } from '../pci/pci-dev';
import { Printk, RateLimit } from '../printk';
import { Scheduler } from '../time/scheduler';
import { secs } from '../time/units';
import { DmarFault, DmarUnit, DomainTables, NUM_FAULT_RECORDS } from './dmar-unit';

const DMA_REASONS = [
  'Software',
  'Present bit in root entry is clear',
  'Present bit in context entry is clear',
  'Invalid context entry',
  'Access beyond MGAW',
  'PTE Write access is not set',
  'PTE Read access is not set',
  'Next page table ptr is invalid',
  'Root table address invalid',
  'Context table ptr is invalid',
  'non-zero reserved fields in RTP',
  'non-zero reserved fields in CTP',
  'non-zero reserved fields in PTE',
  'PCE for translation request specifies blocking',
];

const IRQ_REASONS = [
  'Detected reserved fields in the decoded interrupt-remapped request',
  'Interrupt index exceeded the interrupt-remapping table size',
  'Present field in the IRTE entry is clear',
  'Error accessing interrupt-remapping table pointed by IRTA_REG',
  'Detected reserved fields in the IRTE entry',
  'Blocked a compatibility format interrupt request',
  'Blocked an interrupt request due to source-id verification failure',
];

/** An IOMMU domain: page tables plus the IOVA space of the devices attached to it. */
export class IommuDomain {
  readonly iova = new RangeAllocator(0x100000, 2 ** 48 - 0x100000);
  readonly devices = new Set<PciDev>();
  constructor(readonly tables: DomainTables) {}
}

/**
 * The kernel side of VT-d DMA remapping (drivers/iommu/intel): one domain per IOMMU group with
 * context entries for every DMA alias of its devices, IOVA allocation as Intel's allocator does
 * it (power-of-two sizes, size-aligned, top-down, below 4 GiB first), and the fault handler that
 * prints DMAR lines in the current mainline format.
 */
export class IntelIommu {
  private domains = new Map<PciDev, IommuDomain>();
  private nextDomainId = 1;
  private nextGroup = 0;
  private limiter: RateLimit;
  /** Faults reported so far (what dmesg shows, also for tests). */
  readonly faults: DmarFault[] = [];

  constructor(
    readonly unit: DmarUnit,
    private readonly pci: PciCore,
    private readonly printk: Printk,
    private readonly sched: Scheduler,
  ) {
    this.limiter = new RateLimit(sched, secs(5), 10);
    unit.onFaultEvent = () => this.sched.after(0, () => this.handleFaults());
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

  /** dmar_fault: print the status line and every pending record, then clear them. */
  private handleFaults(): void {
    const fsts = this.unit.fsts;
    if (!(fsts & 0x3)) return;
    const ratelimited = !this.limiter.allow((n) => this.printk.err(`dmar_fault: ${n} callbacks suppressed`));
    if (!ratelimited) this.printk.err(`DMAR: DRHD: handling fault status reg ${fsts.toString(16)}`);
    let i = (fsts >> 8) & 0xff;
    for (let n = 0; n < NUM_FAULT_RECORDS; n++, i = (i + 1) % NUM_FAULT_RECORDS) {
      const f = this.unit.faultRecords[i];
      if (!f) break;
      this.faults.push(f);
      if (!ratelimited && this.limiter.allow()) this.printk.err(formatFault(f));
      this.unit.clearRecord(i);
    }
    this.unit.clearStatus();
  }
}

function formatFault(f: DmarFault): string {
  const dev = bdf(f.source >> 8, f.source & 0xff);
  if (f.kind === 'intr') {
    return `DMAR: [INTR-REMAP] Request device [${dev}] fault index 0x${f.index.toString(16)} [fault reason 0x${f.reason.toString(16).padStart(2, '0')}] ${IRQ_REASONS[f.reason - 0x20] ?? 'Unknown'}`;
  }
  return `DMAR: [${f.write ? 'DMA Write' : 'DMA Read'} NO_PASID] Request device [${dev}] fault addr 0x${f.addr.toString(16)} [fault reason 0x${f.reason.toString(16).padStart(2, '0')}] ${DMA_REASONS[f.reason] ?? 'Unknown'}`;
}
