import type { NtbsimPlugin } from '../core/plugin';
import { ntbMsiTestModule } from './msi-test';
import { ntbNetdevModule } from './netdev';
import { ntbPerfModule } from './perf';
import { ntbPingpongModule } from './pingpong';
import { ntbToolModule } from './tool';
import { ntbTransportModule } from './transport';

export { ntbMsiTestModule } from './msi-test';
export { ntbNetdevModule } from './netdev';
export { ntbPerfModule } from './perf';
export { ntbPingpongModule } from './pingpong';
export { ntbToolModule } from './tool';
export { ntbTransportModule } from './transport';

/** The NTB client modules ntbsim ships: the kernel's test clients, ntb_transport and ntb_netdev. */
export const clientsPlugin: NtbsimPlugin = {
  name: 'ntb-clients',
  modules: [ntbToolModule, ntbPingpongModule, ntbPerfModule, ntbMsiTestModule, ntbTransportModule, ntbNetdevModule],
};
