/**
 * ntbsim's library entry point (package.json "main"): the world and its hosts, the kernel API that
 * drivers and client modules are written against, the plugin interface, and the built-in plugins.
 */

// ---- worlds, hosts, plugins ------------------------------------------------------------------
export { World } from './core/world';
export type { TopologySpec } from './core/world';
export { Host } from './core/host';
export { defaultHostConfig } from './core/host-config';
export type { HostConfig } from './core/host-config';
export { HostPlatform } from './core/platform';
export { PluginRegistry } from './core/plugin';
export type { NtbsimPlugin, HardwareContext, HardwareFactory } from './core/plugin';
export { builtinPlugins } from './plugins';
export { driverPlugins, ntbCorePlugin, switchtecPlugin, testdevPlugin } from './drivers';
export { clientsPlugin } from './clients';

// ---- the kernel API --------------------------------------------------------------------------
export { Kernel } from './core/kernel';
export type { KernelParts } from './core/kernel';
export { Errno, KernelError, errnoName, isKernelError, strerror } from './core/errno';
export { LogLevel, Printk, RateLimit } from './core/printk';
export type { LogRecord, PrintkDevice } from './core/printk';
export { LoadedModule } from './core/module/module';
export type { ModuleDecl } from './core/module/module';
export { param, parseParam, formatParam } from './core/module/params';
export type { ParamSpec, ParamType, ParamValues } from './core/module/params';
export { Device } from './core/base/device';
export type { Driver } from './core/base/driver';
export { PciBus, PciDev } from './core/pci/pci-dev';
export type { PciResource } from './core/pci/pci-dev';
export { PCI_ANY_ID, pciMatchId } from './core/pci/pci-core';
export type { PciDeviceId, PciDriver, PciFixup } from './core/pci/pci-core';
export { MsiDesc } from './core/pci/msi-desc';
export type { MsiMsg } from './core/pci/msi-desc';
export {
  PCI_IRQ_AFFINITY,
  PCI_IRQ_ALL_TYPES,
  PCI_IRQ_INTX,
  PCI_IRQ_LEGACY,
  PCI_IRQ_MSI,
  PCI_IRQ_MSIX,
  PCI_IRQ_VIRTUAL,
} from './core/pci/msi';
export { IRQF_ONESHOT, IRQF_SHARED, IrqDesc, IrqReturn } from './core/irq/irqdesc';
export type { IrqHandler, IrqThreadFn } from './core/irq/irqdesc';
export { DmaDirection } from './core/dma/mapping';
export type { DmaBuffer } from './core/dma/mapping';
export { IoMem, KernelBuffer } from './core/mm/io';
export type { MmioHandler } from './core/mm/physmem';
export { PAGE_SHIFT, PAGE_SIZE, alignDown, alignUp } from './core/mm/range-allocator';
export { Completion, Mutex, WaitQueue } from './core/time/wait';
export { DelayedWork, Workqueue, WorkStruct } from './core/time/workqueue';
export type { WorkFn } from './core/time/workqueue';
export { TimerList } from './core/time/timer';
export { Jiffies } from './core/time/jiffies';
export * from './core/lib/kstrtox';
export { bdf, hex2, hex4, hexAlt, hexPad, physAddr } from './core/lib/printf';
export { toBytes, toText } from './core/fs/pseudofs';
export type { FileContent, FileOps } from './core/fs/pseudofs';

// ---- virtual time ----------------------------------------------------------------------------
export { DEFAULT_TASK_LIMIT, Scheduler, Task } from './core/time/scheduler';
export type { EventHandle, TraceRecord } from './core/time/scheduler';
export { Prng } from './core/time/prng';
export { NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC, formatTimestamp, msecs, secs, usecs } from './core/time/units';
export type { Nanoseconds } from './core/time/units';

// ---- hardware models (for plugins that build silicon) ----------------------------------------
export { ConfigSpace } from './core/pci/hw/config-space';
export type { BarDecl, FunctionIdentity } from './core/pci/hw/config-space';
export { requesterId } from './core/pci/hw/function';
export type { PciFunctionModel, PciUpstream, RequesterId } from './core/pci/hw/function';
export { PciBridgeModel } from './core/pci/hw/bridge';
export { MsiCapability } from './core/pci/hw/msi-capability';
export { MsixTable } from './core/pci/hw/msix-table';
export * as PciRegs from './core/pci/hw/regs';
export { MSI_ADDR_BASE, MSI_ADDR_END, RootComplex } from './core/pci/root-complex';
export type { PlatformTiming } from './core/pci/root-complex';
export { PhysicalMemory } from './core/mm/physmem';
export { DmarUnit } from './core/iommu/dmar-unit';
export { LocalApics } from './core/irq/apic';
