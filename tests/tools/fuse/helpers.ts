import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fuseUnavailableReason, onPath } from '../../../tools/fuse/binding';

export const ROOT = path.resolve(__dirname, '../../../..');
export const MAIN = path.join(ROOT, 'dist/tools/cli/main.js');
export const FIXTURES = path.join(ROOT, 'tests/tools/fuse/fixtures');

/** Why the FUSE tests cannot run here, or undefined when they can. */
export function fuseSkipReason(): string | undefined {
  const fuse = fuseUnavailableReason();
  if (fuse) return fuse;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the FUSE tests mount filesystems and make mount namespaces: they need root';
  for (const cmd of ['unshare', 'nsenter', 'setpriv', 'bash', 'dd', 'cmp']) if (!onPath(cmd)) return `${cmd} is not installed`;
  return undefined;
}

/** In a before hook: skip the suite, saying why, when FUSE is not usable. */
export function skipWithoutFuse(ctx: Mocha.Context): void {
  const reason = fuseSkipReason();
  if (reason) {
    process.stdout.write(`      skipped (FUSE unavailable): ${reason}\n`);
    ctx.skip();
  }
}

export function tempDir(prefix = 'ntbsim-fuse-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function ntbsim(args: string[], opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; timeout?: number } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: opts.env ?? process.env,
    timeout: opts.timeout ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return r;
}

/** `ntbsim mount DIR …` in a child process, resolved once it reports the mount. */
export class MountChild {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(dir: string, extra: string[] = []): Promise<MountChild> {
    const m = new MountChild(spawn(process.execPath, [MAIN, 'mount', dir, ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => {
        const check = () => {
          if (m.stdout.includes('ntbsim: mounted')) resolve(true);
        };
        m.child.stdout!.on('data', check);
        check();
      }),
      m.exited.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000)),
    ]);
    if (!ready) {
      m.child.kill('SIGKILL');
      throw new Error(`ntbsim mount did not come up:\n${m.stdout}\n${m.stderr}`);
    }
    return m;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Run a command to completion, asynchronously (the test process may be serving nothing, but keep the loop free). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeout ?? 120_000);
    c.on('error', reject);
    c.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
