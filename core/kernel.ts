import { DriverCore } from './base/driver-core';
import { DmaApi } from './dma/mapping';
import { Errno, KernelError } from './errno';
import { Debugfs } from './fs/debugfs';
import { PseudoFs } from './fs/pseudofs';
import { HostConfig } from './host-config';
import { IntelIommu } from './iommu/intel-iommu';
import { IrqRemapping } from './iommu/irq-remapping';
import { IrqCore } from './irq/irq-core';
import { PciMsiDomain } from './irq/msi-domain';
import { ModuleLoader } from './module/loader';
import { LoadedModule } from './module/module';
import { PageAllocator } from './mm/page-alloc';
import { NetCore } from './net/net-core';
import { PciCore } from './pci/pci-core';
import { PciMsi } from './pci/msi';
import { HostPlatform } from './platform';
import { Printk } from './printk';
import { Jiffies } from './time/jiffies';
import { Prng } from './time/prng';
import { Scheduler } from './time/scheduler';
import { TimerList } from './time/timer';
import { Completion, Mutex, WaitQueue } from './time/wait';
import { DelayedWork, Workqueue, WorkFn, WorkStruct } from './time/workqueue';
import { usecs } from './time/units';

/** The kernel subsystems of one host, as the host container builds them. */
export interface KernelParts {
  config: HostConfig;
  sched: Scheduler;
  prng: Prng;
  platform: HostPlatform;
  printk: Printk;
  fs: PseudoFs;
  debugfs: Debugfs;
  jiffies: Jiffies;
  modules: ModuleLoader;
  driverCore: DriverCore;
  pci: PciCore;
  irq: IrqCore;
  msiDomain: PciMsiDomain;
  pciMsi: PciMsi;
  pages: PageAllocator;
  dma: DmaApi;
  net: NetCore;
  iommu?: IntelIommu;
  irqRemapping?: IrqRemapping;
}

/**
 * One host's kernel as kernel code sees it: the API drivers and client modules are written
 * against. Everything here runs inside the simulation (events or tasks); outside code goes
 * through `Host`, which drives virtual time.
 */
export class Kernel implements KernelParts {
  readonly config!: HostConfig;
  readonly sched!: Scheduler;
  readonly prng!: Prng;
  readonly platform!: HostPlatform;
  readonly printk!: Printk;
  readonly fs!: PseudoFs;
  readonly debugfs!: Debugfs;
  readonly jiffies!: Jiffies;
  readonly modules!: ModuleLoader;
  readonly driverCore!: DriverCore;
  readonly pci!: PciCore;
  readonly irq!: IrqCore;
  readonly msiDomain!: PciMsiDomain;
  readonly pciMsi!: PciMsi;
  readonly pages!: PageAllocator;
  readonly dma!: DmaApi;
  /** The networking core (net_device, skbs, netif_rx, dev_queue_xmit). */
  readonly net!: NetCore;
  readonly iommu?: IntelIommu;
  readonly irqRemapping?: IrqRemapping;
  /** system_wq. */
  readonly systemWq: Workqueue;

  constructor(parts: KernelParts) {
    Object.assign(this, parts);
    this.systemWq = this.allocWorkqueue('events');
    const loadNs = this.config.timing.moduleLoadNs;
    if (loadNs > 0) this.modules.loadDelay = () => this.sched.sleep(loadNs);
  }

  get name(): string {
    return this.config.name;
  }

  /** Virtual time now, in ns (ktime_get). */
  get now(): number {
    return this.sched.now;
  }

  // ---- time and deferred work (process context unless noted) -----------------------------------

  /** msleep: at least `ms`, rounded up to jiffies plus one, as Linux does. */
  msleep(ms: number): Promise<void> {
    const j = this.jiffies.msecsToJiffies(ms) + 1;
    return this.sched.sleep(j * this.jiffies.tickNs);
  }

  /** usleep_range: hrtimer-based, no jiffy rounding. */
  usleepRange(minUs: number, _maxUs?: number): Promise<void> {
    return this.sched.sleep(usecs(minUs));
  }

  /** Busy-wait (udelay/ndelay): in virtual time this is a sleep the caller cannot be woken from. */
  udelay(us: number): Promise<void> {
    return this.sched.sleep(usecs(us));
  }

  timer(fn: () => void): TimerList {
    return new TimerList(this.sched, this.jiffies, fn);
  }

  work(name: string, fn: WorkFn): WorkStruct {
    return new WorkStruct(name, fn);
  }

  delayedWork(name: string, fn: WorkFn): DelayedWork {
    return new DelayedWork(name, fn);
  }

  allocWorkqueue(name: string, maxActive = Infinity): Workqueue {
    const wq = new Workqueue(this.sched, this.jiffies, name, maxActive, this.config.timing.workLatencyNs);
    wq.onError = (work, error) => this.oops(`workqueue ${name}: ${work.name}`, error);
    return wq;
  }

  /** schedule_work on system_wq. */
  scheduleWork(work: WorkStruct): boolean {
    return this.systemWq.queueWork(work);
  }

  scheduleDelayedWork(work: DelayedWork, delayJiffies: number): boolean {
    return this.systemWq.queueDelayedWork(work, delayJiffies);
  }

  completion(): Completion {
    return new Completion(this.sched);
  }

  waitQueue(): WaitQueue {
    return new WaitQueue(this.sched);
  }

  mutex(): Mutex {
    return new Mutex(this.sched);
  }

  /** Run `fn` as a new kernel thread (kthread_run). */
  kthreadRun(name: string, fn: () => Promise<void> | void) {
    const task = this.sched.spawn(`${this.name}/${name}`, fn);
    task.onDone(() => {
      if (task.error !== undefined) this.oops(`kthread ${name}`, task.error);
    });
    return task;
  }

  /** Defer to softirq context (tasklet_schedule): runs as an event after the softirq latency. */
  tasklet(fn: () => void, delayNs = 0): void {
    this.sched.after(delayNs + this.config.timing.softirqLatencyNs, fn);
  }

  /** A bug in kernel code: logged like a WARN with its stack; the world keeps running. */
  oops(where: string, error: unknown): void {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.printk.err(`WARNING: ${where}: ${text.split('\n')[0]}`);
    this.bugs.push({ where, error });
  }

  /** Kernel bugs seen (WARN/oops); tests assert this stays empty. */
  readonly bugs: Array<{ where: string; error: unknown }> = [];

  // ---- modules ---------------------------------------------------------------------------------

  modprobe(name: string, args: string[] = []): Promise<LoadedModule<any>> {
    return this.modules.modprobe(this, name, args);
  }

  rmmod(name: string): Promise<void> {
    return this.modules.rmmod(this, name);
  }

  /**
   * request_module_nowait: modprobe `name` from a work item, so the caller (typically a probe)
   * does not wait for it. A module already loaded is left alone; a failure is logged as kmod
   * would see it, never thrown at the caller.
   */
  requestModuleNowait(name: string, args: string[] = []): void {
    const work = this.work(`request_module ${name}`, async () => {
      if (this.modules.isLoaded(name)) return;
      try {
        await this.modprobe(name, args);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        this.printk.warn(`request_module: modprobe ${name} failed: -${e.errno}`);
      }
    });
    this.scheduleWork(work);
  }

  /** EXPORT_SYMBOL state of a loaded module (what a dependent module links against). */
  symbolsOf<S>(name: string): S {
    const mod = this.modules.get(name);
    if (!mod || mod.initstate !== 'live') throw new KernelError(Errno.ENOENT, `module ${name} is not loaded`);
    return mod.state as S;
  }

}
