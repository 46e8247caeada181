import { HostConfig } from './host-config';
import { DmarUnit } from './iommu/dmar-unit';
import { LocalApics } from './irq/apic';
import { PhysicalMemory } from './mm/physmem';
import { PciBridgeModel } from './pci/hw/bridge';
import { ConfigSpace } from './pci/hw/config-space';
import { PciFunctionModel } from './pci/hw/function';
import { RootComplex } from './pci/root-complex';
import { Scheduler } from './time/scheduler';

const INTEL = 0x8086;

/** The host bridge at 00:00.0: identity only. */
class HostBridgeModel implements PciFunctionModel {
  readonly config = new ConfigSpace({ vendor: INTEL, device: 0x29c0, classCode: 0x060000 });
  readonly label = 'Host bridge';
  barHandler() {
    return undefined;
  }
  connect() {}
}

/**
 * One host's hardware before any kernel runs on it: RAM and MMIO space, the CPUs' APICs, the VT-d
 * unit (when the host has an IOMMU), and a root complex with a host bridge. Hardware factories add
 * root ports and plug silicon into them.
 */
export class HostPlatform {
  readonly mem: PhysicalMemory;
  readonly apics: LocalApics;
  readonly dmar?: DmarUnit;
  readonly rc: RootComplex;
  private nextSlot = 1;

  constructor(
    readonly config: HostConfig,
    readonly sched: Scheduler,
  ) {
    this.mem = new PhysicalMemory(config.ramBytes);
    this.mem.chargeCpu = (ns) => sched.charge(ns);
    this.mem.cpuClock = sched;
    this.mem.memcpyBytesPerSec = config.timing.memcpyBytesPerSec;
    this.apics = new LocalApics(config.cpus);
    this.dmar = config.iommu ? new DmarUnit() : undefined;
    this.rc = new RootComplex(sched, this.mem, this.dmar, this.apics, { interruptDeliveryNs: config.timing.irqDeliveryNs });
    this.rc.attach(0, new HostBridgeModel());
  }

  get name(): string {
    return this.config.name;
  }

  /** A new PCIe root port on bus 0 (device 1, 2, …), ready for silicon on its secondary bus. */
  addRootPort(): PciBridgeModel {
    const port = new PciBridgeModel('root-port', INTEL, 0x7a38, 'PCIe Root Port');
    this.rc.attach(this.nextSlot++ << 3, port);
    return port;
  }
}
