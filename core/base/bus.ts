import type { Device } from './device';
import type { Driver } from './driver';

/** struct bus_type: which devices a driver can drive. */
export interface Bus<D extends Device = Device> {
  name: string;
  match(dev: D, drv: Driver<D>): boolean;
}
