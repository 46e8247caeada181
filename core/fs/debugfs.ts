import { Errno, KernelError } from '../errno';
import { FROM_USER_MAX, fromUser, kstrtobool, kstrtoull, SIMPLE_ATTR_WRITE_MAX } from '../lib/kstrtox';
import { FileOps, PseudoFs } from './pseudofs';

export const DEBUGFS_ROOT = '/sys/kernel/debug';

/**
 * debugfs helpers (fs/debugfs): directories and files under /sys/kernel/debug whose handlers
 * the creating module supplies. Paths given here are relative to the debugfs root.
 */
export class Debugfs {
  constructor(private readonly fs: PseudoFs) {
    fs.mkdir(DEBUGFS_ROOT, 0o700);
  }

  path(rel: string): string {
    return `${DEBUGFS_ROOT}/${rel}`.replace(/\/+$/, '');
  }

  createDir(rel: string): string {
    this.fs.mkdir(this.path(rel), 0o755);
    return rel;
  }

  /** debugfs_create_file with custom fops: missing read/write → EINVAL. */
  createFile(rel: string, mode: number, ops: FileOps): void {
    this.fs.createFile(this.path(rel), mode, { size: () => 0, ...ops });
  }

  /**
   * DEFINE_DEBUGFS_ATTRIBUTE-style u64 attribute: missing getter/setter → EACCES. The getter's
   * value goes through a u64, so a negative C int prints as 2^64 − |v| ("%llu").
   */
  createAttribute(rel: string, mode: number, get?: () => bigint | number, set?: (v: bigint) => void, format: 'dec' | 'hex' = 'dec'): void {
    const u64 = (v: bigint | number): bigint => BigInt.asUintN(64, BigInt(v));
    this.createFile(rel, mode, {
      show: get ? () => `${format === 'hex' ? '0x' + u64(get()).toString(16) : u64(get()).toString()}\n` : undefined,
      write: set ? (data) => set(kstrtoull(fromUser(data, SIMPLE_ATTR_WRITE_MAX))) : undefined,
      noReadErrno: Errno.EACCES,
      noWriteErrno: Errno.EACCES,
    });
  }

  /** debugfs_create_bool: reads "Y\n"/"N\n"; without write bits there is no write method. */
  createBool(rel: string, mode: number, get: () => boolean, set?: (v: boolean) => void): void {
    const writable = (mode & 0o222) !== 0 && set !== undefined;
    this.createFile(rel, mode, {
      show: () => (get() ? 'Y\n' : 'N\n'),
      write: writable ? (data) => set!(kstrtobool(fromUser(data, FROM_USER_MAX.bool))) : undefined,
    });
  }

  remove(rel: string): void {
    this.fs.remove(this.path(rel));
  }

  exists(rel: string): boolean {
    return this.fs.exists(this.path(rel));
  }

  /** Raise the errno a debugfs file would when it is used wrongly. */
  static fail(errno: Errno, why: string): never {
    throw new KernelError(errno, why);
  }
}
