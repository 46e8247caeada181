import { hex2 } from '../../core/lib/printf';
import { PciCore, PciFixup } from '../../core/pci/pci-core';
import { PciDev } from '../../core/pci/pci-dev';
import { LogLevel } from '../../core/printk';
import { KernelError } from '../../core/errno';
import * as G from './switchtec-regs';
import { SWITCHTEC_ALIAS_QUIRK } from './switchtec-regs';

/**
 * quirk_switchtec_ntb_dma_alias (drivers/pci/quirks.c): TLPs that cross into this host through
 * the NT endpoint carry proxy requester IDs, so each proxy devfn of every other partition's
 * requester-ID table becomes a DMA alias of the NT endpoint — the IOMMU then accepts them.
 * A final class fixup: it runs when the device is added, before any driver binds.
 */
export const switchtecDmaAliasQuirks: PciFixup[] = G.SWITCHTEC_GEN3_DEVICE_IDS.map((device) => ({
  name: SWITCHTEC_ALIAS_QUIRK,
  phase: 'final',
  vendor: G.SWITCHTEC_VENDOR_ID,
  device,
  classCode: G.PCI_CLASS_NT_EP >> 8,
  classShift: 8,
  hook: quirkSwitchtecNtbDmaAlias,
}));

function quirkSwitchtecNtbDmaAlias(pdev: PciDev, pci: PciCore): void {
  const log = (level: LogLevel, text: string) => pci.devLog(level, pdev, text);
  try {
    pci.enableDevice(pdev);
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    log(LogLevel.ERR, 'Cannot enable Switchtec device');
    return;
  }
  try {
    let mmio;
    try {
      mmio = pci.iomap(pdev, 0);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      log(LogLevel.ERR, 'Cannot iomap Switchtec device');
      return;
    }
    log(LogLevel.INFO, 'Setting Switchtec proxy ID aliases');
    const partition = mmio.ioread8(G.GAS_NTB_INFO + G.NTB_INFO_PARTITION_ID);
    // Linux reads the high half as `&ep_map + 4` on a u64 pointer: 32 bytes on, not 4 (§12).
    const high = mmio.ioread32(G.GAS_NTB_INFO + G.NTB_INFO_EP_MAP + 4 * 8);
    let map = BigInt(mmio.ioread32(G.GAS_NTB_INFO + G.NTB_INFO_EP_MAP)) | (BigInt(high) << 32n);
    map &= ~(1n << BigInt(partition));
    for (let pp = 0; pp < 64; pp++) {
      if (((map >> BigInt(pp)) & 1n) === 0n) continue;
      log(LogLevel.DEBUG, `Processing partition ${pp}`);
      const ctrl = G.ntbCtrlBase(pp);
      const tableSz = mmio.ioread16(ctrl + G.CTRL_REQ_ID_TABLE_SIZE);
      if (tableSz === 0) {
        log(LogLevel.WARNING, `Partition ${pp} table_sz 0`);
        continue;
      }
      if (tableSz > G.CTRL_MAX_REQ_ID_ENTRIES) {
        log(LogLevel.WARNING, `Invalid Switchtec partition ${pp} table_sz ${tableSz}`);
        continue;
      }
      for (let te = 0; te < tableSz; te++) {
        const entry = mmio.ioread32(ctrl + G.CTRL_REQ_ID_TABLE + 4 * te);
        const devfn = (entry >>> 1) & 0xff;
        log(LogLevel.DEBUG, `Aliasing Partition ${pp} Proxy ID ${hex2(devfn >> 3)}.${devfn & 7}`);
        pci.addDmaAlias(pdev, devfn, 1);
      }
    }
  } finally {
    pci.disableDevice(pdev);
  }
}
