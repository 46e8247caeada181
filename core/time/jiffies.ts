import { Scheduler } from './scheduler';
import { Nanoseconds, NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC } from './units';

/** A host's tick: jiffies advance HZ times per virtual second. */
export class Jiffies {
  readonly tickNs: Nanoseconds;

  constructor(
    private readonly sched: Scheduler,
    readonly hz: number,
  ) {
    this.tickNs = NSEC_PER_SEC / hz;
  }

  get now(): number {
    return Math.floor(this.sched.now / this.tickNs);
  }

  /** msecs_to_jiffies: rounds up, so a timeout never fires early. */
  msecsToJiffies(ms: number): number {
    return Math.ceil((ms * NSEC_PER_MSEC) / this.tickNs);
  }

  usecsToJiffies(us: number): number {
    return Math.ceil((us * NSEC_PER_USEC) / this.tickNs);
  }

  jiffiesToMsecs(j: number): number {
    return (j * this.tickNs) / NSEC_PER_MSEC;
  }

  /** Virtual time at which jiffy `j` begins. */
  timeOf(j: number): Nanoseconds {
    return j * this.tickNs;
  }
}
