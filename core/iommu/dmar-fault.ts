import { bdf } from '../lib/printf';
import { Printk, RateLimit } from '../printk';
import { Scheduler } from '../time/scheduler';
import { secs } from '../time/units';
import { DmarFault, DmarUnit, NUM_FAULT_RECORDS } from './dmar-unit';

const DMA_REASONS = [
  'Software',
  'Present bit in root entry is clear',
  'Present bit in context entry is clear',
  'Invalid context entry',
  'Access beyond MGAW',
  'PTE Write access is not set',
  'PTE Read access is not set',
  'Next page table ptr is invalid',
  'Root table address invalid',
  'Context table ptr is invalid',
  'non-zero reserved fields in RTP',
  'non-zero reserved fields in CTP',
  'non-zero reserved fields in PTE',
  'PCE for translation request specifies blocking',
];

const IRQ_REASONS = [
  'Detected reserved fields in the decoded interrupt-remapped request',
  'Interrupt index exceeded the interrupt-remapping table size',
  'Present field in the IRTE entry is clear',
  'Error accessing interrupt-remapping table pointed by IRTA_REG',
  'Detected reserved fields in the IRTE entry',
  'Blocked a compatibility format interrupt request',
  'Blocked an interrupt request due to source-id verification failure',
];

/**
 * dmar_fault: the VT-d unit's fault interrupt handler. Linux installs it for DMA remapping or for
 * interrupt remapping, whichever the kernel uses, so faults are reported even with
 * intel_iommu=off. Prints in the current mainline format, rate-limited.
 */
export class DmarFaultHandler {
  private readonly limiter: RateLimit;
  /** Faults reported so far (what dmesg shows, also for tests). */
  readonly faults: DmarFault[] = [];

  constructor(
    private readonly unit: DmarUnit,
    private readonly printk: Printk,
    sched: Scheduler,
  ) {
    this.limiter = new RateLimit(sched, secs(5), 10);
    unit.onFaultEvent = () => sched.after(0, () => this.handleFaults());
  }

  /** Print the status line and every pending record, then clear them. */
  private handleFaults(): void {
    const fsts = this.unit.fsts;
    if (!(fsts & 0x3)) return;
    const ratelimited = !this.limiter.allow((n) => this.printk.err(`dmar_fault: ${n} callbacks suppressed`));
    if (!ratelimited) this.printk.err(`DMAR: DRHD: handling fault status reg ${fsts.toString(16)}`);
    let i = (fsts >> 8) & 0xff;
    for (let n = 0; n < NUM_FAULT_RECORDS; n++, i = (i + 1) % NUM_FAULT_RECORDS) {
      const f = this.unit.faultRecords[i];
      if (!f) break;
      this.faults.push(f);
      if (!ratelimited && this.limiter.allow()) this.printk.err(formatFault(f));
      this.unit.clearRecord(i);
    }
    this.unit.clearStatus();
  }
}

function formatFault(f: DmarFault): string {
  const dev = bdf(f.source >> 8, f.source & 0xff);
  if (f.kind === 'intr') {
    return `DMAR: [INTR-REMAP] Request device [${dev}] fault index 0x${f.index.toString(16)} [fault reason 0x${f.reason.toString(16).padStart(2, '0')}] ${IRQ_REASONS[f.reason - 0x20] ?? 'Unknown'}`;
  }
  return `DMAR: [${f.write ? 'DMA Write' : 'DMA Read'} NO_PASID] Request device [${dev}] fault addr 0x${f.addr.toString(16)} [fault reason 0x${f.reason.toString(16).padStart(2, '0')}] ${DMA_REASONS[f.reason] ?? 'Unknown'}`;
}
