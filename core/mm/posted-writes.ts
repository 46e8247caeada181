import type { MmioRegion, PhysicalMemory } from './physmem';

interface PendingWrite {
  addr: number;
  size: 1 | 2 | 4;
  value: number;
  region: MmioRegion;
  handle: { cancel(): void };
}

/**
 * A CPU's posted MMIO writes that have not landed yet. A write made by code that has been charged
 * CPU time (Scheduler.charge: a copy into a window, a register round trip) is issued only when that
 * time has passed, so it lands then: a frame's DONE flag written after a 9 µs copy becomes visible
 * to the peer 9 µs later, not when the event that made it started. Reads by the same CPU keep PCIe
 * ordering: a read of a register region lets the pending writes to that region land first; a read
 * of a prefetchable (memory) region sees the CPU's own pending writes.
 *
 * Bulk copies (memcpy_toio) land at once: a receiver never looks at a slot before its flag, and
 * the flag is a posted write issued after the copy, so this only changes when nothing looks.
 */
export class PostedWrites {
  private pending: PendingWrite[] = [];

  constructor(private readonly mem: PhysicalMemory) {}

  write(addr: number, size: 1 | 2 | 4, value: number): void {
    const clock = this.mem.cpuClock;
    const region = this.mem.regionAt(addr);
    if (!clock || !region || !(clock.pendingCharge > 0)) {
      this.mem.write(addr, size, value);
      return;
    }
    const w: PendingWrite = { addr, size, value, region, handle: { cancel() {} } };
    this.pending.push(w);
    w.handle = clock.at(clock.cpuNow, () => this.land(w));
  }

  /** What a CPU read of `size` bytes at `addr` returns, with PCIe's ordering against its own writes. */
  read(addr: number, size: 1 | 2 | 4): number {
    if (this.pending.length === 0) return this.mem.read(addr, size);
    const region = this.mem.regionAt(addr);
    if (!region) return this.mem.read(addr, size);
    if (!region.handler.prefetchable) {
      // Posted writes stay in order: everything issued up to the last write to this region lands.
      let last = -1;
      this.pending.forEach((w, i) => {
        if (w.region === region) last = i;
      });
      for (const w of this.pending.slice(0, last + 1)) {
        w.handle.cancel();
        this.land(w);
      }
      return this.mem.read(addr, size);
    }
    let v = this.mem.read(addr, size);
    for (const w of this.pending) {
      if (w.addr + w.size <= addr || addr + size <= w.addr) continue;
      v = overlay(v, addr, size, w);
    }
    return v;
  }

  get inFlight(): number {
    return this.pending.length;
  }

  private land(w: PendingWrite): void {
    const i = this.pending.indexOf(w);
    if (i < 0) return;
    this.pending.splice(i, 1);
    this.mem.write(w.addr, w.size, w.value);
  }
}

/** `v` (little-endian, `size` bytes at `addr`) with the overlapping bytes of write `w` laid over it. */
function overlay(v: number, addr: number, size: number, w: PendingWrite): number {
  if (w.addr === addr && w.size === size) return size === 4 ? w.value >>> 0 : w.value & ((1 << (8 * size)) - 1);
  let out = v >>> 0;
  for (let i = 0; i < w.size; i++) {
    const j = w.addr + i - addr;
    if (j < 0 || j >= size) continue;
    const byte = (w.value >>> (8 * i)) & 0xff;
    out = ((out & ~(0xff << (8 * j))) | (byte << (8 * j))) >>> 0;
  }
  return out;
}

const queues = new WeakMap<PhysicalMemory, PostedWrites>();

/** The posted-write queue of the CPU(s) using `mem`. */
export function postedWritesOf(mem: PhysicalMemory): PostedWrites {
  let q = queues.get(mem);
  if (!q) queues.set(mem, (q = new PostedWrites(mem)));
  return q;
}
