import { MmioHandler } from '../../../core/mm/physmem';
import { ConfigSpace } from '../../../core/pci/hw/config-space';
import { PciFunctionModel, PciUpstream, RequesterId } from '../../../core/pci/hw/function';
import { MsiCapability } from '../../../core/pci/hw/msi-capability';
import { MsixTable } from '../../../core/pci/hw/msix-table';
import * as R from '../../../core/pci/hw/regs';
import { Scheduler } from '../../../core/time/scheduler';
import { EDU } from '../edu-regs';

export { EDU };

export interface EduOptions {
  /** MSI-X table size (hardware vectors). */
  msixVectors: number;
  /** DMA engine bandwidth, bytes per virtual second. */
  dmaBytesPerSec: number;
}

/**
 * A simple PCIe test function: identity and liveness registers, an interrupt raise register, a
 * 4 KiB buffer and a DMA engine that moves it to/from host memory through the IOMMU with its
 * requester ID, and both MSI and MSI-X.
 */
export class EduDevice implements PciFunctionModel {
  readonly config: ConfigSpace;
  readonly label = 'QEMU edu test device (ntbsim, MSI-X)';
  readonly msix: MsixTable;
  readonly msi: MsiCapability;
  readonly buffer = new Uint8Array(EDU.DMA_BUF_SIZE);
  private upstream?: PciUpstream;
  private rid = 0;
  private liveness = 0;
  private irqStatus = 0;
  private dma = { src: 0, dst: 0, count: 0, cmd: 0 };

  constructor(
    private readonly sched: Scheduler,
    readonly options: EduOptions,
  ) {
    this.config = new ConfigSpace({ vendor: EDU.VENDOR, device: EDU.DEVICE, classCode: 0x00ff00, revision: 0x10 });
    this.config.addBar({ index: 0, size: EDU.BAR0_SIZE, is64: false, prefetchable: false });
    const exp = this.config.addCapability(R.PCI_CAP_ID_EXP, 0x3c);
    this.config.set16(exp + R.PCI_EXP_FLAGS, 0x2 | (R.PCI_EXP_TYPE_ENDPOINT << 4));
    this.msi = new MsiCapability(this.config, 0);
    this.msix = new MsixTable(this.config, options.msixVectors, 0, EDU.MSIX_TABLE, EDU.MSIX_PBA);
  }

  connect(upstream: PciUpstream, rid: RequesterId): void {
    this.upstream = upstream;
    this.rid = rid;
    this.msix.connect(upstream, rid);
    this.msi.connect(upstream, rid);
  }

  barHandler(index: number): MmioHandler | undefined {
    return index === 0 ? this.bar0 : undefined;
  }

  private raise(vector: number): void {
    if (this.msix.enabled) this.msix.fire(vector);
    else this.msi.fire(0);
  }

  private startDma(): void {
    const { src, dst, count, cmd } = this.dma;
    const n = Math.min(count, EDU.DMA_BUF_SIZE);
    const busMaster = (this.config.command & R.PCI_COMMAND_MASTER) !== 0;
    const delay = Math.ceil((n / this.options.dmaBytesPerSec) * 1e9);
    this.sched.after(delay, () => {
      if (busMaster && this.upstream) {
        if (cmd & EDU.DMA_CMD_TO_RAM) {
          const off = src - EDU.DMA_BUF;
          this.upstream.memWrite(this.rid, dst, this.buffer.slice(off, off + n));
        } else {
          const off = dst - EDU.DMA_BUF;
          this.buffer.set(this.upstream.memRead(this.rid, src, n), off);
        }
      }
      this.dma.cmd &= ~EDU.DMA_CMD_START;
      if (cmd & EDU.DMA_CMD_IRQ) {
        this.irqStatus |= 0x100;
        this.raise(0);
      }
    });
  }

  private readonly bar0: MmioHandler = {
    read: (off, size) => {
      if (off >= EDU.MSIX_TABLE && off < EDU.MSIX_TABLE + this.msix.tableBytes) return this.msix.tableHandler.read(off - EDU.MSIX_TABLE, size);
      if (off >= EDU.MSIX_PBA && off < EDU.MSIX_PBA + 8) return this.msix.pbaHandler.read(off - EDU.MSIX_PBA, size);
      if (off >= EDU.DMA_BUF && off < EDU.DMA_BUF + EDU.DMA_BUF_SIZE) return this.buffer[off - EDU.DMA_BUF];
      switch (off) {
        case EDU.IDENT:
          return EDU.IDENT_VALUE;
        case EDU.LIVENESS:
          return ~this.liveness >>> 0;
        case EDU.IRQ_STATUS:
          return this.irqStatus;
        case EDU.DMA_SRC:
          return this.dma.src;
        case EDU.DMA_DST:
          return this.dma.dst;
        case EDU.DMA_COUNT:
          return this.dma.count;
        case EDU.DMA_CMD:
          return this.dma.cmd;
        default:
          return 0;
      }
    },
    write: (off, size, value) => {
      if (off >= EDU.MSIX_TABLE && off < EDU.MSIX_TABLE + this.msix.tableBytes) return this.msix.tableHandler.write(off - EDU.MSIX_TABLE, size, value);
      if (off >= EDU.DMA_BUF && off < EDU.DMA_BUF + EDU.DMA_BUF_SIZE) {
        this.buffer[off - EDU.DMA_BUF] = value & 0xff;
        return;
      }
      switch (off) {
        case EDU.LIVENESS:
          this.liveness = value >>> 0;
          break;
        case EDU.IRQ_RAISE:
          this.irqStatus |= value;
          this.raise(0);
          break;
        case EDU.IRQ_ACK:
          this.irqStatus &= ~value;
          break;
        case EDU.IRQ_RAISE_VECTOR:
          this.raise(value);
          break;
        case EDU.DMA_SRC:
          this.dma.src = value >>> 0;
          break;
        case EDU.DMA_SRC + 4:
          this.dma.src += value * 2 ** 32;
          break;
        case EDU.DMA_DST:
          this.dma.dst = value >>> 0;
          break;
        case EDU.DMA_DST + 4:
          this.dma.dst += value * 2 ** 32;
          break;
        case EDU.DMA_COUNT:
          this.dma.count = value >>> 0;
          break;
        case EDU.DMA_CMD:
          this.dma.cmd = value;
          if (value & EDU.DMA_CMD_START) this.startDma();
          break;
      }
    },
  };
}
