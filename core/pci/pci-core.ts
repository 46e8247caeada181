import type { Bus } from '../base/bus';
import type { DriverCore } from '../base/driver-core';
import type { Driver } from '../base/driver';
import { Device } from '../base/device';
import { Errno, KernelError } from '../errno';
import { PseudoFs } from '../fs/pseudofs';
import { bdf, hex4 } from '../lib/printf';
import type { LoadedModule } from '../module/module';
import { IoMem } from '../mm/io';
import { MmioHandler, PhysicalMemory } from '../mm/physmem';
import { RangeAllocator } from '../mm/range-allocator';
import { LogLevel, Printk } from '../printk';
import * as R from './hw/regs';
import { PciBus, PciDev, PciResource } from './pci-dev';
import { RootComplex } from './root-complex';

export const PCI_ANY_ID = -1;

/** struct pci_device_id. */
export interface PciDeviceId {
  vendor: number;
  device: number;
  subvendor?: number;
  subdevice?: number;
  classCode?: number;
  classMask?: number;
  driverData?: unknown;
}

/** struct pci_driver. */
export interface PciDriver {
  name: string;
  idTable: PciDeviceId[];
  probe(dev: PciDev, id: PciDeviceId): Promise<void> | void;
  remove?(dev: PciDev): Promise<void> | void;
  owner?: LoadedModule<any>;
}

/** A DECLARE_PCI_FIXUP_* entry. */
export interface PciFixup {
  /** Name used by `ntbsim.noquirk=<name>` on the kernel command line to switch it off. */
  name: string;
  phase: 'header' | 'final';
  vendor: number;
  device: number;
  /** For DECLARE_PCI_FIXUP_CLASS_*: class code compared after shifting right by classShift. */
  classCode?: number;
  classShift?: number;
  /** Runs with the host's PCI core, through which it reaches config space, BARs and aliases. */
  hook(dev: PciDev, pci: PciCore): void;
}

export function pciMatchId(ids: PciDeviceId[], dev: PciDev): PciDeviceId | undefined {
  const any = (want: number | undefined, have: number) => want === undefined || want === PCI_ANY_ID || want === have;
  return ids.find(
    (id) =>
      any(id.vendor, dev.vendor) &&
      any(id.device, dev.device) &&
      any(id.subvendor, dev.subsystemVendor) &&
      any(id.subdevice, dev.subsystemDevice) &&
      (id.classCode === undefined || ((id.classCode ^ dev.classCode) & (id.classMask ?? 0xffffff)) === 0),
  );
}

const MEM32_BASE = 0xc0000000;
const MEM32_SIZE = 0xfec00000 - MEM32_BASE;
const MEM64_BASE = 0x40_0000_0000;
const MEM64_SIZE = 0x40_0000_0000;

/**
 * The PCI core of one kernel: enumeration through configuration cycles, BAR sizing and
 * assignment, fixups (quirks), the `pci` bus and its drivers, config accessors, ioremap of BARs,
 * and DMA aliases.
 */
export class PciCore {
  readonly bus: Bus<PciDev>;
  readonly devices: PciDev[] = [];
  readonly rootBus: PciBus;
  private fixups: PciFixup[] = [];
  private mem32 = new RangeAllocator(MEM32_BASE, MEM32_SIZE);
  private mem64 = new RangeAllocator(MEM64_BASE, MEM64_SIZE);
  private hostBridge: Device;
  private drivers = new Map<string, Driver<PciDev> & { pci: PciDriver }>();

  constructor(
    readonly rc: RootComplex,
    private readonly mem: PhysicalMemory,
    private readonly printk: Printk,
    private readonly driverCore: DriverCore,
    private readonly sysfs: PseudoFs,
    private readonly disabledQuirks: Set<string>,
    readonly domainNr = 0,
  ) {
    this.bus = {
      name: 'pci',
      match: (dev, drv) => pciMatchId((drv as unknown as { pci: PciDriver }).pci.idTable, dev) !== undefined,
    };
    driverCore.busRegister(this.bus);
    this.rootBus = new PciBus(0);
    this.hostBridge = new Device(`pci${hex4(domainNr)}:00`);
  }

  addFixup(f: PciFixup): void {
    this.fixups.push(f);
  }

  // ---- enumeration -----------------------------------------------------------------------------

  /** Scan the hierarchy from bus 0, number buses, run header fixups, size and assign BARs. */
  async scan(): Promise<void> {
    this.printk.info(`PCI host bridge to bus ${hex4(this.domainNr)}:00`);
    await this.driverCore.deviceAdd(this.hostBridge);
    this.scanBus(this.rootBus, this.hostBridge, { last: 0 });
    for (const dev of this.devices) this.assignBars(dev);
  }

  /** pci_bus_add_devices: final fixups, then device_add (drivers bind as they register). */
  async addDevices(): Promise<void> {
    for (const dev of this.devices) {
      this.runFixups('final', dev);
      await this.driverCore.deviceAdd(dev, this.sysfsAttrs(dev));
      if (dev.isBridge) this.sysfs.symlink(`/sys/class/pci_bus/${dev.subordinate!.number.toString(16).padStart(4, '0')}`, '.');
    }
  }

  private scanBus(bus: PciBus, parent: Device, counter: { last: number }): void {
    for (let devfn = 0; devfn < 256; devfn++) {
      const vendor = this.rc.configRead(bus.number, devfn, R.PCI_VENDOR_ID, 2);
      if (vendor === 0xffff) {
        if ((devfn & 7) === 0) devfn += 7;
        continue;
      }
      const dev = this.setupDevice(bus, devfn, parent);
      if ((devfn & 7) === 0 && !(this.rc.configRead(bus.number, devfn, R.PCI_HEADER_TYPE, 1) & 0x80)) devfn += 7;
      if ((dev.headerType & 0x7f) === R.PCI_HEADER_TYPE_BRIDGE) {
        const sec = ++counter.last;
        this.cfgWrite(dev, R.PCI_PRIMARY_BUS, 1, bus.number);
        this.cfgWrite(dev, R.PCI_SECONDARY_BUS, 1, sec);
        this.cfgWrite(dev, R.PCI_SUBORDINATE_BUS, 1, 0xff);
        const child = new PciBus(sec, bus, dev);
        dev.subordinate = child;
        this.scanBus(child, dev, counter);
        this.cfgWrite(dev, R.PCI_SUBORDINATE_BUS, 1, counter.last);
        const range = counter.last === sec ? `${hex2(sec)}` : `${hex2(sec)}-${hex2(counter.last)}`;
        this.devInfo(dev, `PCI bridge to [bus ${range}]`);
      }
    }
  }

  private setupDevice(bus: PciBus, devfn: number, parent: Device): PciDev {
    const dev = new PciDev(this.domainNr, bus, devfn, parent);
    dev.bus = this.bus;
    dev.vendor = this.cfgRead(dev, R.PCI_VENDOR_ID, 2);
    dev.device = this.cfgRead(dev, R.PCI_DEVICE_ID, 2);
    const cr = this.cfgRead(dev, R.PCI_CLASS_REVISION, 4);
    dev.classCode = cr >>> 8;
    dev.revision = cr & 0xff;
    dev.headerType = this.cfgRead(dev, R.PCI_HEADER_TYPE, 1);
    if ((dev.headerType & 0x7f) === 0) {
      dev.subsystemVendor = this.cfgRead(dev, R.PCI_SUBSYSTEM_VENDOR_ID, 2);
      dev.subsystemDevice = this.cfgRead(dev, R.PCI_SUBSYSTEM_ID, 2);
    }
    const exp = this.findCapability(dev, R.PCI_CAP_ID_EXP);
    if (exp) dev.pcieType = (this.cfgRead(dev, exp + R.PCI_EXP_FLAGS, 2) >> 4) & 0xf;
    dev.msiCap = this.findCapability(dev, R.PCI_CAP_ID_MSI);
    dev.msixCap = this.findCapability(dev, R.PCI_CAP_ID_MSIX);
    // Wake the function's link: it captures its requester ID from this configuration write.
    this.cfgWrite(dev, R.PCI_COMMAND, 2, this.cfgRead(dev, R.PCI_COMMAND, 2));
    const kind = dev.isPcie ? PCIE_TYPE_NAMES[dev.pcieType!] ?? 'PCIe' : 'conventional PCI endpoint';
    this.devInfo(dev, `[${hex4(dev.vendor)}:${hex4(dev.device)}] type ${hex2(dev.headerType & 0x7f)} class 0x${dev.classCode.toString(16).padStart(6, '0')} ${kind}`);
    this.sizeBars(dev);
    bus.devices.push(dev);
    this.devices.push(dev);
    this.runFixups('header', dev);
    return dev;
  }

  /** Probe each BAR with all-ones to learn its size and type (pci_read_bases). */
  private sizeBars(dev: PciDev): void {
    const count = (dev.headerType & 0x7f) === R.PCI_HEADER_TYPE_BRIDGE ? 2 : 6;
    for (let i = 0; i < count; i++) {
      const off = R.PCI_BASE_ADDRESS_0 + 4 * i;
      const orig = this.cfgRead(dev, off, 4);
      this.cfgWrite(dev, off, 4, 0xffffffff);
      const lo = this.cfgRead(dev, off, 4);
      this.cfgWrite(dev, off, 4, orig);
      if (lo === 0 || lo === 0xffffffff) continue;
      const is64 = (lo & 0x6) === R.PCI_BASE_ADDRESS_MEM_TYPE_64;
      let size: number;
      if (is64) {
        const origHi = this.cfgRead(dev, off + 4, 4);
        this.cfgWrite(dev, off + 4, 4, 0xffffffff);
        const hi = this.cfgRead(dev, off + 4, 4);
        this.cfgWrite(dev, off + 4, 4, origHi);
        const mask = hi * 2 ** 32 + (lo & 0xfffffff0);
        size = lowestSetBit(mask);
      } else size = lowestSetBit(lo & 0xfffffff0);
      dev.resources[i] = { start: 0, size, is64, prefetchable: (lo & R.PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0 };
      if (is64) i++;
    }
  }

  /** Assign each BAR an address and wire the function's MMIO handler there. */
  private assignBars(dev: PciDev): void {
    const fn = this.rc.findFunction(dev.busNumber, dev.devfn);
    dev.resources.forEach((res, i) => {
      if (!res) return;
      const pool = res.is64 && res.prefetchable ? this.mem64 : this.mem32;
      res.start = pool.alloc(res.size, res.size);
      const off = R.PCI_BASE_ADDRESS_0 + 4 * i;
      this.cfgWrite(dev, off, 4, res.start % 2 ** 32);
      if (res.is64) this.cfgWrite(dev, off + 4, 4, Math.floor(res.start / 2 ** 32));
      this.devInfo(dev, `BAR ${i} ${resourceText(res)}: assigned`);
      const handler = fn?.barHandler(i);
      if (handler) this.mem.addRegion(res.start, res.size, `${dev.name} BAR${i}`, this.decodeGate(fn!, handler));
    });
  }

  /** A function decodes its BARs only while Memory Space Enable is set. */
  private decodeGate(fn: { config: { command: number } } | undefined, h: MmioHandler): MmioHandler {
    if (!fn) return h;
    const on = () => (fn.config.command & R.PCI_COMMAND_MEMORY) !== 0;
    return {
      timing: h.timing,
      prefetchable: h.prefetchable,
      read: (o, s) => (on() ? h.read(o, s) : s === 4 ? 0xffffffff : s === 2 ? 0xffff : 0xff),
      write: (o, s, v) => {
        if (on()) h.write(o, s, v);
      },
      readBytes: h.readBytes ? (o, n) => (on() ? h.readBytes!(o, n) : new Uint8Array(n).fill(0xff)) : undefined,
      writeBytes: h.writeBytes
        ? (o, d) => {
            if (on()) h.writeBytes!(o, d);
          }
        : undefined,
    };
  }

  private runFixups(phase: PciFixup['phase'], dev: PciDev): void {
    for (const f of this.fixups) {
      if (f.phase !== phase) continue;
      if (f.vendor !== PCI_ANY_ID && f.vendor !== dev.vendor) continue;
      if (f.device !== PCI_ANY_ID && f.device !== dev.device) continue;
      if (f.classCode !== undefined && dev.classCode >>> (f.classShift ?? 0) !== f.classCode) continue;
      if (this.disabledQuirks.has(f.name)) {
        this.devLog(LogLevel.INFO, dev, `quirk ${f.name} disabled on the command line`);
        continue;
      }
      f.hook(dev, this);
    }
  }

  // ---- drivers ---------------------------------------------------------------------------------

  /** pci_register_driver. */
  async registerDriver(drv: PciDriver): Promise<void> {
    const wrapped = {
      name: drv.name,
      bus: this.bus,
      owner: drv.owner,
      pci: drv,
      probe: async (dev: PciDev) => {
        await drv.probe(dev, pciMatchId(drv.idTable, dev)!);
      },
      remove: async (dev: PciDev) => {
        await drv.remove?.(dev);
      },
    };
    this.drivers.set(drv.name, wrapped);
    await this.driverCore.driverRegister(wrapped);
  }

  async unregisterDriver(drv: PciDriver): Promise<void> {
    const wrapped = this.drivers.get(drv.name);
    if (!wrapped) throw new KernelError(Errno.ENODEV, `pci driver ${drv.name} not registered`);
    await this.driverCore.driverUnregister(wrapped);
    this.drivers.delete(drv.name);
  }

  find(vendor: number, device: number): PciDev[] {
    return this.devices.filter((d) => d.vendor === vendor && d.device === device);
  }

  byName(name: string): PciDev | undefined {
    return this.devices.find((d) => d.name === name);
  }

  // ---- device API used by drivers --------------------------------------------------------------

  cfgRead(dev: PciDev, off: number, size: 1 | 2 | 4): number {
    return this.rc.configRead(dev.busNumber, dev.devfn, off, size);
  }

  cfgWrite(dev: PciDev, off: number, size: 1 | 2 | 4, value: number): void {
    this.rc.configWrite(dev.busNumber, dev.devfn, off, size, value);
  }

  findCapability(dev: PciDev, id: number): number {
    if (!(this.cfgRead(dev, R.PCI_STATUS, 2) & R.PCI_STATUS_CAP_LIST)) return 0;
    let pos = this.cfgRead(dev, R.PCI_CAPABILITY_LIST, 1) & ~3;
    for (let ttl = 48; pos >= 0x40 && ttl > 0; ttl--) {
      if (this.cfgRead(dev, pos, 1) === id) return pos;
      pos = this.cfgRead(dev, pos + 1, 1) & ~3;
    }
    return 0;
  }

  /** pci_enable_device: turn on memory decoding. */
  enableDevice(dev: PciDev): void {
    if (dev.enableCnt++ === 0) {
      const cmd = this.cfgRead(dev, R.PCI_COMMAND, 2);
      this.cfgWrite(dev, R.PCI_COMMAND, 2, cmd | R.PCI_COMMAND_MEMORY);
    }
  }

  disableDevice(dev: PciDev): void {
    if (dev.enableCnt === 0) return;
    if (--dev.enableCnt === 0) {
      const cmd = this.cfgRead(dev, R.PCI_COMMAND, 2);
      this.cfgWrite(dev, R.PCI_COMMAND, 2, cmd & ~(R.PCI_COMMAND_MEMORY | R.PCI_COMMAND_MASTER));
      dev.isBusmaster = false;
    }
  }

  /** pcim_enable_device: enabled until the driver unbinds. */
  pcimEnableDevice(dev: PciDev): void {
    this.enableDevice(dev);
    dev.devres.add('pcim_enable_device', () => this.disableDevice(dev));
  }

  setMaster(dev: PciDev): void {
    const cmd = this.cfgRead(dev, R.PCI_COMMAND, 2);
    this.cfgWrite(dev, R.PCI_COMMAND, 2, cmd | R.PCI_COMMAND_MASTER);
    dev.isBusmaster = true;
  }

  clearMaster(dev: PciDev): void {
    const cmd = this.cfgRead(dev, R.PCI_COMMAND, 2);
    this.cfgWrite(dev, R.PCI_COMMAND, 2, cmd & ~R.PCI_COMMAND_MASTER);
    dev.isBusmaster = false;
  }

  resourceStart(dev: PciDev, bar: number): number {
    return dev.resources[bar]?.start ?? 0;
  }

  resourceLen(dev: PciDev, bar: number): number {
    return dev.resources[bar]?.size ?? 0;
  }

  /** pci_iomap / pci_ioremap_bar (maxlen 0 = whole BAR). */
  iomap(dev: PciDev, bar: number, maxlen = 0): IoMem {
    const res = dev.resources[bar];
    if (!res) throw new KernelError(Errno.ENOMEM, `${dev.name}: BAR ${bar} not present`);
    return new IoMem(this.mem, res.start, maxlen > 0 ? Math.min(maxlen, res.size) : res.size);
  }

  /** pcim_iomap: unmapped automatically at unbind. */
  pcimIomap(dev: PciDev, bar: number, maxlen = 0): IoMem {
    const io = this.iomap(dev, bar, maxlen);
    dev.devres.add(`pcim_iomap BAR${bar}`, () => undefined);
    return io;
  }

  /** A CPU view of any physical range (ioremap / ioremap_wc). */
  ioremap(phys: number, size: number): IoMem {
    return new IoMem(this.mem, phys, size);
  }

  // ---- DMA aliases -----------------------------------------------------------------------------

  /** pci_add_dma_alias(dev, devfn_from, nr_devfns). */
  addDmaAlias(dev: PciDev, devfnFrom: number, nrDevfns = 1): void {
    const nr = Math.min(nrDevfns, 256 - devfnFrom);
    dev.dmaAliasMask ??= new Set();
    for (let d = devfnFrom; d < devfnFrom + nr; d++) dev.dmaAliasMask.add(d);
    if (nr === 1) this.devInfo(dev, `Enabling fixed DMA alias to ${hex2(devfnFrom >> 3)}.${devfnFrom & 7}`);
    else {
      const last = devfnFrom + nr - 1;
      this.devInfo(dev, `Enabling fixed DMA alias for devfn range from ${hex2(devfnFrom >> 3)}.${devfnFrom & 7} to ${hex2(last >> 3)}.${last & 7}`);
    }
  }

  devsAreDmaAliases(a: PciDev, b: PciDev): boolean {
    if (a.pciBus !== b.pciBus) return false;
    return (a.dmaAliasMask?.has(b.devfn) ?? false) || (b.dmaAliasMask?.has(a.devfn) ?? false);
  }

  /**
   * pci_for_each_dma_alias: the device's own ID, its mask aliases in ascending devfn order, then
   * the IDs bridges on the way up substitute. Stops when `fn` returns non-zero.
   */
  forEachDmaAlias(dev: PciDev, fn: (owner: PciDev, alias: number) => number): number {
    let r = fn(dev, dev.requesterId);
    if (r) return r;
    if (dev.dmaAliasMask) {
      for (const devfn of [...dev.dmaAliasMask].sort((a, b) => a - b)) {
        r = fn(dev, (dev.busNumber << 8) | devfn);
        if (r) return r;
      }
    }
    for (let bus: PciBus | undefined = dev.pciBus; bus && !bus.isRoot; bus = bus.parent) {
      const b = bus.self;
      if (!b) continue;
      if (b.flags.has('bridge_xlate_root')) return r;
      if (b.isPcie) {
        if (b.pcieType === R.PCI_EXP_TYPE_PCI_BRIDGE) {
          r = fn(b, (b.subordinate!.number << 8) | 0);
          if (r) return r;
        } else if (b.pcieType === R.PCI_EXP_TYPE_PCIE_BRIDGE) {
          r = fn(b, b.requesterId);
          if (r) return r;
        }
      } else {
        r = fn(b, b.flags.has('pcie_bridge_alias') ? (b.subordinate!.number << 8) | 0 : b.requesterId);
        if (r) return r;
      }
    }
    return r;
  }

  // ---- logging and sysfs -------------------------------------------------------------------------

  devInfo(dev: PciDev, text: string): void {
    this.devLog(LogLevel.INFO, dev, text);
  }

  devLog(level: LogLevel, dev: PciDev, text: string): void {
    this.printk.devLog(level, dev, text);
  }

  /** /sys/bus/pci/devices/<dev>/msi_irqs/<irq> ("msi" or "msix"); `undefined` removes the directory. */
  publishMsiIrqs(dev: PciDev, irqs: number[] | undefined, mode: 'msi' | 'msix' = 'msix'): void {
    const dir = `${dev.sysfsPath}/msi_irqs`;
    if (this.sysfs.exists(dir)) this.sysfs.remove(dir);
    if (!irqs || !dev.registered) return;
    this.sysfs.mkdir(dir);
    for (const irq of irqs) this.sysfs.createFile(`${dir}/${irq}`, 0o444, { show: () => `${mode}\n`, noWriteErrno: Errno.EACCES });
  }

  private sysfsAttrs(dev: PciDev) {
    const ro = (show: () => string) => ({ mode: 0o444, ops: { show } });
    return {
      vendor: ro(() => `0x${hex4(dev.vendor)}\n`),
      device: ro(() => `0x${hex4(dev.device)}\n`),
      subsystem_vendor: ro(() => `0x${hex4(dev.subsystemVendor)}\n`),
      subsystem_device: ro(() => `0x${hex4(dev.subsystemDevice)}\n`),
      class: ro(() => `0x${dev.classCode.toString(16).padStart(6, '0')}\n`),
      revision: ro(() => `0x${hex2(dev.revision)}\n`),
      irq: ro(() => `${dev.irq}\n`),
      enable: ro(() => `${dev.enableCnt}\n`),
      resource: ro(() =>
        dev.resources
          .map((r) => (r ? `0x${hx(r.start)} 0x${hx(r.start + r.size - 1)} 0x${hx(resourceFlags(r))}` : `0x${hx(0)} 0x${hx(0)} 0x${hx(0)}`))
          .join('\n') + '\n',
      ),
    };
  }
}

const PCIE_TYPE_NAMES: Record<number, string> = {
  0x0: 'PCIe Endpoint',
  0x1: 'PCIe Legacy Endpoint',
  0x4: 'PCIe Root Port',
  0x5: 'PCIe Switch Upstream Port',
  0x6: 'PCIe Switch Downstream Port',
  0x7: 'PCIe to PCI/PCI-X bridge',
  0x8: 'PCI/PCI-X to PCIe bridge',
  0x9: 'PCIe Root Complex Integrated Endpoint',
};

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

function hx(v: number): string {
  return v.toString(16).padStart(16, '0');
}

function lowestSetBit(v: number): number {
  let b = 16;
  while (b < 2 ** 63 && v % (b * 2) === 0) b *= 2;
  return b;
}

function resourceFlags(r: PciResource): number {
  return 0x200 | (r.is64 ? 0x100000 : 0) | (r.prefetchable ? 0x2000 : 0) | 0x40000;
}

function resourceText(r: PciResource): string {
  const end = r.start + r.size - 1;
  const flags = [r.is64 ? '64bit' : '', r.prefetchable ? 'pref' : ''].filter(Boolean).join(' ');
  return `[mem 0x${r.start.toString(16).padStart(8, '0')}-0x${end.toString(16).padStart(8, '0')}${flags ? ' ' + flags : ''}]`;
}

export { bdf };
