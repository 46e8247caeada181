import { accessSync, constants, existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The optional FUSE binding (npm `fuse-native`, which links libfuse 2). Everything else in ntbsim
 * works without it; `ntbsim mount` and `ntbsim kselftest` need it, /dev/fuse and fusermount.
 */

/** The part of a stat that fuse-native turns into a struct stat. */
export interface FuseStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  mtime: Date;
  atime: Date;
  ctime: Date;
}

type Cb<T extends unknown[] = []> = (err: number, ...rest: T) => void;

/** The handlers fuse-native calls (errors are negative errno values; read/write return byte counts). */
export interface FuseOps {
  init?(cb: Cb): void;
  getattr(path: string, cb: (err: number, stat?: FuseStat) => void): void;
  fgetattr?(path: string, fd: number, cb: (err: number, stat?: FuseStat) => void): void;
  readdir(path: string, cb: (err: number, names?: string[]) => void): void;
  readlink(path: string, cb: (err: number, target?: string) => void): void;
  open(path: string, flags: number, cb: (err: number, fd?: number) => void): void;
  opendir?(path: string, flags: number, cb: (err: number, fd?: number) => void): void;
  release(path: string, fd: number, cb: Cb): void;
  read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (result: number) => void): void;
  write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (result: number) => void): void;
  truncate(path: string, size: number, cb: Cb): void;
  ftruncate(path: string, fd: number, size: number, cb: Cb): void;
  create(path: string, mode: number, cb: (err: number, fd?: number) => void): void;
  mknod(path: string, mode: number, dev: number, cb: Cb): void;
  unlink(path: string, cb: Cb): void;
  rename(src: string, dest: string, cb: Cb): void;
  link(src: string, dest: string, cb: Cb): void;
  symlink(src: string, dest: string, cb: Cb): void;
  mkdir(path: string, mode: number, cb: Cb): void;
  rmdir(path: string, cb: Cb): void;
  utimens(path: string, atime: number, mtime: number, cb: Cb): void;
  chmod(path: string, mode: number, cb: Cb): void;
  chown(path: string, uid: number, gid: number, cb: Cb): void;
  flush(path: string, fd: number, cb: Cb): void;
  fsync(path: string, datasync: boolean, fd: number, cb: Cb): void;
}

export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: Error | null) => void): void;
}

export interface FuseOptions {
  timeout?: number | false;
  fsname?: string;
  subtype?: string;
  debug?: boolean;
}

export interface FuseClass {
  new (mnt: string, ops: FuseOps, opts?: FuseOptions): FuseInstance;
}

/** FUSE cannot be used here: the message is one line that says what to install. */
export class FuseUnavailable extends Error {
  override readonly name = 'FuseUnavailable';
}

const FUSE_PACKAGE = 'fuse-native';
const DEBIAN = 'apt-get install libfuse2 fuse';

let cached: FuseClass | undefined;

/**
 * Load fuse-native and check that this machine can mount with it, or throw FuseUnavailable with
 * one line naming what is missing and how to install it.
 */
export function loadFuse(): FuseClass {
  if (cached) return cached;
  if (!existsSync('/dev/fuse')) {
    throw new FuseUnavailable('FUSE is not available: /dev/fuse is missing (load the kernel module with `modprobe fuse`; in a container, pass the device in, e.g. --device /dev/fuse)');
  }
  let mod: unknown;
  try {
    // A computed name: the binding is an optional dependency and may be absent.
    mod = require(FUSE_PACKAGE);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(`'${FUSE_PACKAGE}'`)) {
      throw new FuseUnavailable(`FUSE is not available: the optional dependency ${FUSE_PACKAGE} is not installed (run \`npm install ${FUSE_PACKAGE}\` in the ntbsim directory; it needs libfuse 2: ${DEBIAN})`);
    }
    if (/libfuse\.so\.2/.test(String(err.message))) {
      throw new FuseUnavailable(`FUSE is not available: ${FUSE_PACKAGE} needs libfuse 2 (libfuse.so.2), which is not installed (Debian/Ubuntu: ${DEBIAN})`);
    }
    throw new FuseUnavailable(`FUSE is not available: ${FUSE_PACKAGE} failed to load (${String(err.message).split('\n')[0]}; Debian/Ubuntu: ${DEBIAN})`);
  }
  if (!onPath('fusermount')) {
    throw new FuseUnavailable(`FUSE is not available: fusermount is not installed (Debian/Ubuntu: ${DEBIAN})`);
  }
  cached = mod as FuseClass;
  return cached;
}

/** Whether FUSE can be used here, and if not why (for tests that skip). */
export function fuseUnavailableReason(): string | undefined {
  try {
    loadFuse();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
