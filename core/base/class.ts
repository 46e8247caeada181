import { Errno, KernelError } from '../errno';
import { PseudoFs } from '../fs/pseudofs';
import type { Device } from './device';
import { relative } from './driver-core';

/** struct class_interface: told about every device of its class, present and future. */
export interface ClassInterface<D extends Device = Device> {
  addDev(dev: D): Promise<void> | void;
  removeDev(dev: D): Promise<void> | void;
}

/**
 * struct class (drivers/base/class.c): a named group of devices under /sys/class/<name>, plus
 * class interfaces (how ntb_hw_switchtec attaches to the management driver's devices).
 */
export class DeviceClass<D extends Device = Device> {
  private readonly members: D[] = [];
  private readonly interfaces: ClassInterface<D>[] = [];

  constructor(
    readonly name: string,
    private readonly sysfs: PseudoFs,
  ) {
    this.sysfs.mkdir(`/sys/class/${name}`);
  }

  get devices(): readonly D[] {
    return this.members;
  }

  /** Called by the device core once `dev` is registered: link it and tell every interface. */
  async add(dev: D): Promise<void> {
    dev.deviceClass = this;
    this.members.push(dev);
    this.sysfs.symlink(`/sys/class/${this.name}/${dev.name}`, relative(`/sys/class/${this.name}`, dev.sysfsPath));
    for (const intf of [...this.interfaces]) await intf.addDev(dev);
  }

  async remove(dev: D): Promise<void> {
    const i = this.members.indexOf(dev);
    if (i < 0) return;
    for (const intf of [...this.interfaces].reverse()) await intf.removeDev(dev);
    this.members.splice(i, 1);
    this.sysfs.remove(`/sys/class/${this.name}/${dev.name}`);
  }

  /** class_interface_register: addDev runs for every device already in the class. */
  async interfaceRegister(intf: ClassInterface<D>): Promise<void> {
    if (this.interfaces.includes(intf)) throw new KernelError(Errno.EEXIST, `class ${this.name} interface`);
    this.interfaces.push(intf);
    for (const dev of [...this.members]) await intf.addDev(dev);
  }

  async interfaceUnregister(intf: ClassInterface<D>): Promise<void> {
    const i = this.interfaces.indexOf(intf);
    if (i < 0) return;
    this.interfaces.splice(i, 1);
    for (const dev of [...this.members].reverse()) await intf.removeDev(dev);
  }

  /** class_destroy: only once every device has gone. */
  destroy(): void {
    if (this.members.length) throw new KernelError(Errno.EBUSY, `class ${this.name} still has devices`);
    this.sysfs.remove(`/sys/class/${this.name}`);
  }
}
