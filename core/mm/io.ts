import { Errno, KernelError } from '../errno';
import { PhysicalMemory } from './physmem';
import { PostedWrites, postedWritesOf } from './posted-writes';

/**
 * An ioremap()ed range: the only way kernel code touches device registers. Each accessor is one
 * MMIO transaction on the host's physical address space (ioread32/iowrite32/memcpy_toio …).
 */
export class IoMem {
  private readonly posted: PostedWrites;

  constructor(
    private readonly mem: PhysicalMemory,
    readonly phys: number,
    readonly size: number,
  ) {
    this.posted = postedWritesOf(mem);
  }

  private check(off: number, len: number): number {
    if (off < 0 || off + len > this.size) throw new KernelError(Errno.EFAULT, `MMIO access at +${off.toString(16)} beyond ioremap size ${this.size.toString(16)}`);
    return this.phys + off;
  }

  ioread8(off: number): number {
    const v = this.posted.read(this.check(off, 1), 1);
    this.chargeRead();
    return v;
  }
  ioread16(off: number): number {
    const v = this.posted.read(this.check(off, 2), 2);
    this.chargeRead();
    return v;
  }
  ioread32(off: number): number {
    const v = this.posted.read(this.check(off, 4), 4);
    this.chargeRead();
    return v;
  }
  ioread64(off: number): bigint {
    const a = this.check(off, 8);
    const v = BigInt(this.posted.read(a, 4)) | (BigInt(this.posted.read(a + 4, 4)) << 32n);
    this.chargeRead();
    return v;
  }
  iowrite8(v: number, off: number): void {
    this.chargeWrite();
    this.posted.write(this.check(off, 1), 1, v);
  }
  iowrite16(v: number, off: number): void {
    this.chargeWrite();
    this.posted.write(this.check(off, 2), 2, v);
  }
  iowrite32(v: number, off: number): void {
    this.chargeWrite();
    this.posted.write(this.check(off, 4), 4, v >>> 0);
  }
  iowrite64(v: bigint, off: number): void {
    this.chargeWrite();
    const a = this.check(off, 8);
    this.posted.write(a, 4, Number(v & 0xffffffffn));
    this.posted.write(a + 4, 4, Number((v >> 32n) & 0xffffffffn));
  }
  memcpyToio(off: number, data: Uint8Array): void {
    this.mem.chargeCpu(this.copyNs(data.length, 'write'));
    this.mem.writeBytes(this.check(off, data.length), data);
  }
  memcpyFromio(off: number, length: number): Uint8Array {
    this.mem.chargeCpu(this.copyNs(length, 'read'));
    return this.mem.readBytes(this.check(off, length), length);
  }

  /**
   * CPU time a copy of `bytes` into (write) or out of (read) this mapping takes, from the device's
   * timing; memcpy_toio/fromio charge it to the running code (Scheduler.charge).
   */
  copyNs(bytes: number, dir: 'read' | 'write'): number {
    const t = this.mem.timingAt(this.phys);
    if (!t || bytes <= 0) return 0;
    return dir === 'write' ? (bytes * 1e9) / t.writeBytesPerSec : t.readRoundTripNs + (bytes * 1e9) / t.readBytesPerSec;
  }

  private chargeRead(): void {
    const t = this.mem.timingAt(this.phys);
    if (!t) return;
    this.mem.accessStats.mmioReads++;
    this.mem.chargeCpu(t.readRoundTripNs);
  }

  private chargeWrite(): void {
    const t = this.mem.timingAt(this.phys);
    if (!t) return;
    this.mem.accessStats.postedWrites++;
    this.mem.chargeCpu(t.postedWriteNs);
  }
  memsetIo(off: number, byte: number, length: number): void {
    this.mem.fill(this.check(off, length), length, byte);
  }

  /** A sub-range (e.g. one register block of a BAR). */
  slice(off: number, size: number): IoMem {
    return new IoMem(this.mem, this.check(off, size), size);
  }
}

/** A kernel virtual mapping of RAM (kmalloc/dma_alloc_coherent's CPU address). */
export class KernelBuffer {
  constructor(
    private readonly mem: PhysicalMemory,
    readonly phys: number,
    readonly size: number,
  ) {}

  /** memcpy out of the buffer: costs the CPU the host's memcpy bandwidth. */
  read(off: number, length: number): Uint8Array {
    this.bounds(off, length);
    this.chargeCopy(length);
    return this.mem.readBytes(this.phys + off, length);
  }
  /** memcpy out of the buffer into `dst` (all of it): read() without the intermediate array. */
  readInto(off: number, dst: Uint8Array): void {
    this.bounds(off, dst.length);
    this.chargeCopy(dst.length);
    this.mem.readInto(this.phys + off, dst);
  }
  /** memcpy into the buffer. */
  write(off: number, data: Uint8Array): void {
    this.bounds(off, data.length);
    this.chargeCopy(data.length);
    this.mem.writeBytes(this.phys + off, data);
  }

  private chargeCopy(bytes: number): void {
    const bw = this.mem.memcpyBytesPerSec;
    if (bw > 0 && bytes > 0) this.mem.chargeCpu((bytes * 1e9) / bw);
  }
  read32(off: number): number {
    this.bounds(off, 4);
    return this.mem.read(this.phys + off, 4);
  }
  write32(off: number, v: number): void {
    this.bounds(off, 4);
    this.mem.write(this.phys + off, 4, v >>> 0);
  }
  read64(off: number): bigint {
    this.bounds(off, 8);
    return this.mem.read64(this.phys + off);
  }
  write64(off: number, v: bigint): void {
    this.bounds(off, 8);
    this.mem.write64(this.phys + off, v);
  }
  fill(off: number, length: number, byte: number): void {
    this.bounds(off, length);
    this.mem.fill(this.phys + off, length, byte);
  }

  private bounds(off: number, len: number): void {
    if (off < 0 || off + len > this.size) throw new KernelError(Errno.EFAULT, `buffer access [${off}, +${len}) outside ${this.size} bytes`);
  }
}
