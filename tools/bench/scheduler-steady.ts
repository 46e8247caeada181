import { Scheduler } from '../../core/time/scheduler';
import { usecs } from '../../core/time/units';
import { Benchmark, lcg, secondsSince } from './types';

const PENDING = 10_000;
const EVENTS = 2_000_000;

/**
 * (a′) The event loop in steady state ("hold model"): a fixed population of pending events, each
 * of which schedules its successor a random delay ahead, as a running simulation does.
 */
export const schedulerSteady: Benchmark = {
  name: 'scheduler-steady',
  title: `Scheduler: steady state, ${PENDING.toLocaleString('en-US')} pending, each event schedules the next`,
  unit: 'events/s',
  target: 3e6,
  rounds: 5,
  method:
    `${PENDING.toLocaleString('en-US')} events are pending at all times: each empty event schedules one successor ` +
    `with Scheduler.after() 0–100 µs ahead, until ${EVENTS.toLocaleString('en-US')} have run (runUntilIdle). ` +
    'Rate = events run / wall time, scheduling included.',
  async round({ scale }) {
    const n = Math.max(PENDING, Math.round(EVENTS * scale));
    const sched = new Scheduler();
    const next = lcg(4242);
    const span = usecs(100);
    let budget = n - PENDING;
    let ran = 0;
    const fn = () => {
      ran++;
      if (budget > 0) {
        budget--;
        sched.after(next() % span, fn);
      }
    };
    const start = process.hrtime.bigint();
    for (let i = 0; i < PENDING; i++) sched.at(next() % span, fn);
    await sched.runUntilIdle();
    const seconds = secondsSince(start);
    if (ran !== n || sched.eventsExecuted !== n) throw new Error(`scheduler-steady: ran ${ran} of ${n} events`);
    return { ops: n, seconds, notes: [`${(sched.now / 1e6).toFixed(1)} ms virtual`] };
  },
};
