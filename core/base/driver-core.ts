import { Errno, KernelError } from '../errno';
import { FileOps, PseudoFs } from '../fs/pseudofs';
import { Printk } from '../printk';
import type { Bus } from './bus';
import { Device } from './device';
import type { Driver } from './driver';

interface BusState {
  bus: Bus<any>;
  devices: Device[];
  drivers: Driver<any>[];
}

/**
 * drivers/base/{bus,dd,core}.c for one kernel: device_add/del, driver_register/unregister, the
 * match → probe → remove cycle with devres release, bind/unbind, and the sysfs view of all of it.
 */
export class DriverCore {
  private buses = new Map<string, BusState>();

  constructor(
    private readonly sysfs: PseudoFs,
    private readonly printk: Printk,
  ) {}

  busRegister(bus: Bus<any>): void {
    if (this.buses.has(bus.name)) throw new KernelError(Errno.EEXIST, `bus ${bus.name}`);
    this.buses.set(bus.name, { bus, devices: [], drivers: [] });
    this.sysfs.mkdir(`/sys/bus/${bus.name}/devices`);
    this.sysfs.mkdir(`/sys/bus/${bus.name}/drivers`);
  }

  busUnregister(bus: Bus<any>): void {
    const st = this.state(bus);
    if (st.devices.length || st.drivers.length) throw new KernelError(Errno.EBUSY, `bus ${bus.name} still in use`);
    this.buses.delete(bus.name);
    this.sysfs.remove(`/sys/bus/${bus.name}`);
  }

  devices(bus: Bus<any>): Device[] {
    return [...this.state(bus).devices];
  }

  drivers(bus: Bus<any>): Driver<any>[] {
    return [...this.state(bus).drivers];
  }

  /** device_add: create its sysfs entries and, on a bus, try every registered driver. */
  async deviceAdd(dev: Device, attrs: Record<string, { mode: number; ops: FileOps }> = {}): Promise<void> {
    if (dev.registered) throw new KernelError(Errno.EEXIST, dev.name);
    this.sysfs.mkdir(dev.sysfsPath);
    for (const [name, a] of Object.entries(attrs)) this.sysfs.createFile(`${dev.sysfsPath}/${name}`, a.mode, { noWriteErrno: Errno.EACCES, ...a.ops });
    dev.registered = true;
    dev.parent?.children.push(dev);
    if (!dev.bus) return;
    const st = this.state(dev.bus);
    st.devices.push(dev);
    this.sysfs.symlink(`/sys/bus/${dev.bus.name}/devices/${dev.name}`, relative(`/sys/bus/${dev.bus.name}/devices`, dev.sysfsPath));
    this.sysfs.symlink(`${dev.sysfsPath}/subsystem`, relative(dev.sysfsPath, `/sys/bus/${dev.bus.name}`));
    for (const drv of [...st.drivers]) {
      if (dev.driver) break;
      if (dev.bus.match(dev, drv)) await this.probe(dev, drv);
    }
  }

  /**
   * device_del: unbind first (the driver's remove tears down the devices it created below this
   * one, as Linux drivers do), then remove what children are left, then the device itself.
   */
  async deviceDel(dev: Device): Promise<void> {
    if (!dev.registered) return;
    await this.unbind(dev);
    for (const child of [...dev.children].reverse()) await this.deviceDel(child);
    if (dev.bus) {
      const st = this.state(dev.bus);
      st.devices.splice(st.devices.indexOf(dev), 1);
      this.sysfs.remove(`/sys/bus/${dev.bus.name}/devices/${dev.name}`);
    }
    await dev.devres.releaseAll();
    this.sysfs.remove(dev.sysfsPath);
    if (dev.parent) dev.parent.children.splice(dev.parent.children.indexOf(dev), 1);
    dev.registered = false;
  }

  /** driver_register: attach to every matching unbound device. */
  async driverRegister(drv: Driver<any>): Promise<void> {
    const st = this.state(drv.bus);
    if (st.drivers.some((d) => d.name === drv.name)) throw new KernelError(Errno.EBUSY, `driver ${drv.name} already registered`);
    st.drivers.push(drv);
    const dir = `/sys/bus/${drv.bus.name}/drivers/${drv.name}`;
    this.sysfs.mkdir(dir);
    this.sysfs.createFile(`${dir}/bind`, 0o200, { write: (d) => this.bindByName(drv, d), noReadErrno: Errno.EACCES });
    this.sysfs.createFile(`${dir}/unbind`, 0o200, { write: (d) => this.unbindByName(drv, d), noReadErrno: Errno.EACCES });
    if (drv.owner) this.sysfs.symlink(`${dir}/module`, `../../../../module/${drv.owner.name}`);
    for (const dev of [...st.devices]) {
      if (!dev.driver && drv.bus.match(dev, drv)) await this.probe(dev, drv);
    }
  }

  /** driver_unregister: unbind every device it drives. */
  async driverUnregister(drv: Driver<any>): Promise<void> {
    const st = this.state(drv.bus);
    for (const dev of [...st.devices]) if (dev.driver === drv) await this.unbind(dev);
    st.drivers.splice(st.drivers.indexOf(drv), 1);
    this.sysfs.remove(`/sys/bus/${drv.bus.name}/drivers/${drv.name}`);
  }

  /** Probe `dev` with `drv`; a failed probe releases what it took and leaves the device unbound. */
  async probe(dev: Device, drv: Driver<any>): Promise<boolean> {
    dev.driver = drv;
    try {
      await drv.probe(dev);
    } catch (e) {
      dev.driver = undefined;
      await dev.devres.releaseAll();
      dev.drvdata = undefined;
      if (!(e instanceof KernelError)) throw e;
      if (e.errno !== Errno.ENODEV && e.errno !== Errno.ENXIO) {
        this.printk.warn(`${drv.name}: probe of ${dev.name} failed with error -${e.errno}`);
      }
      return false;
    }
    const dir = `/sys/bus/${drv.bus.name}/drivers/${drv.name}`;
    this.sysfs.symlink(`${dir}/${dev.name}`, relative(dir, dev.sysfsPath));
    this.sysfs.symlink(`${dev.sysfsPath}/driver`, relative(dev.sysfsPath, dir));
    return true;
  }

  /** device_release_driver: remove(), then devres. */
  async unbind(dev: Device): Promise<void> {
    const drv = dev.driver;
    if (!drv) return;
    await drv.remove?.(dev);
    await dev.devres.releaseAll();
    dev.driver = undefined;
    dev.drvdata = undefined;
    this.sysfs.remove(`/sys/bus/${drv.bus.name}/drivers/${drv.name}/${dev.name}`);
    this.sysfs.remove(`${dev.sysfsPath}/driver`);
  }

  private findDevice(bus: Bus<any>, data: Uint8Array): Device {
    const name = new TextDecoder().decode(data).replace(/\n$/, '');
    const dev = this.state(bus).devices.find((d) => d.name === name);
    if (!dev) throw new KernelError(Errno.ENODEV, name);
    return dev;
  }

  private async bindByName(drv: Driver<any>, data: Uint8Array): Promise<void> {
    const dev = this.findDevice(drv.bus, data);
    if (dev.driver) throw new KernelError(Errno.EBUSY, `${dev.name} already bound`);
    if (!drv.bus.match(dev, drv)) throw new KernelError(Errno.ENODEV, `${drv.name} does not match ${dev.name}`);
    if (!(await this.probe(dev, drv))) throw new KernelError(Errno.ENODEV, `probe of ${dev.name} failed`);
  }

  private async unbindByName(drv: Driver<any>, data: Uint8Array): Promise<void> {
    const dev = this.findDevice(drv.bus, data);
    if (dev.driver !== drv) throw new KernelError(Errno.ENODEV, `${dev.name} not bound to ${drv.name}`);
    await this.unbind(dev);
  }

  private state(bus: Bus<any>): BusState {
    const st = this.buses.get(bus.name);
    if (!st) throw new KernelError(Errno.EINVAL, `bus ${bus.name} not registered`);
    return st;
  }
}

/** The relative symlink target sysfs would use from directory `from` to `to`. */
export function relative(from: string, to: string): string {
  const a = from.split('/').filter(Boolean);
  const b = to.split('/').filter(Boolean);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/') || '.';
}
