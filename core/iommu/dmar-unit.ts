import { RequesterId } from '../pci/hw/function';

/** Page-table entry of a DMA-remapping domain (4 KiB pages). */
export interface Pte {
  pfn: number;
  read: boolean;
  write: boolean;
}

/** A second-level translation table: IOVA page frame → PTE. */
export class DomainTables {
  readonly ptes = new Map<number, Pte>();
  constructor(readonly domainId: number) {}
}

/** struct irte, the fields the hardware checks. */
export interface Irte {
  present: boolean;
  fpd: boolean;
  vector: number;
  /** Destination APIC ID. */
  dest: number;
  /** Source validation type: 0 none, 1 requester ID under SQ, 2 bus range. */
  svt: 0 | 1 | 2;
  sq: 0 | 1 | 2 | 3;
  sid: number;
}

export type DmarFault =
  | { kind: 'dma'; source: RequesterId; addr: number; write: boolean; reason: number }
  | { kind: 'intr'; source: RequesterId; index: number; reason: number };

export const NUM_FAULT_RECORDS = 8;
export const IR_TABLE_ENTRIES = 65536;

const SQ_MASKS = [0xffff, 0xfffb, 0xfff9, 0xfff8];

/**
 * One VT-d remapping hardware unit: root/context entries per requester ID, domain page tables,
 * the interrupt-remapping table, and the fault-recording registers. The kernel's intel-iommu code
 * programs its tables (as it would write them in memory); inbound traffic is checked here.
 */
export class DmarUnit {
  translation = false;
  interruptRemapping = false;
  /** GCMD.CFI: compatibility-format interrupts pass through when set (Linux clears it). */
  compatFormatAllowed = false;
  readonly context = new Map<RequesterId, DomainTables>();
  readonly irt = new Map<number, Irte>();
  /** Fault-recording registers and FSTS (PPF bit 1, FRI bits 15:8). */
  readonly faultRecords: Array<DmarFault | undefined> = new Array(NUM_FAULT_RECORDS).fill(undefined);
  private nextRecord = 0;
  fsts = 0;
  /** The fault-event interrupt toward the kernel (DMAR's own MSI). */
  onFaultEvent?: () => void;

  /** Translate an inbound DMA address; returns the physical address or records a fault. */
  translate(source: RequesterId, iova: number, write: boolean): number | undefined {
    if (!this.translation) return iova;
    const dom = this.context.get(source);
    if (!dom) return this.fault({ kind: 'dma', source, addr: pageOf(iova), write, reason: 2 });
    const pte = dom.ptes.get(Math.floor(iova / 4096));
    if (!pte || (write ? !pte.write : !pte.read)) return this.fault({ kind: 'dma', source, addr: pageOf(iova), write, reason: write ? 5 : 6 });
    return pte.pfn * 4096 + (iova % 4096);
  }

  /**
   * Decode an interrupt request (a DWORD write to 0xFEExxxxx): returns {vector, dest} to deliver,
   * or undefined when it is blocked (and a fault is recorded).
   */
  remapInterrupt(source: RequesterId, addr: number, data: number): { vector: number; dest: number } | undefined {
    const lo = addr % 2 ** 32;
    const remappable = (lo & 0x10) !== 0;
    if (!this.interruptRemapping) return { vector: data & 0xff, dest: (lo >>> 12) & 0xff };
    if (!remappable) {
      if (this.compatFormatAllowed) return { vector: data & 0xff, dest: (lo >>> 12) & 0xff };
      return this.fault({ kind: 'intr', source, index: 0, reason: 0x25 });
    }
    let index = ((lo >>> 5) & 0x7fff) | (((lo >>> 2) & 1) << 15);
    if (lo & 0x08) index += data & 0xffff;
    if (index >= IR_TABLE_ENTRIES) return this.fault({ kind: 'intr', source, index, reason: 0x21 });
    const irte = this.irt.get(index);
    if (!irte || !irte.present) return this.fault({ kind: 'intr', source, index, reason: 0x22 });
    if (!sourceValid(irte, source)) return this.fault({ kind: 'intr', source, index, reason: 0x26 }, irte.fpd);
    return { vector: irte.vector, dest: irte.dest };
  }

  private fault(f: DmarFault, suppress = false): undefined {
    if (suppress) return undefined;
    if (this.faultRecords[this.nextRecord] !== undefined) {
      this.fsts |= 1; // PFO: primary fault overflow
      return undefined;
    }
    this.faultRecords[this.nextRecord] = f;
    if (!(this.fsts & 2)) this.fsts = (this.fsts & ~0xff00) | (this.nextRecord << 8) | 2;
    this.nextRecord = (this.nextRecord + 1) % NUM_FAULT_RECORDS;
    this.onFaultEvent?.();
    return undefined;
  }

  /** Software clears a record (write-1-to-clear of its F bit). */
  clearRecord(i: number): void {
    this.faultRecords[i] = undefined;
  }

  clearStatus(): void {
    this.fsts &= ~0x3;
  }
}

function pageOf(addr: number): number {
  return Math.floor(addr / 4096) * 4096;
}

function sourceValid(irte: Irte, source: RequesterId): boolean {
  switch (irte.svt) {
    case 0:
      return true;
    case 1: {
      const m = SQ_MASKS[irte.sq];
      return (source & m) === (irte.sid & m);
    }
    case 2: {
      const bus = source >> 8;
      return bus >= irte.sid >> 8 && bus <= (irte.sid & 0xff);
    }
  }
}
