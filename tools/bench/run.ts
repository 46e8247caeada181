import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { msiDelivery } from './msi-delivery';
import { doorbellRing, msiTrigger } from './msi-vs-doorbell';
import { fuseCat, kselftestRun } from './fuse';
import { ntbPerf } from './ntb-perf';
import { schedulerEvents } from './scheduler-events';
import { schedulerSteady } from './scheduler-steady';
import { streamBenchmarks } from './stream';
import { switchtecBoot } from './switchtec-boot';
import { timerChurn } from './timer-churn';
import { Benchmark, Measurement } from './types';

/** Every benchmark `npm run bench` runs, in table order. Later benchmarks register here. */
export const benchmarks: Benchmark[] = [schedulerEvents, schedulerSteady, timerChurn, msiDelivery, switchtecBoot, ntbPerf, msiTrigger, doorbellRing, ...streamBenchmarks, fuseCat, kselftestRun];

export interface BenchOutcome {
  bench: Benchmark;
  /** Median rate over the measured rounds. */
  rate: number;
  rates: number[];
  median: Measurement;
  pass?: boolean;
}

/** One warm-up round, then `rounds` measured ones; the median-rate round is reported. */
export async function runBenchmark(bench: Benchmark, scale = 1, rounds = bench.rounds ?? 5): Promise<BenchOutcome> {
  await bench.round({ scale });
  const runs: Measurement[] = [];
  for (let i = 0; i < rounds; i++) runs.push(await bench.round({ scale }));
  const sorted = [...runs].sort((a, b) => a.ops / a.seconds - b.ops / b.seconds);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const rate = median.ops / median.seconds;
  return {
    bench,
    rate,
    rates: runs.map((r) => r.ops / r.seconds),
    median,
    pass: bench.target === undefined ? undefined : rate >= bench.target,
  };
}

export function formatRate(rate: number, unit: string): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)} M ${unit}`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)} k ${unit}`;
  if (rate >= 10) return `${rate.toFixed(0)} ${unit}`;
  return `${rate.toPrecision(3)} ${unit}`;
}

function status(o: BenchOutcome): string {
  return o.pass === undefined ? '—' : o.pass ? 'PASS' : 'FAIL';
}

export function markdownReport(outcomes: BenchOutcome[], when = new Date(), skipped: Array<{ bench: Benchmark; why: string }> = []): string {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const lines = [
    '# ntbsim benchmarks',
    '',
    'Written by `npm run bench` (tools/bench/run.ts); rerun it to refresh this file.',
    '',
    `- Date: ${when.toISOString()}`,
    `- Node: ${process.version} (${process.platform}/${process.arch}), one thread`,
    `- CPU: ${cpu} (${os.cpus().length} logical CPUs; the simulation uses one)`,
    '',
    'Each figure is the median of the measured rounds after one warm-up round; the Rounds column shows every measured',
    'round. Figures depend on the machine and on what else it is running.',
    '',
    '| Benchmark | What | Result | Target | Status | Rounds |',
    '|---|---|---|---|---|---|',
    ...outcomes.map(
      (o) =>
        `| ${o.bench.name} | ${o.bench.title} | ${formatRate(o.rate, o.bench.unit)} | ${o.bench.target === undefined ? '—' : `≥ ${formatRate(o.bench.target, o.bench.unit)}`} | ${status(o)} | ${o.rates.map((r) => formatRate(r, '').trim()).join(', ')} |`,
    ),
    ...skipped.map(({ bench, why }) => `| ${bench.name} | ${bench.title} | — | ${bench.target === undefined ? '—' : `≥ ${formatRate(bench.target, bench.unit)}`} | skipped: ${why} | — |`),
    '',
    '## Method',
    '',
    ...outcomes.flatMap((o) => [
      `### ${o.bench.name}`,
      '',
      o.bench.method,
      '',
      `Command: the figure comes from \`npm run bench\` (every benchmark, full size); \`npm run bench -- ${o.bench.name}\` runs this one alone.`,
      ...(o.median.notes?.length ? ['', `Median round: ${o.median.notes.join('; ')}.`] : []),
      '',
    ]),
  ];
  return lines.join('\n');
}

/**
 * `npm run bench [-- NAME… --quick --no-write]`: runs the benchmarks (all, or those named), prints
 * a table, and rewrites BENCHMARKS.md after a full-size run of all of them.
 */
async function main(argv: string[]): Promise<number> {
  const quick = argv.includes('--quick');
  const write = !argv.includes('--no-write');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !benchmarks.some((b) => b.name === n));
  if (unknown.length) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')} (known: ${benchmarks.map((b) => b.name).join(', ')})\n`);
    return 2;
  }
  const selected = names.length ? benchmarks.filter((b) => names.includes(b.name)) : benchmarks;
  const outcomes: BenchOutcome[] = [];
  const skipped: Array<{ bench: Benchmark; why: string }> = [];
  for (const bench of selected) {
    process.stdout.write(`${bench.name}: ${bench.title} … `);
    const why = bench.unavailable?.();
    if (why) {
      process.stdout.write(`skipped: ${why}\n`);
      skipped.push({ bench, why });
      continue;
    }
    const o = await runBenchmark(bench, quick ? 0.05 : 1, quick ? 1 : undefined);
    outcomes.push(o);
    const target = bench.target === undefined ? '' : ` (target ≥ ${formatRate(bench.target, bench.unit)}: ${status(o)})`;
    process.stdout.write(`${formatRate(o.rate, bench.unit)}${target}\n`);
    for (const note of o.median.notes ?? []) process.stdout.write(`    ${note}\n`);
  }
  if (write && !quick && selected.length === benchmarks.length) {
    const file = path.resolve(__dirname, '../../../BENCHMARKS.md');
    writeFileSync(file, markdownReport(outcomes, new Date(), skipped));
    process.stdout.write(`wrote ${path.relative(process.cwd(), file) || file}\n`);
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
