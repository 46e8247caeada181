import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, realpathSync, rmdirSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import { onPath } from './binding';
import { controlSocketPath, probe, request } from './control';
import { MountError } from './mount';
import { mountsUnder } from './mountinfo';

export interface UmountReport {
  /** pid of a live mount that was asked to stop. */
  stopped?: number;
  /** Mount points unmounted here (left behind by a killed ntbsim). */
  unmounted: string[];
  /** A stale control socket removed. */
  removedSocket: boolean;
}

/**
 * `ntbsim umount DIR`: ask a live mount on DIR to stop (it unmounts itself), then lazily unmount
 * whatever FUSE mount of ntbsim is still under DIR (the process was killed) and remove its stale
 * control socket and the empty host directories.
 */
export async function umount(dir: string): Promise<UmountReport> {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    throw new MountError(`${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : String((e as Error).message)}`);
  }
  const report: UmountReport = { unmounted: [], removedSocket: false };
  const live = await probe(real);
  if (live) {
    await request(real, { op: 'shutdown' }, 5000).catch(() => undefined);
    report.stopped = live.pid;
    // It unmounts and removes its socket; wait for that (bounded).
    const until = Date.now() + 15_000;
    while (Date.now() < until && (existsSync(controlSocketPath(real)) || ours(real).length)) await sleep(50);
  }
  for (const m of ours(real)) {
    await lazyUnmount(m);
    report.unmounted.push(m);
    try {
      if (readdirSync(m).length === 0) rmdirSync(m);
    } catch {
      // not ours to remove
    }
  }
  const sock = controlSocketPath(real);
  if (existsSync(sock) && lstatSync(sock).isSocket() && !(await probe(real))) {
    unlinkSync(sock);
    report.removedSocket = true;
  }
  if (!live && report.unmounted.length === 0 && !report.removedSocket) throw new MountError(`nothing of ntbsim is mounted on ${real}`);
  return report;
}

/** FUSE mounts of ntbsim directly under DIR (DIR/<host>). */
function ours(real: string): string[] {
  return mountsUnder(real)
    .filter((m) => m.fsType === 'fuse.ntbsim' && path.dirname(m.mountPoint) === real)
    .map((m) => m.mountPoint);
}

function lazyUnmount(mp: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fusermount = onPath('fusermount');
    const [cmd, args] = fusermount ? [fusermount, ['-u', '-z', mp]] : ['umount', ['-l', mp]];
    execFile(cmd, args, (err) => {
      if (!err) return resolve();
      // fusermount refuses what is not in its mtab view, umount -l needs root: try the other one.
      execFile('umount', ['-l', mp], (err2) => (err2 ? reject(new MountError(`cannot unmount ${mp}: ${String(err.message).split('\n')[0]}`)) : resolve()));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
