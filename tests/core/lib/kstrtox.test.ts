import { expect } from 'chai';
import fc from 'fast-check';
import { Errno, KernelError } from '../../../core/errno';
import { kstrtobool, kstrtoint, kstrtoll, kstrtou8, kstrtouint, kstrtoull, U64_MAX } from '../../../core/lib/kstrtox';

function errnoOf(fn: () => unknown): Errno | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof KernelError) return e.errno;
    throw e;
  }
}

describe('core/lib/kstrtox', () => {
  it('auto-detects base 16 from 0x, base 8 from a leading 0, else base 10', () => {
    expect(kstrtoull('0x10')).to.equal(16n);
    expect(kstrtoull('0X1f')).to.equal(31n);
    expect(kstrtoull('010')).to.equal(8n);
    expect(kstrtoull('0')).to.equal(0n);
    expect(kstrtoull('10')).to.equal(10n);
    expect(kstrtoull('ff', 16)).to.equal(255n);
    expect(kstrtoull('0xff', 16)).to.equal(255n);
  });

  it('accepts one trailing newline and a leading +, nothing else', () => {
    expect(kstrtoull('42\n')).to.equal(42n);
    expect(kstrtoull('+42')).to.equal(42n);
    expect(errnoOf(() => kstrtoull('42\n\n'))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoull(' 42'))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoull('42 '))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoull(''))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoull('\n'))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoull('08'))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoull('0x'))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoull('12abc'))).to.equal(Errno.EINVAL);
  });

  it('rejects a minus sign for unsigned targets with EINVAL', () => {
    expect(errnoOf(() => kstrtoull('-1'))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtouint('-5'))).to.equal(Errno.EINVAL);
  });

  it('returns ERANGE past each type\'s range', () => {
    expect(kstrtoull('18446744073709551615')).to.equal(U64_MAX);
    expect(errnoOf(() => kstrtoull('18446744073709551616'))).to.equal(Errno.ERANGE);
    expect(errnoOf(() => kstrtoull('0x10000000000000000'))).to.equal(Errno.ERANGE);
    expect(kstrtoint('2147483647')).to.equal(2147483647);
    expect(kstrtoint('-2147483648')).to.equal(-2147483648);
    expect(errnoOf(() => kstrtoint('2147483648'))).to.equal(Errno.ERANGE);
    expect(errnoOf(() => kstrtoint('-2147483649'))).to.equal(Errno.ERANGE);
    expect(kstrtouint('0xffffffff')).to.equal(0xffffffff);
    expect(errnoOf(() => kstrtouint('0x100000000'))).to.equal(Errno.ERANGE);
    expect(errnoOf(() => kstrtou8('256'))).to.equal(Errno.ERANGE);
    expect(kstrtoll('-9223372036854775808')).to.equal(-(1n << 63n));
    expect(errnoOf(() => kstrtoll('-9223372036854775809'))).to.equal(Errno.ERANGE);
    expect(errnoOf(() => kstrtoll('9223372036854775808'))).to.equal(Errno.ERANGE);
  });

  it('allows exactly one trailing newline, signed or not', () => {
    expect(kstrtoll('-5\n')).to.equal(-5n);
    expect(kstrtoll('+5\n')).to.equal(5n);
    for (const bad of ['1\n\n', '-1\n\n', '-+1', '\n']) expect(errnoOf(() => kstrtoll(bad)), JSON.stringify(bad)).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoull('1\n\n'))).to.equal(Errno.EINVAL);
  });

  it('parses negative int values in every base', () => {
    expect(kstrtoint('-5')).to.equal(-5);
    expect(kstrtoint('-0x10')).to.equal(-16);
    expect(kstrtoint('-010')).to.equal(-8);
    expect(errnoOf(() => kstrtoint('--5'))).to.equal(Errno.EINVAL);
    expect(errnoOf(() => kstrtoint('-+5'))).to.equal(Errno.EINVAL);
  });

  it('kstrtobool accepts y/Y/1/t/on and n/N/0/f/off by their first characters', () => {
    for (const t of ['y', 'Y', '1', 't', 'T', 'on', 'ON', 'yes', 'y\n']) expect(kstrtobool(t), t).to.equal(true);
    for (const f of ['n', 'N', '0', 'f', 'F', 'off', 'OFF', 'no', 'nonsense']) expect(kstrtobool(f), f).to.equal(false);
    for (const bad of ['', 'o', 'ox', 'x', '2', 'r']) expect(errnoOf(() => kstrtobool(bad)), JSON.stringify(bad)).to.equal(Errno.EINVAL);
  });

  it('agrees with BigInt on every u64 written in decimal, hex or octal (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), fc.constantFrom('dec', 'hex', 'HEX', 'oct'), fc.boolean(), (v, fmt, nl) => {
        const text = fmt === 'dec' ? v.toString() : fmt === 'hex' ? '0x' + v.toString(16) : fmt === 'HEX' ? '0X' + v.toString(16).toUpperCase() : '0' + v.toString(8);
        expect(kstrtoull(text + (nl ? '\n' : ''))).to.equal(v);
      }),
    );
  });

  it('reports ERANGE for every decimal just past u64 and for every out-of-range int (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: U64_MAX + 1n, max: U64_MAX * 1000n }), (v) => {
        expect(errnoOf(() => kstrtoull(v.toString()))).to.equal(Errno.ERANGE);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 62n), max: 1n << 62n }), (v) => {
        const inRange = v >= -(1n << 31n) && v < 1n << 31n;
        const r = errnoOf(() => kstrtoint(v.toString()));
        if (inRange) {
          expect(r).to.equal(undefined);
          expect(kstrtoint(v.toString())).to.equal(Number(v));
        } else expect(r).to.equal(Errno.ERANGE);
      }),
    );
  });
});
