import { Errno, KernelError } from '../errno';

/**
 * The kernel's kstrto* parsers (lib/kstrtox.c): base 0 auto-detects 0x/0 prefixes, one trailing
 * newline is allowed, '+' is accepted, '-' only for signed targets; bad text → EINVAL, out of
 * range → ERANGE. Values are bigint so u64 is exact.
 */
export function kstrtoull(text: string, base = 0): bigint {
  return parseUnsigned(withoutNewline(text.startsWith('+') ? text.slice(1) : text), base);
}

/** The one trailing newline the parsers allow. */
function withoutNewline(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

function parseUnsigned(s: string, base: number): bigint {
  let radix = base;
  if (radix === 0) {
    if (s[0] === '0' && (s[1] === 'x' || s[1] === 'X') && isHex(s[2])) {
      radix = 16;
      s = s.slice(2);
    } else if (s[0] === '0') radix = 8;
    else radix = 10;
  } else if (radix === 16 && s[0] === '0' && (s[1] === 'x' || s[1] === 'X')) {
    s = s.slice(2);
  }
  if (s.length === 0) throw new KernelError(Errno.EINVAL, 'empty number');
  let value = 0n;
  const r = BigInt(radix);
  for (const ch of s) {
    const d = digitValue(ch);
    if (d < 0 || d >= radix) throw new KernelError(Errno.EINVAL, `bad digit '${ch}'`);
    value = value * r + BigInt(d);
    if (value > U64_MAX) throw new KernelError(Errno.ERANGE, 'overflow');
  }
  return value;
}

export function kstrtoll(text: string, base = 0): bigint {
  if (text.startsWith('-')) {
    const v = parseUnsigned(withoutNewline(text.slice(1)), base);
    if (v > 1n << 63n) throw new KernelError(Errno.ERANGE, 'underflow');
    return -v;
  }
  const v = kstrtoull(text, base);
  if (v > S64_MAX) throw new KernelError(Errno.ERANGE, 'overflow');
  return v;
}

export const U64_MAX = (1n << 64n) - 1n;
export const S64_MAX = (1n << 63n) - 1n;

function ranged(v: bigint, min: bigint, max: bigint): number {
  if (v < min || v > max) throw new KernelError(Errno.ERANGE, `${v} out of range`);
  return Number(v);
}

export const kstrtou8 = (s: string, base = 0) => ranged(kstrtoull(s, base), 0n, 0xffn);
export const kstrtou16 = (s: string, base = 0) => ranged(kstrtoull(s, base), 0n, 0xffffn);
export const kstrtouint = (s: string, base = 0) => ranged(kstrtoull(s, base), 0n, 0xffffffffn);
export const kstrtoint = (s: string, base = 0) => ranged(kstrtoll(s, base), -(1n << 31n), (1n << 31n) - 1n);
export const kstrtoul = kstrtoull;
export const kstrtol = kstrtoll;

/** kstrtobool: y/Y/1/t/T → true, n/N/0/f/F → false, on/off; anything else EINVAL. */
export function kstrtobool(text: string): boolean {
  switch (text[0]) {
    case 'y':
    case 'Y':
    case 't':
    case 'T':
    case '1':
      return true;
    case 'n':
    case 'N':
    case 'f':
    case 'F':
    case '0':
      return false;
    case 'o':
    case 'O':
      if (text[1] === 'n' || text[1] === 'N') return true;
      if (text[1] === 'f' || text[1] === 'F') return false;
      break;
  }
  throw new KernelError(Errno.EINVAL, `not a boolean: ${JSON.stringify(text)}`);
}

/**
 * The `_from_user` variants copy at most `maxLen` bytes (8·sizeof(type)+2) and parse that prefix;
 * bool copies at most 3 bytes.
 */
export function fromUser(data: Uint8Array | string, maxLen: number): string {
  const s = typeof data === 'string' ? data : new TextDecoder().decode(data);
  return s.slice(0, maxLen);
}

export const FROM_USER_MAX = { u8: 10, u16: 18, u32: 34, u64: 66, bool: 3 } as const;

/** simple_attr_write (debugfs/sysfs simple attributes) copies at most 23 bytes into its buffer. */
export const SIMPLE_ATTR_WRITE_MAX = 23;

function isHex(ch: string | undefined): boolean {
  return ch !== undefined && /[0-9a-fA-F]/.test(ch);
}

function digitValue(ch: string): number {
  const c = ch.charCodeAt(0);
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 122) return c - 87;
  if (c >= 65 && c <= 90) return c - 55;
  return -1;
}
