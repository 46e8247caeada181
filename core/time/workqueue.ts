import { Jiffies } from './jiffies';
import { Scheduler, Task } from './scheduler';
import { TimerList } from './timer';

export type WorkFn = () => Promise<void> | void;

/** struct work_struct: runs in process context on a workqueue; queueing a pending work is a no-op. */
export class WorkStruct {
  pending = false;
  running?: Task<void>;
  constructor(
    readonly name: string,
    readonly fn: WorkFn,
  ) {}
}

/** struct delayed_work: a work item queued by a timer. */
export class DelayedWork extends WorkStruct {
  timer?: TimerList;
}

/**
 * A workqueue. Work items run as tasks in queueing order; an ordered queue (max_active = 1) runs
 * one at a time, like alloc_ordered_workqueue.
 */
export class Workqueue {
  private queue: WorkStruct[] = [];
  private active = 0;
  private drained: Array<() => void> = [];

  constructor(
    private readonly sched: Scheduler,
    private readonly jiffies: Jiffies,
    readonly name: string,
    readonly maxActive = Infinity,
    /** From queue_work to a worker starting the item: the kworker's wake-up (HostTiming.workLatencyNs). */
    private readonly latencyNs = 0,
  ) {}

  /** queue_work: false if the item was already pending. */
  queueWork(work: WorkStruct): boolean {
    if (work.pending) return false;
    work.pending = true;
    this.queue.push(work);
    this.sched.after(this.latencyNs, () => this.pump());
    return true;
  }

  /** queue_delayed_work with a delay in jiffies. */
  queueDelayedWork(work: DelayedWork, delay: number): boolean {
    if (work.pending) return false;
    if (delay <= 0) return this.queueWork(work);
    work.pending = true;
    work.timer ??= new TimerList(this.sched, this.jiffies, () => {
      work.pending = false;
      this.queueWork(work);
    });
    work.timer.modIn(delay);
    return true;
  }

  /** mod_delayed_work: re-arm whatever the state. */
  modDelayedWork(work: DelayedWork, delay: number): void {
    this.cancelPending(work);
    this.queueDelayedWork(work, delay);
  }

  /** Remove a pending (not yet running) item; returns whether it was pending. */
  cancelPending(work: WorkStruct): boolean {
    if (!work.pending) return false;
    work.pending = false;
    if (work instanceof DelayedWork) work.timer?.del();
    const i = this.queue.indexOf(work);
    if (i >= 0) this.queue.splice(i, 1);
    // A flush waiting only for this item has nothing left to wait for.
    if (this.queue.length === 0 && this.active === 0) for (const d of this.drained.splice(0)) d();
    return true;
  }

  /** Process context: cancel_work_sync / cancel_delayed_work_sync. */
  async cancelWorkSync(work: WorkStruct): Promise<boolean> {
    const was = this.cancelPending(work);
    const running = work.running;
    // The work's own failure was already reported by onError; here we only wait for it to end.
    if (running) await this.sched.block<void>((wake) => running.onDone(() => wake()));
    return was;
  }

  /** Process context: flush_workqueue: wait until everything queued now has run. */
  async flush(): Promise<void> {
    if (this.queue.length === 0 && this.active === 0) return;
    await this.sched.block<void>((wake) => this.drained.push(() => wake()));
  }

  private pump(): void {
    while (this.active < this.maxActive && this.queue.length > 0) {
      const work = this.queue.shift()!;
      work.pending = false;
      this.active++;
      const task = this.sched.spawn(`${this.name}/${work.name}`, work.fn);
      work.running = task;
      task.onDone(() => {
        if (work.running === task) work.running = undefined;
        this.active--;
        if (task.error !== undefined) this.onError(work, task.error);
        if (this.queue.length > 0) this.pump();
        else if (this.active === 0) for (const d of this.drained.splice(0)) d();
      });
    }
  }

  /** A work function that throws is a kernel bug: make it loud rather than lose it. */
  onError: (work: WorkStruct, error: unknown) => void = (work, error) => {
    throw error instanceof Error ? error : new Error(`work ${work.name} failed: ${String(error)}`);
  };
}
