import { Errno, KernelError } from '../errno';

/**
 * What a device model implements for a range of physical addresses (a BAR, a register block).
 * Offsets are relative to the start of the region. Accesses are little-endian.
 */
export interface MmioHandler {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
  /** Optional bulk paths (memcpy_toio/fromio, DMA); default: split into dwords/bytes. */
  readBytes?(offset: number, length: number): Uint8Array;
  writeBytes?(offset: number, data: Uint8Array): void;
  /** What a CPU access to this region costs (from the device's timing profile); free if absent. */
  timing?: MmioTiming;
  /**
   * Memory semantics (a prefetchable BAR, e.g. an NTB window onto RAM): a read returns what the
   * reading CPU's own posted writes left there. Register regions have side effects, so a read
   * first lets the CPU's posted writes to the region land (PCIe: a read never passes a write).
   */
  prefetchable?: boolean;
}

/**
 * The CPU-side cost of accessing a device region, as physical quantities: a non-posted read
 * stalls the CPU for the round trip; a posted write costs the CPU only its issue time; a bulk copy
 * (memcpy_toio/fromio) streams at the bandwidth the link and the device sustain.
 */
export interface MmioTiming {
  readRoundTripNs: number;
  postedWriteNs: number;
  writeBytesPerSec: number;
  readBytesPerSec: number;
}

/** What posted writes need from the CPU's clock (the scheduler implements it). */
export interface CpuClock {
  /** CPU time charged to the running code that `now` does not show yet. */
  readonly pendingCharge: number;
  /** The time as the running code sees it: now plus its pending charge. */
  readonly cpuNow: number;
  at(time: number, fn: () => void): { cancel(): void };
}

export interface MmioRegion {
  base: number;
  size: number;
  name: string;
  handler: MmioHandler;
}

const CHUNK_SHIFT = 16;
const CHUNK = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK - 1;

/** The chunk number of RAM address `a` (a non-negative integer; above 2^32 too). */
function chunkOf(a: number): number {
  return a <= 0xffffffff ? a >>> CHUNK_SHIFT : Math.floor(a / CHUNK);
}

/** `a`'s offset in its chunk. */
function offsetIn(a: number): number {
  return a <= 0xffffffff ? a & CHUNK_MASK : a % CHUNK;
}

/**
 * One host's physical address space: sparse RAM (chunks allocated on first touch) from 0, and MMIO
 * regions dispatched to device models. A CPU access with no RAM or region behind it reads all-ones
 * and drops writes, as an unclaimed PCIe access does.
 */
export class PhysicalMemory {
  private chunks = new Map<number, Uint8Array>();
  private regions: MmioRegion[] = [];
  private lastRegion?: MmioRegion;
  /** The lowest region base (Infinity without regions): RAM below it needs no region lookup. */
  private lowestRegionBase = Infinity;
  /** The chunk looked up last, and its number (-1: none); chunks are never freed, so it stays valid. */
  private lastChunkKey = -1;
  private lastChunk: Uint8Array | undefined;

  /**
   * Where CPU costs of MMIO accesses go (the scheduler's `charge`, set by the platform); an
   * address space without a CPU (tests of device models) charges nothing.
   */
  chargeCpu: (ns: number) => void = () => undefined;

  /**
   * The clock of the CPU that uses this address space (the world's scheduler, set by the
   * platform): posted MMIO writes made while the running code has been charged CPU time land
   * when that time has passed (core/mm/posted-writes.ts). Absent: every write lands at once.
   */
  cpuClock?: CpuClock;

  /** CPU memcpy bandwidth between RAM buffers (bytes/s; 0: bulk RAM copies cost nothing). */
  memcpyBytesPerSec = 0;

  /** CPU accesses that crossed to a device with a timing: non-posted reads (round trips). */
  readonly accessStats = { mmioReads: 0, postedWrites: 0 };

  constructor(readonly ramBytes: number) {}

  /** The timing of the device region at `addr` (undefined for RAM and free regions). */
  timingAt(addr: number): MmioTiming | undefined {
    return this.regionAt(addr)?.handler.timing;
  }

  addRegion(base: number, size: number, name: string, handler: MmioHandler): MmioRegion {
    for (const r of this.regions) {
      if (base < r.base + r.size && r.base < base + size) throw new KernelError(Errno.EBUSY, `${name} overlaps ${r.name}`);
    }
    const region = { base, size, name, handler };
    this.regions.push(region);
    this.regions.sort((a, b) => a.base - b.base);
    this.lowestRegionBase = this.regions[0].base;
    return region;
  }

  removeRegion(region: MmioRegion): void {
    this.regions = this.regions.filter((r) => r !== region);
    this.lowestRegionBase = this.regions.length ? this.regions[0].base : Infinity;
    if (this.lastRegion === region) this.lastRegion = undefined;
  }

  regionAt(addr: number): MmioRegion | undefined {
    if (addr < this.lowestRegionBase) return undefined;
    const last = this.lastRegion;
    if (last && addr >= last.base && addr < last.base + last.size) return last;
    const regions = this.regions;
    for (let i = 0; i < regions.length; i++) {
      const r = regions[i];
      if (addr >= r.base && addr < r.base + r.size) return (this.lastRegion = r);
    }
    return undefined;
  }

  /** The RAM chunk `key`, if it has been touched. */
  private chunk(key: number): Uint8Array | undefined {
    if (key === this.lastChunkKey) return this.lastChunk;
    const c = this.chunks.get(key);
    if (c) {
      this.lastChunkKey = key;
      this.lastChunk = c;
    }
    return c;
  }

  /** The RAM chunk `key`, allocated (zeroed) on first touch. */
  private chunkForWrite(key: number): Uint8Array {
    if (key === this.lastChunkKey) return this.lastChunk!;
    let c = this.chunks.get(key);
    if (!c) this.chunks.set(key, (c = new Uint8Array(CHUNK)));
    this.lastChunkKey = key;
    this.lastChunk = c;
    return c;
  }

  isRam(addr: number, length = 1): boolean {
    return addr >= 0 && addr + length <= this.ramBytes;
  }

  /** Bytes of RAM actually backed (touched). */
  get residentBytes(): number {
    return this.chunks.size * CHUNK;
  }

  read(addr: number, size: 1 | 2 | 4): number {
    const region = this.regionAt(addr);
    if (region) return region.handler.read(addr - region.base, size);
    if (!this.isRam(addr, size)) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    const off = offsetIn(addr);
    if (off + size <= CHUNK) {
      const c = this.chunk(chunkOf(addr));
      if (!c) return 0;
      if (size === 1) return c[off];
      if (size === 2) return c[off] | (c[off + 1] << 8);
      return (c[off] | (c[off + 1] << 8) | (c[off + 2] << 16) | (c[off + 3] << 24)) >>> 0;
    }
    const b = this.readBytes(addr, size);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + b[i];
    return v;
  }

  write(addr: number, size: 1 | 2 | 4, value: number): void {
    const region = this.regionAt(addr);
    if (region) return region.handler.write(addr - region.base, size, value);
    if (!this.isRam(addr, size)) return;
    const off = offsetIn(addr);
    if (off + size <= CHUNK) {
      // Within one chunk: store the bytes in place (no temporary array).
      const c = this.chunkForWrite(chunkOf(addr));
      c[off] = value & 0xff;
      if (size === 1) return;
      c[off + 1] = (value >>> 8) & 0xff;
      if (size === 2) return;
      c[off + 2] = (value >>> 16) & 0xff;
      c[off + 3] = (value >>> 24) & 0xff;
      return;
    }
    const b = new Uint8Array(size);
    for (let i = 0; i < size; i++) b[i] = (value >>> (8 * i)) & 0xff;
    this.writeBytes(addr, b);
  }

  read64(addr: number): bigint {
    return BigInt(this.read(addr, 4)) | (BigInt(this.read(addr + 4, 4)) << 32n);
  }

  write64(addr: number, value: bigint): void {
    this.write(addr, 4, Number(value & 0xffffffffn));
    this.write(addr + 4, 4, Number((value >> 32n) & 0xffffffffn));
  }

  readBytes(addr: number, length: number): Uint8Array {
    const region = this.regionAt(addr);
    if (region) return readRegionBytes(region, addr - region.base, length);
    const out = new Uint8Array(length);
    if (!this.isRam(addr, length)) return out.fill(0xff);
    this.copyOutOfRam(addr, out);
    return out;
  }

  /**
   * Read `out.length` bytes at `addr` into `out` (a caller's buffer): the same bytes readBytes
   * returns, without allocating a new array for them. MMIO regions go through their handler.
   */
  readInto(addr: number, out: Uint8Array): void {
    const region = this.regionAt(addr);
    if (region) {
      out.set(readRegionBytes(region, addr - region.base, out.length));
      return;
    }
    if (!this.isRam(addr, out.length)) {
      out.fill(0xff);
      return;
    }
    this.copyOutOfRam(addr, out);
  }

  /** RAM [addr, addr + out.length) into `out` (bounds already checked); untouched chunks read as zeros. */
  private copyOutOfRam(addr: number, out: Uint8Array): void {
    const length = out.length;
    const off0 = offsetIn(addr);
    if (off0 + length <= CHUNK) {
      const c = this.chunk(chunkOf(addr));
      if (c) out.set(length === CHUNK ? c : c.subarray(off0, off0 + length));
      else out.fill(0);
      return;
    }
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const off = offsetIn(a);
      const n = Math.min(CHUNK - off, length - done);
      const c = this.chunk(chunkOf(a));
      if (c) out.set(c.subarray(off, off + n), done);
      else out.fill(0, done, done + n);
      done += n;
    }
  }

  writeBytes(addr: number, data: Uint8Array): void {
    const region = this.regionAt(addr);
    if (region) return writeRegionBytes(region, addr - region.base, data);
    const length = data.length;
    if (!this.isRam(addr, length) || length === 0) return;
    const off0 = offsetIn(addr);
    if (off0 + length <= CHUNK) {
      this.chunkForWrite(chunkOf(addr)).set(data, off0);
      return;
    }
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const off = offsetIn(a);
      const n = Math.min(CHUNK - off, length - done);
      this.chunkForWrite(chunkOf(a)).set(data.subarray(done, done + n), off);
      done += n;
    }
  }

  /** Copy RAM to RAM (for DMA engines and memcpy between kernel buffers). */
  copy(dst: number, src: number, length: number): void {
    // Both ends in RAM below every region, each within one chunk: one native copy, chunk to chunk
    // (TypedArray.set copies as memmove does when the two overlap).
    if (length > 0 && dst + length <= this.lowestRegionBase && src + length <= this.lowestRegionBase && this.isRam(dst, length) && this.isRam(src, length)) {
      const so = offsetIn(src);
      const dof = offsetIn(dst);
      if (so + length <= CHUNK && dof + length <= CHUNK) {
        const from = this.chunk(chunkOf(src));
        const to = this.chunkForWrite(chunkOf(dst));
        if (from) to.set(from.subarray(so, so + length), dof);
        else to.fill(0, dof, dof + length);
        return;
      }
    }
    this.writeBytes(dst, this.readBytes(src, length));
  }

  fill(addr: number, length: number, byte: number): void {
    const region = this.regionAt(addr);
    if (region) return writeRegionBytes(region, addr - region.base, new Uint8Array(length).fill(byte));
    // A length that is not a whole number of bytes: exactly what a temporary array of that length does.
    if (!Number.isSafeInteger(length) || length < 0) return this.writeBytes(addr, new Uint8Array(length).fill(byte));
    if (!this.isRam(addr, length)) return;
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const off = offsetIn(a);
      const n = Math.min(CHUNK - off, length - done);
      this.chunkForWrite(chunkOf(a)).fill(byte, off, off + n);
      done += n;
    }
  }
}

function readRegionBytes(region: MmioRegion, offset: number, length: number): Uint8Array {
  const h = region.handler;
  if (h.readBytes) return h.readBytes(offset, length);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = h.read(offset + i, 1);
  return out;
}

function writeRegionBytes(region: MmioRegion, offset: number, data: Uint8Array): void {
  const h = region.handler;
  if (h.writeBytes) return h.writeBytes(offset, data);
  for (let i = 0; i < data.length; i++) h.write(offset + i, 1, data[i]);
}
