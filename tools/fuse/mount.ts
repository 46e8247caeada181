import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import type { World } from '../../core/world';
import { FuseInstance, loadFuse } from './binding';
import { ControlServer, controlSocketPath, MAX_SOCKET_PATH, probe } from './control';
import { WorldDriver } from './driver';
import { modprobe, parseModprobeArgs, parseRmmodArgs, rmmod } from './kmod';
import { mountsUnder } from './mountinfo';
import { HostView } from './view';

/** A problem with the mount directory or the machine: reported as one line, nothing left mounted. */
export class MountError extends Error {
  override readonly name = 'MountError';
}

interface MountedHost {
  name: string;
  dir: string;
  fuse?: FuseInstance;
  created: boolean;
}

export interface MountOptions {
  /** Where problems the mount survives are reported (default: stderr). */
  warn?: (line: string) => void;
}

/**
 * A booted world mounted on DIR: one FUSE filesystem per host at DIR/<host> (that host's /sys),
 * the control socket DIR/.ntbsim.sock, and the driver loop that runs the world in real time.
 */
export class MountSession {
  readonly driver: WorldDriver;
  private hosts: MountedHost[] = [];
  private control?: ControlServer;
  private closing?: Promise<void>;
  private resolveDone!: () => void;
  /** Resolves once the session is closed (by close(), a signal, or `ntbsim umount`). */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  private constructor(
    readonly world: World,
    readonly dir: string,
    private readonly warn: (line: string) => void,
  ) {
    this.driver = new WorldDriver(world, { warn });
  }

  /** Check DIR, then mount every host of `world` under it; on any failure nothing stays mounted. */
  static async open(world: World, dir: string, opts: MountOptions = {}): Promise<MountSession> {
    const Fuse = loadFuse();
    const real = await checkMountDir(dir, world.hosts.map((h) => h.name));
    const session = new MountSession(world, real, opts.warn ?? ((l) => process.stderr.write(l + '\n')));
    try {
      session.driver.start();
      for (const host of world.hosts) {
        const hostDir = path.join(real, host.name);
        const m: MountedHost = { name: host.name, dir: hostDir, created: false };
        session.hosts.push(m);
        if (!existsSync(hostDir)) {
          mkdirSync(hostDir);
          m.created = true;
        }
        const view = new HostView(host, session.driver, '/sys', session.warn);
        // fuse-native has no option for these: they ride in after fsname (libfuse splits on
        // commas). direct_io: no page cache, reads and writes reach the handlers at their offsets;
        // zero timeouts: files that modules add and remove show up and go away at once.
        const fuse = new Fuse(hostDir, view.ops(), {
          timeout: false,
          fsname: `ntbsim:${host.name},direct_io,entry_timeout=0,attr_timeout=0,negative_timeout=0`,
          subtype: 'ntbsim',
        });
        await new Promise<void>((resolve, reject) => fuse.mount((err) => (err ? reject(err) : resolve())));
        m.fuse = fuse;
      }
      const control = new ControlServer({
        hosts: () => world.hosts.map((h) => h.name),
        kmod: (prog, hostName, argv) => session.kmod(prog, hostName, argv),
        shutdown: () => void session.close(),
      });
      await control.listen(real);
      session.control = control;
    } catch (e) {
      await session.close();
      if (e instanceof MountError) throw e;
      throw new MountError(`cannot mount on ${real}: ${(e as Error)?.message ?? String(e)}`);
    }
    return session;
  }

  hostDir(name: string): string {
    return path.join(this.dir, name);
  }

  get hostNames(): string[] {
    return this.world.hosts.map((h) => h.name);
  }

  /** kmod's modprobe/rmmod on one host (the control channel's requests). */
  async kmod(prog: 'modprobe' | 'rmmod', hostName: string, argv: string[]): Promise<{ status: number; stderr: string }> {
    const host = this.world.host(hostName);
    if (prog === 'modprobe') {
      const req = parseModprobeArgs(argv);
      if ('status' in req) return req;
      return modprobe(this.world, this.driver, host, req);
    }
    const names = parseRmmodArgs(argv);
    if (!Array.isArray(names)) return names;
    return rmmod(this.driver, host, names);
  }

  /** Unmount everything, stop the world, remove what was created. Safe to call more than once. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await this.control?.close();
        // Callers still blocked in the filesystem are answered (EINTR) before the unmount.
        await this.driver.stop();
        for (const m of [...this.hosts].reverse()) {
          if (m.fuse) await unmountFuse(m.fuse, m.dir, this.warn);
          if (m.created) {
            try {
              rmdirSync(m.dir);
            } catch {
              // still busy or not empty: leave it
            }
          }
        }
        this.resolveDone();
      })();
    }
    return this.closing;
  }
}

function unmountFuse(fuse: FuseInstance, dir: string, warn: (l: string) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    fuse.unmount((err) => {
      if (!err) return resolve();
      // fusermount failed (not installed, or busy): a lazy unmount detaches it all the same.
      execFile('umount', ['-l', dir], (err2) => {
        if (err2) warn(`ntbsim: could not unmount ${dir}: ${err.message.split('\n')[0]}`);
        resolve();
      });
    });
  });
}

/** DIR must exist, be a directory, and have no mount of ours (live or stale) on it. */
async function checkMountDir(dir: string, hostNames: string[]): Promise<string> {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MountError(`${dir}: no such directory (create it first)`);
    if (code === 'ENOTCONN') throw new MountError(`${dir}: a stale FUSE mount (Transport endpoint is not connected): run ntbsim umount on it`);
    throw new MountError(`${dir}: ${code ?? String(e)}`);
  }
  if (!st.isDirectory()) throw new MountError(`${dir}: not a directory`);
  const real = realpathSync(dir);
  const live = await probe(real);
  if (live) throw new MountError(`${real} is already mounted by ntbsim (pid ${live.pid}): stop that one first (Ctrl-C, or ntbsim umount ${real})`);
  const busy = mountsUnder(real);
  if (busy.length) throw new MountError(`${busy[busy.length - 1].mountPoint} is still mounted (a stale mount of a killed ntbsim?): run ntbsim umount ${real}`);
  const sock = controlSocketPath(real);
  if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) throw new MountError(`${real}: path too long for the control socket ${sock} (at most ${MAX_SOCKET_PATH} bytes)`);
  if (existsSync(sock) && lstatSync(sock).isSocket()) unlinkSync(sock);
  else if (existsSync(sock)) throw new MountError(`${sock} exists and is not a socket`);
  for (const name of hostNames) {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') throw new MountError(`host name '${name}' cannot be a directory name under ${real}`);
    const p = path.join(real, name);
    if (!existsSync(p)) continue;
    const s = lstatSync(p);
    if (!s.isDirectory()) throw new MountError(`${p} exists and is not a directory`);
    if (readdirSync(p).length) throw new MountError(`${p} is not empty`);
  }
  return real;
}
