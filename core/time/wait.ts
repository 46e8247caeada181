import { Scheduler } from './scheduler';
import { Nanoseconds } from './units';

/** struct completion: one-shot or counted "done" events that tasks wait for. */
export class Completion {
  private doneCount = 0;
  private waiters: Array<(ok: boolean) => void> = [];

  constructor(private readonly sched: Scheduler) {}

  complete(): void {
    const w = this.waiters.shift();
    if (w) w(true);
    else this.doneCount++;
  }

  completeAll(): void {
    this.doneCount = Number.MAX_SAFE_INTEGER;
    for (const w of this.waiters.splice(0)) w(true);
  }

  reinit(): void {
    this.doneCount = 0;
  }

  get isDone(): boolean {
    return this.doneCount > 0;
  }

  async wait(): Promise<void> {
    await this.waitTimeout(Infinity);
  }

  /** Returns false when the timeout elapsed first (wait_for_completion_timeout returning 0). */
  async waitTimeout(timeout: Nanoseconds): Promise<boolean> {
    if (this.doneCount > 0) {
      if (this.doneCount !== Number.MAX_SAFE_INTEGER) this.doneCount--;
      return true;
    }
    return this.sched.block<boolean>((wake) => {
      const waiter = (ok: boolean) => {
        timer?.cancel();
        wake(ok);
      };
      this.waiters.push(waiter);
      const timer =
        timeout === Infinity
          ? undefined
          : this.sched.after(timeout, () => {
              const i = this.waiters.indexOf(waiter);
              if (i >= 0) this.waiters.splice(i, 1);
              wake(false);
            });
    });
  }
}

/** wait_queue_head_t: tasks sleep until a condition holds; wakers call wakeUp after changing state. */
export class WaitQueue {
  private waiters = new Set<() => void>();

  constructor(private readonly sched: Scheduler) {}

  wakeUp(): void {
    for (const w of [...this.waiters]) w();
  }

  async waitEvent(cond: () => boolean): Promise<void> {
    await this.waitEventTimeout(cond, Infinity);
  }

  /** Returns false when the timeout elapsed with the condition still false. */
  async waitEventTimeout(cond: () => boolean, timeout: Nanoseconds): Promise<boolean> {
    const deadline = this.sched.now + timeout;
    while (!cond()) {
      if (this.sched.now >= deadline) return false;
      await this.sched.block<void>((wake) => {
        const waiter = () => {
          this.waiters.delete(waiter);
          timer?.cancel();
          wake();
        };
        this.waiters.add(waiter);
        const timer = timeout === Infinity ? undefined : this.sched.at(deadline, waiter);
      });
    }
    return true;
  }
}

/** struct mutex for process context. */
export class Mutex {
  private locked = false;
  private queue: Array<() => void> = [];

  constructor(private readonly sched: Scheduler) {}

  get isLocked(): boolean {
    return this.locked;
  }

  async lock(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return;
    }
    await this.sched.block<void>((wake) => this.queue.push(wake));
  }

  tryLock(): boolean {
    if (this.locked) return false;
    this.locked = true;
    return true;
  }

  unlock(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.locked = false;
  }

  async with<T>(fn: () => Promise<T> | T): Promise<T> {
    await this.lock();
    try {
      return await fn();
    } finally {
      this.unlock();
    }
  }
}
