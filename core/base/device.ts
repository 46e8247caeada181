import { PrintkDevice } from '../printk';
import { DevresList } from './devres';
import type { Bus } from './bus';
import type { Driver } from './driver';
import type { DeviceClass } from './class';

/** struct device: a node of the device tree, maybe on a bus, maybe bound to a driver. */
export class Device implements PrintkDevice {
  bus?: Bus<any>;
  /** The class the device belongs to (set by DeviceClass.add). */
  deviceClass?: DeviceClass<any>;
  driver?: Driver<any>;
  drvdata: unknown;
  readonly devres = new DevresList();
  registered = false;
  readonly children: Device[] = [];

  constructor(
    readonly name: string,
    readonly parent?: Device,
  ) {}

  /** Directory of this device under /sys/devices. */
  get sysfsPath(): string {
    return this.parent ? `${this.parent.sysfsPath}/${this.name}` : `/sys/devices/${this.name}`;
  }

  /** dev_driver_string: the bound driver's name, else the bus name, else the class name. */
  printkPrefix(): string {
    return this.driver?.name ?? this.bus?.name ?? this.deviceClass?.name ?? '';
  }

  getDrvdata<T>(): T {
    return this.drvdata as T;
  }
}
