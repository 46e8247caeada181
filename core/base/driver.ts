import type { LoadedModule } from '../module/module';
import type { Bus } from './bus';
import type { Device } from './device';

/** struct device_driver. probe and remove run in process context and may sleep. */
export interface Driver<D extends Device = Device> {
  name: string;
  bus: Bus<D>;
  /** The module that registered the driver (pinned while a user holds the device). */
  owner?: LoadedModule<any>;
  probe(dev: D): Promise<void> | void;
  remove?(dev: D): Promise<void> | void;
}
