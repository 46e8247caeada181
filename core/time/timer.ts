import { Jiffies } from './jiffies';
import { EventHandle, Scheduler } from './scheduler';

/** struct timer_list: fires its callback in softirq context at a jiffy boundary. */
export class TimerList {
  private handle?: EventHandle;
  expires = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly jiffies: Jiffies,
    private readonly fn: () => void,
  ) {}

  get pending(): boolean {
    return this.handle !== undefined;
  }

  /** mod_timer: (re)arm for absolute jiffy `expires`; returns whether it was pending. */
  mod(expires: number): boolean {
    const was = this.del();
    this.expires = expires;
    const when = Math.max(this.jiffies.timeOf(expires), this.sched.now);
    this.handle = this.sched.at(when, () => {
      this.handle = undefined;
      this.fn();
    });
    return was;
  }

  /** Arm `delta` jiffies from now. */
  modIn(delta: number): boolean {
    return this.mod(this.jiffies.now + Math.max(delta, 0));
  }

  /** del_timer: returns whether it was pending. */
  del(): boolean {
    if (!this.handle) return false;
    this.handle.cancel();
    this.handle = undefined;
    return true;
  }
}
