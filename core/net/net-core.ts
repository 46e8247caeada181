import { relative } from '../base/driver-core';
import { Errno, KernelError } from '../errno';
import { FileOps, PseudoFs } from '../fs/pseudofs';
import { kstrtoull } from '../lib/kstrtox';
import type { HostTiming } from '../host-config';
import { Printk } from '../printk';
import { Jiffies } from '../time/jiffies';
import { Prng } from '../time/prng';
import { EventHandle, Scheduler } from '../time/scheduler';
import { Mutex, WaitQueue } from '../time/wait';
import { formatMac } from './etherdevice';
import {
  IFF_UP,
  IFF_USER_CHANGEABLE,
  NET_XMIT_DROP,
  NetDevice,
  NetDeviceStats,
  NetdevTx,
  NetRx,
  OPERSTATE_NAMES,
  OperState,
  XmitResult,
} from './netdevice';
import { ETH_ALEN, NET_SKB_PAD, SkBuff } from './skbuff';

/** IFNAMSIZ: interface names are shorter than this. */
export const IFNAMSIZ = 16;
/** net.core.netdev_max_backlog: frames netif_rx queues before it drops. */
export const NETDEV_MAX_BACKLOG = 1000;
/** Frames the NET_RX softirq hands up per poll of the backlog (dev_weight / weight_p). */
export const NETDEV_BACKLOG_WEIGHT = 64;
/** The first ifindex handed out: 1 belongs to the loopback device, which ntbsim does not model. */
const FIRST_IFINDEX = 2;

const STAT_NAMES: readonly string[] = [...Object.keys(new NetDeviceStats()), 'rx_nohandler'].sort();

/** Freed skb data areas kept per size for reuse (enough for a ring's worth of frames in flight). */
const HEAD_POOL_DEPTH = 64;

/**
 * The networking core of one host (net/core/dev.c, link_watch.c, net-sysfs.c, skbuff.c), reduced
 * to what a network driver and a traffic generator need:
 *
 * - allocation (`allocEtherdev`), `registerNetdev`/`unregisterNetdev` with "eth%d" naming and
 *   /sys/class/net/<name>; Linux prints nothing to the kernel log for either, so neither do we;
 * - `devOpen`/`devClose`/`devSetMtu`/`devChangeFlags` (`ip link set … up|down|mtu`), serialised by
 *   the RTNL mutex, in process context;
 * - link watch: a carrier change updates operstate and (de)activates the root qdisc later, like
 *   linkwatch: carrier-on of a running device at once, anything else at most once per second;
 * - transmit: `devQueueXmit` offers an skb to ndo_start_xmit unless the TX queue is stopped (then
 *   BUSY, the caller keeps the skb and may wait with `NetDevice.waitTxQueue`) or the qdisc is not
 *   active (interface down, or carrier off as seen by link watch: the skb is dropped). There is
 *   no queueing discipline holding packets back;
 * - receive: `netifRx` queues to the host's backlog (NETDEV_MAX_BACKLOG frames; one backlog, as
 *   with RPS off and the receive path on one CPU) and the NET_RX softirq hands each frame to the
 *   device's `rxHook`, then frees it. The stack never touches the driver's counters: drops it
 *   makes itself (backlog full, interface down, no hook = no protocol handler) go to the device's
 *   core stats, which sysfs adds in, as dev_get_stats does.
 */
export class NetCore {
  private readonly devices: NetDevice<any>[] = [];
  private nextIfindex = FIRST_IFINDEX;
  /** RTNL. */
  readonly rtnl: Mutex;
  private readonly prng: Prng;

  // link watch
  private lwList: NetDevice<any>[] = [];
  private lwNextEvent = 0;
  private lwEvent?: { handle: EventHandle; at: number };

  // receive backlog and NET_RX softirq
  private backlog: SkBuff[] = [];
  private netRxScheduled = false;
  netdevMaxBacklog = NETDEV_MAX_BACKLOG;

  /** skb accounting, for leak checks: allocations and frees since boot. */
  readonly skbCounts = { allocated: 0, freed: 0 };
  /** Fault injection: this many of the next skb allocations fail (return null). */
  failSkbAllocs = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly jiffies: Jiffies,
    private readonly sysfs: PseudoFs,
    readonly printk: Printk,
    hostPrng: Prng,
    /** Per-frame costs of the protocol stack above the drivers (netTxFrameNs, netRxFrameNs). */
    private readonly timing: Pick<HostTiming, 'netTxFrameNs' | 'netRxFrameNs'> = { netTxFrameNs: 0, netRxFrameNs: 0 },
  ) {
    this.rtnl = new Mutex(sched);
    // Derived from the host's seed without drawing from it, so networking shifts no other draw.
    this.prng = new Prng((hostPrng.seed ^ 0x6e657464) & 0x7fffffff);
    this.sysfs.mkdir('/sys/class/net');
  }

  waitQueue(): WaitQueue {
    return new WaitQueue(this.sched);
  }

  /** The registered interfaces, in registration order. */
  get netdevs(): readonly NetDevice<any>[] {
    return this.devices;
  }

  devGetByName(name: string): NetDevice<any> | undefined {
    return this.devices.find((d) => d.name === name);
  }

  // ---- allocation ------------------------------------------------------------------------------

  /** alloc_etherdev: an Ethernet device (ether_setup: MTU 1500 in [68, 1500], broadcast, multicast), named "eth%d". */
  allocEtherdev<P>(priv: P): NetDevice<P> {
    return new NetDevice<P>(this, 'eth%d', priv);
  }

  /** alloc_netdev with a name template and a setup function. */
  allocNetdev<P>(priv: P, template: string, setup?: (dev: NetDevice<P>) => void): NetDevice<P> {
    const dev = new NetDevice<P>(this, template, priv);
    setup?.(dev);
    return dev;
  }

  /** free_netdev: only an unregistered (or never registered) device. */
  freeNetdev(dev: NetDevice<any>): void {
    if (dev.regState === 'registered') throw new Error(`BUG: free_netdev of registered ${dev.name}`);
  }

  /** eth_random_addr: a random unicast, locally administered address. */
  ethRandomAddr(): Uint8Array {
    const a = this.prng.bytes(ETH_ALEN);
    a[0] &= 0xfe;
    a[0] |= 0x02;
    return a;
  }

  // ---- skbs ------------------------------------------------------------------------------------

  get skbsLive(): number {
    return this.skbCounts.allocated - this.skbCounts.freed;
  }

  /** alloc_skb: `size` bytes of data area, no headroom; null when the allocation fails. */
  allocSkb(size: number): SkBuff | null {
    if (this.failSkbAllocs > 0) {
      this.failSkbAllocs--;
      return null;
    }
    this.skbCounts.allocated++;
    return new SkBuff(size, this.headPool.get(size)?.pop());
  }

  /**
   * Data areas of freed skbs by size, handed out again as a slab cache's free list does: not
   * cleared (kmalloc'd skb data is not zeroed in Linux either; alloc_skb promises only the size).
   */
  private readonly headPool = new Map<number, Uint8Array[]>();

  /** netdev_alloc_skb: room for `len` bytes after NET_SKB_PAD of headroom, owned by `dev`. */
  netdevAllocSkb(dev: NetDevice<any> | undefined, len: number): SkBuff | null {
    const skb = this.allocSkb(len + NET_SKB_PAD);
    if (!skb) return null;
    skb.reserve(NET_SKB_PAD);
    skb.dev = dev;
    return skb;
  }

  /** kfree_skb / consume_skb / dev_kfree_skb_any: the same thing here. */
  kfreeSkb(skb: SkBuff): void {
    if (skb.freed) throw new Error('BUG: skb freed twice');
    skb.freed = true;
    this.skbCounts.freed++;
    let pool = this.headPool.get(skb.head.length);
    if (!pool) this.headPool.set(skb.head.length, (pool = []));
    if (pool.length < HEAD_POOL_DEPTH) pool.push(skb.head);
  }

  consumeSkb(skb: SkBuff): void {
    this.kfreeSkb(skb);
  }

  devKfreeSkbAny(skb: SkBuff): void {
    this.kfreeSkb(skb);
  }

  // ---- registration ----------------------------------------------------------------------------

  /** register_netdev: take RTNL, name the device, publish it in sysfs. */
  async registerNetdev(dev: NetDevice<any>): Promise<void> {
    await this.rtnl.with(() => this.registerNetdevice(dev));
  }

  /** register_netdevice (RTNL held). */
  registerNetdevice(dev: NetDevice<any>): void {
    if (dev.regState !== 'uninitialized') throw new KernelError(Errno.EINVAL, `${dev.name} registered twice`);
    dev.name = this.allocName(dev.name);
    dev.ifindex = this.nextIfindex++;
    dev.regState = 'registered';
    this.devices.push(dev);
    // linkwatch_init_dev: only a device without carrier gets an operstate now; else "unknown".
    if (!dev.netifCarrierOk()) this.rfc2863Policy(dev);
    this.sysfsAdd(dev);
  }

  /** unregister_netdev: close it if up, then remove it from the system. */
  async unregisterNetdev(dev: NetDevice<any>): Promise<void> {
    await this.rtnl.with(() => this.unregisterNetdevice(dev));
  }

  /** unregister_netdevice (RTNL held). */
  async unregisterNetdevice(dev: NetDevice<any>): Promise<void> {
    if (dev.regState !== 'registered') throw new Error(`BUG: unregister of ${dev.regState} net_device ${dev.name}`);
    await this.close(dev);
    // flush_backlog: frames still queued for the device are dropped uncounted.
    this.backlog = this.backlog.filter((skb) => {
      if (skb.dev !== dev) return true;
      this.kfreeSkb(skb);
      return false;
    });
    this.lwList = this.lwList.filter((d) => d !== dev);
    dev._linkwatchPending = false;
    this.sysfs.remove(`/sys/class/net/${dev.name}`);
    this.sysfs.remove(this.sysfsPath(dev));
    this.devices.splice(this.devices.indexOf(dev), 1);
    dev.regState = 'unregistered';
  }

  /** dev_alloc_name / dev_get_valid_name. */
  private allocName(template: string): string {
    const pct = template.indexOf('%');
    if (pct < 0) {
      if (!validName(template)) throw new KernelError(Errno.EINVAL, `bad interface name ${JSON.stringify(template)}`);
      if (this.devGetByName(template)) throw new KernelError(Errno.EEXIST, `interface ${template} exists`);
      return template;
    }
    if (template.slice(pct, pct + 2) !== '%d' || template.indexOf('%', pct + 1) >= 0 || !validName(template)) {
      throw new KernelError(Errno.EINVAL, `bad interface name template ${JSON.stringify(template)}`);
    }
    const before = template.slice(0, pct);
    const after = template.slice(pct + 2);
    const used = new Set(this.devices.map((d) => d.name));
    for (let i = 0; i < 32768; i++) {
      const name = `${before}${i}${after}`;
      if (name.length >= IFNAMSIZ) break;
      if (!used.has(name)) return name;
    }
    throw new KernelError(Errno.ENOSPC, `no free name for ${template}`);
  }

  // ---- up / down / mtu -------------------------------------------------------------------------

  /** dev_open (`ip link set DEV up`). */
  async devOpen(dev: NetDevice<any>): Promise<void> {
    await this.rtnl.with(() => this.open(dev));
  }

  /** dev_close (`ip link set DEV down`). */
  async devClose(dev: NetDevice<any>): Promise<void> {
    await this.rtnl.with(() => this.close(dev));
  }

  private async open(dev: NetDevice<any>): Promise<void> {
    if (dev.flags & IFF_UP) return;
    if (dev.regState !== 'registered') throw new KernelError(Errno.ENODEV, `${dev.name} is not registered`);
    dev._setRunning(true);
    try {
      await dev.ops.ndoOpen?.(dev);
    } catch (e) {
      dev._setRunning(false);
      throw e;
    }
    dev.flags |= IFF_UP;
    this.devActivate(dev);
  }

  private async close(dev: NetDevice<any>): Promise<void> {
    if (!(dev.flags & IFF_UP)) return;
    dev._setRunning(false);
    dev._qdiscActive = false;
    await dev.ops.ndoStop?.(dev);
    dev.flags &= ~IFF_UP;
  }

  /** dev_set_mtu (`ip link set DEV mtu N`). */
  async devSetMtu(dev: NetDevice<any>, mtu: number): Promise<void> {
    await this.rtnl.with(() => this.setMtu(dev, mtu));
  }

  private async setMtu(dev: NetDevice<any>, mtu: number): Promise<void> {
    if (mtu === dev.mtu) return;
    if (mtu < 0 || mtu < dev.minMtu) throw new KernelError(Errno.EINVAL, `mtu ${mtu} less than device minimum ${dev.minMtu}`);
    if (dev.maxMtu > 0 && mtu > dev.maxMtu) throw new KernelError(Errno.EINVAL, `mtu ${mtu} greater than device maximum ${dev.maxMtu}`);
    if (dev.regState !== 'registered') throw new KernelError(Errno.ENODEV, dev.name);
    if (dev.ops.ndoChangeMtu) await dev.ops.ndoChangeMtu(dev, mtu);
    else dev.mtu = mtu;
  }

  /** dev_change_flags: IFF_UP opens or closes; a few other flags are the user's to set. */
  async devChangeFlags(dev: NetDevice<any>, flags: number): Promise<void> {
    await this.rtnl.with(async () => {
      dev.flags = (flags & IFF_USER_CHANGEABLE) | (dev.flags & ~IFF_USER_CHANGEABLE);
      if ((flags ^ dev.flags) & IFF_UP) {
        if (flags & IFF_UP) await this.open(dev);
        else await this.close(dev);
      }
    });
  }

  /** dev_activate: the qdisc starts passing packets, unless there is no carrier yet. */
  private devActivate(dev: NetDevice<any>): void {
    if (dev.netifCarrierOk()) dev._qdiscActive = true;
  }

  // ---- link watch ------------------------------------------------------------------------------

  /** linkwatch_fire_event: queue the device; carrier-on of a running device is urgent. */
  linkwatchFireEvent(dev: NetDevice<any>): void {
    if (!dev._linkwatchPending) {
      dev._linkwatchPending = true;
      this.lwList.push(dev);
    }
    this.linkwatchSchedule(this.urgent(dev));
  }

  /** linkwatch_urgent_event: the qdisc must follow a carrier that came back at once. */
  private urgent(dev: NetDevice<any>): boolean {
    return dev.netifRunning() && dev.netifCarrierOk() && !dev._qdiscActive;
  }

  private linkwatchSchedule(urgent: boolean): void {
    const at = urgent ? this.sched.now : Math.max(this.sched.now, this.jiffies.timeOf(this.lwNextEvent));
    if (this.lwEvent && this.lwEvent.at <= at) return;
    this.lwEvent?.handle.cancel();
    const handle = this.sched.at(at, () => {
      this.lwEvent = undefined;
      this.linkwatchRun();
    });
    this.lwEvent = { handle, at };
  }

  /** __linkwatch_run_queue: inside the one-second window only urgent events are handled. */
  private linkwatchRun(): void {
    const now = this.jiffies.now;
    const urgentOnly = this.lwNextEvent > now;
    if (!urgentOnly) this.lwNextEvent = now + this.jiffies.hz;
    else if (this.lwNextEvent > now + this.jiffies.hz) this.lwNextEvent = now;
    const keep: NetDevice<any>[] = [];
    for (const dev of this.lwList) {
      if (urgentOnly && !this.urgent(dev)) {
        keep.push(dev);
        continue;
      }
      dev._linkwatchPending = false;
      this.rfc2863Policy(dev);
      if (dev.flags & IFF_UP) {
        if (dev.netifCarrierOk()) this.devActivate(dev);
        else dev._qdiscActive = false;
      }
    }
    this.lwList = keep;
    if (keep.length) this.linkwatchSchedule(false);
  }

  /** rfc2863_policy with the default link mode: up with carrier, else down. */
  private rfc2863Policy(dev: NetDevice<any>): void {
    dev.operstate = dev.netifCarrierOk() ? OperState.UP : OperState.DOWN;
  }

  // ---- transmit --------------------------------------------------------------------------------

  /**
   * Send one skb (dev_queue_xmit without a qdisc backlog). OK: the driver took it. BUSY: the TX
   * queue is stopped or the driver refused it; the caller still owns the skb and may retry after
   * `dev.waitTxQueue()`. NET_XMIT_DROP: the interface is down or the qdisc inactive (no carrier
   * as link watch last saw it); the skb was freed.
   */
  devQueueXmit(dev: NetDevice<any>, skb: SkBuff): XmitResult {
    skb.dev = dev;
    if (dev.regState !== 'registered' || !dev.netifRunning() || !dev._qdiscActive) {
      this.kfreeSkb(skb);
      return NET_XMIT_DROP;
    }
    if (dev.netifQueueStopped()) return NetdevTx.BUSY;
    // What the stack spent on the frame before handing it down (socket, protocol): ntbsim runs no
    // TCP/IP, so the host's timing stands in for it.
    this.sched.charge(this.timing.netTxFrameNs);
    return dev.ops.ndoStartXmit(skb, dev);
  }

  // ---- receive ---------------------------------------------------------------------------------

  /** netif_rx: queue a received frame (skb.dev set, MAC header pulled) for the NET_RX softirq. */
  netifRx(skb: SkBuff): NetRx {
    const dev = skb.dev;
    if (!dev) throw new Error('BUG: netif_rx of an skb without a device');
    if (!dev.netifRunning() || this.backlog.length >= this.netdevMaxBacklog) {
      dev.coreStats.rx_dropped++;
      this.kfreeSkb(skb);
      return NetRx.DROP;
    }
    this.backlog.push(skb);
    // The protocol work the frame costs this CPU. NET_RX runs on the CPU that raised it, right
    // after the softirq that called netif_rx, so the caller (a driver's RX tasklet) pays it before
    // it can take the next frame.
    this.sched.charge(this.timing.netRxFrameNs);
    if (!this.netRxScheduled) {
      this.netRxScheduled = true;
      this.sched.after(0, () => this.netRxAction());
    }
    return NetRx.SUCCESS;
  }

  /** Frames waiting in the backlog. */
  get backlogLength(): number {
    return this.backlog.length;
  }

  /** The NET_RX softirq: one poll of the backlog per run, rescheduled while frames remain. */
  private netRxAction(): void {
    const batch = this.backlog.splice(0, NETDEV_BACKLOG_WEIGHT);
    for (const skb of batch) {
      const dev = skb.dev!;
      if (dev.rxHook) dev.rxHook(skb, dev);
      else dev.coreStats.rx_dropped++;
      if (!skb.freed) this.consumeSkb(skb);
    }
    if (this.backlog.length) this.sched.after(0, () => this.netRxAction());
    else this.netRxScheduled = false;
  }

  // ---- sysfs -----------------------------------------------------------------------------------

  /** Where the device's directory lives: under its parent, or /sys/devices/virtual/net. */
  sysfsPath(dev: NetDevice<any>): string {
    return dev.parent ? `${dev.parent.sysfsPath}/net/${dev.name}` : `/sys/devices/virtual/net/${dev.name}`;
  }

  private sysfsAdd(dev: NetDevice<any>): void {
    const dir = this.sysfsPath(dev);
    const fs = this.sysfs;
    fs.mkdir(dir);
    const ro = (show: () => string): FileOps => ({ show, noWriteErrno: Errno.EACCES, size: () => 4096 });
    const rw = (show: () => string, store: (v: number) => Promise<void> | void): FileOps => ({
      show,
      size: () => 4096,
      write: async (data) => {
        const v = Number(kstrtoull(new TextDecoder().decode(data), 0));
        await store(v);
      },
    });
    const files: Record<string, [number, FileOps]> = {
      addr_assign_type: [0o444, ro(() => '0\n')],
      addr_len: [0o444, ro(() => `${dev.addrLen}\n`)],
      address: [0o444, ro(() => `${formatMac(dev.devAddr)}\n`)],
      broadcast: [0o444, ro(() => `${formatMac(dev.broadcast)}\n`)],
      carrier: [
        0o644,
        rw(
          () => {
            if (!dev.netifRunning()) throw new KernelError(Errno.EINVAL, `${dev.name} is down`);
            return `${dev.netifCarrierOk() ? 1 : 0}\n`;
          },
          () => {
            if (!dev.netifRunning()) throw new KernelError(Errno.EINVAL, `${dev.name} is down`);
            throw new KernelError(Errno.EOPNOTSUPP, 'no ndo_change_carrier');
          },
        ),
      ],
      carrier_changes: [0o444, ro(() => `${dev.carrierUpCount + dev.carrierDownCount}\n`)],
      carrier_up_count: [0o444, ro(() => `${dev.carrierUpCount}\n`)],
      carrier_down_count: [0o444, ro(() => `${dev.carrierDownCount}\n`)],
      flags: [0o644, rw(() => `0x${dev.flags.toString(16)}\n`, (v) => this.devChangeFlags(dev, v))],
      ifindex: [0o444, ro(() => `${dev.ifindex}\n`)],
      mtu: [0o644, rw(() => `${dev.mtu}\n`, (v) => this.devSetMtu(dev, v | 0))],
      operstate: [0o444, ro(() => `${OPERSTATE_NAMES[dev.netifRunning() ? dev.operstate : OperState.DOWN]}\n`)],
      tx_queue_len: [0o644, rw(() => `${dev.txQueueLen}\n`, (v) => void (dev.txQueueLen = v))],
      type: [0o444, ro(() => `${dev.type}\n`)],
    };
    for (const [name, [mode, ops]] of Object.entries(files)) fs.createFile(`${dir}/${name}`, mode, ops);
    for (const stat of STAT_NAMES) {
      fs.createFile(`${dir}/statistics/${stat}`, 0o444, ro(() => `${(dev.getStats() as unknown as Record<string, number>)[stat]}\n`));
    }
    if (dev.parent) fs.symlink(`${dir}/device`, relative(dir, dev.parent.sysfsPath));
    fs.symlink(`${dir}/subsystem`, relative(dir, '/sys/class/net'));
    fs.symlink(`/sys/class/net/${dev.name}`, relative('/sys/class/net', dir));
  }
}

/** dev_valid_name. */
function validName(name: string): boolean {
  if (name === '' || name.length >= IFNAMSIZ || name === '.' || name === '..') return false;
  return !/[/:\s]/.test(name);
}
