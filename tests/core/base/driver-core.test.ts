import 'reflect-metadata';
import { expect } from 'chai';
import { Bus } from '../../../core/base/bus';
import { Device } from '../../../core/base/device';
import { Driver } from '../../../core/base/driver';
import { DriverCore, relative } from '../../../core/base/driver-core';
import { Errno, KernelError } from '../../../core/errno';
import { Host } from '../../../core/host';
import { LogLevel } from '../../../core/printk';
import { World } from '../../../core/world';
import { eduDev, eduWorld, expectErrno, lines, linesSince } from '../../helpers/world';

class TestDevice extends Device {
  constructor(
    name: string,
    readonly compatible: string,
    parent?: Device,
  ) {
    super(name, parent);
  }
}

const testBus: Bus<TestDevice> = { name: 'testbus', match: (dev, drv) => dev.compatible === drv.name };

interface Fixture {
  host: Host;
  core: DriverCore;
  log: string[];
  driver(name: string, opts?: { fail?: Errno; resources?: string[] }): Driver<TestDevice>;
  device(name: string, compatible: string, parent?: Device): TestDevice;
}

async function boot(): Promise<Fixture> {
  const world = await World.create({ hosts: [{ name: 'h' }] }, []);
  const host = world.host('h');
  const core = host.kernel.driverCore;
  core.busRegister(testBus);
  const log: string[] = [];
  return {
    host,
    core,
    log,
    driver: (name, opts = {}) => ({
      name,
      bus: testBus,
      probe: (dev: TestDevice) => {
        log.push(`probe ${dev.name}`);
        for (const r of opts.resources ?? ['a', 'b', 'c']) {
          dev.devres.add(r, () => void log.push(`release ${r} of ${dev.name}`));
        }
        if (opts.fail) throw new KernelError(opts.fail, 'probe says no');
        dev.drvdata = { bound: true };
      },
      remove: (dev: TestDevice) => void log.push(`remove ${dev.name}`),
    }),
    device: (name, compatible, parent) => {
      const d = new TestDevice(name, compatible, parent);
      d.bus = testBus;
      return d;
    },
  };
}

const run = <T>(f: Fixture, fn: () => Promise<T>) => f.host.run('test', fn);

describe('core/base/driver-core: match, probe, remove and sysfs', () => {
  it('probes a matching driver when the device is added and links it in sysfs', async () => {
    const f = await boot();
    const drv = f.driver('foodrv');
    await run(f, () => f.core.driverRegister(drv));
    const dev = f.device('foo0', 'foodrv');
    await run(f, () => f.core.deviceAdd(dev));
    expect(f.log).to.deep.equal(['probe foo0']);
    expect(dev.driver).to.equal(drv);
    const fs = f.host.kernel.fs;
    expect(fs.readlink('/sys/bus/testbus/devices/foo0')).to.equal('../../../devices/foo0');
    expect(fs.realpath('/sys/bus/testbus/devices/foo0')).to.equal('/sys/devices/foo0');
    expect(fs.realpath('/sys/bus/testbus/drivers/foodrv/foo0')).to.equal('/sys/devices/foo0');
    expect(fs.realpath('/sys/devices/foo0/driver')).to.equal('/sys/bus/testbus/drivers/foodrv');
    expect(fs.realpath('/sys/devices/foo0/subsystem')).to.equal('/sys/bus/testbus');
    expect(f.host.ls('/sys/bus/testbus/drivers/foodrv')).to.deep.equal(['bind', 'foo0', 'unbind']);
  });

  it('binds only matching devices when a driver registers after them', async () => {
    const f = await boot();
    const a = f.device('a0', 'adrv');
    const b = f.device('b0', 'bdrv');
    await run(f, () => f.core.deviceAdd(a));
    await run(f, () => f.core.deviceAdd(b));
    expect(f.log).to.deep.equal([]);
    await run(f, () => f.core.driverRegister(f.driver('adrv')));
    expect(f.log).to.deep.equal(['probe a0']);
    expect(a.driver?.name).to.equal('adrv');
    expect(b.driver).to.equal(undefined);
    expect(f.host.exists('/sys/devices/b0/driver')).to.equal(false);
  });

  it('unbinding runs remove, then releases devres last-in first-out, and drops the links', async () => {
    const f = await boot();
    const drv = f.driver('foodrv');
    const dev = f.device('foo0', 'foodrv');
    await run(f, () => f.core.driverRegister(drv));
    await run(f, () => f.core.deviceAdd(dev));
    await run(f, () => f.core.unbind(dev));
    expect(f.log).to.deep.equal(['probe foo0', 'remove foo0', 'release c of foo0', 'release b of foo0', 'release a of foo0']);
    expect(dev.driver).to.equal(undefined);
    expect(dev.drvdata).to.equal(undefined);
    expect(dev.devres.names).to.deep.equal([]);
    expect(f.host.exists('/sys/bus/testbus/drivers/foodrv/foo0')).to.equal(false);
    expect(f.host.exists('/sys/devices/foo0/driver')).to.equal(false);
    expect(f.host.exists('/sys/bus/testbus/devices/foo0')).to.equal(true);
  });

  it('a failed probe releases devres in reverse order, leaves the device unbound and logs the error', async () => {
    const f = await boot();
    const dev = f.device('foo0', 'foodrv');
    await run(f, () => f.core.driverRegister(f.driver('foodrv', { fail: Errno.EIO })));
    await run(f, () => f.core.deviceAdd(dev));
    expect(f.log).to.deep.equal(['probe foo0', 'release c of foo0', 'release b of foo0', 'release a of foo0']);
    expect(dev.driver).to.equal(undefined);
    expect(dev.drvdata).to.equal(undefined);
    expect(lines(f.host)).to.include('foodrv: probe of foo0 failed with error -5');
    expect(f.host.exists('/sys/devices/foo0/driver')).to.equal(false);
    expect(f.host.exists('/sys/bus/testbus/drivers/foodrv/foo0')).to.equal(false);
  });

  it('a probe declining with ENODEV or ENXIO is silent', async () => {
    for (const errno of [Errno.ENODEV, Errno.ENXIO]) {
      const f = await boot();
      const mark = lines(f.host).length;
      await run(f, () => f.core.driverRegister(f.driver('foodrv', { fail: errno })));
      await run(f, () => f.core.deviceAdd(f.device('foo0', 'foodrv')));
      expect(f.log[0]).to.equal('probe foo0');
      expect(linesSince(f.host, mark).filter((l) => l.includes('probe of'))).to.deep.equal([]);
    }
  });

  it('a driver bug (non-KernelError) in probe propagates after devres is released', async () => {
    const f = await boot();
    const drv: Driver<TestDevice> = {
      name: 'buggy',
      bus: testBus,
      probe: (dev) => {
        dev.devres.add('r', () => void f.log.push('release r'));
        throw new TypeError('oops');
      },
    };
    await run(f, () => f.core.driverRegister(drv));
    let err: unknown;
    try {
      await run(f, () => f.core.deviceAdd(f.device('b0', 'buggy')));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(TypeError);
    expect(f.log).to.deep.equal(['release r']);
  });

  it('driver_unregister unbinds every device it drives and removes its sysfs directory', async () => {
    const f = await boot();
    const drv = f.driver('foodrv', { resources: ['r'] });
    await run(f, () => f.core.driverRegister(drv));
    await run(f, () => f.core.deviceAdd(f.device('foo0', 'foodrv')));
    await run(f, () => f.core.deviceAdd(f.device('foo1', 'foodrv')));
    await run(f, () => f.core.driverUnregister(drv));
    expect(f.log).to.deep.equal(['probe foo0', 'probe foo1', 'remove foo0', 'release r of foo0', 'remove foo1', 'release r of foo1']);
    expect(f.host.exists('/sys/bus/testbus/drivers/foodrv')).to.equal(false);
    expect(f.core.drivers(testBus)).to.deep.equal([]);
  });

  it('refuses to register two drivers with one name on a bus (EBUSY)', async () => {
    const f = await boot();
    await run(f, () => f.core.driverRegister(f.driver('foodrv')));
    await expectErrno(run(f, () => f.core.driverRegister(f.driver('foodrv'))), Errno.EBUSY);
  });

  it('device_del unbinds the parent first (its remove may take its children down), then removes what children are left', async () => {
    const f = await boot();
    await run(f, () => f.core.driverRegister(f.driver('pdrv', { resources: ['p'] })));
    await run(f, () => f.core.driverRegister(f.driver('cdrv', { resources: ['c'] })));
    const parent = f.device('parent0', 'pdrv');
    await run(f, () => f.core.deviceAdd(parent));
    const child = f.device('child0', 'cdrv', parent);
    await run(f, () => f.core.deviceAdd(child));
    expect(child.sysfsPath).to.equal('/sys/devices/parent0/child0');
    expect(f.host.kernel.fs.realpath('/sys/bus/testbus/devices/child0')).to.equal('/sys/devices/parent0/child0');
    await run(f, () => f.core.deviceDel(parent));
    expect(f.log).to.deep.equal(['probe parent0', 'probe child0', 'remove parent0', 'release p of parent0', 'remove child0', 'release c of child0']);
    expect(f.host.exists('/sys/devices/parent0')).to.equal(false);
    expect(f.host.ls('/sys/bus/testbus/devices')).to.deep.equal([]);
    expect(child.registered).to.equal(false);
  });

  it('binds and unbinds through the driver\'s bind/unbind files', async () => {
    const f = await boot();
    await run(f, () => f.core.driverRegister(f.driver('foodrv', { resources: [] })));
    const dev = f.device('foo0', 'foodrv');
    await run(f, () => f.core.deviceAdd(dev));
    await f.host.write('/sys/bus/testbus/drivers/foodrv/unbind', 'foo0\n');
    expect(dev.driver).to.equal(undefined);
    await expectErrno(f.host.write('/sys/bus/testbus/drivers/foodrv/unbind', 'foo0\n'), Errno.ENODEV);
    await f.host.write('/sys/bus/testbus/drivers/foodrv/bind', 'foo0\n');
    expect(dev.driver?.name).to.equal('foodrv');
    await expectErrno(f.host.write('/sys/bus/testbus/drivers/foodrv/bind', 'foo0\n'), Errno.EBUSY);
    await expectErrno(f.host.write('/sys/bus/testbus/drivers/foodrv/bind', 'nosuch\n'), Errno.ENODEV);
    await expectErrno(f.host.read('/sys/bus/testbus/drivers/foodrv/bind'), Errno.EACCES);
    expect(f.log).to.deep.equal(['probe foo0', 'remove foo0', 'probe foo0']);
  });

  it('refuses to bind a device the driver does not match (ENODEV)', async () => {
    const f = await boot();
    await run(f, () => f.core.driverRegister(f.driver('foodrv')));
    await run(f, () => f.core.deviceAdd(f.device('bar0', 'bardrv')));
    await expectErrno(f.host.write('/sys/bus/testbus/drivers/foodrv/bind', 'bar0'), Errno.ENODEV);
    expect(f.log).to.deep.equal([]);
  });

  it('prefixes dev_printk lines with the bound driver, else the bus name', async () => {
    const f = await boot();
    await run(f, () => f.core.driverRegister(f.driver('foodrv', { resources: [] })));
    const bound = f.device('foo0', 'foodrv');
    const unbound = f.device('bar0', 'nobody');
    await run(f, () => f.core.deviceAdd(bound));
    await run(f, () => f.core.deviceAdd(unbound));
    f.host.printk.devLog(LogLevel.INFO, bound, 'hello');
    f.host.printk.devLog(LogLevel.INFO, unbound, 'hello');
    expect(lines(f.host).slice(-2)).to.deep.equal(['foodrv foo0: hello', 'testbus bar0: hello']);
  });

  it('devres: release() runs one entry early, remove() forgets one without running it', async () => {
    const dev = new Device('x');
    const log: string[] = [];
    const a = dev.devres.add('a', () => void log.push('a'));
    const b = dev.devres.add('b', () => void log.push('b'));
    dev.devres.add('c', () => void log.push('c'));
    await dev.devres.release(b);
    expect(dev.devres.remove(a)).to.equal(true);
    expect(dev.devres.remove(a)).to.equal(false);
    expect(dev.devres.names).to.deep.equal(['c']);
    await dev.devres.releaseAll();
    expect(log).to.deep.equal(['b', 'c']);
  });

  it('computes relative sysfs link targets', () => {
    expect(relative('/sys/bus/pci/devices', '/sys/devices/pci0000:00/0000:00:01.0')).to.equal('../../../devices/pci0000:00/0000:00:01.0');
    expect(relative('/sys/a/b', '/sys/a/b')).to.equal('.');
    expect(relative('/sys/a/b/c', '/sys/a')).to.equal('../..');
  });

  describe('on the pci bus with the edu driver', () => {
    it('links the bound PCI device and the driver\'s module in sysfs', async () => {
      const world = await eduWorld();
      const host = world.host('host0');
      await host.modprobe('edu');
      const dev = eduDev(host);
      const fs = host.kernel.fs;
      expect(dev.sysfsPath).to.equal('/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0');
      expect(fs.realpath('/sys/bus/pci/devices/0000:01:00.0')).to.equal(dev.sysfsPath);
      expect(fs.realpath('/sys/bus/pci/drivers/edu/0000:01:00.0')).to.equal(dev.sysfsPath);
      expect(fs.realpath(`${dev.sysfsPath}/driver`)).to.equal('/sys/bus/pci/drivers/edu');
      expect(fs.realpath('/sys/bus/pci/drivers/edu/module')).to.equal('/sys/module/edu');
      expect(await host.read('/sys/bus/pci/devices/0000:01:00.0/vendor')).to.equal('0x1234\n');
      expect(await host.read('/sys/bus/pci/devices/0000:01:00.0/device')).to.equal('0x11e8\n');
      expect(await host.read('/sys/bus/pci/devices/0000:01:00.0/enable')).to.equal('1\n');
    });

    it('unbinding edu through sysfs releases what its probe took; binding again restores it', async () => {
      const world = await eduWorld();
      const host = world.host('host0');
      await host.modprobe('edu');
      const dev = eduDev(host);
      expect(dev.devres.names).to.deep.equal([
        'pcim_enable_device',
        'pcim_iomap BAR0',
        'pci_irq_vectors',
        'dmam_alloc_coherent',
        'irq 24',
        'irq 25',
        'irq 26',
        'irq 27',
      ]);
      const allocated = host.kernel.pages.allocatedBytes;
      await host.write('/sys/bus/pci/drivers/edu/unbind', dev.name);
      expect(dev.devres.names).to.deep.equal([]);
      expect(dev.msixEnabled).to.equal(false);
      expect(dev.enableCnt).to.equal(0);
      expect(host.kernel.pages.allocatedBytes).to.equal(allocated - 4096);
      expect(host.exists(`/sys/kernel/debug/edu/${dev.name}`)).to.equal(false);
      expect(await host.read('/proc/interrupts')).to.not.match(/edu/);
      expect(await host.read(`/sys/bus/pci/devices/${dev.name}/enable`)).to.equal('0\n');
      await host.write('/sys/bus/pci/drivers/edu/bind', dev.name);
      expect(dev.driver?.name).to.equal('edu');
      expect(host.exists(`/sys/kernel/debug/edu/${dev.name}/raise`)).to.equal(true);
      expect((await host.read('/proc/interrupts')).match(/edu/g)).to.have.length(4);
    });

    it('rmmod edu unbinds the device and removes its debugfs tree', async () => {
      const world = await eduWorld();
      const host = world.host('host0');
      await host.modprobe('edu');
      await host.rmmod('edu');
      expect(eduDev(host).driver).to.equal(undefined);
      expect(host.exists('/sys/kernel/debug/edu')).to.equal(false);
      expect(host.exists('/sys/bus/pci/drivers/edu')).to.equal(false);
      expect(host.exists('/sys/module/edu')).to.equal(false);
    });
  });
});
