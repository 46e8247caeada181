import { Subject } from 'rxjs';
import { Errno, KernelError } from '../errno';
import { EventHeap, ScheduledEvent } from './event-heap';
import { Nanoseconds, secs } from './units';

/** One line of the world's trace: what happened, where, at which virtual time. */
export interface TraceRecord {
  time: Nanoseconds;
  host: string;
  kind: string;
  detail: string;
}

export interface EventHandle {
  readonly time: Nanoseconds;
  cancel(): void;
}

/**
 * A process-context flow (module init, probe, work item, a file write that blocks). It runs as an
 * async function that may only wait through the scheduler's primitives (`block`), so the
 * scheduler always knows whether any task still has code to run before the next event.
 */
export class Task<T = unknown> {
  done = false;
  result?: T;
  error?: unknown;
  private waiters: Array<() => void> = [];

  constructor(readonly name: string) {}

  /** @internal */
  finish(result: T | undefined, error: unknown): void {
    this.done = true;
    this.result = result;
    this.error = error;
    for (const w of this.waiters.splice(0)) w();
  }

  /** @internal */
  onDone(fn: () => void): void {
    if (this.done) fn();
    else this.waiters.push(fn);
  }
}

/**
 * A pending event is its own handle: one allocation per scheduled event. (An object literal with a
 * shared method, not a class: V8 can allocate long-lived literals straight into old space.)
 */
type PendingEvent = ScheduledEvent & EventHandle;

function cancelEvent(this: ScheduledEvent): void {
  this.cancelled = true;
}

/** How long a top-level call may run in virtual time before it is declared stuck. */
export const DEFAULT_TASK_LIMIT: Nanoseconds = secs(3600);
const MAX_SETTLE_SPINS = 100_000;

/**
 * The world's single virtual clock. Events run in (time, order of scheduling) order; nothing waits
 * on wall-clock time. Tasks (process context) interleave with events deterministically: after every
 * event the scheduler lets woken tasks run until each has parked again in a primitive or finished.
 */
export class Scheduler {
  now: Nanoseconds = 0;
  /** CPU time charged to the event being run and not yet shown by `now` (see `charge`). */
  private eventCharge: Nanoseconds | undefined;
  /** CPU time charged by the running task since its last wait (paid by its next wait). */
  private taskDebt: Nanoseconds = 0;
  /** A task's first stretch is running inside `spawn`. */
  private startingTask = false;
  readonly trace$ = new Subject<TraceRecord>();
  private heap = new EventHeap();
  private seq = 0;
  /** Tasks that have been started or woken and not yet parked or finished. */
  private runnable = 0;
  private looping = false;
  private topLevel = new Set<Task<unknown>>();
  private executed = 0;

  /** Number of events run since the world started (for benchmarks and traces). */
  get eventsExecuted(): number {
    return this.executed;
  }

  get pendingEvents(): number {
    return this.heap.size;
  }

  /**
   * Charge `ns` of CPU time to the code running now: a cost that a hardware timing profile (an
   * MMIO read round trip, a copy into a window) or a per-frame software cost assigns.
   * - In an event (an interrupt handler, a tasklet, a timer and all they call synchronously) the
   *   clock does not jump; everything the handler causes afterwards (the events it schedules, a
   *   task it wakes or starts) happens that much later, so costs add up along causal chains.
   * - In a task (process context) the time is paid at the task's next wait: it first sleeps off
   *   what it was charged since its previous wait, as a CPU stalled on its accesses would; what
   *   it causes before that wait is delayed like an event's. (A task stretch that ends without
   *   waiting, e.g. by returning, leaves its charge unpaid.)
   */
  charge(ns: Nanoseconds): void {
    if (!(ns > 0)) return;
    if (this.eventCharge !== undefined) this.eventCharge += ns;
    // Task code runs while the world runs (or in its first stretch, started from outside).
    else if (this.looping || this.startingTask) this.taskDebt += ns;
  }

  /** CPU time charged to the running code (event or task) and not yet reflected in `now`. */
  get pendingCharge(): Nanoseconds {
    return this.eventCharge ?? this.taskDebt;
  }

  /** The time as the running code sees it (ktime_get): `now` plus what it has been charged. */
  get cpuNow(): Nanoseconds {
    return this.now + this.pendingCharge;
  }

  at(time: Nanoseconds, fn: () => void): EventHandle {
    const charge = this.eventCharge ?? this.taskDebt;
    if (charge === 0) {
      if (time < this.now) time = this.now;
    } else {
      // Charges may be fractional (bytes / bandwidth); the clock stays on whole nanoseconds.
      time = Math.ceil(Math.max(time, this.now + charge));
    }
    const ev: PendingEvent = { time, seq: this.seq++, fn, cancelled: false, cancel: cancelEvent };
    this.heap.push(ev);
    return ev;
  }

  after(delay: Nanoseconds, fn: () => void): EventHandle {
    return this.at(this.cpuNow + Math.max(0, delay), fn);
  }

  /** Emit a trace record (cheap when nobody listens). */
  trace(host: string, kind: string, detail: string | (() => string)): void {
    if (!this.trace$.observed) return;
    this.trace$.next({ time: this.now, host, kind, detail: typeof detail === 'function' ? detail() : detail });
  }

  get tracing(): boolean {
    return this.trace$.observed;
  }

  /** Start a process-context task now; its code runs until its first wait, right away. */
  spawn<T>(name: string, fn: () => Promise<T> | T): Task<T> {
    const task = new Task<T>(name);
    const start = () => {
      this.runnable++;
      // Task code is process context: its first stretch must not run on the event's CPU charge.
      const outer = this.eventCharge;
      const outerDebt = this.taskDebt;
      const outerStarting = this.startingTask;
      this.eventCharge = undefined;
      this.taskDebt = 0;
      this.startingTask = true;
      let p: Promise<T>;
      try {
        p = Promise.resolve(fn());
      } catch (e) {
        p = Promise.reject(e);
      } finally {
        this.eventCharge = outer;
        this.taskDebt = outerDebt;
        this.startingTask = outerStarting;
      }
      p.then(
        (r) => {
          this.runnable--;
          task.finish(r, undefined);
        },
        (e) => {
          this.runnable--;
          task.finish(undefined, e);
        },
      );
    };
    // Started by a handler that is still busy: the task begins once that CPU time has passed.
    if (this.pendingCharge > 0) this.after(0, start);
    else start();
    return task;
  }

  /**
   * Park the calling task until `register`'s wake function is called (from an event or another
   * task). This is the only way process-context code may wait.
   */
  block<T = void>(register: (wake: (value: T) => void) => void): Promise<T> {
    // CPU time the task was charged since its last wait is spent first: only then does it look
    // at what it waits for.
    const debt = this.eventCharge === undefined ? this.taskDebt : 0;
    this.taskDebt = 0;
    return new Promise<T>((resolve) => {
      let woken = false;
      this.runnable--;
      const wake = (value: T) => {
        if (woken) return;
        woken = true;
        const resume = () => {
          this.runnable++;
          resolve(value);
        };
        // Woken by a handler that has been charged CPU time: the task runs after that time.
        if (this.pendingCharge > 0) this.after(0, resume);
        else resume();
      };
      if (debt > 0) this.at(this.now + debt, () => register(wake));
      else register(wake);
    });
  }

  /** Process context: sleep for `ns` of virtual time. */
  sleep(ns: Nanoseconds): Promise<void> {
    return this.block<void>((wake) => this.after(ns, () => wake()));
  }

  /** Process context: wait until another task finishes, then return its result or throw its error. */
  async join<T>(task: Task<T>): Promise<T> {
    if (!task.done) await this.block<void>((wake) => task.onDone(() => wake()));
    if (task.error !== undefined) throw task.error;
    return task.result as T;
  }

  /**
   * Entry point for code outside the simulation (tests, CLI): run `fn` as a task and drive virtual
   * time until it finishes. Several such calls may be pending at once; the first one drives.
   */
  async runTask<T>(name: string, fn: () => Promise<T> | T, limit: Nanoseconds = DEFAULT_TASK_LIMIT): Promise<T> {
    const task = this.spawn(name, fn);
    this.topLevel.add(task as Task<unknown>);
    task.onDone(() => this.topLevel.delete(task as Task<unknown>));
    if (!this.looping) {
      const deadline = this.now + limit;
      await this.loop(() => this.topLevel.size === 0, deadline);
      if (!task.done) {
        const stuck = [...this.topLevel].map((t) => t.name).join(', ');
        this.topLevel.clear();
        throw new KernelError(Errno.ETIMEDOUT, `task(s) still blocked after ${limit} ns of virtual time: ${stuck}`);
      }
      // What the call set in motion at this very instant (posted writes, zero-latency interrupt
      // delivery) completes before the caller's next step, as a syscall's effects do.
      if (task.error === undefined) await this.loop(() => false, this.now);
    } else {
      await new Promise<void>((resolve) => task.onDone(resolve));
    }
    if (task.error !== undefined) throw task.error;
    return task.result as T;
  }

  /** Run every event up to and including virtual time `until`, then set the clock to it. */
  async runUntil(until: Nanoseconds): Promise<void> {
    if (this.looping) throw new Error('scheduler: runUntil called while the world is already running');
    await this.loop(() => false, until);
    if (this.now < until) this.now = until;
  }

  runFor(ns: Nanoseconds): Promise<void> {
    return this.runUntil(this.now + ns);
  }

  /** Run until no event is left (never returns while a periodic timer is armed: use runUntil). */
  async runUntilIdle(limit: Nanoseconds = DEFAULT_TASK_LIMIT): Promise<void> {
    if (this.looping) throw new Error('scheduler: runUntilIdle called while the world is already running');
    await this.loop(() => false, this.now + limit);
  }

  private async loop(stop: () => boolean, deadline: Nanoseconds): Promise<void> {
    this.looping = true;
    try {
      for (;;) {
        if (this.runnable > 0) await this.settle();
        if (stop()) return;
        const ev = this.heap.peek();
        if (ev === undefined) {
          if (this.topLevel.size > 0) {
            const stuck = [...this.topLevel].map((t) => t.name).join(', ');
            // As after a timeout: forget the stuck tasks so they do not fail every later call.
            this.topLevel.clear();
            throw new KernelError(Errno.EINVAL, `deadlock: no event can wake task(s) ${stuck}`);
          }
          return;
        }
        if (ev.time > deadline) return;
        this.heap.pop();
        if (ev.cancelled) continue;
        this.now = ev.time;
        this.executed++;
        this.eventCharge = 0;
        this.taskDebt = 0; // whatever a finished task left unpaid is not this event's
        ev.fn();
        this.eventCharge = undefined;
      }
    } finally {
      this.looping = false;
      this.eventCharge = undefined;
      this.taskDebt = 0;
    }
  }

  /** Let woken tasks run (microtasks) until every one has parked or finished. */
  private async settle(): Promise<void> {
    let spins = 0;
    while (this.runnable > 0) {
      await undefined;
      if (++spins > MAX_SETTLE_SPINS) {
        throw new Error('scheduler: a task is waiting on something other than a kernel primitive');
      }
    }
  }
}
