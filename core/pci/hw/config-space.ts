import * as R from './regs';

export interface BarDecl {
  /** BAR index 0..5 (a 64-bit BAR also uses index+1). */
  index: number;
  /** Size in bytes, a power of two ≥ 16. */
  size: number;
  is64: boolean;
  prefetchable: boolean;
}

export interface FunctionIdentity {
  vendor: number;
  device: number;
  /** 24-bit class code (class << 16 | subclass << 8 | prog-if). */
  classCode: number;
  revision?: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
  /** 1 for a PCI-to-PCI bridge header. */
  headerType?: number;
  multiFunction?: boolean;
}

/**
 * The 4 KiB configuration space of one function as silicon implements it: read-only identity,
 * writable command/status, BARs that answer the all-ones sizing probe, and a capability list.
 * Write masks decide which bits software can change.
 */
export class ConfigSpace {
  readonly bytes = new Uint8Array(4096);
  private writable = new Uint8Array(4096);
  private lastCap = 0;
  private nextCapOffset = 0x40;
  readonly bars: BarDecl[] = [];
  /** Called after every write (silicon reacts to enables, MSI-X control, bus numbers…). */
  onWrite?: (offset: number, size: number) => void;

  constructor(id: FunctionIdentity) {
    this.set16(R.PCI_VENDOR_ID, id.vendor);
    this.set16(R.PCI_DEVICE_ID, id.device);
    this.set32(R.PCI_CLASS_REVISION, ((id.classCode & 0xffffff) << 8) | (id.revision ?? 0));
    const header = id.headerType ?? R.PCI_HEADER_TYPE_NORMAL;
    this.bytes[R.PCI_HEADER_TYPE] = header | (id.multiFunction ? 0x80 : 0);
    this.allowWrite(R.PCI_COMMAND, 2, 0x0547);
    this.allowWrite(R.PCI_INTERRUPT_LINE, 1, 0xff);
    if (header === R.PCI_HEADER_TYPE_NORMAL) {
      this.set16(R.PCI_SUBSYSTEM_VENDOR_ID, id.subsystemVendor ?? id.vendor);
      this.set16(R.PCI_SUBSYSTEM_ID, id.subsystemDevice ?? 0);
    } else {
      this.allowWrite(R.PCI_PRIMARY_BUS, 3, 0xffffff);
      this.allowWrite(R.PCI_MEMORY_BASE, 8, 0xffffffff);
    }
  }

  addBar(bar: BarDecl): void {
    const off = R.PCI_BASE_ADDRESS_0 + 4 * bar.index;
    const flags = (bar.is64 ? R.PCI_BASE_ADDRESS_MEM_TYPE_64 : 0) | (bar.prefetchable ? R.PCI_BASE_ADDRESS_MEM_PREFETCH : 0);
    this.set32(off, flags);
    // Writable address bits: everything above the size.
    const mask = bar.size >= 2 ** 32 ? 0 : (~(bar.size - 1) >>> 0) & 0xfffffff0;
    this.allowWrite(off, 4, mask);
    if (bar.is64) {
      const hiMask = bar.size > 2 ** 32 ? (~(bar.size / 2 ** 32 - 1) >>> 0) : 0xffffffff;
      this.allowWrite(off + 4, 4, hiMask);
    }
    this.bars.push(bar);
  }

  /** Append a capability; returns its offset. `writable` lists [offset-in-cap, size, mask] triples. */
  addCapability(id: number, length: number, writable: Array<[number, number, number]> = []): number {
    const off = this.nextCapOffset;
    this.nextCapOffset = (off + length + 3) & ~3;
    this.bytes[off] = id;
    this.bytes[off + 1] = 0;
    if (this.lastCap === 0) {
      this.bytes[R.PCI_CAPABILITY_LIST] = off;
      this.set16(R.PCI_STATUS, this.get16(R.PCI_STATUS) | R.PCI_STATUS_CAP_LIST);
    } else this.bytes[this.lastCap + 1] = off;
    this.lastCap = off;
    for (const [o, size, mask] of writable) this.allowWrite(off + o, size, mask);
    return off;
  }

  findCapability(id: number): number {
    let off = this.bytes[R.PCI_CAPABILITY_LIST];
    let guard = 48;
    while (off && guard--) {
      if (this.bytes[off] === id) return off;
      off = this.bytes[off + 1];
    }
    return 0;
  }

  read(offset: number, size: 1 | 2 | 4): number {
    if (size === 1) return this.bytes[offset];
    if (size === 2) return this.get16(offset);
    return this.get32(offset);
  }

  /** A configuration write from software: only the writable bits change. */
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) {
      const m = this.writable[offset + i];
      const b = (value >>> (8 * i)) & 0xff;
      this.bytes[offset + i] = (this.bytes[offset + i] & ~m) | (b & m);
    }
    this.onWrite?.(offset, size);
  }

  /** Silicon-side setters (ignore write masks). */
  set16(off: number, v: number): void {
    this.bytes[off] = v & 0xff;
    this.bytes[off + 1] = (v >>> 8) & 0xff;
  }
  set32(off: number, v: number): void {
    for (let i = 0; i < 4; i++) this.bytes[off + i] = (v >>> (8 * i)) & 0xff;
  }
  get16(off: number): number {
    return this.bytes[off] | (this.bytes[off + 1] << 8);
  }
  get32(off: number): number {
    return (this.bytes[off] | (this.bytes[off + 1] << 8) | (this.bytes[off + 2] << 16) | (this.bytes[off + 3] << 24)) >>> 0;
  }

  allowWrite(off: number, size: number, mask: number): void {
    for (let i = 0; i < size; i++) this.writable[off + i] = i < 4 ? (mask >>> (8 * i)) & 0xff : 0xff;
  }

  /** Current address programmed into a BAR (what the function decodes). */
  barAddress(index: number): number {
    const off = R.PCI_BASE_ADDRESS_0 + 4 * index;
    const lo = this.get32(off);
    const bar = this.bars.find((b) => b.index === index);
    const hi = bar?.is64 ? this.get32(off + 4) : 0;
    return hi * 2 ** 32 + (lo & 0xfffffff0);
  }

  get command(): number {
    return this.get16(R.PCI_COMMAND);
  }
}
