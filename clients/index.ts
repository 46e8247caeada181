import type { NtbsimPlugin } from '../core/plugin';
import { ntbMsiTestModule } from './msi-test';
import { ntbPerfModule } from './perf';
import { ntbPingpongModule } from './pingpong';
import { ntbToolModule } from './tool';

export { ntbMsiTestModule } from './msi-test';
export { ntbPerfModule } from './perf';
export { ntbPingpongModule } from './pingpong';
export { ntbToolModule } from './tool';

/** The NTB client modules ntbsim ships: the kernel's test clients. */
export const clientsPlugin: NtbsimPlugin = {
  name: 'ntb-clients',
  modules: [ntbToolModule, ntbPingpongModule, ntbPerfModule, ntbMsiTestModule],
};
