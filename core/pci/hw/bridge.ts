import { MmioHandler } from '../../mm/physmem';
import { ConfigSpace } from './config-space';
import { PciFunctionModel, PciUpstream, RequesterId } from './function';
import * as R from './regs';

export type BridgeKind = 'root-port' | 'upstream' | 'downstream' | 'pcie-to-pci' | 'pci-bridge';

const expType: Record<BridgeKind, number | undefined> = {
  'root-port': R.PCI_EXP_TYPE_ROOT_PORT,
  upstream: R.PCI_EXP_TYPE_UPSTREAM,
  downstream: R.PCI_EXP_TYPE_DOWNSTREAM,
  'pcie-to-pci': R.PCI_EXP_TYPE_PCI_BRIDGE,
  'pci-bridge': undefined,
};

/**
 * A PCI-to-PCI bridge function (root port, switch port, PCIe-to-PCI bridge): a type 1 header with
 * bus-number registers the kernel programs, and a secondary bus of child functions. Upstream
 * traffic from children passes through unchanged (no ACS redirection modelled); a PCIe-to-PCI
 * bridge takes ownership of conventional-PCI transactions as real ones do.
 */
export class PciBridgeModel implements PciFunctionModel {
  readonly config: ConfigSpace;
  readonly secondary = new Map<number, PciFunctionModel>();

  constructor(
    readonly kind: BridgeKind,
    vendor: number,
    device: number,
    readonly label = `PCI bridge (${kind})`,
  ) {
    this.config = new ConfigSpace({ vendor, device, classCode: 0x060400, headerType: R.PCI_HEADER_TYPE_BRIDGE });
    const t = expType[kind];
    if (t !== undefined) {
      const off = this.config.addCapability(R.PCI_CAP_ID_EXP, 0x3c);
      this.config.set16(off + R.PCI_EXP_FLAGS, 0x2 | (t << 4));
    }
  }

  attach(devfn: number, fn: PciFunctionModel): this {
    this.secondary.set(devfn, fn);
    return this;
  }

  barHandler(): MmioHandler | undefined {
    return undefined;
  }

  connect(_upstream: PciUpstream, _rid: RequesterId): void {}

  get secondaryBus(): number {
    return this.config.bytes[R.PCI_SECONDARY_BUS];
  }

  get subordinateBus(): number {
    return this.config.bytes[R.PCI_SUBORDINATE_BUS];
  }
}
