import { NtbsimPlugin } from '../../core/plugin';
import { switchtecDmaAliasQuirks } from './dma-alias-quirk';
import { ntbHwSwitchtecModule } from './ntb-hw-switchtec';
import { switchtecHardware } from './silicon/factory';
import { switchtecModule } from './switchtec-mgmt';

export { switchtecDmaAliasQuirks } from './dma-alias-quirk';
export { ntbHwSwitchtecModule } from './ntb-hw-switchtec';
export { switchtecModule } from './switchtec-mgmt';
export { SwitchtecDev } from './switchtec-dev';
export type { SwitchtecSymbols } from './switchtec-dev';
export { switchtecTopology, parseSwitchtecTopologyName, SWITCHTEC_ALIAS_QUIRK } from './silicon/topology';
export type { SwitchtecTopologyOptions } from './silicon/topology';

/**
 * The Microsemi Switchtec backend: the switch (silicon model, hardware type `switchtec`), the
 * `switchtec` management driver, ntb_hw_switchtec, and the DMA-alias PCI quirk.
 */
export const switchtecPlugin: NtbsimPlugin = {
  name: 'switchtec',
  modules: [switchtecModule, ntbHwSwitchtecModule],
  fixups: switchtecDmaAliasQuirks,
  hardware: { switchtec: switchtecHardware },
};
