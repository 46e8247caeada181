import { DependencyContainer } from 'tsyringe';
import { toText } from './fs/pseudofs';
import { HostConfig } from './host-config';
import { registerHostServices } from './host-container';
import { Kernel } from './kernel';
import { LoadedModule } from './module/module';
import { HostPlatform } from './platform';
import { Printk } from './printk';

/**
 * One simulated host as seen from outside the simulation (tests, the CLI): every call runs as a
 * kernel task and drives virtual time until it finishes.
 */
export class Host {
  readonly kernel: Kernel;
  booted = false;

  constructor(
    readonly container: DependencyContainer,
    readonly platform: HostPlatform,
  ) {
    registerHostServices(container, platform.config, platform);
    this.kernel = container.resolve(Kernel);
  }

  get name(): string {
    return this.config.name;
  }

  get config(): HostConfig {
    return this.platform.config;
  }

  get printk(): Printk {
    return this.kernel.printk;
  }

  /** Run process-context code on this host and wait (in virtual time) for it to finish. */
  run<T>(what: string, fn: (k: Kernel) => Promise<T> | T): Promise<T> {
    return this.kernel.sched.runTask(`${this.name}/${what}`, () => fn(this.kernel));
  }

  /** Boot: the kernel banner, PCI enumeration with fixups, the IOMMU, then device registration. */
  async boot(): Promise<void> {
    if (this.booted) return;
    await this.run('boot', async (k) => {
      const cfg = this.config;
      k.printk.notice(`Linux version 6.12.0-ntbsim (ntbsim@${cfg.name}) #1 SMP`);
      k.printk.info(`Command line: ${cfg.cmdline.join(' ')}`.trimEnd());
      k.printk.info(`smpboot: Allowing ${cfg.cpus} CPUs, 0 hotplug CPUs`);
      k.printk.info(`Memory: ${Math.floor(cfg.ramBytes / 1024)}K available`);
      await k.pci.scan();
      // As in Linux, final fixups (which may add DMA aliases) run before the IOMMU attaches the
      // devices (pci_iommu_init comes after pci_bus_add_devices); no driver is loaded yet.
      await k.pci.addDevices();
      // Interrupt remapping needs only the VT-d hardware; intel_iommu=off turns DMA remapping off.
      k.irqRemapping?.enable();
      if (k.iommu) k.iommu.enableTranslation();
      else k.printk.info('DMAR: IOMMU disabled');
      k.printk.info('Run /sbin/init as init process');
    });
    this.booted = true;
  }

  modprobe(name: string, args: string[] = []): Promise<LoadedModule<any>> {
    return this.run(`modprobe ${name}`, (k) => k.modprobe(name, args));
  }

  rmmod(name: string): Promise<void> {
    return this.run(`rmmod ${name}`, (k) => k.rmmod(name));
  }

  modprobeRemove(name: string): Promise<void> {
    return this.run(`modprobe -r ${name}`, (k) => k.modules.modprobeRemove(k, name));
  }

  /** `cat PATH`: the whole file as text (may block in virtual time for blocking files). */
  async read(path: string): Promise<string> {
    return toText(await this.run(`read ${path}`, (k) => k.fs.readFile(path)));
  }

  readBytes(path: string, offset = 0, length?: number): Promise<Uint8Array> {
    return this.run(`read ${path}`, (k) => (length === undefined ? k.fs.readFile(path) : k.fs.readAt(path, offset, length)));
  }

  /** `echo DATA > PATH` (pass the newline yourself, as echo would add it). */
  write(path: string, data: string | Uint8Array, offset = 0): Promise<number> {
    return this.run(`write ${path}`, (k) => k.fs.writeFile(path, data, offset));
  }

  ls(path: string): string[] {
    return this.kernel.fs.readdir(path);
  }

  exists(path: string): boolean {
    return this.kernel.fs.exists(path);
  }

  dmesg(): string {
    return this.kernel.printk.dmesg();
  }

  /** `lspci`-like listing: one line per function. */
  lspci(): string[] {
    return this.kernel.pci.devices.map((d) => {
      const fn = this.platform.rc.findFunction(d.busNumber, d.devfn);
      const label = fn?.label ?? `Device ${d.device.toString(16).padStart(4, '0')}`;
      return `${d.name.slice(5)} [${d.classCode.toString(16).padStart(6, '0')}] ${label} [${hex4(d.vendor)}:${hex4(d.device)}]${d.driver ? ` (driver: ${d.driver.name})` : ''}`;
    });
  }
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}
