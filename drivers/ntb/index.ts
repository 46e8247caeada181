import { NtbsimPlugin } from '../../core/plugin';
import { ntbModule } from './core';

export * from './ntb';
export * from './core';
export * from './msi';

/** The NTB core as a plugin: provides the `ntb` module hardware drivers and clients depend on. */
export const ntbCorePlugin: NtbsimPlugin = {
  name: 'ntb-core',
  modules: [ntbModule],
};
