import type { NtbsimPlugin } from './core/plugin';
import { clientsPlugin } from './clients';
import { driverPlugins } from './drivers';

/**
 * The plugins ntbsim ships with: drivers (NTB core, backends) and client modules. A fresh array
 * each call, so a caller may append its own plugins — the same interface an outside package uses.
 */
export function builtinPlugins(): NtbsimPlugin[] {
  return [...driverPlugins(), clientsPlugin];
}
