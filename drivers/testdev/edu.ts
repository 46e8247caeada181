import { Errno, KernelError } from '../../core/errno';
import { IrqReturn } from '../../core/irq/irqdesc';
import { Kernel } from '../../core/kernel';
import { hexAlt } from '../../core/lib/printf';
import { kstrtouint, kstrtoull } from '../../core/lib/kstrtox';
import { IoMem } from '../../core/mm/io';
import { DmaBuffer } from '../../core/dma/mapping';
import { ModuleDecl } from '../../core/module/module';
import { param } from '../../core/module/params';
import { PciDev } from '../../core/pci/pci-dev';
import { PCI_IRQ_MSI, PCI_IRQ_MSIX, PCI_IRQ_VIRTUAL } from '../../core/pci/msi';
import { EDU } from './edu-regs';

const params = {
  nvec: param.uint(4, 0o444, 'Number of interrupt vectors to request'),
  virtual: param.bool(false, 0o444, 'Allow virtual MSI-X vectors beyond the table (PCI_IRQ_VIRTUAL)'),
};

interface EduCtx {
  dev: PciDev;
  regs: IoMem;
  counts: number[];
  nvec: number;
  dmaBuf: DmaBuffer;
}

/**
 * Driver for the edu test device: maps BAR0, allocates interrupt vectors and requests them, and
 * exposes a debugfs tree to raise interrupts and run DMA — a small driver that exercises every
 * seam of the simulated kernel.
 */
export const eduModule: ModuleDecl<Kernel, typeof params, { unregister(): Promise<void> }> = {
  name: 'edu',
  description: 'ntbsim driver for the QEMU edu test device',
  license: 'GPL',
  params,
  async init(k, p, mod) {
    const drv = {
      name: 'edu',
      owner: mod,
      idTable: [{ vendor: EDU.VENDOR, device: EDU.DEVICE }],
      probe: (dev: PciDev) => probe(k, dev, p.nvec, p.virtual),
      remove: (dev: PciDev) => remove(k, dev),
    };
    k.debugfs.createDir('edu');
    await k.pci.registerDriver(drv);
    return { unregister: () => k.pci.unregisterDriver(drv) };
  },
  async exit(k, state) {
    await state.unregister();
    k.debugfs.remove('edu');
  },
};

async function probe(k: Kernel, dev: PciDev, nvec: number, allowVirtual: boolean): Promise<void> {
  k.pci.pcimEnableDevice(dev);
  k.pci.setMaster(dev);
  const regs = k.pci.pcimIomap(dev, 0);
  const ident = regs.ioread32(EDU.IDENT);
  if (ident !== EDU.IDENT_VALUE) throw new KernelError(Errno.ENODEV, `unexpected ident ${hexAlt(ident)}`);
  const flags = PCI_IRQ_MSIX | PCI_IRQ_MSI | (allowVirtual ? PCI_IRQ_VIRTUAL : 0);
  const got = k.pciMsi.allocIrqVectorsManaged(dev, 1, nvec, flags);
  const ctx: EduCtx = { dev, regs, counts: new Array(got).fill(0), nvec: got, dmaBuf: k.dma.dmamAllocCoherent(dev, EDU.DMA_BUF_SIZE) };
  for (let i = 0; i < got; i++) {
    const irq = k.pciMsi.irqVector(dev, i);
    k.irq.requestIrq(irq, () => {
      ctx.counts[i]++;
      regs.iowrite32(regs.ioread32(EDU.IRQ_STATUS), EDU.IRQ_ACK);
      return IrqReturn.HANDLED;
    }, 0, 'edu', ctx);
    dev.devres.add(`irq ${irq}`, () => k.irq.freeIrq(irq, ctx));
  }
  dev.drvdata = ctx;
  createDebugfs(k, ctx);
  k.printk.devLog(6, dev, `edu device ready, ident ${hexAlt(ident)}, ${got} interrupt vectors`);
}

function remove(k: Kernel, dev: PciDev): void {
  k.debugfs.remove(`edu/${dev.name}`);
}

function createDebugfs(k: Kernel, ctx: EduCtx): void {
  const dir = `edu/${ctx.dev.name}`;
  k.debugfs.createDir(dir);
  k.debugfs.createFile(`${dir}/ident`, 0o400, { show: () => `${hexAlt(ctx.regs.ioread32(EDU.IDENT))}\n` });
  k.debugfs.createFile(`${dir}/irq_counts`, 0o400, { show: () => ctx.counts.map((c, i) => `${i}: ${c}`).join('\n') + '\n' });
  k.debugfs.createFile(`${dir}/raise`, 0o200, {
    write: (data) => {
      const v = kstrtouint(new TextDecoder().decode(data));
      if (v >= ctx.nvec) throw new KernelError(Errno.EINVAL, `no vector ${v}`);
      ctx.regs.iowrite32(v, EDU.IRQ_RAISE_VECTOR);
    },
  });
  // dma_buf: the first bytes of the coherent buffer the DMA engine targets by default.
  k.debugfs.createFile(`${dir}/dma_buf`, 0o600, {
    show: () => ctx.dmaBuf.cpu.read(0, 16),
    write: (data) => ctx.dmaBuf.cpu.write(0, data.subarray(0, EDU.DMA_BUF_SIZE)),
  });
  // dma: "to_ram [BUSADDR]" / "from_ram [BUSADDR]" moves the device buffer (default: the coherent buffer).
  k.debugfs.createFile(`${dir}/dma`, 0o200, {
    write: async (data) => {
      const [dir, addrText] = new TextDecoder().decode(data).trim().split(/\s+/);
      const bus = addrText === undefined ? ctx.dmaBuf.dmaAddr : Number(kstrtoull(addrText));
      const toRam = dir === 'to_ram';
      if (!toRam && dir !== 'from_ram') throw new KernelError(Errno.EINVAL, `bad direction ${dir}`);
      await runDma(k, ctx, toRam, bus, EDU.DMA_BUF_SIZE);
    },
  });
}

/** Program the DMA engine and poll until it is done (process context). */
export async function runDma(k: Kernel, ctx: EduCtx, toRam: boolean, busAddr: number, count: number): Promise<void> {
  const r = ctx.regs;
  const lo = (v: number) => v % 2 ** 32;
  const hi = (v: number) => Math.floor(v / 2 ** 32);
  if (toRam) {
    r.iowrite32(EDU.DMA_BUF, EDU.DMA_SRC);
    r.iowrite32(lo(busAddr), EDU.DMA_DST);
    r.iowrite32(hi(busAddr), EDU.DMA_DST + 4);
  } else {
    r.iowrite32(lo(busAddr), EDU.DMA_SRC);
    r.iowrite32(hi(busAddr), EDU.DMA_SRC + 4);
    r.iowrite32(EDU.DMA_BUF, EDU.DMA_DST);
  }
  r.iowrite32(count, EDU.DMA_COUNT);
  r.iowrite32(EDU.DMA_CMD_START | (toRam ? EDU.DMA_CMD_TO_RAM : 0), EDU.DMA_CMD);
  while (r.ioread32(EDU.DMA_CMD) & EDU.DMA_CMD_START) await k.usleepRange(1);
}
