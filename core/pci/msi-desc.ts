import type { PciDev } from './pci-dev';

export interface MsiMsg {
  addressLo: number;
  addressHi: number;
  data: number;
}

/** struct msi_desc: one MSI-X vector (or an MSI block) of a device, with its cached message. */
export class MsiDesc {
  irq = 0;
  msg: MsiMsg = { addressLo: 0, addressHi: 0, data: 0 };
  /** Cached vector-control (MSI-X) or mask bits (MSI). */
  masked = 0;
  /**
   * Called after every message write (the NTB MSI library learns address/data changes here);
   * `writeMsiMsgData` is its opaque argument.
   */
  writeMsiMsg?: (desc: MsiDesc, data: unknown) => void;
  writeMsiMsgData?: unknown;

  constructor(
    readonly dev: PciDev,
    /** MSI-X table index (may be ≥ the table size when virtual). */
    readonly msiIndex: number,
    readonly isMsix: boolean,
    /** An MSI-X vector with no table slot (PCI_IRQ_VIRTUAL). */
    readonly isVirtual: boolean,
    /** Vectors covered (a multi-message MSI block); 1 for MSI-X. */
    readonly nvecUsed = 1,
  ) {}

  get address(): number {
    return this.msg.addressHi * 2 ** 32 + this.msg.addressLo;
  }
}
