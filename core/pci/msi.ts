import { Errno, KernelError } from '../errno';
import type { PciMsiDomain } from '../irq/msi-domain';
import { Printk } from '../printk';
import * as R from './hw/regs';
import { MsiDesc } from './msi-desc';
import type { PciCore } from './pci-core';
import type { PciDev } from './pci-dev';

export const PCI_IRQ_INTX = 1 << 0;
export const PCI_IRQ_LEGACY = PCI_IRQ_INTX;
export const PCI_IRQ_MSI = 1 << 1;
export const PCI_IRQ_MSIX = 1 << 2;
export const PCI_IRQ_AFFINITY = 1 << 3;
/** The patch series' flag: allow MSI-X vectors beyond the table (no table slot). */
export const PCI_IRQ_VIRTUAL = 1 << 4;
export const PCI_IRQ_ALL_TYPES = PCI_IRQ_INTX | PCI_IRQ_MSI | PCI_IRQ_MSIX;

/**
 * drivers/pci/msi (current mainline behaviour): pci_alloc_irq_vectors with MSI-X, MSI and INTx
 * fallbacks and PCI_IRQ_VIRTUAL, pci_irq_vector, pci_free_irq_vectors.
 */
export class PciMsi {
  constructor(
    private readonly pci: PciCore,
    private readonly domain: PciMsiDomain,
    private readonly printk: Printk,
    /** pci=nomsi */
    private readonly noMsi = false,
  ) {}

  /** Returns the number of vectors allocated; throws KernelError with the last type's errno. */
  allocIrqVectors(dev: PciDev, min: number, max: number, flags: number): number {
    let err: KernelError = new KernelError(Errno.ENOSPC, 'no usable interrupt type');
    if (flags & PCI_IRQ_MSIX) {
      try {
        return this.enableMsixRange(dev, min, max, flags);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        err = e;
      }
    }
    if (flags & PCI_IRQ_MSI) {
      try {
        return this.enableMsiRange(dev, min, max);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        err = e;
      }
    }
    if (flags & PCI_IRQ_INTX && min === 1 && dev.irq) return 1;
    throw err;
  }

  /** Size of the device's MSI-X table (pci_msix_vec_count). */
  msixVecCount(dev: PciDev): number {
    if (!dev.msixCap) throw new KernelError(Errno.EINVAL, 'no MSI-X capability');
    return (this.pci.cfgRead(dev, dev.msixCap + R.PCI_MSIX_FLAGS, 2) & R.PCI_MSIX_FLAGS_QSIZE) + 1;
  }

  private enableMsixRange(dev: PciDev, min: number, max: number, flags: number): number {
    if (max < min) throw new KernelError(Errno.ERANGE, 'max < min');
    if (dev.msiEnabled) {
      this.pci.devInfo(dev, "can't enable MSI-X (MSI already enabled)");
      throw new KernelError(Errno.EINVAL, 'MSI already enabled');
    }
    if (dev.msixEnabled) throw new KernelError(Errno.EINVAL, 'MSI-X already enabled');
    if (this.noMsi || dev.noMsi || !dev.msixCap) throw new KernelError(Errno.EINVAL, 'MSI-X not supported');
    const size = this.msixVecCount(dev);
    let n = max;
    if (n > size && !(flags & PCI_IRQ_VIRTUAL)) n = size;
    if (n < min) throw new KernelError(Errno.ENOSPC, `only ${size} MSI-X vectors`);
    this.msixCapabilityInit(dev, n, size);
    return n;
  }

  private msixCapabilityInit(dev: PciDev, n: number, size: number): void {
    const cap = dev.msixCap;
    const ctrl = this.pci.cfgRead(dev, cap + R.PCI_MSIX_FLAGS, 2);
    this.pci.cfgWrite(dev, cap + R.PCI_MSIX_FLAGS, 2, (ctrl & ~R.PCI_MSIX_FLAGS_ENABLE) | R.PCI_MSIX_FLAGS_MASKALL | R.PCI_MSIX_FLAGS_ENABLE);
    const tbl = this.pci.cfgRead(dev, cap + R.PCI_MSIX_TABLE, 4);
    const bir = tbl & R.PCI_MSIX_BIR;
    if (!dev.resources[bir]) throw new KernelError(Errno.ENOMEM, 'MSI-X table BAR unassigned');
    // Only the hardware table is mapped; virtual vectors have no slot in it.
    dev.msixBase = this.pci.ioremap(this.pci.resourceStart(dev, bir) + (tbl & ~R.PCI_MSIX_BIR), size * R.PCI_MSIX_ENTRY_SIZE);
    const descs = Array.from({ length: n }, (_, i) => new MsiDesc(dev, i, true, i >= size));
    // Mask every hardware entry before anything can fire.
    for (const d of descs) this.domain.mask(d, true);
    try {
      this.domain.allocate(dev, descs);
    } catch (e) {
      this.pci.cfgWrite(dev, cap + R.PCI_MSIX_FLAGS, 2, ctrl & ~(R.PCI_MSIX_FLAGS_ENABLE | R.PCI_MSIX_FLAGS_MASKALL));
      dev.msixBase = undefined;
      throw e;
    }
    dev.msiDescs.push(...descs);
    dev.msixEnabled = true;
    this.pci.publishMsiIrqs(dev, descs.map((d) => d.irq), 'msix');
    const now = this.pci.cfgRead(dev, cap + R.PCI_MSIX_FLAGS, 2);
    this.pci.cfgWrite(dev, cap + R.PCI_MSIX_FLAGS, 2, now & ~R.PCI_MSIX_FLAGS_MASKALL);
  }

  private enableMsiRange(dev: PciDev, min: number, max: number): number {
    if (this.noMsi || dev.noMsi) throw new KernelError(Errno.EINVAL, 'MSI not supported');
    if (dev.msixEnabled) {
      this.pci.devInfo(dev, "can't enable MSI (MSI-X already enabled)");
      throw new KernelError(Errno.EINVAL, 'MSI-X already enabled');
    }
    if (max < min) throw new KernelError(Errno.ERANGE, 'max < min');
    if (dev.msiEnabled) throw new KernelError(Errno.EINVAL, 'MSI already enabled');
    if (!dev.msiCap) throw new KernelError(Errno.EINVAL, 'no MSI capability');
    const flags = this.pci.cfgRead(dev, dev.msiCap + R.PCI_MSI_FLAGS, 2);
    const count = 1 << ((flags & R.PCI_MSI_FLAGS_QMASK) >> 1);
    if (count < min) throw new KernelError(Errno.ENOSPC, `only ${count} MSI vectors`);
    // ntbsim's x86 MSI domain hands out single-vector MSI (as x86 does without remapping);
    // multi-message blocks are not modelled.
    const n = 1;
    if (n < min) throw new KernelError(Errno.ENOSPC, 'multi-message MSI is not supported');
    const nvec = 1 << Math.ceil(Math.log2(n));
    const md = new MsiDesc(dev, 0, false, false, n);
    this.pci.cfgWrite(dev, dev.msiCap + R.PCI_MSI_FLAGS, 2, flags & ~R.PCI_MSI_FLAGS_ENABLE);
    this.domain.allocate(dev, [md]);
    dev.msiDescs.push(md);
    dev.msiEnabled = true;
    dev.irq = md.irq;
    this.pci.publishMsiIrqs(dev, [md.irq], 'msi');
    const qsize = Math.log2(nvec) << 4;
    this.pci.cfgWrite(dev, dev.msiCap + R.PCI_MSI_FLAGS, 2, (flags & ~R.PCI_MSI_FLAGS_QSIZE) | qsize | R.PCI_MSI_FLAGS_ENABLE);
    return 1;
  }

  /** pci_irq_vector: the Linux irq of vector `nr`. */
  irqVector(dev: PciDev, nr: number): number {
    if (dev.msixEnabled) {
      const d = dev.msiDescs[nr];
      if (!d) throw new KernelError(Errno.EINVAL, `no MSI-X vector ${nr}`);
      return d.irq;
    }
    if (dev.msiEnabled) {
      if (nr >= dev.msiDescs[0].nvecUsed) throw new KernelError(Errno.EINVAL, `no MSI vector ${nr}`);
      return dev.msiDescs[0].irq + nr;
    }
    if (nr === 0 && dev.irq) return dev.irq;
    throw new KernelError(Errno.EINVAL, `no vector ${nr}`);
  }

  /** pci_free_irq_vectors: every irq must have been freed (free_irq) first. */
  freeIrqVectors(dev: PciDev): void {
    if (!dev.msixEnabled && !dev.msiEnabled) return;
    this.domain.free(dev.msiDescs);
    if (dev.msixEnabled) {
      const ctrl = this.pci.cfgRead(dev, dev.msixCap + R.PCI_MSIX_FLAGS, 2);
      this.pci.cfgWrite(dev, dev.msixCap + R.PCI_MSIX_FLAGS, 2, ctrl & ~R.PCI_MSIX_FLAGS_ENABLE);
      dev.msixBase = undefined;
    } else {
      const flags = this.pci.cfgRead(dev, dev.msiCap + R.PCI_MSI_FLAGS, 2);
      this.pci.cfgWrite(dev, dev.msiCap + R.PCI_MSI_FLAGS, 2, flags & ~R.PCI_MSI_FLAGS_ENABLE);
      dev.irq = 0;
    }
    dev.msiDescs.length = 0;
    this.pci.publishMsiIrqs(dev, undefined);
    dev.msixEnabled = false;
    dev.msiEnabled = false;
  }

  /** Managed variant: vectors are freed when the driver unbinds (pcim). */
  allocIrqVectorsManaged(dev: PciDev, min: number, max: number, flags: number): number {
    const n = this.allocIrqVectors(dev, min, max, flags);
    dev.devres.add('pci_irq_vectors', () => this.freeIrqVectors(dev));
    return n;
  }
}
