/** Virtual time is a plain number of nanoseconds (exact up to 2^53 ns, about 104 days). */
export type Nanoseconds = number;

export const NSEC_PER_USEC = 1_000;
export const NSEC_PER_MSEC = 1_000_000;
export const NSEC_PER_SEC = 1_000_000_000;

export const usecs = (n: number): Nanoseconds => n * NSEC_PER_USEC;
export const msecs = (n: number): Nanoseconds => n * NSEC_PER_MSEC;
export const secs = (n: number): Nanoseconds => n * NSEC_PER_SEC;

/** printk's "[    5.123456]" stamp. */
export function formatTimestamp(ns: Nanoseconds): string {
  const sec = Math.floor(ns / NSEC_PER_SEC);
  const usec = Math.floor((ns % NSEC_PER_SEC) / NSEC_PER_USEC);
  return `[${String(sec).padStart(5, ' ')}.${String(usec).padStart(6, '0')}]`;
}
