import { Jiffies } from '../../core/time/jiffies';
import { Scheduler } from '../../core/time/scheduler';
import { TimerList } from '../../core/time/timer';
import { Benchmark, lcg, secondsSince } from './types';

const TIMERS = 4096;
const FIRES = 1_000_000;
const HZ = 1000;

/**
 * (b) Timer-heavy load: many timer_lists that re-arm themselves and keep pushing each other's
 * expiry out (mod_timer on a pending timer = cancel + re-arm), as retransmit and watchdog timers do.
 */
export const timerChurn: Benchmark = {
  name: 'timer-churn',
  title: 'Timers: TimerList expiry with mod_timer/del_timer churn',
  unit: 'events/s',
  rounds: 5,
  method:
    `${TIMERS} TimerLists (HZ=${HZ}). Each expiry re-arms its own timer 1–8 jiffies ahead, mod_timer()s another ` +
    'random timer 1–32 jiffies ahead (cancelling its pending event), and one expiry in four (at random) del_timer()s a ' +
    `third timer and re-arms it; ${FIRES.toLocaleString('en-US')} expiries in all. Rate = timer callbacks run / wall time ` +
    '(cancelled heap entries are popped and skipped, and count as work but not as events).',
  async round({ scale }) {
    const budget = Math.max(TIMERS, Math.round(FIRES * scale));
    const sched = new Scheduler();
    const jiffies = new Jiffies(sched, HZ);
    const next = lcg(777);
    const timers: TimerList[] = [];
    let fired = 0;
    let mods = 0;
    for (let i = 0; i < TIMERS; i++) {
      const t = new TimerList(sched, jiffies, () => {
        fired++;
        if (fired + TIMERS > budget) return;
        const r = next();
        t.modIn(1 + (r & 7));
        timers[(r >>> 8) % TIMERS].modIn(1 + ((r >>> 3) & 31));
        mods += 2;
        if ((r & 0x30) === 0) {
          const other = timers[(r >>> 20) % TIMERS];
          if (other.del()) {
            other.modIn(1 + ((r >>> 4) & 15));
            mods += 2;
          }
        }
      });
      timers.push(t);
    }
    const start = process.hrtime.bigint();
    for (let i = 0; i < TIMERS; i++) timers[i].modIn(1 + (i & 15));
    await sched.runUntilIdle();
    const seconds = secondsSince(start);
    if (timers.some((t) => t.pending)) throw new Error('timer-churn: timers still pending after the run');
    if (sched.eventsExecuted !== fired) throw new Error(`timer-churn: ${sched.eventsExecuted} events ran but ${fired} timers fired`);
    return {
      ops: fired,
      seconds,
      notes: [`${(mods / seconds / 1e6).toFixed(2)} M mod/del ops/s`, `${(sched.now / 1e9).toFixed(2)} s virtual`],
    };
  },
};
