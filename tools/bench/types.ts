/** What a benchmark is asked to do: `scale` multiplies its problem size (1 = the real run; tests use a tiny one). */
export interface BenchContext {
  scale: number;
}

/** One timed round: `ops` operations in `seconds` of wall-clock time, plus figures worth a note. */
export interface Measurement {
  ops: number;
  seconds: number;
  notes?: string[];
}

/**
 * A benchmark: one file under tools/bench/ exports one of these, and run.ts lists it. `round`
 * does its own set-up, times only the part it measures, and throws if the simulation did not do
 * exactly what it should (a benchmark that measures a broken path is worse than none).
 */
export interface Benchmark {
  name: string;
  /** One line for the table: what is measured. */
  title: string;
  /** Rate unit, e.g. "events/s". */
  unit: string;
  /** The target rate, if it has one (PASS/FAIL is judged against it). */
  target?: number;
  /** Measured rounds after one warm-up round (median is reported). */
  rounds?: number;
  /** How the benchmark works, for BENCHMARKS.md. */
  method: string;
  /** Why it cannot run on this machine (no FUSE, not root, a file the user must supply), if so. */
  unavailable?(): string | undefined;
  round(ctx: BenchContext): Promise<Measurement>;
}

/** Wall-clock seconds since `start` (a process.hrtime.bigint()). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** A fast deterministic 32-bit generator for spreading event times (not the world's PRNG). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
}
