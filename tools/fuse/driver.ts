import { Errno, KernelError } from '../../core/errno';
import type { Host } from '../../core/host';
import type { Kernel } from '../../core/kernel';
import type { Task } from '../../core/time/scheduler';
import { Nanoseconds, secs } from '../../core/time/units';
import type { World } from '../../core/world';

/**
 * The one loop that owns a mounted world's scheduler. Outside callers (FUSE operations, the
 * modprobe control channel) submit work; each piece runs as its own kernel task, so a write that
 * blocks (ntb_tool's db_event, ntb_perf's run, …) parks only its own task and the others keep
 * being served.
 *
 * Real-time pacing, the rule of a mounted world:
 * - virtual time never runs behind wall time: while the loop is otherwise idle it advances the
 *   clock to `anchor + wall time elapsed`, running every event on the way (ntb_pingpong's timer,
 *   the switchtec driver's polls), so a `sleep 7` in a script sees about 7 s of simulated activity;
 * - while a caller waits on a blocking file and events are pending, virtual time runs ahead as fast
 *   as the simulation can go, and the anchor moves with it: afterwards the clock goes on at wall
 *   speed from where it got to (it is never wound back, so virtual time only gets further ahead);
 * - a call that only an outside action can wake (nothing pending in the world, or still blocked
 *   after 10 minutes of virtual time run ahead) waits at wall speed; after an hour of virtual time
 *   it fails with ETIMEDOUT, so no caller stays stuck in the filesystem for ever.
 * Outside a mount (`ntbsim selftest`, the tests, the library) time stays fully virtual.
 */
export interface DriverOptions {
  /** How long (virtual) a submitted call may stay blocked before it fails with ETIMEDOUT. */
  blockLimit?: Nanoseconds;
  /** Called for problems the loop survives (a task limit hit, a simulation error). */
  warn?: (line: string) => void;
}

interface Pending {
  name: string;
  fn: () => unknown;
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
  task?: Task<unknown>;
  startedAt: Nanoseconds;
}

/**
 * A call blocked this long (virtual) stops making the clock run ahead: it waits for something
 * outside the world (another file written by hand), so the clock goes back to wall speed.
 */
const MAX_RUN_AHEAD: Nanoseconds = secs(600);
/** Wall time one slice of running ahead or catching up may take before the loop looks for new work. */
const SLICE_WALL_NS = 8_000_000n;
/** Idle tick while events are pending: the clock follows the wall in steps of about this. */
const IDLE_TICK_MS = 1;
/** Idle tick with nothing pending in the world (only the clock moves). */
const QUIET_TICK_MS = 20;

export class WorldDriver {
  private queue: Pending[] = [];
  private inflight = new Set<Pending>();
  private stopped = false;
  private loopDone?: Promise<void>;
  private wake?: () => void;
  private anchorWall = 0n;
  private anchorVirt: Nanoseconds = 0;
  /** Virtual step of one runUntil call while running ahead (adapted to the event density). */
  private step: Nanoseconds = 1_000_000;
  private readonly blockLimit: Nanoseconds;
  private readonly warn: (line: string) => void;

  constructor(
    readonly world: World,
    opts: DriverOptions = {},
  ) {
    this.blockLimit = opts.blockLimit ?? secs(3600);
    this.warn = opts.warn ?? ((l) => process.stderr.write(l + '\n'));
  }

  /** Start driving the world's clock (real-time paced from now on). */
  start(): void {
    if (this.loopDone) return;
    this.anchor();
    this.loopDone = this.loop();
  }

  /** Run `fn` in process context on `host`; resolves when the task finishes. */
  submit<T>(host: Host, what: string, fn: (k: Kernel) => Promise<T> | T): Promise<T> {
    if (this.stopped) return Promise.reject(new KernelError(Errno.ENOTCONN, 'the world is shutting down'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ name: `${host.name}/${what}`, fn: () => fn(host.kernel), resolve, reject, startedAt: 0 });
      this.kick();
    });
  }

  /** Calls submitted and not answered yet. */
  get busy(): number {
    return this.queue.length + this.inflight.size;
  }

  /**
   * Stop the loop; calls still queued or blocked fail with EINTR (as a signal would end them) so
   * that no caller stays stuck in the filesystem.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.kick();
    await this.loopDone;
    for (const p of [...this.queue.splice(0), ...this.inflight]) p.reject(new KernelError(Errno.EINTR, `${p.name}: interrupted (unmount)`));
    this.inflight.clear();
  }

  private kick(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private get sched() {
    return this.world.sched;
  }

  private anchor(): void {
    this.anchorWall = process.hrtime.bigint();
    this.anchorVirt = this.sched.now;
  }

  /** Where the clock should be now by the wall. */
  private wallTarget(): Nanoseconds {
    return this.anchorVirt + Number(process.hrtime.bigint() - this.anchorWall);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.iteration();
      } catch (e) {
        this.warn(`ntbsim: simulation error: ${(e as Error)?.stack ?? String(e)}`);
      }
    }
  }

  private async iteration(): Promise<void> {
    const sched = this.sched;
    // 1. Catch the clock up with the wall (bounded, so new work is picked up regularly).
    await this.runTowards(this.wallTarget(), SLICE_WALL_NS);
    // 2. Start what was submitted, at the current instant, and let the instant settle: what a
    //    call set in motion at this very instant lands before it is answered.
    if (this.queue.length) {
      for (const p of this.queue.splice(0)) {
        p.startedAt = sched.now;
        p.task = sched.spawn(p.name, p.fn);
        this.inflight.add(p);
      }
    }
    await sched.runUntil(sched.now);
    this.reap();
    if (this.stopped) return;
    // 3. Someone is blocked and the world has something to do: run ahead of the wall.
    if (this.inflight.size > 0 && sched.pendingEvents > 0 && this.mayRunAhead()) {
      await this.runAhead();
      this.anchor();
      this.reap();
      await yieldToIo();
      return;
    }
    // 4. Otherwise wait for new work or for the wall clock to move on.
    if (this.queue.length === 0) await this.idle(sched.pendingEvents > 0 ? IDLE_TICK_MS : QUIET_TICK_MS);
    else await yieldToIo();
  }

  /** Run events towards `target` for at most `budget` of wall time. */
  private async runTowards(target: Nanoseconds, budget: bigint): Promise<void> {
    const sched = this.sched;
    if (sched.now >= target) return;
    const t0 = process.hrtime.bigint();
    const maxStep = Math.max(this.step, 1_000_000);
    while (sched.now < target) {
      await sched.runUntil(Math.min(target, sched.now + maxStep));
      if (process.hrtime.bigint() - t0 > budget) break;
    }
  }

  /** One slice of running ahead while callers are blocked: as fast as it goes, adapting the step. */
  private async runAhead(): Promise<void> {
    const sched = this.sched;
    const t0 = process.hrtime.bigint();
    for (;;) {
      const s0 = process.hrtime.bigint();
      await sched.runUntil(sched.now + this.step);
      const took = process.hrtime.bigint() - s0;
      if (took < 1_000_000n) this.step = Math.min(this.step * 2, secs(10));
      else if (took > 4_000_000n) this.step = Math.max(Math.floor(this.step / 2), 1000);
      if (this.reap() || this.queue.length || this.stopped) return;
      if (sched.pendingEvents === 0 || !this.mayRunAhead()) return;
      if (process.hrtime.bigint() - t0 > SLICE_WALL_NS) return;
    }
  }

  /** Running ahead stops once every blocked call has waited MAX_RUN_AHEAD of virtual time. */
  private mayRunAhead(): boolean {
    for (const p of this.inflight) if (this.sched.now - p.startedAt < MAX_RUN_AHEAD) return true;
    return false;
  }

  /** Answer every finished call; fail calls blocked past the limit. True if any was answered. */
  private reap(): boolean {
    let any = false;
    for (const p of this.inflight) {
      const t = p.task!;
      if (t.done) {
        this.inflight.delete(p);
        any = true;
        if (t.error !== undefined) p.reject(t.error);
        else p.resolve(t.result);
      } else if (this.sched.now - p.startedAt > this.blockLimit) {
        this.inflight.delete(p);
        any = true;
        this.warn(`ntbsim: ${p.name}: still blocked after ${(this.blockLimit / 1e9).toFixed(0)} s of virtual time; failing it with ETIMEDOUT`);
        p.reject(new KernelError(Errno.ETIMEDOUT, `${p.name}: blocked for too long`));
      }
    }
    return any;
  }

  private idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** Let pending I/O callbacks (FUSE requests, sockets) run before going on. */
function yieldToIo(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
