import type { Device } from '../base/device';
import { LogLevel } from '../printk';
import { WaitQueue } from '../time/wait';
import type { NetCore } from './net-core';
import { ETH_ALEN, ETH_DATA_LEN, ETH_MIN_MTU, SkBuff } from './skbuff';

/** netdev_tx_t: what ndo_start_xmit (and devQueueXmit) return. */
export enum NetdevTx {
  /** The driver took the skb (sent, queued or freed it). */
  OK = 0x00,
  /** The driver could not take it: the caller still owns the skb and retries after a wake. */
  BUSY = 0x10,
}

/** NET_XMIT_DROP: devQueueXmit dropped (and freed) the skb without offering it to the driver. */
export const NET_XMIT_DROP = 0x01;
export type XmitResult = NetdevTx | typeof NET_XMIT_DROP;

/** netif_rx results. */
export enum NetRx {
  SUCCESS = 0,
  DROP = 1,
}

/** dev->flags bits (include/uapi/linux/if.h) that ntbsim uses. */
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_DEBUG = 0x4;
export const IFF_NOARP = 0x80;
export const IFF_MULTICAST = 0x1000;
/** Flags a user may set through dev_change_flags besides IFF_UP. */
export const IFF_USER_CHANGEABLE = IFF_DEBUG | IFF_NOARP | IFF_MULTICAST;

/** dev->priv_flags. */
export const IFF_LIVE_ADDR_CHANGE = 0x100000;

/** dev->features. */
export const NETIF_F_SG = 1 << 0;
export const NETIF_F_HIGHDMA = 1 << 5;

/** ARPHRD_ETHER (dev->type). */
export const ARPHRD_ETHER = 1;

/** RFC 2863 operational states, as /sys/class/net/<dev>/operstate names them. */
export enum OperState {
  UNKNOWN = 0,
  NOTPRESENT = 1,
  DOWN = 2,
  LOWERLAYERDOWN = 3,
  TESTING = 4,
  DORMANT = 5,
  UP = 6,
}
export const OPERSTATE_NAMES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;

/** struct net_device_stats: the standard counters (names as in sysfs statistics/). */
export class NetDeviceStats {
  rx_packets = 0;
  tx_packets = 0;
  rx_bytes = 0;
  tx_bytes = 0;
  rx_errors = 0;
  tx_errors = 0;
  rx_dropped = 0;
  tx_dropped = 0;
  multicast = 0;
  collisions = 0;
  rx_length_errors = 0;
  rx_over_errors = 0;
  rx_crc_errors = 0;
  rx_frame_errors = 0;
  rx_fifo_errors = 0;
  rx_missed_errors = 0;
  tx_aborted_errors = 0;
  tx_carrier_errors = 0;
  tx_fifo_errors = 0;
  tx_heartbeat_errors = 0;
  tx_window_errors = 0;
  rx_compressed = 0;
  tx_compressed = 0;
}
export type NetStatName = keyof NetDeviceStats;

/**
 * Counters the core itself keeps (dev->core_stats): a drop by the stack (backlog full, no
 * protocol handler) is counted here, not in the driver's `stats`; dev_get_stats adds the two.
 */
export class NetCoreStats {
  rx_dropped = 0;
  tx_dropped = 0;
  rx_nohandler = 0;
}

/** struct net_device_ops (the members ntbsim's drivers use). Errors are thrown KernelErrors. */
export interface NetDeviceOps {
  ndoOpen?(dev: NetDevice): Promise<void> | void;
  ndoStop?(dev: NetDevice): Promise<void> | void;
  ndoStartXmit(skb: SkBuff, dev: NetDevice): NetdevTx;
  ndoChangeMtu?(dev: NetDevice, newMtu: number): Promise<void> | void;
}

/** ethtool -i. */
export interface EthtoolDrvinfo {
  driver: string;
  version: string;
  busInfo: string;
}

/** ethtool's link settings (struct ethtool_link_ksettings, the fields drivers here fill). */
export interface EthtoolLinkKsettings {
  supported: string[];
  advertising: string[];
  /** Mb/s; SPEED_UNKNOWN (-1) when unknown. */
  speed: number;
  duplex: 'half' | 'full' | 'unknown';
  port: 'tp' | 'fibre' | 'da' | 'none' | 'other';
  phyAddress: number;
  autoneg: boolean;
}
export const SPEED_UNKNOWN = -1;

export interface EthtoolOps {
  getDrvinfo?(dev: NetDevice): EthtoolDrvinfo;
  getLink?(dev: NetDevice): boolean;
  getLinkKsettings?(dev: NetDevice): EthtoolLinkKsettings;
}

/** ethtool_op_get_link. */
export const ethtoolOpGetLink = (dev: NetDevice): boolean => dev.netifCarrierOk();

export type NetRegState = 'uninitialized' | 'registered' | 'unregistered';

/** What the stack hands a received frame to (see NetCore.netifRx). The skb is freed when it returns. */
export type RxHook = (skb: SkBuff, dev: NetDevice) => void;

/**
 * struct net_device with its single TX queue. Built by NetCore.allocEtherdev (alloc_etherdev +
 * ether_setup); `priv` is netdev_priv(). State changes that the stack must see (carrier, the TX
 * queue) go through the netif_* methods, as in Linux.
 */
export class NetDevice<P = unknown> {
  /** The interface name; a template such as "eth%d" until registered. */
  name: string;
  ifindex = 0;
  mtu = ETH_DATA_LEN;
  minMtu = ETH_MIN_MTU;
  maxMtu = ETH_DATA_LEN;
  type = ARPHRD_ETHER;
  addrLen = ETH_ALEN;
  devAddr: Uint8Array = new Uint8Array(ETH_ALEN);
  permAddr: Uint8Array = new Uint8Array(ETH_ALEN);
  broadcast: Uint8Array = new Uint8Array(ETH_ALEN).fill(0xff);
  flags = IFF_BROADCAST | IFF_MULTICAST;
  privFlags = 0;
  features = 0;
  hwFeatures = 0;
  /** In jiffies; the watchdog only matters with an ndo_tx_timeout, which ntbsim's drivers lack. */
  watchdogTimeo = 0;
  txQueueLen = 1000;
  operstate = OperState.UNKNOWN;
  regState: NetRegState = 'uninitialized';
  /** SET_NETDEV_DEV: the device the interface hangs under in sysfs. */
  parent?: Device;
  ops: NetDeviceOps = { ndoStartXmit: () => NetdevTx.BUSY };
  ethtoolOps: EthtoolOps = {};
  readonly stats = new NetDeviceStats();
  readonly coreStats = new NetCoreStats();
  /** Where received frames go (a traffic generator or test installs it). */
  rxHook?: RxHook;

  // ---- dev->state bits ------------------------------------------------------------------------
  /** __LINK_STATE_START: the interface is up (netif_running). */
  private running = false;
  /** __LINK_STATE_NOCARRIER. alloc_netdev leaves the carrier on. */
  private noCarrier = false;
  /** __QUEUE_STATE_DRV_XOFF of the one TX queue. */
  private xoff = false;
  /** @internal whether the root qdisc passes packets (dev_activate/dev_deactivate). */
  _qdiscActive = false;
  /** @internal __LINK_STATE_LINKWATCH_PENDING. */
  _linkwatchPending = false;

  carrierUpCount = 0;
  carrierDownCount = 0;
  /** Instrumentation (no Linux counterpart): how often the driver stopped and woke the TX queue. */
  readonly txq = { stops: 0, wakes: 0 };
  /** Woken whenever the TX queue is woken or the interface goes down (like __netif_schedule). */
  readonly txWaitQueue: WaitQueue;

  constructor(
    readonly net: NetCore,
    template: string,
    readonly priv: P,
  ) {
    this.name = template;
    this.txWaitQueue = net.waitQueue();
  }

  // ---- netif_* ---------------------------------------------------------------------------------

  netifRunning(): boolean {
    return this.running;
  }

  /** @internal set by dev_open/dev_close only. */
  _setRunning(on: boolean): void {
    this.running = on;
    if (!on) this.txWaitQueue.wakeUp();
  }

  netifCarrierOk(): boolean {
    return !this.noCarrier;
  }

  netifCarrierOn(): void {
    if (!this.noCarrier) return;
    this.noCarrier = false;
    if (this.regState === 'uninitialized') return;
    this.carrierUpCount++;
    this.net.linkwatchFireEvent(this);
  }

  netifCarrierOff(): void {
    if (this.noCarrier) return;
    this.noCarrier = true;
    if (this.regState === 'uninitialized') return;
    this.carrierDownCount++;
    this.net.linkwatchFireEvent(this);
  }

  netifQueueStopped(): boolean {
    return this.xoff;
  }

  netifStopQueue(): void {
    if (!this.xoff) this.txq.stops++;
    this.xoff = true;
  }

  /** netif_start_queue: allow transmits again, without rescheduling anyone. */
  netifStartQueue(): void {
    this.xoff = false;
  }

  /** netif_wake_queue: allow transmits again and, if the queue was stopped, reschedule senders. */
  netifWakeQueue(): void {
    if (!this.xoff) return;
    this.xoff = false;
    this.txq.wakes++;
    this.txWaitQueue.wakeUp();
  }

  /** Process context: wait until the TX queue is not stopped, or the interface is down. */
  waitTxQueue(): Promise<void> {
    return this.txWaitQueue.waitEvent(() => !this.xoff || !this.running);
  }

  /** netdev_printk: "<driver> <parent>: <name>: text", or "<name>: text" without a parent. */
  log(level: LogLevel, text: string): void {
    const reg = this.regState === 'registered' ? '' : ` (${this.regState})`;
    const name = !this.name || this.name.includes('%') ? '(unnamed net_device)' : this.name;
    const p = this.parent;
    const prefix = p ? `${p.printkPrefix()} ${p.name} ` : '';
    this.net.printk.log(level, `${prefix}${name}${reg}: ${text}`);
  }

  /** dev_get_stats: the driver's counters plus the core's own drops. */
  getStats(): NetDeviceStats & { rx_nohandler: number } {
    const s = Object.assign(new NetDeviceStats(), this.stats) as NetDeviceStats & { rx_nohandler: number };
    s.rx_dropped += this.coreStats.rx_dropped;
    s.tx_dropped += this.coreStats.tx_dropped;
    s.rx_nohandler = this.coreStats.rx_nohandler;
    return s;
  }
}
