import { IrqReturn } from '../../core/irq/irqdesc';
import { Kernel } from '../../core/kernel';
import { ModuleDecl } from '../../core/module/module';
import { PciDev } from '../../core/pci/pci-dev';
import { NtbsimPlugin } from '../../core/plugin';
import { EDU } from '../../drivers/testdev/silicon/edu';

export interface VectorDriverState {
  /** Vectors granted by pci_alloc_irq_vectors, per bound device. */
  got: Map<PciDev, number>;
  /** Handler invocations per vector index, per bound device. */
  counts: Map<PciDev, number[]>;
}

/**
 * A tiny test-only PCI driver for the edu function: enables it, lets the test act on the device
 * (e.g. add a DMA alias) right before pci_alloc_irq_vectors(flags), then requests every vector
 * with a handler that counts.
 */
export function vectorDriver(opts: {
  name?: string;
  flags: number;
  nvec: number;
  beforeAlloc?: (k: Kernel, dev: PciDev) => void;
}): { plugin: NtbsimPlugin; state: VectorDriverState; name: string } {
  const name = opts.name ?? 'vecprobe';
  const state: VectorDriverState = { got: new Map(), counts: new Map() };
  const mod: ModuleDecl<Kernel, {}, { unregister(): Promise<void> }> = {
    name,
    async init(k, _p, m) {
      const drv = {
        name,
        owner: m,
        idTable: [{ vendor: EDU.VENDOR, device: EDU.DEVICE }],
        probe: (dev: PciDev) => {
          k.pci.pcimEnableDevice(dev);
          k.pci.setMaster(dev);
          opts.beforeAlloc?.(k, dev);
          const got = k.pciMsi.allocIrqVectorsManaged(dev, 1, opts.nvec, opts.flags);
          const counts = new Array(got).fill(0);
          state.got.set(dev, got);
          state.counts.set(dev, counts);
          for (let i = 0; i < got; i++) {
            const irq = k.pciMsi.irqVector(dev, i);
            const cookie = { i };
            k.irq.requestIrq(irq, () => (counts[i]++, IrqReturn.HANDLED), 0, `${name}-${i}`, cookie);
            dev.devres.add(`irq ${irq}`, () => k.irq.freeIrq(irq, cookie));
          }
        },
      };
      await k.pci.registerDriver(drv);
      return { unregister: () => k.pci.unregisterDriver(drv) };
    },
    async exit(_k, s) {
      await s.unregister();
    },
  };
  return { plugin: { name: `${name}-plugin`, modules: [mod] }, state, name };
}
