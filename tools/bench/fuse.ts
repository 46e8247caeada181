import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fuseUnavailableReason } from '../fuse/binding';
import { Benchmark, secondsSince } from './types';

const MAIN = path.resolve(__dirname, '../cli/main.js');
const SCRIPT_ENV = 'NTBSIM_NTB_TEST_SH';
const READS = 400;

function needsRoot(): string | undefined {
  return typeof process.getuid === 'function' && process.getuid() !== 0 ? 'needs root (FUSE mounts, mount namespaces)' : undefined;
}

/** `ntbsim mount DIR` in a child process, resolved once it reports the mount. */
async function mountWorld(dir: string): Promise<{ stop(): Promise<void> }> {
  const child = spawn(process.execPath, [MAIN, 'mount', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ntbsim: mounted')) resolve();
    });
    child.on('exit', () => reject(new Error(`ntbsim mount exited: ${out}`)));
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Read latency of a plain debugfs file through the FUSE view: `cat` of ntb_tool's `port`. */
export const fuseCat: Benchmark = {
  name: 'fuse-cat',
  title: 'cat of a debugfs file through `ntbsim mount` (a process per read)',
  unit: 'reads/s',
  rounds: 3,
  unavailable: () => fuseUnavailableReason() ?? needsRoot(),
  method:
    'Mounts the default 2-host Switchtec world (`ntbsim mount DIR` in a child process), loads ntb_tool on host0 ' +
    `(\`ntbsim modprobe --mount\`), then runs \`cat DIR/host0/kernel/debug/ntb_tool/0000:01:00.1/port\` ${READS} times, ` +
    'one process each, checking every output is "0". Timed: each cat from spawn to exit (so the figure includes ' +
    'starting cat); the notes give the median and p99 latency.',
  async round({ scale }) {
    const n = Math.max(5, Math.round(READS * scale));
    const dir = mkdtempSync(path.join(tmpdir(), 'ntbsim-bench-'));
    const mount = await mountWorld(dir);
    try {
      const mp = spawnSync(process.execPath, [MAIN, 'modprobe', '--mount', dir, '--host', 'host0', 'ntb_tool'], { encoding: 'utf8' });
      if (mp.status !== 0) throw new Error(`fuse-cat: modprobe failed: ${mp.stderr}`);
      const file = path.join(dir, 'host0/kernel/debug/ntb_tool/0000:01:00.1/port');
      const lat: number[] = [];
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        const r = spawnSync('cat', [file], { encoding: 'utf8' });
        lat.push(secondsSince(t0));
        if (r.status !== 0 || r.stdout !== '0\n') throw new Error(`fuse-cat: cat gave ${JSON.stringify(r.stdout)} ${r.stderr}`);
      }
      const seconds = secondsSince(start);
      lat.sort((a, b) => a - b);
      const ms = (q: number) => (lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] * 1e3).toFixed(2);
      return { ops: n, seconds, notes: [`median ${ms(0.5)} ms, p99 ${ms(0.99)} ms per cat`] };
    } finally {
      await mount.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

/** One whole run of the kernel's own ntb_test.sh through `ntbsim kselftest`. */
export const kselftestRun: Benchmark = {
  name: 'kselftest',
  title: "The kernel's ntb_test.sh through `ntbsim kselftest` on the 2-host Switchtec world",
  unit: 'runs/s',
  // The target: one run in under 20 s, including the script's own `sleep 7`.
  target: 1 / 20,
  rounds: 1,
  unavailable: () =>
    fuseUnavailableReason() ?? needsRoot() ?? (process.env[SCRIPT_ENV] ? undefined : `set ${SCRIPT_ENV} to a kernel tree's tools/testing/selftests/ntb/ntb_test.sh (it is not shipped)`),
  method:
    `Runs \`ntbsim kselftest --script $${SCRIPT_ENV}\` (the user's unmodified ntb_test.sh, default options: ntb_perf ` +
    'total_order=32 both ways, the ping-pong `sleep 7` in real time) and checks exit status 0 and that the MSI tests ran. ' +
    'Timed: the whole command.',
  async round() {
    const start = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [MAIN, 'kselftest', '--script', process.env[SCRIPT_ENV]!], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const seconds = secondsSince(start);
    if (r.status !== 0) throw new Error(`kselftest: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    if (!r.stdout.includes('Running MSI interrupt tests')) throw new Error('kselftest: the MSI tests did not run');
    return { ops: 1, seconds, notes: [`${seconds.toFixed(1)} s wall for one run`] };
  },
};
