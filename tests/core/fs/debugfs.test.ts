import 'reflect-metadata';
import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { World } from '../../../core/world';
import { eduDebugfs, eduWorld, expectErrno } from '../../helpers/world';

async function host(): Promise<Host> {
  const w = await World.create({ hosts: [{ name: 'h' }] }, []);
  return w.host('h');
}

describe('core/fs/debugfs', () => {
  it('creates files under /sys/kernel/debug with the root directory mode 0700', async () => {
    const h = await host();
    const d = h.kernel.debugfs;
    expect(h.kernel.fs.stat('/sys/kernel/debug').mode).to.equal(0o700);
    d.createDir('mine/sub');
    d.createFile('mine/sub/f', 0o444, { show: () => 'x\n' });
    expect(h.ls('/sys/kernel/debug/mine/sub')).to.deep.equal(['f']);
    expect(d.exists('mine/sub/f')).to.equal(true);
    expect(await h.read('/sys/kernel/debug/mine/sub/f')).to.equal('x\n');
    d.remove('mine');
    expect(h.exists('/sys/kernel/debug/mine')).to.equal(false);
  });

  it('fails a read of a custom file without a read method with EINVAL, and a write without one with EINVAL', async () => {
    const h = await host();
    h.kernel.debugfs.createFile('wo', 0o200, { write: () => undefined });
    h.kernel.debugfs.createFile('ro', 0o400, { show: () => 'r\n' });
    await expectErrno(h.read('/sys/kernel/debug/wo'), Errno.EINVAL);
    await expectErrno(h.write('/sys/kernel/debug/ro', '1'), Errno.EINVAL);
  });

  it('edu: reading the write-only raise file fails with EINVAL; writing ident fails with EINVAL', async () => {
    const w = await eduWorld();
    const h = w.host('host0');
    await h.modprobe('edu');
    await expectErrno(h.read(eduDebugfs(h, 'raise')), Errno.EINVAL);
    await expectErrno(h.read(eduDebugfs(h, 'dma')), Errno.EINVAL);
    await expectErrno(h.write(eduDebugfs(h, 'ident'), '1'), Errno.EINVAL);
    expect(await h.read(eduDebugfs(h, 'ident'))).to.equal('0x10000ed\n');
    await expectErrno(h.write(eduDebugfs(h, 'raise'), '4\n'), Errno.EINVAL);
    await expectErrno(h.write(eduDebugfs(h, 'raise'), 'x\n'), Errno.EINVAL);
    await expectErrno(h.write(eduDebugfs(h, 'dma'), 'sideways'), Errno.EINVAL);
    expect(h.ls('/sys/kernel/debug/edu/0000:01:00.0')).to.deep.equal(['dma', 'dma_buf', 'ident', 'irq_counts', 'raise']);
  });

  it('u64 attributes: decimal or hex reads, kstrtoull writes, EACCES without getter or setter', async () => {
    const h = await host();
    const d = h.kernel.debugfs;
    let v = 10n;
    d.createAttribute('dec', 0o644, () => v, (x) => (v = x));
    d.createAttribute('hex', 0o444, () => 255, undefined, 'hex');
    d.createAttribute('setonly', 0o200, undefined, (x) => (v = x));
    expect(await h.read('/sys/kernel/debug/dec')).to.equal('10\n');
    await h.write('/sys/kernel/debug/dec', '0x20\n');
    expect(await h.read('/sys/kernel/debug/dec')).to.equal('32\n');
    await expectErrno(h.write('/sys/kernel/debug/dec', 'abc'), Errno.EINVAL);
    await expectErrno(h.write('/sys/kernel/debug/dec', '18446744073709551616'), Errno.ERANGE);
    expect(await h.read('/sys/kernel/debug/hex')).to.equal('0xff\n');
    await expectErrno(h.write('/sys/kernel/debug/hex', '1'), Errno.EACCES);
    await expectErrno(h.read('/sys/kernel/debug/setonly'), Errno.EACCES);
    await h.write('/sys/kernel/debug/setonly', '7');
    expect(v).to.equal(7n);
    // simple_attr_write looks at 23 bytes: a longer number is cut there, not rejected.
    await h.write('/sys/kernel/debug/setonly', '00000000000000000000012345');
    expect(v).to.equal(0o12n);
  });

  it('bools: Y/N reads, kstrtobool writes on the first characters, no write method without write bits', async () => {
    const h = await host();
    const d = h.kernel.debugfs;
    let b = false;
    d.createBool('rw', 0o644, () => b, (x) => (b = x));
    d.createBool('ro', 0o444, () => b, (x) => (b = x));
    expect(await h.read('/sys/kernel/debug/rw')).to.equal('N\n');
    await h.write('/sys/kernel/debug/rw', 'on\n');
    expect(await h.read('/sys/kernel/debug/rw')).to.equal('Y\n');
    await h.write('/sys/kernel/debug/rw', 'nope');
    expect(b).to.equal(false);
    await expectErrno(h.write('/sys/kernel/debug/rw', 'maybe'), Errno.EINVAL);
    await expectErrno(h.write('/sys/kernel/debug/ro', 'Y'), Errno.EINVAL);
    expect(b).to.equal(false);
  });

  it('reports st_size 0 for debugfs files', async () => {
    const h = await host();
    h.kernel.debugfs.createFile('f', 0o444, { show: () => 'content' });
    expect(h.kernel.fs.stat('/sys/kernel/debug/f').size).to.equal(0);
  });
});
