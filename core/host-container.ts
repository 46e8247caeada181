import 'reflect-metadata';
import { DependencyContainer, instanceCachingFactory } from 'tsyringe';
import { DriverCore } from './base/driver-core';
import { DmaApi } from './dma/mapping';
import { Debugfs } from './fs/debugfs';
import { PseudoFs } from './fs/pseudofs';
import { HOST_CONFIG, HostConfig } from './host-config';
import { DmarFaultHandler } from './iommu/dmar-fault';
import { IntelIommu } from './iommu/intel-iommu';
import { IrqRemapping } from './iommu/irq-remapping';
import { IrqCore } from './irq/irq-core';
import { PciMsiDomain } from './irq/msi-domain';
import { Kernel } from './kernel';
import { ModuleLoader } from './module/loader';
import { PageAllocator } from './mm/page-alloc';
import { NetCore } from './net/net-core';
import { PciCore } from './pci/pci-core';
import { PciMsi } from './pci/msi';
import { HostPlatform } from './platform';
import { PluginRegistry } from './plugin';
import { Printk } from './printk';
import { Jiffies } from './time/jiffies';
import { Prng } from './time/prng';
import { Scheduler } from './time/scheduler';

/** Tokens for the per-host optional IOMMU parts (undefined when the host has none). */
export const INTEL_IOMMU = Symbol('IntelIommu');
export const IRQ_REMAPPING = Symbol('IrqRemapping');
/** The VT-d unit's fault handler (undefined without VT-d). */
export const DMAR_FAULTS = Symbol('DmarFaults');
/** The host's own random stream, forked from the world's so hosts do not shift each other's draws. */
export const HOST_PRNG = Symbol('HostPrng');

/**
 * Register one host's subsystems in its child container. Each is a per-container singleton built
 * from the services it depends on, so resolving `Kernel` wires the whole host.
 */
export function registerHostServices(c: DependencyContainer, config: HostConfig, platform: HostPlatform): void {
  const once = <T>(token: any, make: (c: DependencyContainer) => T) => c.register<T>(token, { useFactory: instanceCachingFactory<T>(make) });
  c.register(HOST_CONFIG, { useValue: config });
  c.register(HostPlatform, { useValue: platform });
  once(HOST_PRNG, (c) => c.resolve(Prng).fork());
  once(Printk, (c) => new Printk(c.resolve(Scheduler), config.name));
  once(PseudoFs, () => new PseudoFs());
  once(Debugfs, (c) => new Debugfs(c.resolve(PseudoFs)));
  once(Jiffies, (c) => new Jiffies(c.resolve(Scheduler), config.hz));
  once(ModuleLoader, (c) => new ModuleLoader(c.resolve(PluginRegistry), c.resolve(Printk), c.resolve(PseudoFs), config.modprobeOptions));
  once(DriverCore, (c) => new DriverCore(c.resolve(PseudoFs), c.resolve(Printk)));
  once(PciCore, (c) => new PciCore(platform.rc, platform.mem, c.resolve(Printk), c.resolve(DriverCore), c.resolve(PseudoFs), disabledQuirks(config)));
  once(IrqCore, (c) => new IrqCore(c.resolve(Scheduler), c.resolve(Printk), c.resolve(PseudoFs), config.name, platform.apics, config.timing.irqEntryNs));
  const dmaRemapping = platform.dmar !== undefined && !config.cmdline.includes('intel_iommu=off');
  once(DMAR_FAULTS, (c) => (platform.dmar ? new DmarFaultHandler(platform.dmar, c.resolve(Printk), c.resolve(Scheduler)) : undefined));
  once(INTEL_IOMMU, (c) =>
    dmaRemapping && platform.dmar ? new IntelIommu(platform.dmar, c.resolve(PciCore), c.resolve(Printk), c.resolve(DMAR_FAULTS)) : undefined,
  );
  once(IRQ_REMAPPING, (c) =>
    platform.dmar && config.intremap
      ? new IrqRemapping(platform.dmar, c.resolve(PciCore), c.resolve(Printk), config.intremapNoSid, c.resolve(DMAR_FAULTS))
      : undefined,
  );
  once(PciMsiDomain, (c) => new PciMsiDomain(c.resolve(IrqCore), c.resolve(PciCore), c.resolve<IrqRemapping | undefined>(IRQ_REMAPPING)));
  once(PciMsi, (c) => new PciMsi(c.resolve(PciCore), c.resolve(PciMsiDomain), c.resolve(Printk), config.cmdline.includes('pci=nomsi')));
  once(PageAllocator, () => new PageAllocator(platform.mem));
  once(DmaApi, (c) => new DmaApi(platform.mem, c.resolve(PageAllocator), c.resolve<IntelIommu | undefined>(INTEL_IOMMU), config.directDmaAlign));
  once(NetCore, (c) => new NetCore(c.resolve(Scheduler), c.resolve(Jiffies), c.resolve(PseudoFs), c.resolve(Printk), c.resolve(HOST_PRNG), config.timing));
  once(Kernel, (c) =>
    new Kernel({
      config,
      sched: c.resolve(Scheduler),
      prng: c.resolve(HOST_PRNG),
      platform,
      printk: c.resolve(Printk),
      fs: c.resolve(PseudoFs),
      debugfs: c.resolve(Debugfs),
      jiffies: c.resolve(Jiffies),
      modules: c.resolve(ModuleLoader),
      driverCore: c.resolve(DriverCore),
      pci: c.resolve(PciCore),
      irq: c.resolve(IrqCore),
      msiDomain: c.resolve(PciMsiDomain),
      pciMsi: c.resolve(PciMsi),
      pages: c.resolve(PageAllocator),
      dma: c.resolve(DmaApi),
      net: c.resolve(NetCore),
      iommu: c.resolve<IntelIommu | undefined>(INTEL_IOMMU),
      irqRemapping: c.resolve<IrqRemapping | undefined>(IRQ_REMAPPING),
    }),
  );
}

/** `ntbsim.noquirk=a,b` on the command line switches named PCI fixups off. */
function disabledQuirks(config: HostConfig): Set<string> {
  const out = new Set<string>();
  for (const arg of config.cmdline) {
    const m = /^ntbsim\.noquirk=(.+)$/.exec(arg);
    if (m) for (const q of m[1].split(',')) out.add(q);
  }
  return out;
}
