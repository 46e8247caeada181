/**
 * The part of the kernel's vsscanf (lib/vsprintf.c) that ntb_tool's writes go through: `%c` and
 * the integer conversions `%d %i %u %x %o` with the `hh h l ll z` qualifiers, white space in the
 * format matching any run of input white space, and literal characters that must match exactly.
 *
 * It differs from C's sscanf where the kernel does: `%c` does not skip white space, a `+` sign is
 * not accepted, and a number too large for 64 bits wraps around silently (simple_strntoull does
 * not report overflow). The input ends at its first NUL, as the kernel's C string would.
 */

/** A converted item: the character(s) of `%c`, or the integer's two's-complement bits. */
export type ScanItem = string | bigint;

const U64 = 64;

function isSpace(c: string): boolean {
  // isspace() of the kernel's ctype: space, \t \n \v \f \r.
  return c === ' ' || (c >= '\t' && c <= '\r');
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isXDigit(c: string): boolean {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

function isODigit(c: string): boolean {
  return c >= '0' && c <= '7';
}

/** Digit value as _parse_integer_limit sees it (0-9, a-f in either case), else -1. */
function digitOf(c: string): number {
  if (isDigit(c)) return c.charCodeAt(0) - 48;
  const lc = c.toLowerCase();
  if (lc >= 'a' && lc <= 'f') return lc.charCodeAt(0) - 87;
  return -1;
}

class Cursor {
  constructor(
    readonly text: string,
    public pos = 0,
  ) {}

  /** The character at `pos + ahead`, or '' at the terminating NUL. */
  at(ahead = 0): string {
    const i = this.pos + ahead;
    return i < this.text.length ? this.text[i] : '';
  }

  skipSpaces(): void {
    while (isSpace(this.at())) this.pos++;
  }
}

/** simple_strntoull: radix fix-up (base 0 → 0x hex / 0 octal / decimal), digits wrap mod 2^64. */
function strntoull(cur: Cursor, base: number, maxChars: number): bigint {
  const start = cur.pos;
  let radix = base;
  let p = start;
  const ch = (i: number) => (i < cur.text.length ? cur.text[i] : '');
  if (radix === 0) {
    if (ch(p) === '0') {
      if (ch(p + 1).toLowerCase() === 'x' && isXDigit(ch(p + 2))) {
        radix = 16;
        p += 2;
      } else radix = 8;
    } else radix = 10;
  } else if (radix === 16 && ch(p) === '0' && ch(p + 1).toLowerCase() === 'x') {
    p += 2;
  }
  const prefix = p - start;
  let value = 0n;
  if (prefix < maxChars) {
    let budget = maxChars - prefix;
    const r = BigInt(radix);
    while (budget-- > 0) {
      const d = digitOf(ch(p));
      if (d < 0 || d >= radix) break;
      value = BigInt.asUintN(U64, value * r + BigInt(d));
      p++;
    }
  } else {
    p = start + maxChars;
  }
  cur.pos = p;
  return value;
}

/** simple_strntoll: a leading '-' negates the unsigned parse of the rest. */
function strntoll(cur: Cursor, base: number, maxChars: number): bigint {
  if (cur.at() === '-' && maxChars > 0) {
    cur.pos++;
    return BigInt.asUintN(U64, -strntoull(cur, base, maxChars - 1));
  }
  return strntoull(cur, base, maxChars);
}

/** Bits kept for each qualifier (x86-64: long and size_t are 64-bit). */
function qualifierBits(q: string): number {
  switch (q) {
    case 'H':
      return 8;
    case 'h':
      return 16;
    case 'l':
    case 'L':
    case 'z':
      return 64;
    default:
      return 32;
  }
}

/**
 * Scan `input` against `fmt`; returns the items converted before the first mismatch (their count
 * is sscanf's return value).
 */
export function ksscanf(input: string, fmt: string): ScanItem[] {
  const nul = input.indexOf('\0');
  const cur = new Cursor(nul >= 0 ? input.slice(0, nul) : input);
  const items: ScanItem[] = [];
  let f = 0;
  while (f < fmt.length) {
    if (isSpace(fmt[f])) {
      while (f < fmt.length && isSpace(fmt[f])) f++;
      cur.skipSpaces();
    }
    if (f < fmt.length && fmt[f] !== '%') {
      if (fmt[f] !== cur.at()) break;
      f++;
      cur.pos++;
      continue;
    }
    if (f >= fmt.length) break;
    f++;

    let width = -1;
    if (isDigit(fmt[f] ?? '')) {
      width = 0;
      while (isDigit(fmt[f] ?? '')) width = width * 10 + (fmt.charCodeAt(f++) - 48);
      if (width <= 0) break;
    }
    let qualifier = '';
    const q = fmt[f];
    if (q === 'h' || q === 'l' || q === 'L' || q === 'z') {
      qualifier = q;
      f++;
      if (fmt[f] === q && (q === 'h' || q === 'l')) {
        qualifier = q === 'h' ? 'H' : 'L';
        f++;
      }
    }
    if (f >= fmt.length) break;
    if (cur.at() === '') break;

    const conv = fmt[f++];
    if (conv === 'c') {
      let n = width === -1 ? 1 : width;
      let chars = '';
      do {
        chars += cur.at();
        cur.pos++;
      } while (--n > 0 && cur.at() !== '');
      items.push(chars);
      continue;
    }
    let base: number;
    let signed = false;
    switch (conv) {
      case 'i':
        base = 0;
        signed = true;
        break;
      case 'd':
        base = 10;
        signed = true;
        break;
      case 'u':
        base = 10;
        break;
      case 'x':
      case 'X':
        base = 16;
        break;
      case 'o':
        base = 8;
        break;
      default:
        return items;
    }
    cur.skipSpaces();
    let digit = cur.at();
    if (signed && digit === '-') {
      if (width === 1) break;
      digit = cur.at(1);
    }
    if (
      digit === '' ||
      (base === 16 && !isXDigit(digit)) ||
      (base === 10 && !isDigit(digit)) ||
      (base === 8 && !isODigit(digit)) ||
      (base === 0 && !isDigit(digit))
    ) {
      break;
    }
    const max = width >= 0 ? width : Number.MAX_SAFE_INTEGER;
    const raw = signed ? strntoll(cur, base, max) : strntoull(cur, base, max);
    items.push(BigInt.asUintN(qualifierBits(qualifier), raw));
  }
  return items;
}
