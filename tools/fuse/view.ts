import * as path from 'node:path';
import { Errno, isKernelError } from '../../core/errno';
import { DEBUGFS_ROOT } from '../../core/fs/debugfs';
import { FsDir, FsFile, FsNode, FsSymlink, toBytes } from '../../core/fs/pseudofs';
import type { Host } from '../../core/host';
import type { FuseOps, FuseStat } from './binding';
import type { WorldDriver } from './driver';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;

/** An open file: the node it was opened on (as the kernel keeps the inode) and seq_file's buffer. */
interface Handle {
  node: FsFile;
  path: string;
  /** What show() rendered at the last read from offset 0 (seq_file / simple_read_from_buffer). */
  shown?: Uint8Array;
}

/**
 * One host's /sys as a FUSE filesystem: `<mountpoint>/X` is the host's `/sys/X`. Reads and writes
 * go to the same handlers the library uses, each as a kernel task of the world's driver loop (so a
 * blocking write blocks only its caller). No page cache (the mount uses direct_io, entry and
 * attribute timeouts of 0): every read reaches the handler at its offset, and files report the
 * sizes the kernel reports (0 for debugfs). Entries cannot be created, renamed or removed, as on
 * debugfs and sysfs; O_TRUNC is accepted and does nothing.
 */
export class HostView {
  private handles = new Map<number, Handle>();
  private nextFh = 1;
  private readonly time = new Date();

  constructor(
    readonly host: Host,
    private readonly driver: WorldDriver,
    readonly root = '/sys',
    private readonly warn: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  ) {}

  /** errno of a failed call; anything but a KernelError is a bug of the simulation: EIO, and said. */
  private fail(what: string, e: unknown): number {
    if (!isKernelError(e)) this.warn(`ntbsim: ${this.host.name}: ${what}: ${(e as Error)?.stack ?? String(e)}`);
    return -errnoOf(e);
  }

  private get fs() {
    return this.host.kernel.fs;
  }

  /** The host path a FUSE path names. */
  sysPath(p: string): string {
    return p === '/' ? this.root : this.root + p;
  }

  private node(p: string): FsNode | Errno {
    try {
      return this.fs.lookupNoFollow(this.sysPath(p)) ?? Errno.ENOENT;
    } catch (e) {
      return errnoOf(e);
    }
  }

  stat(node: FsNode): FuseStat {
    const t = this.time;
    const base = { uid: 0, gid: 0, mtime: t, atime: t, ctime: t };
    if (node instanceof FsDir) return { ...base, mode: S_IFDIR | node.mode, size: 0, nlink: 2 };
    if (node instanceof FsSymlink) return { ...base, mode: S_IFLNK | 0o777, size: this.linkTarget(node).length, nlink: 1 };
    const size = (node as FsFile).ops.size?.() ?? 0;
    return { ...base, mode: S_IFREG | node.mode, size, nlink: 1 };
  }

  /** A link's target; absolute targets inside the view are made relative so they resolve in it. */
  private linkTarget(link: FsSymlink): string {
    const t = link.target;
    if (!t.startsWith('/')) return t;
    if (t !== this.root && !t.startsWith(this.root + '/')) return t;
    return path.posix.relative(path.posix.dirname(link.path), t) || '.';
  }

  private attached(node: FsNode): boolean {
    let n: FsNode | undefined = node;
    while (n.parent) n = n.parent;
    return n === this.fs.root;
  }

  private isDebugfs(p: string): boolean {
    return p === DEBUGFS_ROOT || p.startsWith(DEBUGFS_ROOT + '/');
  }

  ops(): FuseOps {
    const neg = (e: Errno) => -e;
    return {
      getattr: (p, cb) => {
        const n = this.node(p);
        if (typeof n === 'number') return cb(neg(n));
        cb(0, this.stat(n));
      },
      fgetattr: (p, fd, cb) => {
        const h = this.handles.get(fd);
        if (h) return cb(0, this.stat(h.node));
        const n = this.node(p);
        if (typeof n === 'number') return cb(neg(n));
        cb(0, this.stat(n));
      },
      readdir: (p, cb) => {
        const n = this.node(p);
        if (typeof n === 'number') return cb(neg(n));
        if (!(n instanceof FsDir)) return cb(neg(Errno.ENOTDIR));
        cb(0, ['.', '..', ...[...n.children.keys()].sort()]);
      },
      readlink: (p, cb) => {
        const n = this.node(p);
        if (typeof n === 'number') return cb(neg(n));
        if (!(n instanceof FsSymlink)) return cb(neg(Errno.EINVAL));
        cb(0, this.linkTarget(n));
      },
      open: (p, flags, cb) => {
        const n = this.node(p);
        if (typeof n === 'number') return cb(neg(n));
        if (n instanceof FsDir) return cb(neg(Errno.EISDIR));
        if (!(n instanceof FsFile)) return cb(neg(Errno.ELOOP));
        const sys = this.sysPath(p);
        const acc = flags & O_ACCMODE;
        const wantWrite = acc === O_WRONLY || acc === O_RDWR;
        const wantRead = acc !== O_WRONLY;
        // sysfs (kernfs) refuses at open what the attribute cannot do; debugfs fails the read/write.
        if (!this.isDebugfs(sys)) {
          if (wantWrite && !n.ops.write) return cb(neg(n.ops.noWriteErrno ?? Errno.EACCES));
          if (wantRead && !n.ops.show && !n.ops.read) return cb(neg(n.ops.noReadErrno ?? Errno.EACCES));
        }
        const fh = this.nextFh++;
        if (this.nextFh > 0x7fffffff) this.nextFh = 1;
        this.handles.set(fh, { node: n, path: sys });
        cb(0, fh);
      },
      release: (_p, fd, cb) => {
        this.handles.delete(fd);
        cb(0);
      },
      read: (p, fd, buf, len, pos, cb) => {
        const h = this.handle(p, fd);
        if (typeof h === 'number') return cb(neg(h));
        const ops = h.node.ops;
        if (!this.attached(h.node)) return cb(neg(Errno.EIO));
        if (ops.show) {
          if (pos > 0 && h.shown) return cb(copyOut(h.shown, pos, len, buf));
          this.driver.submit(this.host, `read ${h.path}`, () => ops.show!()).then(
            (content) => {
              h.shown = toBytes(content);
              cb(copyOut(h.shown, pos, len, buf));
            },
            (e) => cb(this.fail(`read ${h.path}`, e)),
          );
          return;
        }
        if (ops.read) {
          this.driver.submit(this.host, `read ${h.path}`, () => ops.read!(pos, len)).then(
            (data) => cb(copyOut(data, 0, len, buf)),
            (e) => cb(this.fail(`read ${h.path}`, e)),
          );
          return;
        }
        cb(neg(ops.noReadErrno ?? Errno.EINVAL));
      },
      write: (p, fd, buf, len, pos, cb) => {
        const h = this.handle(p, fd);
        if (typeof h === 'number') return cb(neg(h));
        const ops = h.node.ops;
        if (!this.attached(h.node)) return cb(neg(Errno.EIO));
        if (!ops.write) return cb(neg(ops.noWriteErrno ?? Errno.EINVAL));
        const data = Uint8Array.prototype.slice.call(buf, 0, len);
        h.shown = undefined;
        this.driver.submit(this.host, `write ${h.path}`, () => ops.write!(data, pos)).then(
          (n) => cb(typeof n === 'number' ? n : len),
          (e) => cb(this.fail(`write ${h.path}`, e)),
        );
      },
      // O_TRUNC (bash's `>`, dd's of=) arrives as a truncate to 0: accepted, nothing happens.
      truncate: (p, _size, cb) => cb(this.truncatable(this.node(p))),
      ftruncate: (p, fd, _size, cb) => {
        const h = this.handles.get(fd);
        cb(h ? 0 : this.truncatable(this.node(p)));
      },
      utimens: (p, _a, _m, cb) => {
        const n = this.node(p);
        cb(typeof n === 'number' ? neg(n) : 0);
      },
      // The directories have no create/mkdir/unlink/rename: the VFS answers EACCES for O_CREAT of
      // a new name and EPERM for the others, as on debugfs and sysfs.
      create: (_p, _mode, cb) => cb(neg(Errno.EACCES)),
      mknod: (_p, _mode, _dev, cb) => cb(neg(Errno.EPERM)),
      mkdir: (_p, _mode, cb) => cb(neg(Errno.EPERM)),
      rmdir: (_p, cb) => cb(neg(Errno.EPERM)),
      unlink: (_p, cb) => cb(neg(Errno.EPERM)),
      rename: (_s, _d, cb) => cb(neg(Errno.EPERM)),
      link: (_s, _d, cb) => cb(neg(Errno.EPERM)),
      symlink: (_s, _d, cb) => cb(neg(Errno.EPERM)),
      chmod: (_p, _mode, cb) => cb(neg(Errno.EPERM)),
      chown: (_p, _u, _g, cb) => cb(neg(Errno.EPERM)),
      flush: (_p, _fd, cb) => cb(0),
      fsync: (_p, _d, _fd, cb) => cb(0),
    };
  }

  private handle(p: string, fd: number): Handle | Errno {
    const h = this.handles.get(fd);
    if (h) return h;
    const n = this.node(p);
    if (typeof n === 'number') return n;
    if (!(n instanceof FsFile)) return Errno.EISDIR;
    return { node: n, path: this.sysPath(p) };
  }

  private truncatable(n: FsNode | Errno): number {
    if (typeof n === 'number') return -n;
    if (n instanceof FsDir) return -Errno.EISDIR;
    return 0;
  }
}

/** Copy `src[pos…]` into the FUSE buffer; returns the byte count. */
function copyOut(src: Uint8Array, pos: number, len: number, buf: Buffer): number {
  if (pos >= src.length) return 0;
  const n = Math.min(len, src.length - pos);
  buf.set(src.subarray(pos, pos + n));
  return n;
}

export function errnoOf(e: unknown): Errno {
  if (isKernelError(e)) return e.errno;
  return Errno.EIO;
}
