import type { MsiDesc } from '../pci/msi-desc';

export enum IrqReturn {
  NONE = 0,
  HANDLED = 1,
  WAKE_THREAD = 2,
}

export type IrqHandler = (irq: number, devId: unknown) => IrqReturn;
export type IrqThreadFn = (irq: number, devId: unknown) => Promise<IrqReturn> | IrqReturn;

export const IRQF_SHARED = 0x80;
export const IRQF_ONESHOT = 0x2000;

export interface IrqAction {
  handler?: IrqHandler;
  threadFn?: IrqThreadFn;
  flags: number;
  name: string;
  devId: unknown;
  /** A threaded handler's pending flag (the irq thread runs once per wake-up). */
  threadPending: boolean;
}

/**
 * struct irq_desc: one Linux IRQ with its chip, per-CPU counts, affinity, and where its interrupt
 * comes from (a CPU vector, an IRTE when remapped, an MSI descriptor).
 */
export class IrqDesc {
  readonly actions: IrqAction[] = [];
  readonly counts: number[];
  /** CPUs the user allows (smp_affinity). */
  affinity: Set<number>;
  /** CPU the interrupt is currently routed to, and its vector there. */
  cpu = 0;
  vector = 0;
  /** Interrupt-remapping table index when remapped. */
  irteIndex?: number;
  msiDesc?: MsiDesc;
  /** disable_irq depth. */
  depth = 0;
  /** Deliveries that found the irq disabled or with no action. */
  spurious = 0;

  constructor(
    readonly irq: number,
    readonly hwirq: number,
    public chipName: string,
    cpus: number,
  ) {
    this.counts = new Array(cpus).fill(0);
    this.affinity = new Set([...Array(cpus).keys()]);
  }

  get name(): string {
    return this.actions.map((a) => a.name).join(', ');
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }
}
