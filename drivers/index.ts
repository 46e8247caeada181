import type { NtbsimPlugin } from '../core/plugin';
import { testdevPlugin } from './testdev';

export { testdevPlugin } from './testdev';

/**
 * The plugins ntbsim ships with: every backend under drivers/ (and, later, clients/) adds its
 * plugin here. A fresh array each call, so a caller may append its own plugins to it.
 */
export function builtinPlugins(): NtbsimPlugin[] {
  return [testdevPlugin];
}
