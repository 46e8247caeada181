import { Subject } from 'rxjs';
import { Scheduler } from './time/scheduler';
import { formatTimestamp, Nanoseconds } from './time/units';

export enum LogLevel {
  EMERG = 0,
  ALERT = 1,
  CRIT = 2,
  ERR = 3,
  WARNING = 4,
  NOTICE = 5,
  INFO = 6,
  DEBUG = 7,
}

export interface LogRecord {
  time: Nanoseconds;
  level: LogLevel;
  text: string;
}

/** Anything that printk can prefix the way dev_printk does ("<driver or bus> <device name>: "). */
export interface PrintkDevice {
  readonly name: string;
  printkPrefix(): string;
}

/**
 * The kernel log of one host: a bounded ring of records stamped with virtual time, and a stream.
 * dmesg's default rendering ("[    0.001234] text") is `format`.
 */
export class Printk {
  readonly records$ = new Subject<LogRecord>();
  private ring: LogRecord[] = [];
  /** Records at or below this level are kept (the console loglevel does not filter dmesg). */
  debugEnabled = false;

  constructor(
    private readonly sched: Scheduler,
    readonly hostName: string,
    private readonly capacity = 65_536,
  ) {}

  log(level: LogLevel, text: string): void {
    if (level === LogLevel.DEBUG && !this.debugEnabled) return;
    for (const line of text.replace(/\n$/, '').split('\n')) {
      const rec: LogRecord = { time: this.sched.now, level, text: line };
      this.ring.push(rec);
      if (this.ring.length > this.capacity) this.ring.shift();
      this.sched.trace(this.hostName, 'printk', line);
      this.records$.next(rec);
    }
  }

  emerg = (t: string) => this.log(LogLevel.EMERG, t);
  err = (t: string) => this.log(LogLevel.ERR, t);
  warn = (t: string) => this.log(LogLevel.WARNING, t);
  notice = (t: string) => this.log(LogLevel.NOTICE, t);
  info = (t: string) => this.log(LogLevel.INFO, t);
  debug = (t: string) => this.log(LogLevel.DEBUG, t);

  devLog(level: LogLevel, dev: PrintkDevice, text: string): void {
    this.log(level, `${dev.printkPrefix()} ${dev.name}: ${text}`);
  }

  get records(): readonly LogRecord[] {
    return this.ring;
  }

  /** The log as `dmesg` prints it. */
  dmesg(): string {
    return this.ring.map(Printk.format).join('\n') + (this.ring.length ? '\n' : '');
  }

  /** Lines without timestamps, for matching in tests. */
  lines(): string[] {
    return this.ring.map((r) => r.text);
  }

  clear(): void {
    this.ring = [];
  }

  static format(r: LogRecord): string {
    return `${formatTimestamp(r.time)} ${r.text}`;
  }
}

/** printk_ratelimit-style limiter: `burst` messages per `interval` of virtual time. */
export class RateLimit {
  private begin = -Infinity;
  private printed = 0;
  missed = 0;

  constructor(
    private readonly sched: Scheduler,
    readonly interval: Nanoseconds,
    readonly burst: number,
  ) {}

  /** Returns true if the caller may print; reports suppressed counts when a new interval starts. */
  allow(onSuppressed?: (n: number) => void): boolean {
    if (this.sched.now - this.begin >= this.interval) {
      if (this.missed > 0) onSuppressed?.(this.missed);
      this.begin = this.sched.now;
      this.printed = 0;
      this.missed = 0;
    }
    if (this.printed < this.burst) {
      this.printed++;
      return true;
    }
    this.missed++;
    return false;
  }
}
