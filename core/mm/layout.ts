/**
 * Where things sit in the x86-64 kernel's virtual address space (4-level paging, no KASLR), for
 * the kernel pointers that debugfs files print (%p, %pK): the direct map of RAM and the
 * vmalloc/ioremap area. ntbsim has no virtual memory; these give the addresses a reader expects.
 */
export const PAGE_OFFSET = 0xffff_8880_0000_0000n;
export const VMALLOC_START = 0xffff_c900_0000_0000n;

/** The direct-map address of RAM at `phys` (what kmalloc / dma_alloc_coherent return). */
export function directMapAddr(phys: number): bigint {
  return PAGE_OFFSET + BigInt(phys);
}

/** An ioremap()ed address for device memory at `phys`. */
export function ioremapAddr(phys: number): bigint {
  return VMALLOC_START + BigInt(phys);
}
