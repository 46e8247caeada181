import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import * as path from 'node:path';
import type { World } from '../../core/world';
import { onPath } from './binding';
import { MountError, MountSession } from './mount';
import { mountsUnder } from './mountinfo';
import { HostNamespaces } from './namespaces';
import { writeShims } from './shims';

/** getopts spec of ntb_test.sh: options that take an argument. */
const OPTS_WITH_ARG = new Set(['b', 'm', 'r', 'p', 'w']);

export interface KselftestOptions {
  script: string;
  /** What follows `--` on the ntbsim command line: passed to the script. */
  args: string[];
  /** Where the script's output goes (default: inherited, i.e. passed through). */
  stdio?: 'inherit' | 'pipe';
}

/**
 * The script's command line: ARGS, plus `-r <second host>` unless ARGS has -r, plus the two hosts'
 * NTB devices unless ARGS names devices (positional arguments, as the script's getopts sees them).
 */
export function scriptArgs(args: string[], remoteHost: string, devices: [string, string] | undefined): string[] {
  let hasRemote = false;
  let positional = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        if (a[j] === 'r') hasRemote = true;
        if (OPTS_WITH_ARG.has(a[j])) {
          if (j === a.length - 1) i++;
          break;
        }
      }
    } else positional++;
  }
  if (positional === 0 && !devices) throw new MountError('no NTB device in /sys/bus/ntb/devices of the first two hosts: use a topology with NTB hardware (e.g. --topology switchtec) or name the devices after --');
  return [...(hasRemote ? [] : ['-r', remoteHost]), ...args, ...(positional > 0 ? [] : devices!)];
}

/**
 * Run an unmodified ntb_test.sh as root against `world`: mount it in a temporary directory, give
 * each host a private mount namespace with its view over /sys, make the modprobe/rmmod/ssh shims,
 * and start the script with bash in the first host's namespace, `-r <second host>` and the two
 * NTB devices. Resolves to the script's exit status (128+N for a signal).
 */
export async function runKselftest(world: World, opts: KselftestOptions): Promise<number> {
  if (world.hosts.length < 2) throw new MountError(`kselftest needs two hosts; the topology has ${world.hosts.length}`);
  for (const cmd of ['bash', 'unshare', 'nsenter', 'setpriv']) {
    if (!onPath(cmd)) throw new MountError(`kselftest needs ${cmd} (Debian/Ubuntu: apt-get install ${cmd === 'bash' ? 'bash' : 'util-linux'})`);
  }
  const [a, b] = world.hosts;
  const devices = [a, b].map((h) => (h.exists('/sys/bus/ntb/devices') ? h.ls('/sys/bus/ntb/devices')[0] : undefined));
  const fullArgs = scriptArgs(opts.args, b.name, devices[0] && devices[1] ? [devices[0], devices[1]] : undefined);
  const state = mkdtempSync(path.join(tmpdir(), 'ntbsim-ks-'));
  let session: MountSession | undefined;
  let ns: HostNamespaces | undefined;
  const stop = () => void session?.close();
  const crash = (e: unknown) => {
    process.stderr.write(`ntbsim: error: ${(e as Error)?.stack ?? String(e)}\n`);
    void Promise.resolve(ns?.close())
      .then(() => session?.close())
      .finally(() => process.exit(1));
  };
  try {
    const mountDir = path.join(state, 'm');
    mkdirSync(mountDir);
    session = await MountSession.open(world, mountDir);
    ns = await HostNamespaces.create(session.dir, session.hostNames);
    const bin = path.join(state, 'bin');
    const paths = writeShims({ mountDir: session.dir, hosts: session.hostNames, nsPids: ns.pids, binDir: bin });
    const env = { ...process.env, PATH: `${paths[a.name]}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
    const [cmd, argv] = ns.command(a.name, ['bash', path.resolve(opts.script), ...fullArgs]);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('uncaughtException', crash);
    process.on('unhandledRejection', crash);
    const child = spawn(cmd, argv, { stdio: opts.stdio ?? 'inherit', env });
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? signalNumber(signal) : 0)));
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('uncaughtException', crash);
    process.off('unhandledRejection', crash);
    await ns?.close();
    await session?.close();
    // Never recurse into something still mounted.
    if (mountsUnder(state).length === 0) rmSync(state, { recursive: true, force: true });
    else process.stderr.write(`ntbsim: ${state} is still mounted; left in place (ntbsim umount ${path.join(state, 'm')})\n`);
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  const n = osConstants.signals[sig];
  return typeof n === 'number' ? n : 0;
}
