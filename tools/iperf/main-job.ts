/**
 * ntbsim's main job (`npm start`): on the default two-host Switchtec world, stream ntb_netdev
 * traffic host0 → host1 with doorbells and then with `use_msi=1`, report throughput and
 * interrupts per frame beside the figures the 2019 patch series published, and chart throughput
 * against frame size for both modes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { lineChartSvg } from './chart';
import { DEFAULT_PROFILE, STREAM_MODES, StreamMode, StreamResult, StreamWorld } from './stream';

/**
 * The seed's result: ntb_netdev + iperf on Switchtec hardware, from the cover letter of
 * "[PATCH v5 00/10] Support using MSI interrupts in ntb_transport" (2019). Printed (and drawn)
 * beside the simulation's figures as a reference; never used in any computation.
 */
export const PUBLISHED_GBPS: Readonly<Record<StreamMode, number>> = { doorbell: 3.88, msi: 14.1 };
export const PUBLISHED_SOURCE = '2019 cover letter, "[PATCH v5 00/10] Support using MSI interrupts in ntb_transport"';

/** Ethernet frame sizes of the chart (the largest, MTU + 14, is added from the interface). */
export const CHART_FRAME_SIZES = [1514, 4096, 9014, 16384, 32768];

export interface MainJobOptions {
  seed?: number;
  /** Virtual seconds of each headline stream (largest frames). */
  seconds?: number;
  /** Virtual seconds of each chart point. */
  chartSeconds?: number;
  /** Chart frame sizes below the largest (default CHART_FRAME_SIZES). */
  frameSizes?: number[];
  /** Directory the SVG is written to (created if missing). */
  outDir?: string;
}

/**
 * The default configuration, chosen for wall time: with today's profile (bulk copies only, no
 * per-frame software cost) the stream runs at the copy bandwidth, ~100 000 large or several
 * hundred thousand small frames per virtual second, and the simulator spends roughly 8–20 µs of
 * wall time per frame. 0.25 s per headline mode and 0.02 s per chart point keep `npm start`
 * around 15 s on a 2-core machine. (A calibrated profile lowers the frame rate, and so the wall
 * time per virtual second; the durations can then grow.)
 */
export const MAIN_JOB_DEFAULTS: Required<Omit<MainJobOptions, 'seed'>> = {
  seconds: 0.25,
  chartSeconds: 0.02,
  frameSizes: CHART_FRAME_SIZES,
  outDir: 'out',
};

/** A reduced configuration for tests (`NTBSIM_MAIN_JOB_QUICK=1` or `ntbsim compare --quick`). */
export const MAIN_JOB_QUICK: Required<Omit<MainJobOptions, 'seed' | 'outDir'>> = {
  seconds: 0.01,
  chartSeconds: 0.003,
  frameSizes: [9014],
};

export interface ChartPoint {
  mode: StreamMode;
  frameSize: number;
  gbps: number;
  frames: number;
  interruptsPerFrame: number;
}

export interface MainJobReport {
  seed: number;
  profile: string;
  /** The headline streams (largest frames), doorbell first. */
  runs: StreamResult[];
  published: Record<StreamMode, number>;
  chart: ChartPoint[];
  /** Where the SVG was written. */
  svg: string;
  /** Wall-clock seconds for the whole job, and virtual seconds simulated in it (streams only). */
  wallSeconds: number;
  virtualSeconds: number;
}

const COLORS: Record<StreamMode, string> = { doorbell: '#d9480f', msi: '#1864ab' };

export async function runMainJob(o: MainJobOptions = {}): Promise<MainJobReport> {
  const cfg = { ...MAIN_JOB_DEFAULTS, ...o };
  const seed = o.seed ?? 1;
  const t0 = performance.now();
  const runs: StreamResult[] = [];
  const chart: ChartPoint[] = [];
  let virtualSeconds = 0;
  for (const mode of STREAM_MODES) {
    // One world per mode: the headline stream, then one stream per chart frame size.
    const sw = await StreamWorld.open({ mode, seed });
    const head = await sw.stream({ seconds: cfg.seconds });
    runs.push(head);
    virtualSeconds += head.virtualSeconds;
    const sizes = [...new Set([...cfg.frameSizes.filter((s) => s < head.frameSize), head.frameSize])].sort((a, b) => a - b);
    for (const frameSize of sizes) {
      const r = await sw.stream({ seconds: cfg.chartSeconds, frameSize });
      virtualSeconds += r.virtualSeconds;
      chart.push({ mode, frameSize, gbps: r.gbps, frames: r.frames, interruptsPerFrame: r.interruptsPerFrame });
    }
  }
  const svgText = lineChartSvg({
    title: 'ntb_netdev throughput against frame size',
    subtitle: `2-host Switchtec (${DEFAULT_PROFILE}), HZ=${runs[0].hz}, host0 → host1, ${cfg.chartSeconds} s of virtual time per point, seed ${seed}`,
    xLabel: 'Ethernet frame size (bytes, log scale)',
    yLabel: 'Gb/s (virtual time)',
    series: STREAM_MODES.map((mode) => ({
      label: mode === 'msi' ? 'MSI (use_msi=1)' : 'doorbell',
      color: COLORS[mode],
      // Doorbell first and wider, so that it shows where the two curves coincide.
      width: mode === 'doorbell' ? 5 : 2,
      points: chart.filter((p) => p.mode === mode).map((p) => ({ x: p.frameSize, y: p.gbps })),
    })),
    markers: STREAM_MODES.map((mode) => ({
      label: `published ${mode}: ${PUBLISHED_GBPS[mode]} Gb/s`,
      color: COLORS[mode],
      x: runs[0].frameSize,
      y: PUBLISHED_GBPS[mode],
    })),
    notes: [`Hollow squares: the figures of the ${PUBLISHED_SOURCE} (reference only).`],
  });
  mkdirSync(cfg.outDir, { recursive: true });
  const svg = path.join(cfg.outDir, 'throughput-vs-frame-size.svg');
  writeFileSync(svg, svgText);
  return {
    seed,
    profile: DEFAULT_PROFILE,
    runs,
    published: { ...PUBLISHED_GBPS },
    chart,
    svg,
    wallSeconds: (performance.now() - t0) / 1000,
    virtualSeconds,
  };
}
