import { ConfigSpace } from './config-space';
import { PciUpstream, RequesterId } from './function';
import * as R from './regs';

/**
 * A (64-bit, per-vector-maskable) MSI capability as a device implements it: `fire(n)` writes
 * data | n to the programmed address when MSI is enabled and vector n is enabled and unmasked.
 */
export class MsiCapability {
  readonly capOffset: number;
  private upstream?: PciUpstream;
  private rid = 0;

  constructor(
    private readonly config: ConfigSpace,
    /** log2 of the vectors the function can request (Multiple Message Capable). */
    readonly multiCapLog2: number,
  ) {
    this.capOffset = config.addCapability(R.PCI_CAP_ID_MSI, 0x18, [
      [R.PCI_MSI_FLAGS, 2, R.PCI_MSI_FLAGS_ENABLE | R.PCI_MSI_FLAGS_QSIZE],
      [R.PCI_MSI_ADDRESS_LO, 4, 0xfffffffc],
      [R.PCI_MSI_ADDRESS_HI, 4, 0xffffffff],
      [R.PCI_MSI_DATA_64, 2, 0xffff],
      [R.PCI_MSI_MASK_64, 4, 0xffffffff],
    ]);
    config.set16(this.capOffset + R.PCI_MSI_FLAGS, ((multiCapLog2 & 7) << 1) | R.PCI_MSI_FLAGS_64BIT | R.PCI_MSI_FLAGS_MASKBIT);
  }

  connect(upstream: PciUpstream, rid: RequesterId): void {
    this.upstream = upstream;
    this.rid = rid;
  }

  fire(n: number): void {
    const c = this.capOffset;
    const flags = this.config.get16(c + R.PCI_MSI_FLAGS);
    if (!(flags & R.PCI_MSI_FLAGS_ENABLE) || !(this.config.command & R.PCI_COMMAND_MASTER)) return;
    const enabled = 1 << ((flags & R.PCI_MSI_FLAGS_QSIZE) >> 4);
    if (n >= enabled) return;
    if (this.config.get32(c + R.PCI_MSI_MASK_64) & (1 << n)) return;
    const addr = this.config.get32(c + R.PCI_MSI_ADDRESS_HI) * 2 ** 32 + this.config.get32(c + R.PCI_MSI_ADDRESS_LO);
    const data = (this.config.get16(c + R.PCI_MSI_DATA_64) & ~(enabled - 1)) | n;
    this.upstream?.memWrite32(this.rid, addr, data);
  }
}
