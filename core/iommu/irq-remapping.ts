import type { DmarFaultHandler } from './dmar-fault';
import { Errno, KernelError } from '../errno';
import type { PciCore } from '../pci/pci-core';
import type { PciDev } from '../pci/pci-dev';
import type { MsiMsg } from '../pci/msi-desc';
import { Printk } from '../printk';
import { DmarUnit, IR_TABLE_ENTRIES, Irte } from './dmar-unit';

/**
 * The kernel side of VT-d interrupt remapping (drivers/iommu/intel/irq_remapping.c): IRTE
 * allocation, the remappable MSI message, and the source-ID check chosen from the device's DMA
 * aliases when the entry is allocated (set_msi_sid).
 */
export class IrqRemapping {
  private used = new Uint8Array(IR_TABLE_ENTRIES);

  constructor(
    private readonly unit: DmarUnit,
    private readonly pci: PciCore,
    private readonly printk: Printk,
    private readonly noSid: boolean,
    /** The unit's fault reporting, which IR needs even when DMA remapping is off. */
    readonly faultHandler: DmarFaultHandler,
  ) {}

  /** Turn remapping on in the unit: from now on only remappable-format MSIs get through. */
  enable(): void {
    this.unit.interruptRemapping = true;
    this.unit.compatFormatAllowed = false;
    this.printk.info('DMAR-IR: Enabled IRQ remapping in xapic mode');
  }

  get enabled(): boolean {
    return this.unit.interruptRemapping;
  }

  /** Allocate a power-of-two aligned run of `count` IRTEs for `dev`'s MSIs; returns the first index. */
  allocIrte(dev: PciDev, count: number): number {
    const n = 1 << Math.ceil(Math.log2(Math.max(count, 1)));
    for (let i = 0; i + n <= IR_TABLE_ENTRIES; i += n) {
      if (this.used.subarray(i, i + n).every((u) => u === 0)) {
        this.used.fill(1, i, i + n);
        const sid = this.noSid ? { svt: 0 as const, sq: 0 as const, sid: 0 } : this.msiSid(dev);
        for (let k = 0; k < n; k++) this.unit.irt.set(i + k, { present: false, fpd: false, vector: 0, dest: 0, ...sid });
        return i;
      }
    }
    this.printk.err('DMAR-IR: IR0: can\'t allocate an IRTE');
    this.printk.err('DMAR-IR: Failed to allocate IRTE');
    throw new KernelError(Errno.ENOSPC, 'interrupt-remapping table full');
  }

  freeIrte(index: number, count: number): void {
    const n = 1 << Math.ceil(Math.log2(Math.max(count, 1)));
    for (let k = 0; k < n; k++) this.unit.irt.delete(index + k);
    this.used.fill(0, index, index + n);
  }

  /** Point an IRTE at a CPU vector (modify_irte + interrupt-entry-cache flush). */
  route(index: number, vector: number, dest: number): void {
    const e = this.unit.irt.get(index);
    if (!e) throw new KernelError(Errno.EINVAL, `IRTE ${index} not allocated`);
    e.present = true;
    e.vector = vector;
    e.dest = dest;
  }

  irte(index: number): Irte | undefined {
    return this.unit.irt.get(index);
  }

  /** The remappable-format message for IRTE `index` (SHV set, sub-handle in data). */
  composeMsg(index: number, subhandle = 0): MsiMsg {
    return { addressLo: (0xfee00000 | ((index & 0x7fff) << 5) | 0x10 | 0x08 | (((index >> 15) & 1) << 2)) >>> 0, addressHi: 0, data: subhandle };
  }

  /** set_msi_sid: exact requester ID, or a bus range when the device's aliases say so. */
  msiSid(dev: PciDev): Pick<Irte, 'svt' | 'sq' | 'sid'> {
    let count = 0;
    let busmatch = 0;
    let lastPdev: PciDev = dev;
    let lastAlias = dev.requesterId;
    this.pci.forEachDmaAlias(dev, (owner, alias) => {
      if (count === 0 || alias >> 8 === lastAlias >> 8) busmatch++;
      lastPdev = owner;
      lastAlias = alias;
      count++;
      return 0;
    });
    const bus = (id: number) => id >> 8;
    if (bus(lastAlias) !== lastPdev.busNumber) return { svt: 2, sq: 0, sid: (bus(lastAlias) << 8) | dev.busNumber };
    if (count >= 2 && busmatch === count) return { svt: 2, sq: 0, sid: (dev.busNumber << 8) | dev.busNumber };
    if (lastPdev.busNumber !== dev.busNumber) return { svt: 1, sq: 0, sid: lastAlias };
    return { svt: 1, sq: 0, sid: dev.requesterId };
  }
}
