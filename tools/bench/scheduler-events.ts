import { Scheduler } from '../../core/time/scheduler';
import { msecs } from '../../core/time/units';
import { Benchmark, lcg, secondsSince } from './types';

const EVENTS = 2_000_000;

/** (a) The bare event loop: schedule millions of empty events at spread times, then run them all. */
export const schedulerEvents: Benchmark = {
  name: 'scheduler-events',
  title: 'Scheduler: empty events scheduled at spread times, then run',
  unit: 'events/s',
  target: 3e6,
  rounds: 5,
  method:
    `${EVENTS.toLocaleString('en-US')} events with an empty body are scheduled with Scheduler.at() at pseudo-random ` +
    'times spread over 1 s of virtual time, then runUntilIdle() runs them; the time covers scheduling and running ' +
    '(rate = events / total wall time). A fresh Scheduler per round.',
  async round({ scale }) {
    const n = Math.max(1, Math.round(EVENTS * scale));
    const sched = new Scheduler();
    const next = lcg(12345);
    const span = msecs(1000);
    let ran = 0;
    const fn = () => {
      ran++;
    };
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sched.at(next() % span, fn);
    const scheduled = secondsSince(start);
    await sched.runUntilIdle();
    const seconds = secondsSince(start);
    if (ran !== n || sched.eventsExecuted !== n) throw new Error(`scheduler-events: ran ${ran} of ${n} events`);
    return {
      ops: n,
      seconds,
      notes: [`schedule ${rate(n, scheduled)}, run ${rate(n, seconds - scheduled)}`],
    };
  },
};

function rate(n: number, s: number): string {
  return `${(n / s / 1e6).toFixed(2)} M/s`;
}
