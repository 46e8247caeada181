import type { NtbsimPlugin } from '../core/plugin';
import { ntbCorePlugin } from './ntb';
import { switchtecPlugin } from './switchtec';
import { testdevPlugin } from './testdev';

export { ntbCorePlugin } from './ntb';
export { switchtecPlugin } from './switchtec';
export { testdevPlugin } from './testdev';

/** Every plugin under drivers/: the NTB core and the hardware backends. A fresh array each call. */
export function driverPlugins(): NtbsimPlugin[] {
  return [ntbCorePlugin, switchtecPlugin, testdevPlugin];
}
