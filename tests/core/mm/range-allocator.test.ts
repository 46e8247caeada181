import { expect } from 'chai';
import fc from 'fast-check';
import { Errno, KernelError } from '../../../core/errno';
import { RangeAllocator } from '../../../core/mm/range-allocator';

describe('core/mm/range-allocator', () => {
  it('allocates bottom-up aligned to the requested alignment', () => {
    const a = new RangeAllocator(0x1000, 0x100000);
    expect(a.alloc(0x100, 0x100)).to.equal(0x1000);
    expect(a.alloc(0x1000, 0x4000)).to.equal(0x4000);
    expect(a.alloc(0x10, 0x10)).to.equal(0x1100);
  });

  it('allocates top-down below a limit when asked (the IOVA allocator habit)', () => {
    const a = new RangeAllocator(0, 0x100000);
    expect(a.alloc(0x1000, 0x1000, { topDown: true })).to.equal(0xff000);
    expect(a.alloc(0x2000, 0x2000, { topDown: true, limit: 0x10000 })).to.equal(0xe000);
  });

  it('fails with ENOMEM when nothing fits and merges released neighbours back', () => {
    const a = new RangeAllocator(0, 0x3000);
    const x = a.alloc(0x1000, 0x1000);
    const y = a.alloc(0x1000, 0x1000);
    const z = a.alloc(0x1000, 0x1000);
    let err: unknown;
    try {
      a.alloc(0x1000, 0x1000);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(KernelError);
    expect((err as KernelError).errno).to.equal(Errno.ENOMEM);
    a.release(y, 0x1000);
    a.release(x, 0x1000);
    a.release(z, 0x1000);
    expect(a.freeBytes).to.equal(0x3000);
    expect(a.alloc(0x3000, 0x1000)).to.equal(0);
  });

  it('never hands out overlapping, misaligned or out-of-range ranges, and accounts every byte (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), sizeLog: fc.integer({ min: 0, max: 8 }), alignLog: fc.integer({ min: 0, max: 9 }), topDown: fc.boolean() }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const base = 0x1000;
        const size = 0x4000;
        const a = new RangeAllocator(base, size);
        const live: Array<{ start: number; size: number }> = [];
        for (const o of ops) {
          if (o.kind === 'alloc') {
            const sz = 16 << o.sizeLog;
            const align = 16 << o.alignLog;
            let start: number;
            try {
              start = a.alloc(sz, align, { topDown: o.topDown });
            } catch (e) {
              expect((e as KernelError).errno).to.equal(Errno.ENOMEM);
              continue;
            }
            expect(start % align).to.equal(0);
            expect(start).to.be.at.least(base);
            expect(start + sz).to.be.at.most(base + size);
            for (const r of live) expect(start + sz <= r.start || r.start + r.size <= start, 'overlap').to.equal(true);
            live.push({ start, size: sz });
          } else if (live.length > 0) {
            const [r] = live.splice(o.pick % live.length, 1);
            a.release(r.start, r.size);
          }
          expect(a.freeBytes + live.reduce((n, r) => n + r.size, 0)).to.equal(size);
        }
      }),
      { numRuns: 200 },
    );
  });
});
