import { expect } from 'chai';
import fc from 'fast-check';
import { MmioHandler, PhysicalMemory } from '../../../core/mm/physmem';

const CHUNK = 0x10000;
/** RAM that crosses 2^32, with an MMIO hole inside it and a region above it. */
const RAM = 2 ** 32 + 3 * CHUNK;
const HOLE = { base: 0x8000_0000, size: 0x2_0000 };
const HIGH = { base: RAM + CHUNK, size: 0x3_0000 };

/** A device region backed by bytes, with bulk paths (as a window onto memory). */
function bytesHandler(size: number): MmioHandler & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    bytes,
    read: (o, s) => {
      let v = 0;
      for (let i = s - 1; i >= 0; i--) v = v * 256 + (bytes[o + i] ?? 0xff);
      return v;
    },
    write: (o, s, v) => {
      for (let i = 0; i < s; i++) bytes[o + i] = (v >>> (8 * i)) & 0xff;
    },
    readBytes: (o, n) => {
      const out = new Uint8Array(n).fill(0xff);
      out.set(bytes.subarray(o, o + n));
      return out;
    },
    writeBytes: (o, d) => bytes.set(d.subarray(0, Math.max(0, Math.min(d.length, size - o))), o),
  };
}

/**
 * The reference: a byte map with the documented semantics (regions decode by their start
 * address, RAM outside [0, ramBytes) reads all-ones and drops writes, untouched RAM reads zero,
 * a chunk is resident once a byte of it has been written).
 */
class RefMem {
  private bytes = new Map<number, number>();
  readonly chunks = new Set<number>();
  constructor(
    readonly regions: Array<{ base: number; size: number; h: MmioHandler }>,
    readonly ramBytes: number,
  ) {}
  private region(a: number) {
    return this.regions.find((r) => a >= r.base && a < r.base + r.size);
  }
  private ram(a: number, n: number) {
    return a >= 0 && a + n <= this.ramBytes;
  }
  readBytes(a: number, n: number): Uint8Array {
    const r = this.region(a);
    if (r) return r.h.readBytes!(a - r.base, n);
    const out = new Uint8Array(n);
    if (!this.ram(a, n)) return out.fill(0xff);
    for (let i = 0; i < n; i++) out[i] = this.bytes.get(a + i) ?? 0;
    return out;
  }
  writeBytes(a: number, d: Uint8Array): void {
    const r = this.region(a);
    if (r) return r.h.writeBytes!(a - r.base, d);
    if (!this.ram(a, d.length)) return;
    for (let i = 0; i < d.length; i++) {
      this.bytes.set(a + i, d[i]);
      this.chunks.add(Math.floor((a + i) / CHUNK));
    }
  }
  read(a: number, s: 1 | 2 | 4): number {
    const r = this.region(a);
    if (r) return r.h.read(a - r.base, s);
    if (!this.ram(a, s)) return 2 ** (8 * s) - 1;
    const b = this.readBytes(a, s);
    let v = 0;
    for (let i = s - 1; i >= 0; i--) v = v * 256 + b[i];
    return v;
  }
  write(a: number, s: 1 | 2 | 4, v: number): void {
    const r = this.region(a);
    if (r) return r.h.write(a - r.base, s, v);
    const b = new Uint8Array(s);
    for (let i = 0; i < s; i++) b[i] = (v >>> (8 * i)) & 0xff;
    this.writeBytes(a, b);
  }
}

type Op =
  | { op: 'read'; a: number; s: 1 | 2 | 4 }
  | { op: 'write'; a: number; s: 1 | 2 | 4; v: number }
  | { op: 'readBytes' | 'readInto'; a: number; n: number }
  | { op: 'writeBytes'; a: number; n: number; seed: number }
  | { op: 'copy'; a: number; b: number; n: number }
  | { op: 'fill'; a: number; n: number; v: number };

const POINTS = [0, CHUNK, 5 * CHUNK, 2 ** 32 - CHUNK, 2 ** 32, 2 ** 32 + CHUNK, RAM - CHUNK, RAM, HOLE.base, HOLE.base + HOLE.size, HIGH.base, HIGH.base + CHUNK];
const addr = fc.tuple(fc.constantFrom(...POINTS), fc.integer({ min: -9, max: 9 })).map(([p, d]) => p + d);
const len = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(4096, CHUNK - 1, CHUNK, CHUNK + 3, 2 * CHUNK + 5));
const size = fc.constantFrom<1 | 2 | 4>(1, 2, 4);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('read' as const), a: addr, s: size }),
  fc.record({ op: fc.constant('write' as const), a: addr, s: size, v: fc.integer({ min: 0, max: 0xffffffff }) }),
  fc.record({ op: fc.constantFrom('readBytes' as const, 'readInto' as const), a: addr, n: len }),
  fc.record({ op: fc.constant('writeBytes' as const), a: addr, n: len, seed: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('copy' as const), a: addr, b: addr, n: len }),
  fc.record({ op: fc.constant('fill' as const), a: addr, n: len, v: fc.integer({ min: -300, max: 300 }) }),
);

function data(n: number, seed: number): Uint8Array {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = (seed * 31 + i * 7) & 0xff;
  return d;
}

describe('core/mm/physmem', () => {
  it('reads and writes RAM, MMIO regions and unbacked addresses as a plain byte map would (chunk and 2^32 boundaries, every access kind)', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const mem = new PhysicalMemory(RAM);
        const [h1, h2, r1, r2] = [bytesHandler(HOLE.size), bytesHandler(HIGH.size), bytesHandler(HOLE.size), bytesHandler(HIGH.size)];
        mem.addRegion(HIGH.base, HIGH.size, 'high', h1);
        mem.addRegion(HOLE.base, HOLE.size, 'hole', h2);
        const ref = new RefMem(
          [
            { ...HIGH, h: r1 },
            { ...HOLE, h: r2 },
          ],
          RAM,
        );
        for (const o of ops) {
          switch (o.op) {
            case 'read':
              expect(mem.read(o.a, o.s), JSON.stringify(o)).to.equal(ref.read(o.a, o.s));
              break;
            case 'write':
              mem.write(o.a, o.s, o.v);
              ref.write(o.a, o.s, o.v);
              break;
            case 'readBytes':
              expect(Buffer.from(mem.readBytes(o.a, o.n)).equals(ref.readBytes(o.a, o.n)), JSON.stringify(o)).to.equal(true);
              break;
            case 'readInto': {
              const out = new Uint8Array(o.n).fill(0x5a);
              mem.readInto(o.a, out);
              expect(Buffer.from(out).equals(ref.readBytes(o.a, o.n)), JSON.stringify(o)).to.equal(true);
              break;
            }
            case 'writeBytes':
              mem.writeBytes(o.a, data(o.n, o.seed));
              ref.writeBytes(o.a, data(o.n, o.seed));
              break;
            case 'copy':
              mem.copy(o.b, o.a, o.n);
              ref.writeBytes(o.b, ref.readBytes(o.a, o.n));
              break;
            case 'fill':
              mem.fill(o.a, o.n, o.v);
              ref.writeBytes(o.a, new Uint8Array(o.n).fill(o.v));
              break;
          }
        }
        expect(mem.residentBytes).to.equal(ref.chunks.size * CHUNK);
        expect(Buffer.from(h1.bytes).equals(r1.bytes)).to.equal(true);
        expect(Buffer.from(h2.bytes).equals(r2.bytes)).to.equal(true);
        for (const p of POINTS) {
          for (const a of [p - 3, p]) expect(Buffer.from(mem.readBytes(a, 8)).equals(ref.readBytes(a, 8)), `at ${a}`).to.equal(true);
        }
      }),
      { numRuns: 120 },
    );
  });

  it('readBytes returns a copy: later writes do not show through it, and writing into it changes nothing', () => {
    const mem = new PhysicalMemory(4 * CHUNK);
    mem.writeBytes(100, Uint8Array.of(1, 2, 3));
    const got = mem.readBytes(100, 3);
    mem.write(100, 1, 9);
    got[1] = 7;
    expect([...got]).to.deep.equal([1, 7, 3]);
    expect([...mem.readBytes(100, 3)]).to.deep.equal([9, 2, 3]);
  });

  it('copy between overlapping ranges moves the bytes as memmove does', () => {
    const mem = new PhysicalMemory(4 * CHUNK);
    mem.writeBytes(10, Uint8Array.of(1, 2, 3, 4, 5));
    mem.copy(12, 10, 5);
    expect([...mem.readBytes(10, 7)]).to.deep.equal([1, 2, 1, 2, 3, 4, 5]);
    mem.copy(10, 12, 5);
    expect([...mem.readBytes(10, 7)]).to.deep.equal([1, 2, 3, 4, 5, 4, 5]);
  });

  it('a region added or removed later is seen by the next access (no stale decode)', () => {
    const mem = new PhysicalMemory(4 * CHUNK);
    mem.write(0x1000, 4, 0x11223344);
    const h = bytesHandler(0x1000);
    const r = mem.addRegion(0x1000, 0x1000, 'late', h);
    expect(mem.read(0x1000, 4)).to.equal(0);
    mem.write(0x1000, 4, 0xaabbccdd);
    expect(h.bytes[0]).to.equal(0xdd);
    mem.removeRegion(r);
    expect(mem.read(0x1000, 4)).to.equal(0x11223344);
    expect(mem.regionAt(0x1000)).to.equal(undefined);
  });
});
