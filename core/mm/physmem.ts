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

export interface MmioRegion {
  base: number;
  size: number;
  name: string;
  handler: MmioHandler;
}

const CHUNK_SHIFT = 16;
const CHUNK = 1 << CHUNK_SHIFT;

/**
 * One host's physical address space: sparse RAM (chunks allocated on first touch) from 0, and MMIO
 * regions dispatched to device models. A CPU access with no RAM or region behind it reads all-ones
 * and drops writes, as an unclaimed PCIe access does.
 */
export class PhysicalMemory {
  private chunks = new Map<number, Uint8Array>();
  private regions: MmioRegion[] = [];
  private lastRegion?: MmioRegion;

  /**
   * Where CPU costs of MMIO accesses go (the scheduler's `charge`, set by the platform); an
   * address space without a CPU (tests of device models) charges nothing.
   */
  chargeCpu: (ns: number) => void = () => undefined;

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
    return region;
  }

  removeRegion(region: MmioRegion): void {
    this.regions = this.regions.filter((r) => r !== region);
    if (this.lastRegion === region) this.lastRegion = undefined;
  }

  regionAt(addr: number): MmioRegion | undefined {
    const last = this.lastRegion;
    if (last && addr >= last.base && addr < last.base + last.size) return last;
    for (const r of this.regions) {
      if (addr >= r.base && addr < r.base + r.size) return (this.lastRegion = r);
    }
    return undefined;
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
    const off = addr & (CHUNK - 1);
    if (off + size <= CHUNK) {
      const c = this.chunks.get(addr >>> 0 === addr ? addr >>> CHUNK_SHIFT : Math.floor(addr / CHUNK));
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
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const off = a % CHUNK;
      const n = Math.min(CHUNK - off, length - done);
      const c = this.chunks.get(Math.floor(a / CHUNK));
      if (c) out.set(c.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }

  writeBytes(addr: number, data: Uint8Array): void {
    const region = this.regionAt(addr);
    if (region) return writeRegionBytes(region, addr - region.base, data);
    if (!this.isRam(addr, data.length)) return;
    let done = 0;
    while (done < data.length) {
      const a = addr + done;
      const off = a % CHUNK;
      const n = Math.min(CHUNK - off, data.length - done);
      const key = Math.floor(a / CHUNK);
      let c = this.chunks.get(key);
      if (!c) this.chunks.set(key, (c = new Uint8Array(CHUNK)));
      c.set(data.subarray(done, done + n), off);
      done += n;
    }
  }

  /** Copy RAM to RAM (for DMA engines and memcpy between kernel buffers). */
  copy(dst: number, src: number, length: number): void {
    this.writeBytes(dst, this.readBytes(src, length));
  }

  fill(addr: number, length: number, byte: number): void {
    this.writeBytes(addr, new Uint8Array(length).fill(byte));
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
