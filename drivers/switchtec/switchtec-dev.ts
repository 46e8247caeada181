import { Device } from '../../core/base/device';
import type { DeviceClass } from '../../core/base/class';
import type { IoMem } from '../../core/mm/io';
import type { PciDev } from '../../core/pci/pci-dev';

/**
 * struct switchtec_dev (include/linux/switchtec.h): the management driver's class device
 * `switchtecN` for one Switchtec function, shared with ntb_hw_switchtec through the class
 * interface. The NTB driver reaches the hardware only through `mmio` (the whole GAS, BAR0).
 */
export class SwitchtecDev extends Device {
  /** Own partition (SYS_INFO.partition_id) and NTB INFO.partition_count (clamped to ≥ 1). */
  partition = 0;
  partitionCount = 1;
  /** PFF_CSR blocks present (vendor ID scan). */
  pffCsrCount = 0;
  /** Set by ntb_hw_switchtec once registered; called (from a work item) on link-state events. */
  linkNotifier?: (stdev: SwitchtecDev) => void;
  /** The NTB driver's per-device state while it is attached. */
  sndev?: unknown;

  constructor(
    name: string,
    readonly pdev: PciDev,
    readonly mmio: IoMem,
  ) {
    super(name, pdev);
  }
}

/** What module `switchtec` exports to modules that depend on it. */
export interface SwitchtecSymbols {
  switchtecClass: DeviceClass<SwitchtecDev>;
}
