import { Command, CommandOptions } from 'commander';
import { MAIN_JOB_QUICK, MainJobOptions, MainJobReport, PUBLISHED_GBPS, PUBLISHED_SOURCE, runMainJob } from '../../iperf';
import { globalOptions, noOperands, printJson, printText } from '../common';
import { table } from './iperf';

interface CompareOptions {
  out: string;
  quick?: boolean;
}

/** Set to a non-empty value other than 0, the main job runs its reduced (test) configuration. */
export const QUICK_ENV = 'NTBSIM_MAIN_JOB_QUICK';

/**
 * `ntbsim compare`, the default command (`npm start`): the main job. Streams ntb_netdev traffic on
 * the default 2-host Switchtec world with doorbells and then with MSI, prints the table beside the
 * published figures, and writes the throughput-against-frame-size chart.
 */
export function mainJobCommand(parent: Command, opts: CommandOptions = {}): Command {
  const cmd = noOperands(parent.command('compare', opts))
    .description('the main job: ntb_netdev throughput with doorbells vs MSI on the default 2-host Switchtec world, beside the published figures; writes an SVG chart')
    .option('--out <dir>', 'directory for the chart', 'out')
    .option('--quick', `a reduced configuration that runs in a few seconds (also: ${QUICK_ENV}=1)`);
  return cmd.action(async (o: CompareOptions, self: Command) => {
    const globals = globalOptions(self);
    const env = process.env[QUICK_ENV];
    const quick = o.quick || (env !== undefined && env !== '' && env !== '0');
    const jobOpts: MainJobOptions = { seed: globals.seed, outDir: o.out, ...(quick ? MAIN_JOB_QUICK : {}) };
    const report = await runMainJob(jobOpts);
    if (globals.json) printJson(report);
    else printText(mainJobText(report));
  });
}

export function mainJobText(r: MainJobReport): string[] {
  const h = r.runs[0];
  const rows = [['mode', 'notify', 'Gb/s', 'frames', 'irq/frame', 'queue stops', 'timer wakes', 'lost/dup/corrupt', 'published']];
  for (const run of r.runs) {
    const d = run.directions[0];
    rows.push([
      run.mode,
      d.notify,
      run.gbps.toFixed(2),
      `${run.frames}`,
      run.interruptsPerFrame.toFixed(2),
      `${run.queueStops}`,
      `${run.timerWakes}`,
      `${run.lost}/${run.duplicated}/${run.corrupted}`,
      `${PUBLISHED_GBPS[run.mode]} Gb/s`,
    ]);
  }
  const [db, msi] = r.runs;
  return [
    `ntb_netdev over ntb_transport, host0 → host1, 2-host Switchtec world (${r.profile}), HZ=${h.hz}, seed ${r.seed}`,
    `${h.frameSize}-byte frames, ${h.qpWindowBytes} bytes of window per QP (${h.ringSlots} slots), ${h.virtualSeconds} s of virtual time per mode`,
    '',
    ...table(rows),
    '',
    `MSI / doorbell: ${(msi.gbps / db.gbps).toFixed(2)}× (published: ${(PUBLISHED_GBPS.msi / PUBLISHED_GBPS.doorbell).toFixed(2)}×)`,
    `published: ${PUBLISHED_SOURCE} (reference only, not used in any computation)`,
    `chart (throughput against frame size, both modes): ${r.svg}`,
    `wall clock: ${r.wallSeconds.toFixed(1)} s for ${round(r.virtualSeconds)} s of virtual streaming (${(r.virtualSeconds / r.wallSeconds).toFixed(3)} virtual s per wall s; ` +
      r.runs.map((x) => `${x.mode} ${x.virtualPerWall.toFixed(3)}`).join(', ') +
      ')',
  ];
}

const round = (n: number) => Math.round(n * 1000) / 1000;
