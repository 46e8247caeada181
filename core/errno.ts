/** Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h, linux/errno.h). */
export enum Errno {
  EPERM = 1,
  ENOENT = 2,
  EINTR = 4,
  EIO = 5,
  ENXIO = 6,
  E2BIG = 7,
  EAGAIN = 11,
  ENOMEM = 12,
  EACCES = 13,
  EFAULT = 14,
  EBUSY = 16,
  EEXIST = 17,
  ENODEV = 19,
  ENOTDIR = 20,
  EISDIR = 21,
  EINVAL = 22,
  ENOSPC = 28,
  ESPIPE = 29,
  EROFS = 30,
  EDOM = 33,
  ERANGE = 34,
  ELOOP = 40,
  ENOTEMPTY = 39,
  ENODATA = 61,
  ENOLINK = 67,
  ERESTART = 85,
  EOPNOTSUPP = 95,
  ENOTCONN = 107,
  ETIMEDOUT = 110,
  ENOTSUPP = 524,
}

const messages: Partial<Record<Errno, string>> = {
  [Errno.EPERM]: 'Operation not permitted',
  [Errno.ENOENT]: 'No such file or directory',
  [Errno.EINTR]: 'Interrupted system call',
  [Errno.EIO]: 'Input/output error',
  [Errno.ENXIO]: 'No such device or address',
  [Errno.E2BIG]: 'Argument list too long',
  [Errno.EAGAIN]: 'Resource temporarily unavailable',
  [Errno.ENOMEM]: 'Cannot allocate memory',
  [Errno.EACCES]: 'Permission denied',
  [Errno.EFAULT]: 'Bad address',
  [Errno.EBUSY]: 'Device or resource busy',
  [Errno.EEXIST]: 'File exists',
  [Errno.ENODEV]: 'No such device',
  [Errno.ENOTDIR]: 'Not a directory',
  [Errno.EISDIR]: 'Is a directory',
  [Errno.EINVAL]: 'Invalid argument',
  [Errno.ENOSPC]: 'No space left on device',
  [Errno.EROFS]: 'Read-only file system',
  [Errno.EDOM]: 'Numerical argument out of domain',
  [Errno.ERANGE]: 'Numerical result out of range',
  [Errno.ELOOP]: 'Too many levels of symbolic links',
  [Errno.ENOTEMPTY]: 'Directory not empty',
  [Errno.ESPIPE]: 'Illegal seek',
  [Errno.ENODATA]: 'No data available',
  [Errno.ENOLINK]: 'Link has been severed',
  [Errno.ERESTART]: 'Interrupted system call should be restarted',
  [Errno.ENOTCONN]: 'Transport endpoint is not connected',
  [Errno.EOPNOTSUPP]: 'Operation not supported',
  [Errno.ETIMEDOUT]: 'Connection timed out',
  [Errno.ENOTSUPP]: 'Unknown error 524',
};

export function errnoName(errno: Errno): string {
  return Errno[errno] ?? `E${errno}`;
}

export function strerror(errno: Errno): string {
  return messages[errno] ?? `Unknown error ${errno}`;
}

/** The one error type of the simulated kernel: every failure carries an errno. */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  constructor(
    readonly errno: Errno,
    detail?: string,
  ) {
    super(detail ? `${errnoName(errno)}: ${detail}` : `${errnoName(errno)} (${strerror(errno)})`);
  }

  /** The negative return value a C caller would see. */
  get code(): number {
    return -this.errno;
  }
}

export function isKernelError(e: unknown, errno?: Errno): e is KernelError {
  return e instanceof KernelError && (errno === undefined || e.errno === errno);
}
