/**
 * The CPUs' local APICs, as hardware: an accepted interrupt message arrives at APIC `dest` with a
 * vector, and the CPU enters the kernel's IDT entry for it.
 */
export class LocalApics {
  private idt?: (cpu: number, vector: number) => void;
  /** Interrupts whose destination is no CPU (dropped, counted like the kernel's "ERR"). */
  spurious = 0;

  constructor(readonly cpus: number) {}

  setIdtHandler(fn: (cpu: number, vector: number) => void): void {
    this.idt = fn;
  }

  deliver(dest: number, vector: number): void {
    if (dest >= this.cpus || !this.idt) {
      this.spurious++;
      return;
    }
    this.idt(dest, vector);
  }
}
