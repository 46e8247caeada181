import type { IrqRemapping } from '../iommu/irq-remapping';
import type { PciCore } from '../pci/pci-core';
import type { PciDev } from '../pci/pci-dev';
import { MsiDesc, MsiMsg } from '../pci/msi-desc';
import * as R from '../pci/hw/regs';
import { IrqChip, IrqCore } from './irq-core';
import { IrqDesc } from './irqdesc';

/**
 * The x86 PCI-MSI irq domain, stacked on the vector domain and, when interrupt remapping is on,
 * on the IR domain. It composes each vector's message, writes it where the device reads it
 * (MSI-X table entry, MSI capability, or nowhere for a virtual vector) and tells the
 * descriptor's write_msi_msg callback.
 */
export class PciMsiDomain implements IrqChip {
  constructor(
    private readonly irqs: IrqCore,
    private readonly pci: PciCore,
    private readonly ir: IrqRemapping | undefined,
  ) {}

  get chipName(): string {
    return this.ir?.enabled ? 'IR-PCI-MSI' : 'PCI-MSI';
  }

  /** Allocate irqs, vectors (and IRTEs) for `descs` and activate them. */
  allocate(dev: PciDev, descs: MsiDesc[]): void {
    const done: IrqDesc[] = [];
    try {
      for (const md of descs) {
        const hwirq = md.msiIndex + dev.requesterId * 2 ** 11 + dev.domainNr * 2 ** 27;
        const desc = this.irqs.allocDesc(hwirq, this.chipName, this);
        done.push(desc);
        desc.msiDesc = md;
        md.irq = desc.irq;
        const { cpu, vector } = this.irqs.vectors.alloc(desc.irq, desc.affinity);
        desc.cpu = cpu;
        desc.vector = vector;
        if (this.ir?.enabled) {
          desc.irteIndex = this.ir.allocIrte(dev, 1);
          this.ir.route(desc.irteIndex, vector, cpu);
        }
        this.writeMsg(md, this.compose(desc));
      }
    } catch (e) {
      for (const d of done) this.release(d);
      throw e;
    }
  }

  /** Tear down the irqs of `descs` (deactivate writes an all-zero message). */
  free(descs: MsiDesc[]): void {
    for (const md of descs) {
      const desc = this.irqs.descs.get(md.irq);
      if (desc) this.release(desc);
      md.irq = 0;
    }
  }

  private release(desc: IrqDesc): void {
    const md = desc.msiDesc!;
    this.writeMsg(md, { addressLo: 0, addressHi: 0, data: 0 });
    if (desc.irteIndex !== undefined) this.ir!.freeIrte(desc.irteIndex, 1);
    this.irqs.freeDesc(desc);
  }

  private compose(desc: IrqDesc): MsiMsg {
    if (desc.irteIndex !== undefined) return this.ir!.composeMsg(desc.irteIndex);
    return { addressLo: (0xfee00000 | (desc.cpu << 12)) >>> 0, addressHi: 0, data: 0x4000 | desc.vector };
  }

  startup(desc: IrqDesc): void {
    // x86 reservation mode re-activates at request time: the message is written again.
    this.writeMsg(desc.msiDesc!, this.compose(desc));
    this.mask(desc.msiDesc!, false);
  }

  shutdown(desc: IrqDesc): void {
    this.mask(desc.msiDesc!, true);
  }

  setAffinity(desc: IrqDesc, cpus: Set<number>): void {
    if (cpus.has(desc.cpu)) return;
    const next = this.irqs.vectors.alloc(desc.irq, cpus);
    this.irqs.vectors.free(desc.cpu, desc.vector);
    desc.cpu = next.cpu;
    desc.vector = next.vector;
    if (desc.irteIndex !== undefined) {
      // With remapping only the IRTE changes: the device's message stays valid.
      this.ir!.route(desc.irteIndex, next.vector, next.cpu);
      return;
    }
    this.writeMsg(desc.msiDesc!, this.compose(desc));
  }

  /** __pci_write_msi_msg. */
  writeMsg(md: MsiDesc, msg: MsiMsg): void {
    const dev = md.dev;
    if (md.isMsix) {
      if (!md.isVirtual && dev.msixBase) {
        const off = md.msiIndex * R.PCI_MSIX_ENTRY_SIZE;
        dev.msixBase.iowrite32(msg.addressLo, off + R.PCI_MSIX_ENTRY_LOWER_ADDR);
        dev.msixBase.iowrite32(msg.addressHi, off + R.PCI_MSIX_ENTRY_UPPER_ADDR);
        dev.msixBase.iowrite32(msg.data, off + R.PCI_MSIX_ENTRY_DATA);
      }
    } else if (dev.msiCap) {
      const c = dev.msiCap;
      this.pci.cfgWrite(dev, c + R.PCI_MSI_ADDRESS_LO, 4, msg.addressLo);
      const is64 = this.pci.cfgRead(dev, c + R.PCI_MSI_FLAGS, 2) & R.PCI_MSI_FLAGS_64BIT;
      if (is64) {
        this.pci.cfgWrite(dev, c + R.PCI_MSI_ADDRESS_HI, 4, msg.addressHi);
        this.pci.cfgWrite(dev, c + R.PCI_MSI_DATA_64, 2, msg.data);
      } else this.pci.cfgWrite(dev, c + R.PCI_MSI_DATA_32, 2, msg.data);
    }
    md.msg = { ...msg };
    md.writeMsiMsg?.(md, md.writeMsiMsgData);
  }

  /** Per-vector mask: a table write for MSI-X, the mask register for MSI; nothing for virtual. */
  mask(md: MsiDesc, masked: boolean): void {
    const dev = md.dev;
    if (md.isMsix) {
      if (md.isVirtual || !dev.msixBase) return;
      const off = md.msiIndex * R.PCI_MSIX_ENTRY_SIZE + R.PCI_MSIX_ENTRY_VECTOR_CTRL;
      md.masked = masked ? R.PCI_MSIX_ENTRY_CTRL_MASKBIT : 0;
      dev.msixBase.iowrite32(md.masked, off);
    } else if (dev.msiCap) {
      const flags = this.pci.cfgRead(dev, dev.msiCap + R.PCI_MSI_FLAGS, 2);
      if (!(flags & R.PCI_MSI_FLAGS_MASKBIT)) return;
      const reg = dev.msiCap + (flags & R.PCI_MSI_FLAGS_64BIT ? R.PCI_MSI_MASK_64 : R.PCI_MSI_MASK_32);
      md.masked = masked ? md.masked | 1 : md.masked & ~1;
      this.pci.cfgWrite(dev, reg, 4, md.masked);
    }
  }
}
