import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import { PseudoFs, toText } from '../../../core/fs/pseudofs';
import { expectErrno } from '../../helpers/world';

function tree(): PseudoFs {
  const fs = new PseudoFs();
  fs.mkdir('/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0');
  fs.createFile('/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor', 0o444, { show: () => '0x1234\n', noWriteErrno: Errno.EACCES });
  fs.mkdir('/sys/bus/pci/devices');
  fs.symlink('/sys/bus/pci/devices/0000:01:00.0', '../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
  fs.symlink('/sys/abs', '/sys/devices/pci0000:00');
  return fs;
}

describe('core/fs/pseudofs', () => {
  it('lists directory entries sorted (readdir)', () => {
    const fs = tree();
    fs.createFile('/sys/b', 0o444, { show: () => '' });
    fs.createFile('/sys/a', 0o444, { show: () => '' });
    expect(fs.readdir('/sys')).to.deep.equal(['a', 'abs', 'b', 'bus', 'devices']);
    expect(fs.readdir('/sys/bus/pci/devices/0000:01:00.0')).to.deep.equal(['vendor']);
  });

  it('resolves relative and absolute symlinks, also in the middle of a path', async () => {
    const fs = tree();
    expect(fs.readlink('/sys/bus/pci/devices/0000:01:00.0')).to.equal('../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
    expect(fs.realpath('/sys/bus/pci/devices/0000:01:00.0')).to.equal('/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0');
    expect(toText(await fs.readFile('/sys/bus/pci/devices/0000:01:00.0/vendor'))).to.equal('0x1234\n');
    expect(fs.realpath('/sys/abs/0000:00:01.0')).to.equal('/sys/devices/pci0000:00/0000:00:01.0');
    // ".." after a link applies to where the link led (physical resolution, like the kernel).
    expect(fs.realpath('/sys/bus/pci/devices/0000:01:00.0/..')).to.equal('/sys/devices/pci0000:00/0000:00:01.0');
    expect(fs.stat('/sys/bus/pci/devices/0000:01:00.0', false).type).to.equal('symlink');
    expect(fs.stat('/sys/bus/pci/devices/0000:01:00.0').type).to.equal('dir');
  });

  it('reports ELOOP for a symlink cycle and ENOENT for a dangling link', async () => {
    const fs = new PseudoFs();
    fs.symlink('/a', 'b');
    fs.symlink('/b', 'a');
    fs.symlink('/dangling', '/nowhere');
    await expectErrno(() => fs.lookup('/a'), Errno.ELOOP);
    await expectErrno(() => fs.lookup('/dangling'), Errno.ENOENT);
    expect(fs.exists('/dangling')).to.equal(false);
    expect(fs.lookupNoFollow('/dangling')).to.not.equal(undefined);
  });

  it('returns ENOENT, ENOTDIR and EISDIR where a shell would', async () => {
    const fs = tree();
    await expectErrno(fs.readFile('/sys/nope'), Errno.ENOENT);
    await expectErrno(fs.readFile('/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor/x'), Errno.ENOTDIR);
    await expectErrno(fs.readFile('/sys/devices'), Errno.EISDIR);
    await expectErrno(() => fs.readdir('/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor'), Errno.ENOTDIR);
    await expectErrno(() => fs.readlink('/sys/devices'), Errno.EINVAL);
  });

  it('refuses a write to a file without a write method: EACCES for sysfs attributes, EINVAL by default', async () => {
    const fs = tree();
    await expectErrno(fs.writeFile('/sys/bus/pci/devices/0000:01:00.0/vendor', '1'), Errno.EACCES);
    fs.createFile('/plain', 0o600, { show: () => 'x' });
    await expectErrno(fs.writeFile('/plain', '1'), Errno.EINVAL);
    fs.createFile('/wo', 0o200, { write: () => undefined, noReadErrno: Errno.EACCES });
    await expectErrno(fs.readFile('/wo'), Errno.EACCES);
  });

  it('refuses to create an entry that exists, or a directory through a file (EEXIST)', async () => {
    const fs = tree();
    await expectErrno(() => fs.createFile('/sys/abs', 0o444, {}), Errno.EEXIST);
    await expectErrno(() => fs.symlink('/sys/abs', '/x'), Errno.EEXIST);
    await expectErrno(() => fs.mkdir('/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor/sub'), Errno.EEXIST);
  });

  it('removes a subtree, and removing a link does not touch its target', () => {
    const fs = tree();
    fs.remove('/sys/bus/pci/devices/0000:01:00.0');
    expect(fs.exists('/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/vendor')).to.equal(true);
    fs.remove('/sys/devices/pci0000:00');
    expect(fs.exists('/sys/devices/pci0000:00/0000:00:01.0')).to.equal(false);
    expect(fs.readdir('/sys/devices')).to.deep.equal([]);
    fs.remove('/sys/not/there');
  });

  it('reads byte ranges from show() files and from read() files in chunks', async () => {
    const fs = new PseudoFs();
    fs.createFile('/text', 0o444, { show: () => 'hello world' });
    const blob = new Uint8Array(150_000).map((_, i) => i & 0xff);
    const reads: Array<[number, number]> = [];
    fs.createFile('/blob', 0o444, {
      read: (off, len) => {
        reads.push([off, len]);
        return blob.subarray(off, off + len);
      },
    });
    expect(toText(await fs.readAt('/text', 6, 5))).to.equal('world');
    const all = await fs.readFile('/blob');
    expect(all.length).to.equal(150_000);
    expect(all[149_999]).to.equal(149_999 & 0xff);
    expect(reads.map((r) => r[0])).to.deep.equal([0, 65536, 131072, 150_000]);
    expect(Array.from(await fs.readAt('/blob', 1000, 3))).to.deep.equal([1000 & 0xff, 1001 & 0xff, 1002 & 0xff]);
  });

  it('reports the byte count a write handler accepted', async () => {
    const fs = new PseudoFs();
    const got: string[] = [];
    fs.createFile('/short', 0o200, { write: (d) => (got.push(toText(d)), 2) });
    fs.createFile('/all', 0o200, { write: (d) => void got.push(toText(d)) });
    expect(await fs.writeFile('/short', 'abcdef')).to.equal(2);
    expect(await fs.writeFile('/all', 'abcdef')).to.equal(6);
    expect(got).to.deep.equal(['abcdef', 'abcdef']);
  });

  it('reports st_size from the file\'s size() (0 by default), not its content length', () => {
    const fs = new PseudoFs();
    fs.createFile('/attr', 0o444, { show: () => 'long content', size: () => 4096 });
    fs.createFile('/other', 0o444, { show: () => 'long content' });
    expect(fs.stat('/attr')).to.deep.equal({ type: 'file', mode: 0o444, size: 4096 });
    expect(fs.stat('/other').size).to.equal(0);
  });
});
