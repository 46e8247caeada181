import { Errno, KernelError } from '../errno';

/** First and last vectors x86 hands to devices (FIRST_EXTERNAL_VECTOR + 1 … FIRST_SYSTEM_VECTOR - 1). */
export const FIRST_DEVICE_VECTOR = 0x21;
export const LAST_DEVICE_VECTOR = 0xeb;
const SYSCALL_VECTOR = 0x80;

/**
 * The x86 vector matrix: each CPU has its own vector space. Allocation picks the least loaded
 * allowed CPU, then its lowest free vector, so spreading is deterministic.
 */
export class VectorMatrix {
  private used: Array<Map<number, number>>; // per cpu: vector → irq

  constructor(readonly cpus: number) {
    this.used = Array.from({ length: cpus }, () => new Map());
  }

  alloc(irq: number, allowed: Set<number>): { cpu: number; vector: number } {
    const candidates = [...allowed].filter((c) => c < this.cpus).sort((a, b) => this.used[a].size - this.used[b].size || a - b);
    for (const cpu of candidates) {
      for (let v = FIRST_DEVICE_VECTOR; v <= LAST_DEVICE_VECTOR; v++) {
        if (v === SYSCALL_VECTOR || this.used[cpu].has(v)) continue;
        this.used[cpu].set(v, irq);
        return { cpu, vector: v };
      }
    }
    throw new KernelError(Errno.ENOSPC, 'no free interrupt vector');
  }

  free(cpu: number, vector: number): void {
    this.used[cpu]?.delete(vector);
  }

  lookup(cpu: number, vector: number): number | undefined {
    return this.used[cpu]?.get(vector);
  }
}
