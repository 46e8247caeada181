import { Errno, KernelError } from '../errno';
import { KernelBuffer } from './io';
import { PhysicalMemory } from './physmem';
import { alignUp, PAGE_SIZE, RangeAllocator } from './range-allocator';

/** Where the kernel image and early allocations live; the allocator starts above. */
const RESERVED_LOW = 16 * 1024 * 1024;

/** The buddy allocator's largest block (MAX_ORDER on x86-64): natural alignment stops there. */
export const MAX_BLOCK = 4 * 1024 * 1024;

/**
 * Physical page allocation for one host: blocks are naturally aligned up to MAX_BLOCK, like the
 * buddy allocator; `kzalloc` returns a kernel mapping of fresh zeroed RAM.
 */
export class PageAllocator {
  private ram: RangeAllocator;
  private live = new Map<number, number>();

  constructor(private readonly mem: PhysicalMemory) {
    this.ram = new RangeAllocator(RESERVED_LOW, mem.ramBytes - RESERVED_LOW);
  }

  /** Allocate `size` bytes of physical RAM aligned to `align` (default: natural up to MAX_BLOCK). */
  allocPhys(size: number, align?: number, limit?: number): number {
    const bytes = alignUp(size, PAGE_SIZE);
    const a = align ?? Math.min(MAX_BLOCK, 2 ** Math.ceil(Math.log2(bytes)));
    const phys = this.ram.alloc(bytes, Math.max(a, PAGE_SIZE), { limit });
    this.live.set(phys, bytes);
    return phys;
  }

  freePhys(phys: number): void {
    const bytes = this.live.get(phys);
    if (bytes === undefined) throw new KernelError(Errno.EINVAL, `free of unallocated page 0x${phys.toString(16)}`);
    this.live.delete(phys);
    this.mem.fill(phys, bytes, 0);
    this.ram.release(phys, bytes);
  }

  kzalloc(size: number): KernelBuffer {
    return new KernelBuffer(this.mem, this.allocPhys(size), size);
  }

  kfree(buf: KernelBuffer): void {
    this.freePhys(buf.phys);
  }

  get allocatedBytes(): number {
    let n = 0;
    for (const b of this.live.values()) n += b;
    return n;
  }
}
