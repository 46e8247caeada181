/**
 * ntb_netdev (drivers/net/ntb_netdev.c, version 0.7): an Ethernet interface over one
 * ntb_transport queue pair. Behaviour follows ../shared/spec/netdev.md (the early-2026 mainline
 * text): one QP per NTB device, 100 receive buffers of MTU + ETH_HLEN posted at open, carrier
 * driven by the QP's link events, TX flow control with a stop threshold, a restart threshold and
 * a one-jiffy reaper timer.
 *
 * Consequences the driver does not add but shows, because the transport and the stack are
 * modelled: with CPU copies the TX completion runs inside tx_enqueue, so once the queue is stopped
 * only the timer re-opens it (a tick later); a ring with fewer free slots than `txStart` is
 * re-opened only by the timer; one with fewer than `txStop` slots stalls after its first frame.
 */
import type { Device } from '../../core/base/device';
import { Errno, KernelError } from '../../core/errno';
import { Kernel } from '../../core/kernel';
import { LoadedModule, ModuleDecl } from '../../core/module/module';
import {
  ChecksumState,
  ETH_HLEN,
  ETH_MAX_MTU,
  ethTypeTrans,
  EthtoolOps,
  ethtoolOpGetLink,
  IFF_LIVE_ADDR_CHANGE,
  NETIF_F_HIGHDMA,
  NetDevice,
  NetdevTx,
  NetRx,
  SkBuff,
  SPEED_UNKNOWN,
} from '../../core/net';
import { PciDev } from '../../core/pci/pci-dev';
import { LogLevel } from '../../core/printk';
import { TimerList } from '../../core/time/timer';
import { NtbDev } from '../../drivers/ntb';
import {
  NtbQueueHandlers,
  NtbTransportClient,
  NtbTransportQp,
  ntbTransportCreateQueue,
  ntbTransportFreeQueue,
  ntbTransportLinkDown,
  ntbTransportLinkQuery,
  ntbTransportLinkUp,
  ntbTransportMaxSize,
  ntbTransportRegisterClient,
  ntbTransportRegisterClientDev,
  ntbTransportRxEnqueue,
  ntbTransportRxRemove,
  ntbTransportTxEnqueue,
  ntbTransportTxFreeEntry,
  ntbTransportUnregisterClient,
  ntbTransportUnregisterClientDev,
} from '../transport';

export const NTB_NETDEV_NAME = 'ntb_netdev';
export const NTB_NETDEV_VERSION = '0.7';
/** Receive buffers posted at open. */
export const NTB_RXQ_SIZE = 100;
export const NTB_TX_TIMEOUT_MS = 1000;

/**
 * The TX flow-control constants. In Linux they are file-scope variables, not module parameters
 * (nothing under /sys/module/ntb_netdev/parameters); here they can be changed on the loaded
 * module's state for experiments, and are read where Linux reads them.
 */
export interface NtbNetdevTunables {
  /** µs the reaper timer is armed for (rounded up to whole jiffies: one jiffy). */
  txTime: number;
  /** Free ring slots a completion needs before it re-opens the TX queue. */
  txStart: number;
  /** The TX queue is stopped when fewer free slots remain. */
  txStop: number;
}
export const NTB_NETDEV_DEFAULT_TUNABLES: Readonly<NtbNetdevTunables> = { txTime: 1, txStart: 10, txStop: 5 };

/** struct ntb_netdev: netdev_priv() of the interface. */
export class NtbNetdev {
  qp: NtbTransportQp | null = null;
  ndev!: NetDevice<NtbNetdev>;
  txTimer!: TimerList;

  constructor(
    readonly pdev: PciDev,
    readonly clientDev: Device,
  ) {}
}

export interface NtbNetdevState {
  client: NtbTransportClient;
  tunables: NtbNetdevTunables;
  /** The interfaces this module created, by transport client device. */
  readonly netdevs: Map<Device, NetDevice<NtbNetdev>>;
}

type Ndev = NetDevice<NtbNetdev>;

/** One driver instance per kernel: the handlers close over the kernel and the module state. */
class NtbNetdevDriver {
  readonly handlers: NtbQueueHandlers;
  readonly ethtool: EthtoolOps;

  constructor(
    readonly k: Kernel,
    readonly st: NtbNetdevState,
  ) {
    this.handlers = {
      rxHandler: (qp, qpData, data, len) => this.rx(qp, qpData as Ndev, data as SkBuff | null, len),
      txHandler: (_qp, qpData, data, len) => this.txDone(qpData as Ndev | null, data as SkBuff | null, len),
      eventHandler: (data, up) => this.event(data as Ndev, up),
    };
    this.ethtool = {
      getDrvinfo: (ndev) => ({ driver: NTB_NETDEV_NAME, version: NTB_NETDEV_VERSION, busInfo: (ndev as Ndev).priv.pdev.name }),
      getLink: ethtoolOpGetLink,
      getLinkKsettings: () => ({
        supported: ['Backplane'],
        advertising: ['Backplane'],
        speed: SPEED_UNKNOWN,
        duplex: 'full',
        port: 'other',
        phyAddress: 0,
        autoneg: true,
      }),
    };
  }

  private get tun(): NtbNetdevTunables {
    return this.st.tunables;
  }

  private dbg(ndev: Ndev, text: () => string): void {
    if (this.k.printk.debugEnabled) ndev.log(LogLevel.DEBUG, text());
  }

  private freeSkb(skb: SkBuff): void {
    this.k.net.kfreeSkb(skb);
  }

  /** Take back every buffer still posted and free it; returns how many there were. */
  private drainRx(qp: NtbTransportQp | null): number {
    let n = 0;
    for (let e = ntbTransportRxRemove(qp); e; e = ntbTransportRxRemove(qp)) {
      this.freeSkb(e.cb as SkBuff);
      n++;
    }
    return n;
  }

  /** Allocate a receive skb of `size` bytes and post it; a failed post frees it and throws. */
  private postRx(ndev: Ndev, size: number): void {
    const skb = this.k.net.netdevAllocSkb(ndev, size);
    if (!skb) throw new KernelError(Errno.ENOMEM, 'rx skb allocation failed');
    try {
      ntbTransportRxEnqueue(ndev.priv.qp, skb, skb.data, size);
    } catch (e) {
      this.freeSkb(skb);
      throw e;
    }
  }

  // ---- transport callbacks ---------------------------------------------------------------------

  event(ndev: Ndev, linkIsUp: boolean): void {
    const qp = ndev.priv.qp;
    this.dbg(ndev, () => `Event ${linkIsUp ? 1 : 0}, Link ${ntbTransportLinkQuery(qp) ? 1 : 0}`);
    if (!linkIsUp) ndev.netifCarrierOff();
    else if (ntbTransportLinkQuery(qp)) ndev.netifCarrierOn();
  }

  rx(qp: NtbTransportQp, ndev: Ndev, skb: SkBuff | null, len: number): void {
    if (!skb) return;
    this.dbg(ndev, () => `ntb_netdev_rx_handler: ${len} byte payload received`);
    let buf: SkBuff | null = skb;
    if (len < 0) {
      ndev.stats.rx_errors++;
      ndev.stats.rx_length_errors++;
    } else {
      skb.put(len);
      skb.protocol = ethTypeTrans(skb, ndev);
      skb.ipSummed = ChecksumState.NONE;
      if (this.k.net.netifRx(skb) === NetRx.DROP) {
        ndev.stats.rx_errors++;
        ndev.stats.rx_dropped++;
      } else {
        ndev.stats.rx_packets++;
        ndev.stats.rx_bytes += len;
      }
      buf = this.k.net.netdevAllocSkb(ndev, ndev.mtu + ETH_HLEN);
      if (!buf) {
        ndev.stats.rx_errors++;
        ndev.stats.rx_frame_errors++;
        return;
      }
    }
    try {
      ntbTransportRxEnqueue(qp, buf, buf.data, ndev.mtu + ETH_HLEN);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      this.freeSkb(buf);
      ndev.stats.rx_errors++;
      ndev.stats.rx_fifo_errors++;
    }
  }

  txDone(ndev: Ndev | null, skb: SkBuff | null, len: number): void {
    if (!skb || !ndev) return;
    if (len > 0) {
      ndev.stats.tx_packets++;
      ndev.stats.tx_bytes += skb.len;
    } else {
      ndev.stats.tx_errors++;
      ndev.stats.tx_aborted_errors++;
    }
    this.k.net.devKfreeSkbAny(skb);
    if (ntbTransportTxFreeEntry(ndev.priv.qp!) >= this.tun.txStart && ndev.netifQueueStopped()) ndev.netifWakeQueue();
  }

  // ---- TX flow control -------------------------------------------------------------------------

  private armTxTimer(ndev: Ndev): void {
    ndev.priv.txTimer.modIn(this.k.jiffies.usecsToJiffies(this.tun.txTime));
  }

  /** Stop the queue when fewer than `size` slots are free; a racing completion restarts it. */
  private maybeStopTx(ndev: Ndev, size: number): boolean {
    const qp = ndev.priv.qp!;
    if (ndev.netifQueueStopped() || ntbTransportTxFreeEntry(qp) >= size) return false;
    ndev.netifStopQueue();
    if (ntbTransportTxFreeEntry(qp) < size) {
      this.armTxTimer(ndev);
      return true;
    }
    ndev.netifStartQueue();
    return false;
  }

  startXmit(skb: SkBuff, ndev: Ndev): NetdevTx {
    const { txStop } = this.tun;
    this.maybeStopTx(ndev, txStop);
    try {
      ntbTransportTxEnqueue(ndev.priv.qp, skb, skb.data, skb.len);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      ndev.stats.tx_dropped++;
      ndev.stats.tx_errors++;
      return NetdevTx.BUSY;
    }
    this.maybeStopTx(ndev, txStop);
    return NetdevTx.OK;
  }

  txTimerFired(ndev: Ndev): void {
    if (ntbTransportTxFreeEntry(ndev.priv.qp!) < this.tun.txStop) this.armTxTimer(ndev);
    else if (ndev.netifQueueStopped()) ndev.netifWakeQueue();
  }

  // ---- net_device_ops --------------------------------------------------------------------------

  open(ndev: Ndev): void {
    const priv = ndev.priv;
    try {
      for (let i = 0; i < NTB_RXQ_SIZE; i++) this.postRx(ndev, ndev.mtu + ETH_HLEN);
    } catch (e) {
      this.drainRx(priv.qp);
      throw e;
    }
    priv.txTimer.del();
    ndev.netifCarrierOff();
    ntbTransportLinkUp(priv.qp);
    ndev.netifStartQueue();
  }

  async close(ndev: Ndev): Promise<void> {
    const priv = ndev.priv;
    await ntbTransportLinkDown(priv.qp);
    this.drainRx(priv.qp);
    priv.txTimer.del();
  }

  async changeMtu(ndev: Ndev, newMtu: number): Promise<void> {
    const qp = ndev.priv.qp;
    if (newMtu > ntbTransportMaxSize(qp) - ETH_HLEN) throw new KernelError(Errno.EINVAL, `mtu ${newMtu} above the transport frame size`);
    if (!ndev.netifRunning()) {
      ndev.mtu = newMtu;
      return;
    }
    await ntbTransportLinkDown(qp);
    if (ndev.mtu < newMtu) {
      // Bigger frames need bigger buffers: replace every posted one. Shrinking keeps them.
      try {
        for (let n = this.drainRx(qp); n > 0; n--) this.postRx(ndev, newMtu + ETH_HLEN);
      } catch (e) {
        await ntbTransportLinkDown(qp);
        this.drainRx(qp);
        ndev.log(LogLevel.ERR, 'Error changing MTU, device inoperable');
        throw e;
      }
    }
    ndev.mtu = newMtu;
    ntbTransportLinkUp(qp);
  }

  // ---- probe / remove --------------------------------------------------------------------------

  async probe(clientDev: Device): Promise<void> {
    const k = this.k;
    const ntb = clientDev.parent as NtbDev | undefined;
    const pdev = ntb?.pdev;
    if (!pdev) throw new KernelError(Errno.ENODEV, `${clientDev.name}: no PCI device`);

    const priv = new NtbNetdev(pdev, clientDev);
    const ndev = k.net.allocEtherdev(priv);
    priv.ndev = ndev;
    priv.txTimer = k.timer(() => this.txTimerFired(ndev));
    ndev.parent = clientDev;
    ndev.features = NETIF_F_HIGHDMA;
    ndev.privFlags |= IFF_LIVE_ADDR_CHANGE;
    ndev.hwFeatures = ndev.features;
    ndev.watchdogTimeo = k.jiffies.msecsToJiffies(NTB_TX_TIMEOUT_MS);
    ndev.permAddr = k.net.ethRandomAddr();
    ndev.devAddr = ndev.permAddr.slice();
    ndev.ops = {
      ndoOpen: (d) => this.open(d as Ndev),
      ndoStop: (d) => this.close(d as Ndev),
      ndoStartXmit: (skb, d) => this.startXmit(skb, d as Ndev),
      ndoChangeMtu: (d, mtu) => this.changeMtu(d as Ndev, mtu),
    };
    ndev.ethtoolOps = this.ethtool;
    ndev.minMtu = 0;
    ndev.maxMtu = ETH_MAX_MTU;

    priv.qp = ntbTransportCreateQueue(ndev, clientDev, this.handlers);
    if (!priv.qp) {
      k.net.freeNetdev(ndev);
      throw new KernelError(Errno.EIO, 'no transport queue');
    }
    ndev.mtu = ntbTransportMaxSize(priv.qp) - ETH_HLEN;

    try {
      await k.net.registerNetdev(ndev);
    } catch (e) {
      await ntbTransportFreeQueue(priv.qp);
      k.net.freeNetdev(ndev);
      throw e;
    }
    clientDev.drvdata = ndev;
    this.st.netdevs.set(clientDev, ndev);
    k.printk.devLog(LogLevel.INFO, pdev, `${ndev.name} created`);
  }

  async remove(clientDev: Device): Promise<void> {
    const ndev = clientDev.drvdata as Ndev;
    await this.k.net.unregisterNetdev(ndev);
    await ntbTransportFreeQueue(ndev.priv.qp);
    this.k.net.freeNetdev(ndev);
    this.st.netdevs.delete(clientDev);
  }
}

/** Module ntb_netdev: client devices "ntb_netdev<N>" on the transport bus, and the driver for them. */
export const ntbNetdevModule: ModuleDecl<Kernel, {}, NtbNetdevState> = {
  name: NTB_NETDEV_NAME,
  description: NTB_NETDEV_NAME,
  version: NTB_NETDEV_VERSION,
  license: 'Dual BSD/GPL',
  depends: ['ntb_transport'],
  params: {},
  async init(k, _p, mod: LoadedModule<NtbNetdevState>) {
    const st: NtbNetdevState = {
      client: undefined as unknown as NtbTransportClient,
      tunables: { ...NTB_NETDEV_DEFAULT_TUNABLES },
      netdevs: new Map(),
    };
    const drv = new NtbNetdevDriver(k, st);
    st.client = { name: NTB_NETDEV_NAME, probe: (d) => drv.probe(d), remove: (d) => drv.remove(d) };
    await ntbTransportRegisterClientDev(k, NTB_NETDEV_NAME);
    // As in Linux, a failure here leaves the client devices registered.
    await ntbTransportRegisterClient(k, st.client, mod);
    return st;
  },
  async exit(k, st) {
    await ntbTransportUnregisterClient(k, st.client);
    await ntbTransportUnregisterClientDev(k, NTB_NETDEV_NAME);
  },
};
