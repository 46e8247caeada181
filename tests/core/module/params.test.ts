import { expect } from 'chai';
import { Errno, KernelError } from '../../../core/errno';
import { formatParam, ParamType, parseParam, splitArgs } from '../../../core/module/params';

function errnoOf(type: ParamType, v: string | undefined): Errno | undefined {
  try {
    parseParam(type, v);
    return undefined;
  } catch (e) {
    if (e instanceof KernelError) return e.errno;
    throw e;
  }
}

describe('core/module/params: param_set_* and param_get_*', () => {
  it('bool: 1/Y/y/on are true, 0/N/n/off are false, a bare name is true, anything else EINVAL', () => {
    for (const v of ['1', 'Y', 'y', 'on', 'On']) expect(parseParam('bool', v), v).to.equal(true);
    for (const v of ['0', 'N', 'n', 'off', 'OFF']) expect(parseParam('bool', v), v).to.equal(false);
    expect(parseParam('bool', undefined)).to.equal(true);
    for (const v of ['', 'maybe', '2', 'o']) expect(errnoOf('bool', v), JSON.stringify(v)).to.equal(Errno.EINVAL);
  });

  it('int: decimal, 0x hex, 0 octal and negative values; ERANGE past 32 bits; EINVAL on junk or no value', () => {
    expect(parseParam('int', '0x10')).to.equal(16);
    expect(parseParam('int', '010')).to.equal(8);
    expect(parseParam('int', '-5')).to.equal(-5);
    expect(parseParam('int', '2147483647')).to.equal(2147483647);
    expect(errnoOf('int', '2147483648')).to.equal(Errno.ERANGE);
    expect(errnoOf('int', '-2147483649')).to.equal(Errno.ERANGE);
    expect(errnoOf('int', '12x')).to.equal(Errno.EINVAL);
    expect(errnoOf('int', '')).to.equal(Errno.EINVAL);
    expect(errnoOf('int', undefined)).to.equal(Errno.EINVAL);
  });

  it('uint: rejects negative values with EINVAL and values past 32 bits with ERANGE', () => {
    expect(parseParam('uint', '4294967295')).to.equal(4294967295);
    expect(parseParam('uint', '0x20')).to.equal(32);
    expect(errnoOf('uint', '-1')).to.equal(Errno.EINVAL);
    expect(errnoOf('uint', '4294967296')).to.equal(Errno.ERANGE);
  });

  it('ushort and byte: range-checked to 16 and 8 bits', () => {
    expect(parseParam('ushort', '65535')).to.equal(65535);
    expect(errnoOf('ushort', '65536')).to.equal(Errno.ERANGE);
    expect(parseParam('byte', '0xff')).to.equal(255);
    expect(errnoOf('byte', '256')).to.equal(Errno.ERANGE);
  });

  it('long and ulong: 64-bit parsing', () => {
    expect(parseParam('long', '-4294967296')).to.equal(-4294967296);
    expect(parseParam('ulong', '0x100000000')).to.equal(4294967296);
    expect(errnoOf('ulong', '-1')).to.equal(Errno.EINVAL);
  });

  it('charp: the string itself, ENOSPC past 1024 characters', () => {
    expect(parseParam('charp', 'hello world')).to.equal('hello world');
    expect(errnoOf('charp', 'x'.repeat(1025))).to.equal(Errno.ENOSPC);
  });

  it('formats values as sysfs shows them: Y/N, decimal, (null)', () => {
    expect(formatParam('bool', true)).to.equal('Y\n');
    expect(formatParam('bool', false)).to.equal('N\n');
    expect(formatParam('int', -5)).to.equal('-5\n');
    expect(formatParam('uint', 16)).to.equal('16\n');
    expect(formatParam('charp', null)).to.equal('(null)\n');
    expect(formatParam('charp', 'abc')).to.equal('abc\n');
  });

  it('splits modprobe arguments into names and values, treating - and _ in names alike', () => {
    expect(splitArgs(['a=1', 'flag', 'max-count=3', 'path=a=b', 'x='])).to.deep.equal([
      ['a', '1'],
      ['flag', undefined],
      ['max_count', '3'],
      ['path', 'a=b'],
      ['x', ''],
    ]);
  });
});
