import 'reflect-metadata';
import { expect } from 'chai';
import { Errno, KernelError } from '../../../core/errno';
import { Host } from '../../../core/host';
import { Kernel } from '../../../core/kernel';
import { ModuleDecl } from '../../../core/module/module';
import { param } from '../../../core/module/params';
import { NtbsimPlugin } from '../../../core/plugin';
import { World } from '../../../core/world';
import { expectErrno, lines, linesSince } from '../../helpers/world';

const alphaParams = {
  flag: param.bool(false, 0o644, 'a flag'),
  count: param.int(0, 0o644, 'a count'),
  max_count: param.int(10, 0o644, 'a limit'),
  size: param.uint(16, 0o444, 'a read-only size'),
  hidden: param.int(0, 0, 'not in sysfs'),
  label: param.charp(null, 0o444, 'a label'),
};

interface Fixture {
  world: World;
  host: Host;
  log: string[];
  seen: Record<string, unknown>[];
}

async function boot(): Promise<Fixture> {
  const log: string[] = [];
  const seen: Record<string, unknown>[] = [];
  const simple = (name: string, depends?: string[]): ModuleDecl<Kernel, {}, null> => ({
    name,
    depends,
    init: () => {
      log.push(`init ${name}`);
      return null;
    },
    exit: () => void log.push(`exit ${name}`),
  });
  const alpha: ModuleDecl<Kernel, typeof alphaParams, null> = {
    name: 'alpha',
    params: alphaParams,
    init: (_k, p) => {
      log.push('init alpha');
      seen.push({ ...p });
      return null;
    },
    exit: () => void log.push('exit alpha'),
  };
  const failing: ModuleDecl<Kernel, {}, null> = {
    name: 'failing',
    depends: ['alpha'],
    init: async (k) => {
      await k.msleep(1);
      throw new KernelError(Errno.ENOMEM, 'no memory for you');
    },
  };
  const plugin: NtbsimPlugin = {
    name: 'loader-test',
    modules: [alpha, simple('beta', ['alpha']), simple('gamma', ['beta']), simple('other_alpha_user', ['alpha']), simple('dash_name'), failing],
  };
  const world = await World.create({ hosts: [{ name: 'h' }] }, [plugin]);
  return { world, host: world.host('h'), log, seen };
}

describe('core/module/loader: modprobe, rmmod and /sys/module', () => {
  describe('loading', () => {
    it('modprobe loads dependencies first, in order', async () => {
      const f = await boot();
      await f.host.modprobe('gamma');
      expect(f.log).to.deep.equal(['init alpha', 'init beta', 'init gamma']);
      expect(f.host.kernel.modules.names).to.deep.equal(['alpha', 'beta', 'gamma']);
      expect(f.host.kernel.fs.readlink('/sys/module/alpha/holders/beta')).to.equal('../../beta');
      expect(f.host.kernel.fs.realpath('/sys/module/beta/holders/gamma')).to.equal('/sys/module/gamma');
      expect(await f.host.read('/sys/module/gamma/initstate')).to.equal('live\n');
    });

    it('modprobe of a loaded module is a no-op', async () => {
      const f = await boot();
      await f.host.modprobe('beta');
      await f.host.modprobe('beta');
      await f.host.modprobe('alpha', ['count=5']);
      expect(f.log).to.deep.equal(['init alpha', 'init beta']);
    });

    it('treats - and _ in module names alike', async () => {
      const f = await boot();
      await f.host.modprobe('dash-name');
      expect(f.host.kernel.modules.isLoaded('dash_name')).to.equal(true);
      await f.host.rmmod('dash-name');
      expect(f.log).to.deep.equal(['init dash_name', 'exit dash_name']);
    });

    it('fails with ENOENT for a module nobody provides', async () => {
      const f = await boot();
      const e = await expectErrno(f.host.modprobe('no_such_module'), Errno.ENOENT);
      expect(e.message).to.match(/Module no_such_module not found/);
    });

    it('propagates a failing init\'s errno and leaves no trace of the module (its dependency stays)', async () => {
      const f = await boot();
      await expectErrno(f.host.modprobe('failing'), Errno.ENOMEM);
      expect(f.host.kernel.modules.isLoaded('failing')).to.equal(false);
      expect(f.host.exists('/sys/module/failing')).to.equal(false);
      expect(f.host.kernel.modules.isLoaded('alpha')).to.equal(true);
      expect(f.host.exists('/sys/module/alpha/holders/failing')).to.equal(false);
      // alpha is not pinned by the failed load.
      await f.host.rmmod('alpha');
    });
  });

  describe('parameters', () => {
    it('parses bool parameters as the kernel does: 1/Y/y/on, 0/N/n/off and a bare name', async () => {
      const cases: Array<[string, boolean]> = [
        ['flag=1', true], ['flag=Y', true], ['flag=y', true], ['flag=on', true], ['flag', true],
        ['flag=0', false], ['flag=N', false], ['flag=n', false], ['flag=off', false],
      ];
      for (const [arg, want] of cases) {
        const f = await boot();
        await f.host.modprobe('alpha', [arg]);
        expect(f.seen[0].flag, arg).to.equal(want);
        expect(await f.host.read('/sys/module/alpha/parameters/flag'), arg).to.equal(want ? 'Y\n' : 'N\n');
      }
    });

    it('parses int parameters in hex, octal and negative decimal', async () => {
      const f = await boot();
      await f.host.modprobe('alpha', ['count=0x10', 'max_count=010', 'size=7']);
      expect(f.seen[0]).to.include({ count: 16, max_count: 8, size: 7 });
      const g = await boot();
      await g.host.modprobe('alpha', ['count=-5']);
      expect(await g.host.read('/sys/module/alpha/parameters/count')).to.equal('-5\n');
    });

    it('accepts - for _ in parameter names', async () => {
      const f = await boot();
      await f.host.modprobe('alpha', ['max-count=3']);
      expect(f.seen[0].max_count).to.equal(3);
    });

    it('refuses a bad value with EINVAL, logs it, and does not load the module', async () => {
      const f = await boot();
      await expectErrno(f.host.modprobe('alpha', ['count=12abc']), Errno.EINVAL);
      expect(lines(f.host)).to.include("alpha: `12abc' invalid for parameter `count'");
      expect(f.host.kernel.modules.isLoaded('alpha')).to.equal(false);
      expect(f.log).to.deep.equal([]);
    });

    it('refuses a negative uint and a bare int name with EINVAL', async () => {
      const f = await boot();
      await expectErrno(f.host.modprobe('alpha', ['size=-1']), Errno.EINVAL);
      await expectErrno(f.host.modprobe('alpha', ['count']), Errno.EINVAL);
      expect(lines(f.host)).to.include("alpha: `' invalid for parameter `count'");
    });

    it('refuses an int that overflows with ERANGE', async () => {
      const f = await boot();
      await expectErrno(f.host.modprobe('alpha', ['count=2147483648']), Errno.ERANGE);
      expect(lines(f.host)).to.include("alpha: `2147483648' invalid for parameter `count'");
      expect(f.host.kernel.modules.isLoaded('alpha')).to.equal(false);
    });

    it('ignores an unknown parameter with the kernel\'s warning and loads the module', async () => {
      const f = await boot();
      const mark = lines(f.host).length;
      await f.host.modprobe('alpha', ['bogus=1', 'count=2']);
      expect(linesSince(f.host, mark)).to.include("alpha: unknown parameter 'bogus' ignored");
      expect(f.seen[0].count).to.equal(2);
    });

    it('shows parameters in /sys/module/NAME/parameters: Y/N, decimal, (null); perm 0 hidden', async () => {
      const f = await boot();
      await f.host.modprobe('alpha', ['flag', 'count=0x20']);
      expect(f.host.ls('/sys/module/alpha/parameters')).to.deep.equal(['count', 'flag', 'label', 'max_count', 'size']);
      expect(await f.host.read('/sys/module/alpha/parameters/flag')).to.equal('Y\n');
      expect(await f.host.read('/sys/module/alpha/parameters/count')).to.equal('32\n');
      expect(await f.host.read('/sys/module/alpha/parameters/size')).to.equal('16\n');
      expect(await f.host.read('/sys/module/alpha/parameters/label')).to.equal('(null)\n');
      await expectErrno(f.host.read('/sys/module/alpha/parameters/hidden'), Errno.ENOENT);
      expect(f.host.kernel.fs.stat('/sys/module/alpha/parameters/size').mode).to.equal(0o444);
      expect(f.host.kernel.fs.stat('/sys/module/alpha/parameters/count').mode).to.equal(0o644);
    });

    it('lets root write a 0644 parameter with kernel parsing, and refuses junk with EINVAL', async () => {
      const f = await boot();
      const mod = await f.host.modprobe('alpha');
      await f.host.write('/sys/module/alpha/parameters/count', '0x40\n');
      expect(await f.host.read('/sys/module/alpha/parameters/count')).to.equal('64\n');
      expect(mod.params.count).to.equal(64);
      await f.host.write('/sys/module/alpha/parameters/flag', 'on\n');
      expect(await f.host.read('/sys/module/alpha/parameters/flag')).to.equal('Y\n');
      await expectErrno(f.host.write('/sys/module/alpha/parameters/count', 'lots\n'), Errno.EINVAL);
      expect(await f.host.read('/sys/module/alpha/parameters/count')).to.equal('64\n');
    });

    it('refuses writes to a 0444 parameter with EACCES', async () => {
      const f = await boot();
      await f.host.modprobe('alpha', ['size=3']);
      await expectErrno(f.host.write('/sys/module/alpha/parameters/size', '5\n'), Errno.EACCES);
      await expectErrno(f.host.write('/sys/module/alpha/parameters/label', 'x\n'), Errno.EACCES);
      await expectErrno(f.host.write('/sys/module/alpha/initstate', 'going\n'), Errno.EACCES);
      expect(await f.host.read('/sys/module/alpha/parameters/size')).to.equal('3\n');
    });
  });

  describe('unloading', () => {
    it('rmmod refuses with EBUSY while a dependent module is loaded', async () => {
      const f = await boot();
      await f.host.modprobe('beta');
      const e = await expectErrno(f.host.rmmod('alpha'), Errno.EBUSY);
      expect(e.message).to.match(/in use/);
      await expectErrno(f.host.modprobeRemove('alpha'), Errno.EBUSY);
      expect(f.host.kernel.modules.isLoaded('alpha')).to.equal(true);
      await f.host.rmmod('beta');
      await f.host.rmmod('alpha');
      expect(f.log).to.deep.equal(['init alpha', 'init beta', 'exit beta', 'exit alpha']);
      expect(f.host.exists('/sys/module/alpha')).to.equal(false);
    });

    it('rmmod refuses with EBUSY while the refcount is held, and succeeds after module_put', async () => {
      const f = await boot();
      await f.host.modprobe('alpha');
      const loader = f.host.kernel.modules;
      const mod = loader.tryModuleGet('alpha');
      expect(await f.host.read('/sys/module/alpha/refcnt')).to.equal('1\n');
      await expectErrno(f.host.rmmod('alpha'), Errno.EBUSY);
      await expectErrno(f.host.modprobeRemove('alpha'), Errno.EBUSY);
      loader.modulePut(mod);
      expect(await f.host.read('/sys/module/alpha/refcnt')).to.equal('0\n');
      await f.host.rmmod('alpha');
      expect(loader.isLoaded('alpha')).to.equal(false);
    });

    it('rmmod of a module that is not loaded fails with ENOENT', async () => {
      const f = await boot();
      await expectErrno(f.host.rmmod('alpha'), Errno.ENOENT);
      await expectErrno(f.host.modprobeRemove('alpha'), Errno.ENOENT);
    });

    it('modprobe -r removes the module and every dependency nothing else uses', async () => {
      const f = await boot();
      await f.host.modprobe('gamma');
      await f.host.modprobeRemove('gamma');
      expect(f.host.kernel.modules.names).to.deep.equal([]);
      expect(f.log.slice(3)).to.deep.equal(['exit gamma', 'exit beta', 'exit alpha']);
    });

    it('modprobe -r keeps a dependency another module still uses', async () => {
      const f = await boot();
      await f.host.modprobe('beta');
      await f.host.modprobe('other_alpha_user');
      await f.host.modprobeRemove('beta');
      expect(f.host.kernel.modules.names).to.deep.equal(['alpha', 'other_alpha_user']);
      expect(f.host.ls('/sys/module/alpha/holders')).to.deep.equal(['other_alpha_user']);
    });

    it('try_module_get fails with ENODEV for a module that is not loaded', async () => {
      const f = await boot();
      await expectErrno(() => f.host.kernel.modules.tryModuleGet('alpha'), Errno.ENODEV);
    });
  });
});
