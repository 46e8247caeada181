import { Errno, KernelError } from '../errno';
import { kstrtobool, kstrtoint, kstrtoll, kstrtoull, kstrtouint } from '../lib/kstrtox';

export type ParamType = 'bool' | 'int' | 'uint' | 'ulong' | 'long' | 'ushort' | 'byte' | 'charp';

export interface ParamSpec<T = unknown> {
  type: ParamType;
  default: T;
  /** sysfs mode of /sys/module/<mod>/parameters/<name>; 0 = not shown. */
  perm: number;
  description: string;
}

type ValueOf<S> = S extends ParamSpec<infer T> ? T : never;
export type ParamValues<P extends Record<string, ParamSpec>> = { -readonly [K in keyof P]: ValueOf<P[K]> };

/** module_param declarations, with the kernel's parsing rules for each type. */
export const param = {
  bool: (d: boolean, perm: number, description: string): ParamSpec<boolean> => ({ type: 'bool', default: d, perm, description }),
  int: (d: number, perm: number, description: string): ParamSpec<number> => ({ type: 'int', default: d, perm, description }),
  uint: (d: number, perm: number, description: string): ParamSpec<number> => ({ type: 'uint', default: d, perm, description }),
  ulong: (d: number, perm: number, description: string): ParamSpec<number> => ({ type: 'ulong', default: d, perm, description }),
  ushort: (d: number, perm: number, description: string): ParamSpec<number> => ({ type: 'ushort', default: d, perm, description }),
  byte: (d: number, perm: number, description: string): ParamSpec<number> => ({ type: 'byte', default: d, perm, description }),
  charp: (d: string | null, perm: number, description: string): ParamSpec<string | null> => ({ type: 'charp', default: d, perm, description }),
};

/** param_set_*: `value` is undefined for a bare `name` on the command line. */
export function parseParam(type: ParamType, value: string | undefined): unknown {
  if (type === 'bool') return kstrtobool(value ?? '1');
  if (value === undefined) throw new KernelError(Errno.EINVAL, 'missing value');
  switch (type) {
    case 'int':
      return kstrtoint(value);
    case 'uint':
      return kstrtouint(value);
    case 'ushort':
    case 'byte': {
      const v = kstrtoull(value);
      const max = type === 'byte' ? 0xffn : 0xffffn;
      if (v > max) throw new KernelError(Errno.ERANGE, `${value} out of range`);
      return Number(v);
    }
    case 'ulong':
      return Number(kstrtoull(value));
    case 'long':
      return Number(kstrtoll(value));
    case 'charp':
      if (value.length > 1024) throw new KernelError(Errno.ENOSPC, 'string too long');
      return value;
  }
}

/** param_get_*: what a read of /sys/module/<mod>/parameters/<name> returns. */
export function formatParam(type: ParamType, value: unknown): string {
  if (type === 'bool') return value ? 'Y\n' : 'N\n';
  if (type === 'charp') return `${value === null ? '(null)' : String(value)}\n`;
  return `${value}\n`;
}

/** Split "a=1 b c=x" (modprobe arguments) into [name, value|undefined] pairs. */
export function splitArgs(args: string[]): Array<[string, string | undefined]> {
  return args.map((a) => {
    const eq = a.indexOf('=');
    // The kernel treats '-' and '_' in parameter names as the same character.
    return eq < 0 ? [a.replace(/-/g, '_'), undefined] : [a.slice(0, eq).replace(/-/g, '_'), a.slice(eq + 1)];
  });
}
