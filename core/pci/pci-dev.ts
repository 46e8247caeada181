import { Device } from '../base/device';
import { IoMem } from '../mm/io';
import { MsiDesc } from './msi-desc';

export interface PciResource {
  start: number;
  size: number;
  is64: boolean;
  prefetchable: boolean;
}

/** The kernel's struct pci_bus. */
export class PciBus {
  readonly devices: PciDev[] = [];
  constructor(
    readonly number: number,
    readonly parent?: PciBus,
    /** The bridge leading to this bus (undefined for a root bus). */
    readonly self?: PciDev,
  ) {}

  get isRoot(): boolean {
    return this.parent === undefined;
  }
}

/** The kernel's struct pci_dev (what drivers receive in probe). */
export class PciDev extends Device {
  vendor = 0;
  device = 0;
  subsystemVendor = 0;
  subsystemDevice = 0;
  classCode = 0;
  revision = 0;
  headerType = 0;
  /** PCIe device/port type from the PCIe capability, undefined for conventional PCI. */
  pcieType?: number;
  readonly resources: Array<PciResource | undefined> = new Array(6).fill(undefined);
  /** Secondary bus of a bridge. */
  subordinate?: PciBus;
  /** devfns of this device's bus that it may use as requester IDs (pci_add_dma_alias). */
  dmaAliasMask?: Set<number>;
  msiCap = 0;
  msixCap = 0;
  msiEnabled = false;
  msixEnabled = false;
  readonly msiDescs: MsiDesc[] = [];
  /** Mapping of the MSI-X table (hardware entries only). */
  msixBase?: IoMem;
  /** dev->irq: INTx line, or the first MSI irq. */
  irq = 0;
  noMsi = false;
  no64bitMsi = false;
  enableCnt = 0;
  isBusmaster = false;
  dmaMask = 0xffffffff;
  /** pci=... quirk flags a driver or fixup may set. */
  readonly flags = new Set<string>();

  constructor(
    readonly domainNr: number,
    readonly pciBus: PciBus,
    readonly devfn: number,
    parent?: Device,
  ) {
    super(pciName(domainNr, pciBus.number, devfn), parent);
  }

  get busNumber(): number {
    return this.pciBus.number;
  }

  /** PCI_DEVID(bus, devfn): the requester ID. */
  get requesterId(): number {
    return (this.pciBus.number << 8) | this.devfn;
  }

  get slot(): number {
    return this.devfn >> 3;
  }

  get func(): number {
    return this.devfn & 7;
  }

  get isBridge(): boolean {
    return this.subordinate !== undefined;
  }

  get isPcie(): boolean {
    return this.pcieType !== undefined;
  }
}

export function pciName(domain: number, bus: number, devfn: number): string {
  return `${domain.toString(16).padStart(4, '0')}:${bus.toString(16).padStart(2, '0')}:${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`;
}
