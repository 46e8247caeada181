import { DeviceClass } from '../../core/base/class';
import type { DevresEntry } from '../../core/base/devres';
import type { DmaBuffer } from '../../core/dma/mapping';
import { Errno, KernelError } from '../../core/errno';
import { IrqReturn } from '../../core/irq/irqdesc';
import { Kernel } from '../../core/kernel';
import { hexZeroPad } from '../../core/lib/printf';
import { IoMem } from '../../core/mm/io';
import { ModuleDecl } from '../../core/module/module';
import { param, ParamValues } from '../../core/module/params';
import { PCI_IRQ_MSI, PCI_IRQ_MSIX, PCI_IRQ_VIRTUAL } from '../../core/pci/msi';
import { PciDriver } from '../../core/pci/pci-core';
import { PciDev } from '../../core/pci/pci-dev';
import { LogLevel } from '../../core/printk';
import { WorkStruct } from '../../core/time/workqueue';
import { SwitchtecDev, SwitchtecSymbols } from './switchtec-dev';
import * as G from './switchtec-regs';

const params = {
  max_devices: param.int(16, 0o644, 'max number of switchtec device instances'),
  use_dma_mrpc: param.bool(true, 0o644, 'Enable the use of the DMA MRPC feature'),
  nirqs: param.int(32, 0o644, 'number of interrupts to allocate (more may be useful for NTB applications)'),
};
type Params = ParamValues<typeof params>;

interface SwitchtecState extends SwitchtecSymbols {
  driver: PciDriver;
}

/** What the management driver keeps per function beside the class device. */
interface StdevPriv {
  stdev: SwitchtecDev;
  index: number;
  eventIrq: number;
  /** devm_request_irq of the event irq (released before the link work is cancelled at remove). */
  eventIrqRes?: DevresEntry;
  linkEventCount: number[];
  linkEventWork: WorkStruct;
  /** DMA MRPC completion record (only when use_dma_mrpc and the firmware reports dma_ver ≠ 0). */
  dmaMrpc?: DmaBuffer;
}

/** struct mrpc_dma_record: status, cmd_id, rtn_code, output_size, data[1024]. */
const DMA_MRPC_RECORD_SIZE = 16 + G.MRPC_DATA_LEN;
const SWITCHTEC_DMA_MRPC_EN = 1;

/**
 * The `switchtec` management driver (drivers/pci/switch/switchtec.c): binds the management and
 * NT endpoints, allocates their interrupt vectors (with `nirqs`, beyond the MSI-X table as virtual
 * vectors), services switch events, and publishes each function as class device `switchtecN`,
 * which ntb_hw_switchtec attaches to.
 */
export const switchtecModule: ModuleDecl<Kernel, typeof params, SwitchtecState> = {
  name: 'switchtec',
  description: 'Microsemi Switchtec(tm) PCIe Management Driver',
  version: '0.1',
  license: 'GPL',
  params,
  async init(k, p, mod) {
    const switchtecClass = new DeviceClass<SwitchtecDev>('switchtec', k.fs);
    const used = new Set<number>();
    const idTable = G.SWITCHTEC_GEN3_DEVICE_IDS.flatMap((device) =>
      [G.PCI_CLASS_MANAGEMENT_EP, G.PCI_CLASS_NT_EP].map((classCode) => ({ vendor: G.SWITCHTEC_VENDOR_ID, device, classCode, classMask: 0xffffff })),
    );
    const driver: PciDriver = {
      name: 'switchtec',
      owner: mod,
      idTable,
      probe: (pdev) => switchtecPciProbe(k, p, switchtecClass, used, pdev),
      remove: (pdev) => switchtecPciRemove(k, switchtecClass, used, pdev),
    };
    await k.pci.registerDriver(driver);
    k.printk.info('switchtec: loaded.');
    return { switchtecClass, driver };
  },
  async exit(k, st) {
    await k.pci.unregisterDriver(st.driver);
    st.switchtecClass.destroy();
    k.printk.info('switchtec: unloaded.');
  },
};

async function switchtecPciProbe(k: Kernel, p: Params, cls: DeviceClass<SwitchtecDev>, used: Set<number>, pdev: PciDev): Promise<void> {
  if (pdev.classCode === G.PCI_CLASS_NT_EP) k.requestModuleNowait('ntb_hw_switchtec');

  let index = 0;
  while (used.has(index)) index++;
  if (index >= p.max_devices) throw new KernelError(Errno.ENOSPC, 'no free switchtec minor');

  k.pci.pcimEnableDevice(pdev);
  k.dma.setMask(pdev, 64);
  k.pci.setMaster(pdev);
  const mmio = k.pci.pcimIomap(pdev, 0);
  const stdev = new SwitchtecDev(`switchtec${index}`, pdev, mmio);
  // device_initialize: the class is set before device_add, so dev_err names the class device.
  stdev.deviceClass = cls;
  stdev.partition = mmio.ioread8(G.GAS_SYS_INFO + G.SYS_INFO_PARTITION_ID);
  stdev.partitionCount = Math.max(1, mmio.ioread8(G.GAS_NTB_INFO + G.NTB_INFO_PARTITION_COUNT));
  stdev.pffCsrCount = countPffs(mmio);

  const priv: StdevPriv = {
    stdev,
    index,
    eventIrq: -1,
    linkEventCount: new Array(stdev.pffCsrCount).fill(0),
    linkEventWork: k.work('switchtec link_event_work', () => stdev.linkNotifier?.(stdev)),
  };
  if (p.use_dma_mrpc && mmio.ioread32(G.GAS_MRPC + G.MRPC_DMA_VER) !== 0) {
    const buf = k.dma.allocCoherent(pdev, DMA_MRPC_RECORD_SIZE);
    priv.dmaMrpc = buf;
    pdev.devres.add('switchtec dma_mrpc', () => {
      mmio.iowrite32(0, G.GAS_MRPC + G.MRPC_DMA_EN);
      flushWcBuf(mmio);
      mmio.iowrite64(0n, G.GAS_MRPC + G.MRPC_DMA_ADDR);
      k.dma.freeCoherent(pdev, buf);
    });
  }
  try {
    initIsr(k, p, priv);
  } catch (e) {
    if (e instanceof KernelError) k.printk.devLog(LogLevel.ERR, stdev, 'failed to init isr.');
    throw e;
  }
  const partCfg = G.partCfgBase(stdev.partition);
  mmio.iowrite32(G.SWITCHTEC_EVENT_CLEAR | G.SWITCHTEC_EVENT_EN_IRQ, partCfg + G.PART_CFG_MRPC_COMP_HDR);
  for (let i = 0; i < stdev.pffCsrCount; i++) {
    mmio.iowrite32(G.SWITCHTEC_EVENT_CLEAR | G.SWITCHTEC_EVENT_EN_IRQ, G.pffCsrBase(i) + G.PFF_LINK_STATE_HDR);
  }
  if (priv.dmaMrpc) {
    mmio.iowrite64(BigInt(priv.dmaMrpc.dmaAddr), G.GAS_MRPC + G.MRPC_DMA_ADDR);
    flushWcBuf(mmio);
    mmio.iowrite32(SWITCHTEC_DMA_MRPC_EN, G.GAS_MRPC + G.MRPC_DMA_EN);
  }

  used.add(index);
  pdev.drvdata = priv;
  try {
    await k.driverCore.deviceAdd(stdev, sysfsAttributes(stdev));
  } catch (e) {
    used.delete(index);
    pdev.drvdata = undefined;
    throw e;
  }
  await cls.add(stdev);
  k.printk.devLog(LogLevel.INFO, stdev, 'Management device registered.');
}

async function switchtecPciRemove(k: Kernel, cls: DeviceClass<SwitchtecDev>, used: Set<number>, pdev: PciDev): Promise<void> {
  const priv = pdev.drvdata as StdevPriv | undefined;
  if (!priv) return;
  pdev.drvdata = undefined;
  // The class interfaces (ntb_hw_switchtec) let go of the device first.
  await cls.remove(priv.stdev);
  await k.driverCore.deviceDel(priv.stdev);
  used.delete(priv.index);
  k.printk.devLog(LogLevel.INFO, priv.stdev, 'unregistered.');
  k.pci.clearMaster(pdev);
  // The remaining managed resources (DMA MRPC record, vectors, mapping, enable) go after remove().
  if (priv.eventIrqRes) await pdev.devres.release(priv.eventIrqRes);
  await k.systemWq.cancelWorkSync(priv.linkEventWork);
}

/** A read of DBMSG[0].odb flushes the write-combined MRPC mapping (it has no side effect). */
function flushWcBuf(mmio: IoMem): void {
  mmio.ioread32(G.ntbDbmsgBase(0) + G.DBMSG_ODB);
}

/** PFF_CSR blocks are present while their vendor ID reads as Microsemi's. */
function countPffs(mmio: IoMem): number {
  let n = 0;
  while (n < G.MAX_PFF && mmio.ioread16(G.pffCsrBase(n) + G.PFF_VENDOR_ID) === G.SWITCHTEC_VENDOR_ID) n++;
  return n;
}

function initIsr(k: Kernel, p: Params, priv: StdevPriv): void {
  const { stdev } = priv;
  const pdev = stdev.pdev;
  if (p.nirqs < 4) p.nirqs = 4; // the parameter itself is raised, as Linux does
  // Managed (pcim): the vectors go when the driver unbinds or the probe fails.
  const nvecs = k.pciMsi.allocIrqVectorsManaged(pdev, 1, p.nirqs, PCI_IRQ_MSIX | PCI_IRQ_MSI | PCI_IRQ_VIRTUAL);
  // A 32-bit read, as v5.3 does: vep_vector_number | usp_vector_number << 16 (the latter reads 0).
  const eventVec = stdev.mmio.ioread32(G.partCfgBase(stdev.partition) + G.PART_CFG_VEP_VECTOR_NUMBER);
  if (eventVec >= nvecs) throw new KernelError(Errno.EFAULT, `event vector ${eventVec} of ${nvecs}`);
  priv.eventIrq = k.pciMsi.irqVector(pdev, eventVec);
  priv.eventIrqRes = devmRequestIrq(k, pdev, priv.eventIrq, () => switchtecEventIsr(k, priv), priv);

  if (!priv.dmaMrpc) return;
  const dmaVec = stdev.mmio.ioread32(G.GAS_MRPC + G.MRPC_DMA_VECTOR);
  if (dmaVec >= nvecs) throw new KernelError(Errno.EFAULT, `DMA MRPC vector ${dmaVec} of ${nvecs}`);
  devmRequestIrq(k, pdev, k.pciMsi.irqVector(pdev, dmaVec), () => switchtecDmaMrpcIsr(priv), priv.dmaMrpc);
}

/** devm_request_irq with the module's name: freed with the device's other managed resources. */
function devmRequestIrq(k: Kernel, pdev: PciDev, irq: number, handler: () => IrqReturn, devId: unknown): DevresEntry {
  k.irq.requestIrq(irq, handler, 0, 'switchtec', devId);
  return pdev.devres.add(`devm_request_irq ${irq}`, () => k.irq.freeIrq(irq, devId));
}

/** A DMA MRPC completion: re-arm the completion event (there is no MRPC user to complete). */
function switchtecDmaMrpcIsr(priv: StdevPriv): IrqReturn {
  priv.stdev.mmio.iowrite32(G.SWITCHTEC_EVENT_CLEAR | G.SWITCHTEC_EVENT_EN_IRQ, G.partCfgBase(priv.stdev.partition) + G.PART_CFG_MRPC_COMP_HDR);
  return IrqReturn.HANDLED;
}

/** Link-state counters decide whether the NTB driver must re-check its link; other events are one-shot. */
function switchtecEventIsr(k: Kernel, priv: StdevPriv): IrqReturn {
  const { stdev } = priv;
  const mmio = stdev.mmio;
  let ret = IrqReturn.NONE;
  const partCfg = G.partCfgBase(stdev.partition);
  const mrpc = mmio.ioread32(partCfg + G.PART_CFG_MRPC_COMP_HDR);
  if (mrpc & G.SWITCHTEC_EVENT_OCCURRED) {
    ret = IrqReturn.HANDLED;
    mmio.iowrite32(mrpc, partCfg + G.PART_CFG_MRPC_COMP_HDR);
  }

  let linkChanged = false;
  for (let i = 0; i < stdev.pffCsrCount; i++) {
    const count = (mmio.ioread32(G.pffCsrBase(i) + G.PFF_LINK_STATE_HDR) >>> G.SWITCHTEC_EVENT_COUNT_SHIFT) & 0xff;
    if (count !== priv.linkEventCount[i]) {
      priv.linkEventCount[i] = count;
      linkChanged = true;
    }
  }
  if (linkChanged) {
    k.scheduleWork(priv.linkEventWork);
    ret = IrqReturn.HANDLED;
  }

  const oneShot = (off: number): boolean => {
    const hdr = mmio.ioread32(off);
    if (hdr & G.SWITCHTEC_EVENT_NOT_SUPP) return false;
    if (!(hdr & G.SWITCHTEC_EVENT_OCCURRED) || !(hdr & G.SWITCHTEC_EVENT_EN_IRQ)) return false;
    mmio.iowrite32((hdr & ~(G.SWITCHTEC_EVENT_EN_IRQ | G.SWITCHTEC_EVENT_OCCURRED)) >>> 0, off);
    return true;
  };
  let events = 0;
  for (let part = 0; part < stdev.partitionCount; part++) {
    for (const hdr of G.PART_CFG_EVENT_HDRS) {
      if (hdr !== G.PART_CFG_MRPC_COMP_HDR && oneShot(G.partCfgBase(part) + hdr)) events++;
    }
  }
  for (const pff of localPffs(stdev)) {
    for (let e = 0; e < G.PFF_EVENT_HDR_COUNT; e++) {
      const off = G.PFF_EVENT_HDR_BASE + G.PFF_EVENT_HDR_STRIDE * e;
      if (off !== G.PFF_LINK_STATE_HDR && oneShot(G.pffCsrBase(pff) + off)) events++;
    }
  }
  if (events) ret = IrqReturn.HANDLED;
  return ret;
}

/** The PFFs of this host's own partition: upstream port, virtual EP, downstream ports. */
function localPffs(stdev: SwitchtecDev): number[] {
  const base = G.partCfgBase(stdev.partition);
  const ids = [stdev.mmio.ioread32(base + G.PART_CFG_USP_PFF_INST_ID), stdev.mmio.ioread32(base + G.PART_CFG_VEP_PFF_INST_ID) & 0xff];
  for (let i = 0; i < G.PART_CFG_DSP_PFF_COUNT; i++) ids.push(stdev.mmio.ioread32(base + G.PART_CFG_DSP_PFF_INST_ID + 4 * i));
  return [...new Set(ids.filter((id) => id < stdev.pffCsrCount))];
}

/** The class device's attributes: SYS_INFO fields as Linux prints them. */
function sysfsAttributes(stdev: SwitchtecDev) {
  const si = (off: number) => G.GAS_SYS_INFO + off;
  const ro = (show: () => string) => ({ mode: 0o444, ops: { show } });
  const str = (off: number, len: number) => ro(() => ioString(stdev.mmio, si(off), len));
  return {
    device_version: ro(() => `${stdev.mmio.ioread32(si(G.SYS_INFO_DEVICE_VERSION)).toString(16)}\n`),
    fw_version: ro(() => `${hexZeroPad(stdev.mmio.ioread32(si(G.SYS_INFO_FIRMWARE_VERSION)), 8)}\n`),
    vendor_id: str(G.SYS_INFO_VENDOR_ID, 8),
    product_id: str(G.SYS_INFO_PRODUCT_ID, 16),
    product_revision: str(G.SYS_INFO_PRODUCT_REVISION, 4),
    component_vendor: str(G.SYS_INFO_COMPONENT_VENDOR, 8),
    component_id: ro(() => `PM${stdev.mmio.ioread16(si(G.SYS_INFO_COMPONENT_ID)).toString(16).toUpperCase().padStart(4, '0')}\n`),
    component_revision: ro(() => `${stdev.mmio.ioread8(si(G.SYS_INFO_COMPONENT_REVISION))}\n`),
    partition: ro(() => `${stdev.partition}\n`),
    partition_count: ro(() => `${stdev.partitionCount}\n`),
  };
}

/** io_string_show: the raw bytes plus a newline, trailing spaces turned into it, cut at the first NUL. */
function ioString(mmio: IoMem, off: number, len: number): string {
  const buf = [...Array.from(mmio.memcpyFromio(off, len)), 0x0a];
  let end = len + 1;
  for (let i = len - 1; i > 0 && buf[i] === 0x20; i--) {
    buf[i] = 0x0a;
    end = i + 1;
  }
  const text = buf.slice(0, end);
  const nul = text.indexOf(0);
  return String.fromCharCode(...(nul < 0 ? text : text.slice(0, nul)));
}
