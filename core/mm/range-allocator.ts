import { Errno, KernelError } from '../errno';

interface Range {
  start: number;
  end: number; // exclusive
}

/**
 * Allocates aligned ranges out of [base, base+size): physical pages, IOVAs, BAR apertures. Free
 * ranges are kept sorted and merged; `topDown` allocates from the highest fitting address (the
 * Intel IOVA allocator's habit).
 */
export class RangeAllocator {
  private free: Range[];

  constructor(
    readonly base: number,
    readonly size: number,
  ) {
    this.free = [{ start: base, end: base + size }];
  }

  alloc(size: number, align: number, opts: { topDown?: boolean; limit?: number } = {}): number {
    if (size <= 0) throw new KernelError(Errno.EINVAL, 'zero-size allocation');
    const limit = opts.limit ?? Infinity;
    const order = opts.topDown ? [...this.free].reverse() : this.free;
    for (const r of order) {
      const end = Math.min(r.end, limit);
      let start: number;
      if (opts.topDown) {
        start = Math.floor((end - size) / align) * align;
        if (start < r.start) continue;
      } else {
        start = Math.ceil(r.start / align) * align;
        if (start + size > end) continue;
      }
      this.take(r, start, start + size);
      return start;
    }
    throw new KernelError(Errno.ENOMEM, `no ${size}-byte range aligned to ${align}`);
  }

  release(start: number, size: number): void {
    const end = start + size;
    let i = 0;
    while (i < this.free.length && this.free[i].start < start) i++;
    this.free.splice(i, 0, { start, end });
    // Merge with neighbours.
    const merged: Range[] = [];
    for (const r of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.end >= r.start) last.end = Math.max(last.end, r.end);
      else merged.push({ ...r });
    }
    this.free = merged;
  }

  get freeBytes(): number {
    return this.free.reduce((n, r) => n + (r.end - r.start), 0);
  }

  private take(r: Range, start: number, end: number): void {
    const i = this.free.indexOf(r);
    const parts: Range[] = [];
    if (r.start < start) parts.push({ start: r.start, end: start });
    if (end < r.end) parts.push({ start: end, end: r.end });
    this.free.splice(i, 1, ...parts);
  }
}

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

export function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export function alignDown(n: number, a: number): number {
  return Math.floor(n / a) * a;
}
