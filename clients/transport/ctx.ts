/**
 * One transport context (struct ntb_transport_ctx) per bound NTB device: probe (§3), the memory
 * windows and inbound buffers (§4, §6), the scratchpad handshake and link cleanup (§5, §6), the
 * doorbell callback (§10), the MSI hooks (§11) and removal. Spec: transport.md.
 */
import type { Device } from '../../core/base/device';
import type { DmaBuffer } from '../../core/dma/mapping';
import { Errno, KernelError } from '../../core/errno';
import { hexAlt } from '../../core/lib/printf';
import type { Kernel } from '../../core/kernel';
import type { IoMem } from '../../core/mm/io';
import { LogLevel, RateLimit } from '../../core/printk';
import type { Mutex } from '../../core/time/wait';
import { secs } from '../../core/time/units';
import type { DelayedWork, WorkStruct } from '../../core/time/workqueue';
import {
  NTB_DEF_PEER_CNT,
  NtbDev,
  NtbSpeed,
  NtbWidth,
  ntbClearCtx,
  ntbDbClear,
  ntbDbClearMask,
  ntbDbIsUnsafe,
  ntbDbRead,
  ntbDbValidMask,
  ntbDbVectorMask,
  ntbLinkDisable,
  ntbLinkEnable,
  ntbLinkEvent,
  ntbLinkIsUp,
  ntbMsiInit,
  ntbMsiSetupMws,
  ntbMwClearTrans,
  ntbMwGetAlign,
  ntbMwSetTrans,
  ntbPeerDbSet,
  ntbPeerMwCount,
  ntbPeerMwGetAddr,
  ntbPeerPortCount,
  ntbPeerSpadWrite,
  ntbSetCtx,
  ntbSpadCount,
  ntbSpadIsUnsafe,
  ntbSpadRead,
  ntbSpadWrite,
  ntbIgnoreErrorSync,
} from '../../drivers/ntb';
import { MAX_QPS, NTB_LINK_DOWN_TIMEOUT, NTB_TRANSPORT_MIN_SPADS, NTB_TRANSPORT_NAME, NTB_TRANSPORT_VERSION, NtbQueueHandlers, Spad, TransportParams, U32 } from './defs';
import { NtbTransportQp } from './qp';
import type { TransportKernelState } from './state';

const PIDX = 0;

/** struct ntb_transport_mw: one outbound window and the inbound buffer behind its peer twin. */
export interface TransportMw {
  physAddr: number;
  physSize: number;
  /** The ioremap_wc of the whole outbound window. */
  vbase: IoMem;
  /** Size programmed into the inbound translation (advertised size rounded to the size alignment). */
  xlatSize: number;
  /** Advertised size rounded to the address alignment. */
  buffSize: number;
  allocSize: number;
  alloc?: DmaBuffer;
  /** Offset of the aligned buffer inside `alloc` (0 unless the doubled allocation was needed). */
  virtOff: number;
  dmaAddr: number;
}

const roundUp = (v: number, align: number): number => (align > 0 ? Math.ceil(v / align) * align : v);

/** ilog2 of a u64 as the transport uses it: floor(log2(v)); 0 gives -1 stored in an unsigned int. */
function ilog2U64(v: bigint): number {
  if (v === 0n) return 0xffffffff;
  return v.toString(2).length - 1;
}

function lowestSetBit32(v: bigint): number {
  const low = v & 0xffffffffn;
  if (low === 0n) return -1;
  let i = 0;
  while (((low >> BigInt(i)) & 1n) === 0n) i++;
  return i;
}

export class TransportCtx {
  readonly k: Kernel;
  readonly p: TransportParams;
  readonly mwVec: TransportMw[] = [];
  mwCount = 0;
  qpCount = 0;
  qpBitmap = 0n;
  qpBitmapFree = 0n;
  readonly qpVec: NtbTransportQp[] = [];
  /** Set by a successful handshake; like Linux, never cleared again (§6 quirk). */
  linkIsUp = false;
  readonly linkWork: DelayedWork;
  readonly linkCleanupWork: WorkStruct;
  /** link_event_lock (current mainline): handshake and cleanup never overlap. */
  readonly linkEventLock: Mutex;
  readonly clientDevs: Device[] = [];
  useMsi = false;
  msiSpadOffset = 0;
  msiDbMask = 0n;
  readonly debugfsDir: string;
  /** dev_dbg_ratelimited of the QP link work (5 s / 10). */
  readonly qpLinkRatelimit: RateLimit;
  private removed = false;

  constructor(
    readonly state: TransportKernelState,
    readonly ndev: NtbDev,
  ) {
    this.k = state.k;
    this.p = state.params;
    this.linkWork = this.k.delayedWork('ntb_transport_link_work', () => this.linkWorkFn());
    this.linkCleanupWork = this.k.work('ntb_transport_link_cleanup_work', () => this.linkCleanupWorkFn());
    this.linkEventLock = this.k.mutex();
    this.debugfsDir = `${NTB_TRANSPORT_NAME}/${ndev.pdev.name}`;
    this.qpLinkRatelimit = new RateLimit(this.k.sched, secs(5), 10);
  }

  private log(level: LogLevel, text: string): void {
    this.k.printk.devLog(level, this.ndev.pdev, text);
  }

  private pollDelay(): number {
    return this.k.jiffies.msecsToJiffies(NTB_LINK_DOWN_TIMEOUT);
  }

  /** QPs handed out to clients (qp_bitmap & ~qp_bitmap_free). */
  private allocatedQps(): NtbTransportQp[] {
    const alloc = this.qpBitmap & ~this.qpBitmapFree;
    return this.qpVec.filter((qp) => (alloc & qp.qpBit) !== 0n);
  }

  // ---- probe (§3) ---------------------------------------------------------------------------------

  /** ntb_transport_probe */
  static async probe(st: TransportKernelState, ndev: NtbDev): Promise<void> {
    const k = st.k;
    const p = st.params;
    const devLog = (level: LogLevel, text: string) => k.printk.devLog(level, ndev, text);

    let mwCount = ntbPeerMwCount(ndev);
    if (!ndev.ops.mwSetTrans) {
      devLog(LogLevel.ERR, 'Inbound MW based NTB API is required');
      throw new KernelError(Errno.EINVAL, `${ndev.name}: no mw_set_trans`);
    }
    if (ntbDbIsUnsafe(ndev)) devLog(LogLevel.DEBUG, 'doorbell is unsafe, proceed anyway...');
    if (ntbSpadIsUnsafe(ndev)) devLog(LogLevel.DEBUG, 'scratchpad is unsafe, proceed anyway...');
    if (ntbPeerPortCount(ndev) !== NTB_DEF_PEER_CNT) devLog(LogLevel.WARNING, 'Multi-port NTB devices unsupported');

    const nt = new TransportCtx(st, ndev);

    // MSI needs a window of its own: the library takes the last one.
    if (p.use_msi && mwCount > 1) {
      try {
        ntbMsiInit(k, ndev, (ctx) => {
          if (ctx instanceof TransportCtx) ctx.msiDescChanged();
        });
        mwCount -= 1;
        nt.useMsi = true;
      } catch (e) {
        // Silently on doorbells, with every window.
        if (!(e instanceof KernelError)) throw e;
      }
    }

    const spadCount = ntbSpadCount(ndev);
    if (spadCount < NTB_TRANSPORT_MIN_SPADS) {
      nt.mwCount = 0;
      throw new KernelError(Errno.EINVAL, `${ndev.name}: ${spadCount} scratchpads, ${NTB_TRANSPORT_MIN_SPADS} needed`);
    }
    nt.mwCount = Math.min(mwCount, Math.floor((spadCount - Spad.MW0_SZ_HIGH) / 2));
    nt.msiSpadOffset = nt.mwCount * 2 + Spad.MW0_SZ_HIGH;

    // Every window left after MSI is mapped, even those the scratchpads cannot describe.
    for (let i = 0; i < mwCount; i++) {
      const { base, size } = ntbPeerMwGetAddr(ndev, i);
      const vbase = k.pci.ioremap(base, size);
      nt.mwVec.push({ physAddr: base, physSize: size, vbase, xlatSize: 0, buffSize: 0, allocSize: 0, virtOff: 0, dmaAddr: 0 });
    }

    const validMask = ntbDbValidMask(ndev);
    let qpCount = ilog2U64(validMask);
    if (nt.useMsi) {
      qpCount -= 1;
      nt.msiDbMask = 1n << BigInt(qpCount);
      ntbIgnoreErrorSync(k, ndev, 'db_clear_mask', () => ntbDbClearMask(ndev, nt.msiDbMask));
    }
    if (p.max_num_clients && p.max_num_clients < qpCount) qpCount = p.max_num_clients;
    else if (nt.mwCount < qpCount) qpCount = nt.mwCount;
    qpCount = Math.min(qpCount, MAX_QPS);

    nt.qpCount = qpCount;
    nt.qpBitmap = validMask & ((1n << BigInt(qpCount)) - 1n);
    nt.qpBitmapFree = nt.qpBitmap;

    k.debugfs.createDir(nt.debugfsDir);
    try {
      for (let i = 0; i < qpCount; i++) {
        const qp = new NtbTransportQp(nt, i);
        qp.initQueue();
        nt.qpVec.push(qp);
        k.debugfs.createDir(qp.debugfsDir);
        k.debugfs.createFile(`${qp.debugfsDir}/stats`, 0o400, { show: () => qp.statsText() });
      }
      ntbSetCtx<TransportCtx>(ndev, nt, {
        linkEvent: (c) => c.eventCallback(),
        dbEvent: (c, vector) => c.doorbellCallback(vector),
      });
    } catch (e) {
      k.debugfs.remove(nt.debugfsDir);
      throw e;
    }

    st.contexts.push(nt);
    nt.linkIsUp = false;
    ntbLinkEnable(ndev, NtbSpeed.AUTO, NtbWidth.AUTO);
    ntbLinkEvent(ndev);
  }

  // ---- events (§6, §10) ---------------------------------------------------------------------------

  /** ntb_transport_event_callback */
  eventCallback(): void {
    if (ntbLinkIsUp(this.ndev) === 1n) this.k.scheduleDelayedWork(this.linkWork, 0);
    else this.k.scheduleWork(this.linkCleanupWork);
  }

  /** ntb_transport_doorbell_callback: every allocated, active QP of the vector gets its tasklet run. */
  doorbellCallback(vector: number): void {
    // One register read on every doorbell interrupt, MSI in use or not.
    if ((ntbDbRead(this.ndev) & this.msiDbMask) !== 0n) {
      this.msiPeerDescChanged();
      ntbDbClear(this.ndev, this.msiDbMask);
    }
    const dbBits = this.qpBitmap & ~this.qpBitmapFree & ntbDbVectorMask(this.ndev, vector);
    for (const qp of this.qpVec) {
      if ((dbBits & qp.qpBit) !== 0n && qp.active) qp.rxTasklet.schedule();
    }
  }

  // ---- MSI (§11) ------------------------------------------------------------------------------------

  /** ntb_transport_msi_desc_changed: the kernel rewrote one of our vectors' messages. */
  msiDescChanged(): void {
    if (this.removed) return;
    this.log(LogLevel.DEBUG, 'MSI descriptors changed');
    for (const qp of this.qpVec) qp.setupQpMsi();
    ntbIgnoreErrorSync(this.k, this.ndev, 'peer_db_set', () => ntbPeerDbSet(this.ndev, this.msiDbMask));
  }

  /** ntb_transport_msi_peer_desc_changed */
  private msiPeerDescChanged(): void {
    this.log(LogLevel.DEBUG, 'Peer MSI descriptors changed');
    for (const qp of this.qpVec) qp.setupQpPeerMsi();
  }

  // ---- inbound buffers (§6) -------------------------------------------------------------------------

  /** ntb_free_mw: clear the translation, free the buffer. */
  private async freeMw(i: number): Promise<void> {
    const mw = this.mwVec[i];
    if (!mw.alloc) return;
    try {
      await ntbMwClearTrans(this.ndev, PIDX, i);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      this.log(LogLevel.DEBUG, `mw_clear_trans ${i} failed: -${e.errno}`);
    }
    this.k.dma.freeCoherent(this.ndev.pdev, mw.alloc);
    mw.xlatSize = 0;
    mw.buffSize = 0;
    mw.allocSize = 0;
    mw.alloc = undefined;
    mw.virtOff = 0;
    mw.dmaAddr = 0;
  }

  /** ntb_alloc_mw_buffer: coherent memory whose bus address is `align`-aligned (inside it if need be). */
  private allocMwBuffer(mw: TransportMw, align: number): number {
    const pdev = this.ndev.pdev;
    let buf: DmaBuffer;
    try {
      buf = this.k.dma.allocCoherent(pdev, mw.allocSize);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      this.log(LogLevel.ERR, `Unable to alloc MW buff of size ${mw.allocSize}`);
      return -Errno.ENOMEM;
    }
    let virtOff = 0;
    let dma = buf.dmaAddr;
    if (align > 0 && dma % align !== 0) {
      if (mw.allocSize > mw.buffSize) {
        const aligned = roundUp(dma, align);
        virtOff = aligned - dma;
        dma = aligned;
      } else {
        this.k.dma.freeCoherent(pdev, buf);
        return -Errno.ENOMEM;
      }
    }
    mw.alloc = buf;
    mw.virtOff = virtOff;
    mw.dmaAddr = dma;
    return 0;
  }

  /** ntb_set_mw: an inbound buffer for the size the peer advertised, and its translation. */
  private async setMw(i: number, size: number): Promise<number> {
    const mw = this.mwVec[i];
    if (!size) return -Errno.EINVAL;
    let align;
    try {
      align = ntbMwGetAlign(this.ndev, PIDX, i);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      return -e.errno;
    }
    const xlatSize = roundUp(size, align.sizeAlign);
    const buffSize = roundUp(size, align.addrAlign);
    if (mw.xlatSize === xlatSize) return 0;
    if (mw.buffSize) await this.freeMw(i);

    mw.xlatSize = xlatSize;
    mw.buffSize = buffSize;
    mw.allocSize = buffSize;
    let rc = this.allocMwBuffer(mw, align.addrAlign);
    if (rc) {
      mw.allocSize *= 2;
      rc = this.allocMwBuffer(mw, align.addrAlign);
      if (rc) {
        this.log(LogLevel.ERR, 'Unable to alloc aligned MW buff');
        mw.xlatSize = 0;
        mw.buffSize = 0;
        mw.allocSize = 0;
        return rc;
      }
    }
    try {
      await ntbMwSetTrans(this.ndev, PIDX, i, mw.dmaAddr, mw.xlatSize);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      this.log(LogLevel.ERR, `Unable to set mw${i} translation`);
      await this.freeMw(i);
      return -Errno.EIO;
    }
    return 0;
  }

  // ---- handshake and cleanup (§6) -------------------------------------------------------------------

  /** ntb_transport_link_work: tell the peer about us, check what it told us, build the RX side. */
  private async linkWorkFn(): Promise<void> {
    await this.linkEventLock.lock();
    try {
      await this.handshake();
    } finally {
      this.linkEventLock.unlock();
    }
  }

  private async handshake(): Promise<void> {
    const ndev = this.ndev;
    const k = this.k;
    const peerWrite = (spad: number, val: number) => ntbIgnoreErrorSync(k, ndev, 'peer_spad_write', () => ntbPeerSpadWrite(ndev, PIDX, spad, val));

    if (this.useMsi) {
      try {
        await ntbMsiSetupMws(ndev);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        this.log(LogLevel.WARNING, `Failed to register MSI memory window: -${e.errno}`);
        this.useMsi = false;
      }
    }
    for (const qp of this.qpVec) qp.setupQpMsi();

    // Sent in the opposite order of the reads below: VERSION last.
    for (let i = 0; i < this.mwCount; i++) {
      let size = this.mwVec[i].physSize;
      const cap = this.p.max_mw_size;
      if (cap && size > cap) size = cap;
      peerWrite(Spad.MW0_SZ_HIGH + 2 * i, Math.floor(size / U32) >>> 0);
      peerWrite(Spad.MW0_SZ_LOW + 2 * i, size % U32);
    }
    peerWrite(Spad.NUM_MWS, this.mwCount);
    peerWrite(Spad.NUM_QPS, this.qpCount);
    peerWrite(Spad.VERSION, NTB_TRANSPORT_VERSION);

    const retry = () => {
      if (ntbLinkIsUp(ndev) === 1n) k.scheduleDelayedWork(this.linkWork, this.pollDelay());
    };
    let val = ntbSpadRead(ndev, Spad.VERSION) >>> 0;
    this.log(LogLevel.DEBUG, `Remote version = ${val | 0}`);
    if (val !== NTB_TRANSPORT_VERSION) return retry();
    val = ntbSpadRead(ndev, Spad.NUM_QPS) >>> 0;
    this.log(LogLevel.DEBUG, `Remote max number of qps = ${val | 0}`);
    if (val !== this.qpCount) return retry();
    val = ntbSpadRead(ndev, Spad.NUM_MWS) >>> 0;
    this.log(LogLevel.DEBUG, `Remote number of mws = ${val | 0}`);
    if (val !== this.mwCount) return retry();

    for (let i = 0; i < this.mwCount; i++) {
      const high = ntbSpadRead(ndev, Spad.MW0_SZ_HIGH + 2 * i) >>> 0;
      const low = ntbSpadRead(ndev, Spad.MW0_SZ_LOW + 2 * i) >>> 0;
      const size = high * U32 + low;
      this.log(LogLevel.DEBUG, `Remote MW${i} size = ${hexAlt(BigInt(high) * 0x1_0000_0000n + BigInt(low))}`);
      const rc = await this.setMw(i, size);
      if (rc) {
        for (let j = 0; j < this.mwCount; j++) await this.freeMw(j);
        // A real failure: give up until the next link event.
        return;
      }
    }

    this.linkIsUp = true;
    for (const qp of this.qpVec) {
      qp.setupQpMw();
      qp.setupQpPeerMsi();
      if (qp.clientReady) k.scheduleDelayedWork(qp.linkWork, 0);
    }
  }

  private async linkCleanupWorkFn(): Promise<void> {
    await this.linkEventLock.with(() => this.linkCleanup());
  }

  /** ntb_transport_link_cleanup: QPs down, inbound buffers freed, every local scratchpad zeroed. */
  private async linkCleanup(): Promise<void> {
    const wq = this.k.systemWq;
    for (const qp of this.allocatedQps()) {
      await qp.linkCleanup();
      await wq.cancelWorkSync(qp.linkCleanupWork);
      await wq.cancelWorkSync(qp.linkWork);
    }
    if (!this.linkIsUp) await wq.cancelWorkSync(this.linkWork);
    for (let i = 0; i < this.mwCount; i++) await this.freeMw(i);
    // Scratchpads keep their values when the peer goes: start from zero next time.
    const count = ntbSpadCount(this.ndev);
    for (let i = 0; i < count; i++) ntbIgnoreErrorSync(this.k, this.ndev, 'spad_write', () => ntbSpadWrite(this.ndev, i, 0));
  }

  // ---- removal ----------------------------------------------------------------------------------------

  /** ntb_transport_free */
  async remove(): Promise<void> {
    const k = this.k;
    const wq = k.systemWq;
    await this.linkEventLock.with(() => this.linkCleanup());
    await wq.cancelWorkSync(this.linkCleanupWork);
    await wq.cancelWorkSync(this.linkWork);

    const alloc = this.qpBitmap & ~this.qpBitmapFree;
    for (const qp of this.qpVec) {
      if ((alloc & qp.qpBit) !== 0n) await qp.free();
      k.debugfs.remove(qp.debugfsDir);
    }

    ntbLinkDisable(this.ndev);
    ntbClearCtx(this.ndev);
    this.removed = true;
    // ntbsim: our own link_disable raised a link event that queued the cleanup work again; Linux
    // would run it on the freed context. It is cancelled here instead.
    await wq.cancelWorkSync(this.linkCleanupWork);
    await wq.cancelWorkSync(this.linkWork);

    await this.busRemove();

    for (let i = this.mwCount; i--; ) await this.freeMw(i);
    k.debugfs.remove(this.debugfsDir);
  }

  /** ntb_bus_remove: client devices left on this device are unregistered. */
  private async busRemove(): Promise<void> {
    while (this.clientDevs.length > 0) {
      const dev = this.clientDevs.shift()!;
      this.k.printk.devLog(LogLevel.ERR, this.ndev, `${dev.name} still attached to bus, removing`);
      await this.k.driverCore.deviceDel(dev);
    }
    const list = this.state.contexts;
    const i = list.indexOf(this);
    if (i >= 0) list.splice(i, 1);
  }

  // ---- client queues (§12) ----------------------------------------------------------------------------

  /** ntb_transport_create_queue after the device lookup: the lowest free QP, or null. */
  createQueue(data: unknown, handlers: NtbQueueHandlers): NtbTransportQp | null {
    // ffs() of the bitmap as an int: QPs 32 and up are never handed out.
    const free = lowestSetBit32(this.qpBitmapFree);
    if (free < 0) return null;
    const qp = this.qpVec[free];
    this.qpBitmapFree &= ~qp.qpBit;
    qp.create(data, handlers);
    return qp;
  }
}
