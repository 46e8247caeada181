/**
 * One ntb_transport queue pair (struct ntb_transport_qp): the TX view of its region in the peer's
 * memory (through our outbound window), the RX view of its region in our inbound buffer, the
 * descriptor lists, the RX tasklet, the QP-level link state machine, its MSI interrupt and its
 * debugfs stats. Spec: transport.md §4 (layout), §7 (QP link), §8 (TX), §9 (RX), §11 (MSI, per
 * QP), §12 (client API), §14 (stats), §18 (per-frame accesses).
 *
 * Memory accesses follow §18: the sender touches the peer's slot only through `txMw` (an IoMem on
 * the ioremapped outbound window: iowrite32 header words, memcpy_toio payload, ioread32 flag
 * read-back) and reads its credit word from local RAM; the receiver reads headers and payloads
 * from local RAM (its inbound DMA buffer) and returns credit with one iowrite32 through `txMw`.
 * Doorbells and MSI triggers go through the NTB core / MSI library, which end in MMIO.
 */
import { Errno, KernelError } from '../../core/errno';
import { IrqReturn } from '../../core/irq/irqdesc';
import type { Kernel } from '../../core/kernel';
import type { IoMem, KernelBuffer } from '../../core/mm/io';
import { LogLevel } from '../../core/printk';
import type { Task } from '../../core/time/scheduler';
import type { WaitQueue } from '../../core/time/wait';
import { DelayedWork, WorkStruct } from '../../core/time/workqueue';
import { directMapAddr, ioremapAddr } from '../../core/mm/layout';
import {
  NtbDev,
  NtbMsiDesc,
  ntbDbClear,
  ntbDbClearMask,
  ntbDbRead,
  ntbDbSetMask,
  ntbmMsiFreeIrq,
  ntbmMsiRequestIrq,
  ntbMsiPeerTrigger,
  ntbPeerDbSet,
  ntbPeerSpadRead,
  ntbPeerSpadWrite,
  ntbSpadCount,
  ntbSpadRead,
  ntbSpadWrite,
  ntbIgnoreErrorSync,
} from '../../drivers/ntb';
import type { TransportCtx } from './ctx';
import {
  DESC_DONE_FLAG,
  HDR_FLAGS,
  HDR_LEN,
  HDR_SIZE,
  HDR_VER,
  LINK_DOWN_FLAG,
  NTB_LINK_DOWN_TIMEOUT,
  NTB_QP_DEF_NUM_ENTRIES,
  NTB_TRANSPORT_NAME,
  NtbQueueHandlers,
  RX_INFO_SIZE,
  Spad,
  spadBit,
  U32,
} from './defs';
import { hashedPointer, Tasklet } from './util';

const PIDX = 0;

/** struct ntb_queue_entry: one TX or RX descriptor. */
interface QueueEntry {
  cbData: unknown;
  buf: Uint8Array | null;
  /** u32 in C; an RX overflow stores -EIO here and hands it to the rx handler as an int. */
  len: number;
  flags: number;
  retries: number;
  errors: number;
  txIndex: number;
  rxIndex: number;
  /** Offset of the slot header: in `txMw` (TX) or in the inbound buffer (RX). */
  hdrOff: number;
}

function newEntry(): QueueEntry {
  return { cbData: null, buf: null, len: 0, flags: 0, retries: 0, errors: 0, txIndex: 0, rxIndex: 0, hdrOff: 0 };
}

/** Take a free descriptor for a client's buffer: its cookie, data and length, counters reset. */
function fillEntry(entry: QueueEntry, cb: unknown, data: Uint8Array, len: number): void {
  entry.cbData = cb;
  entry.buf = data;
  entry.len = len;
  entry.flags = 0;
  entry.retries = 0;
  entry.errors = 0;
  entry.txIndex = 0;
  entry.rxIndex = 0;
}

/** The per-QP copy thread of `tx_memcpy_offload` (current mainline only). */
interface TxCopyThread {
  readonly jobs: Array<{ entry: QueueEntry; slotOff: number }>;
  readonly wq: WaitQueue;
  stop: boolean;
  task: Task<void>;
}

/** wmb()/dma_mb(): ordering only, no transaction of its own (a timing profile may charge it). */
function barrier(): void {}

export class NtbTransportQp {
  readonly k: Kernel;
  readonly ndev: NtbDev;
  readonly qpBit: bigint;
  cbData: unknown = null;
  private handlers: NtbQueueHandlers = {};

  clientReady = false;
  linkIsUp = false;
  active = false;

  // ---- TX view (probe): our region in the peer's inbound buffer, through the outbound window ----
  /** The region, [qp_offset, qp_offset + R_tx) of the window's mapping. */
  txMw?: IoMem;
  txMwPhys = 0;
  /** Offset in `txMw` of the peer's credit word for the peer→us ring ("rx_info"). */
  private rxInfoOff = 0;
  txIndex = 0;
  txMaxEntry = 0;
  txMaxFrame = 0;
  private txFree: QueueEntry[] = [];
  private txCopy?: TxCopyThread;

  // ---- RX view (each handshake): our region of the inbound buffer ----
  private rxMem?: KernelBuffer;
  /** Offset of the region ("rx_buff") in `rxMem`. */
  private rxBuffOff = 0;
  /** Offset in `rxMem` of our credit word for the us→peer ring ("remote_rx_info"). */
  private remoteRxInfoOff = 0;
  rxIndex = 0;
  rxMaxEntry = 0;
  rxMaxFrame = 0;
  rxAllocEntry = 0;
  private rxFree: QueueEntry[] = [];
  private rxPend: QueueEntry[] = [];
  private rxPost: QueueEntry[] = [];
  readonly rxTasklet: Tasklet;

  // no DMA engine offers memcpy channels in ntbsim's kernels: these stay null
  readonly txDmaChan: null = null;
  readonly rxDmaChan: null = null;

  readonly linkWork: DelayedWork;
  readonly linkCleanupWork: WorkStruct;

  // ---- MSI (§11) ----
  useMsi = false;
  /** 0 = not requested; > 0 the irq; < 0 the errno of a failed request (never retried). */
  msiIrq = 0;
  readonly msiDesc: NtbMsiDesc = { addrOffset: 0, data: 0 };
  readonly peerMsiDesc: NtbMsiDesc = { addrOffset: 0, data: 0 };

  // ---- stats (u64 counters) ----
  rxBytes = 0;
  rxPkts = 0;
  rxRingEmpty = 0;
  rxErrNoBuf = 0;
  rxErrOflow = 0;
  rxErrVer = 0;
  rxMemcpy = 0;
  rxAsync = 0;
  txBytes = 0;
  txPkts = 0;
  txRingFull = 0;
  txErrNoBuf = 0;
  txMemcpy = 0;
  txAsync = 0;

  readonly debugfsDir: string;
  private txIndexWarned = false;

  constructor(
    readonly transport: TransportCtx,
    readonly qpNum: number,
  ) {
    this.k = transport.k;
    this.ndev = transport.ndev;
    this.qpBit = 1n << BigInt(qpNum);
    this.rxTasklet = new Tasklet(this.k, `ntb_transport qp${qpNum} rxc_db`, () => this.rxcDb());
    this.linkWork = this.k.delayedWork(`ntb_qp_link_work qp${qpNum}`, () => this.qpLinkWork());
    this.linkCleanupWork = this.k.work(`ntb_qp_link_cleanup_work qp${qpNum}`, () => this.linkCleanupWorkFn());
    this.debugfsDir = `${transport.debugfsDir}/qp${qpNum}`;
  }

  private log(level: LogLevel, text: string): void {
    this.k.printk.devLog(level, this.ndev.pdev, text);
  }

  private get debugOn(): boolean {
    return this.k.printk.debugEnabled;
  }

  /** dev_dbg: formatted only when debug output is on. */
  private readonly dbg = (text: string): void => {
    if (this.debugOn) this.log(LogLevel.DEBUG, text);
  };

  private pollDelay(): number {
    return this.k.jiffies.msecsToJiffies(NTB_LINK_DOWN_TIMEOUT);
  }

  // ---- layout ---------------------------------------------------------------------------------

  /** Number of QPs sharing window `mwNum`. */
  private qpsOnMw(mwNum: number): number {
    const { qpCount, mwCount } = this.transport;
    return Math.floor(qpCount / mwCount) + (mwNum < qpCount % mwCount ? 1 : 0);
  }

  /** ntb_transport_init_queue: the TX view, from our outbound window (capped by max_mw_size). */
  initQueue(): void {
    const nt = this.transport;
    const mwNum = this.qpNum % nt.mwCount;
    const mw = nt.mwVec[mwNum];
    this.clientReady = false;
    this.handlers = {};
    this.linkDownReset();

    let mwSize = mw.physSize;
    const cap = nt.p.max_mw_size;
    if (cap && mwSize > cap) mwSize = cap;
    // (unsigned int)mw_size: windows of 4 GiB or more wrap.
    let txSize = Math.floor((mwSize % U32) / this.qpsOnMw(mwNum));
    const qpOffset = txSize * Math.floor(this.qpNum / nt.mwCount);
    this.txMwPhys = mw.physAddr + qpOffset;
    this.txMw = mw.vbase.slice(qpOffset, txSize);
    txSize -= RX_INFO_SIZE;
    this.rxInfoOff = txSize;
    // At least two slots, whatever the MTU.
    this.txMaxFrame = Math.min(nt.p.transport_mtu, Math.floor(txSize / 2));
    this.txMaxEntry = this.txMaxFrame > 0 ? Math.floor(txSize / this.txMaxFrame) : 0;
  }

  /** ntb_transport_setup_qp_mw: the RX view of the inbound buffer, at every handshake. */
  setupQpMw(): number {
    const nt = this.transport;
    const mwNum = this.qpNum % nt.mwCount;
    const mw = nt.mwVec[mwNum];
    if (!mw.alloc) return -Errno.ENOMEM;

    let rxSize = Math.floor((mw.xlatSize % U32) / this.qpsOnMw(mwNum));
    this.rxMem = mw.alloc.cpu;
    this.rxBuffOff = mw.virtOff + rxSize * Math.floor(this.qpNum / nt.mwCount);
    rxSize -= RX_INFO_SIZE;
    this.remoteRxInfoOff = this.rxBuffOff + rxSize;
    this.rxMaxFrame = Math.min(nt.p.transport_mtu, Math.floor(rxSize / 2));
    this.rxMaxEntry = this.rxMaxFrame > 0 ? Math.floor(rxSize / this.rxMaxFrame) : 0;
    this.rxIndex = 0;

    // More slots than the default descriptor count: add descriptors to keep up with the ring.
    for (let i = this.rxAllocEntry; i < this.rxMaxEntry; i++) {
      this.rxFree.push(newEntry());
      this.rxAllocEntry++;
    }

    this.rxMem.write32(this.remoteRxInfoOff, (this.rxMaxEntry - 1) >>> 0);
    for (let i = 0; i < this.rxMaxEntry; i++) this.rxMem.fill(this.rxBuffOff + this.rxMaxFrame * (i + 1) - HDR_SIZE, HDR_SIZE, 0);

    this.rxPkts = 0;
    this.txPkts = 0;
    this.txIndex = 0;
    return 0;
  }

  // ---- QP link state machine (§7) ------------------------------------------------------------

  /** ntb_qp_link_down_reset */
  linkDownReset(): void {
    this.linkIsUp = false;
    this.active = false;
    this.txIndex = 0;
    this.rxIndex = 0;
    this.rxBytes = 0;
    this.rxPkts = 0;
    this.rxRingEmpty = 0;
    this.rxErrNoBuf = 0;
    this.rxErrOflow = 0;
    this.rxErrVer = 0;
    this.rxMemcpy = 0;
    this.rxAsync = 0;
    this.txBytes = 0;
    this.txPkts = 0;
    this.txRingFull = 0;
    this.txErrNoBuf = 0;
    this.txMemcpy = 0;
    this.txAsync = 0;
    // current mainline: the credit word starts over with the ring.
    if (this.rxMem) this.rxMem.write32(this.remoteRxInfoOff, (this.rxMaxEntry - 1) >>> 0);
  }

  /** ntb_qp_link_cleanup */
  async linkCleanup(): Promise<void> {
    this.log(LogLevel.INFO, `qp ${this.qpNum}: Link Cleanup`);
    await this.k.systemWq.cancelWorkSync(this.linkWork);
    this.linkDownReset();
    this.handlers.eventHandler?.(this.cbData, this.linkIsUp);
  }

  /** ntb_qp_link_cleanup_work: the peer sent LINK_DOWN. */
  private async linkCleanupWorkFn(): Promise<void> {
    await this.linkCleanup();
    if (this.transport.linkIsUp) this.k.scheduleDelayedWork(this.linkWork, this.pollDelay());
  }

  /** ntb_qp_link_work: echo the peer's readiness bits plus ours; up once the peer has set ours. */
  private qpLinkWork(): void {
    const nt = this.transport;
    if (!nt.linkIsUp) this.k.bugs.push({ where: `ntb_qp_link_work qp${this.qpNum}`, error: new Error('WARN_ON(!nt->link_is_up)') });
    const val = ntbSpadRead(this.ndev, Spad.QP_LINKS) >>> 0;
    ntbIgnoreErrorSync(this.k, this.ndev, 'peer_spad_write', () => ntbPeerSpadWrite(this.ndev, PIDX, Spad.QP_LINKS, (val | spadBit(this.qpNum)) >>> 0));
    if (this.debugOn && nt.qpLinkRatelimit.allow()) this.log(LogLevel.DEBUG, `Remote QP link status = ${val.toString(16)}`);
    if ((val & spadBit(this.qpNum)) !== 0) {
      this.log(LogLevel.INFO, `qp ${this.qpNum}: Link Up`);
      this.linkIsUp = true;
      this.active = true;
      this.handlers.eventHandler?.(this.cbData, this.linkIsUp);
      if (this.active) this.rxTasklet.schedule();
    } else if (nt.linkIsUp) {
      this.k.scheduleDelayedWork(this.linkWork, this.pollDelay());
    }
  }

  /** ntb_transport_link_up: the client is ready. */
  linkUp(): void {
    this.clientReady = true;
    if (this.transport.linkIsUp) this.k.scheduleDelayedWork(this.linkWork, 0);
  }

  /** ntb_transport_link_down: withdraw our bit, tell the peer with a LINK_DOWN frame if it was up. */
  async linkDown(): Promise<void> {
    this.clientReady = false;
    const val = ntbSpadRead(this.ndev, Spad.QP_LINKS) >>> 0;
    ntbIgnoreErrorSync(this.k, this.ndev, 'peer_spad_write', () => ntbPeerSpadWrite(this.ndev, PIDX, Spad.QP_LINKS, (val & ~spadBit(this.qpNum)) >>> 0));
    if (this.linkIsUp) await this.sendLinkDown();
    else await this.k.systemWq.cancelWorkSync(this.linkWork);
  }

  /** ntb_send_link_down */
  private async sendLinkDown(): Promise<void> {
    if (!this.linkIsUp) return;
    this.log(LogLevel.INFO, `qp ${this.qpNum}: Send Link Down`);
    let entry: QueueEntry | undefined;
    for (let i = 0; i < NTB_LINK_DOWN_TIMEOUT; i++) {
      entry = this.txFree.shift();
      if (entry) break;
      await this.k.msleep(100);
    }
    if (!entry) return;
    entry.cbData = null;
    entry.buf = null;
    entry.len = 0;
    entry.flags = LINK_DOWN_FLAG;
    // On failure the descriptor is not put back (as in Linux).
    if (this.processTx(entry) !== 0) this.log(LogLevel.ERR, `ntb: QP${this.qpNum} unable to send linkdown msg`);
    this.linkDownReset();
  }

  // ---- TX path (§8) -------------------------------------------------------------------------------

  /** The credit word the peer writes into our memory: the last slot it consumed. */
  private readCredit(): number {
    if (!this.rxMem) throw new KernelError(Errno.EFAULT, `ntb_transport qp${this.qpNum}: remote_rx_info used before the first handshake (NULL dereference)`);
    return this.rxMem.read32(this.remoteRxInfoOff);
  }

  /** ntb_transport_tx_free_entry (current: 0 when the ring is full). */
  txFreeEntry(): number {
    const head = this.txIndex;
    const tail = this.readCredit();
    return tail >= head ? tail - head : this.txMaxEntry + tail - head;
  }

  /** ntb_transport_tx_enqueue after the NULL check: 0, or a negative errno. */
  txEnqueue(cb: unknown, data: Uint8Array, len: number): number {
    if (!len) return -Errno.EINVAL;
    // current mainline: a QP that is down swallows the frame (no completion ever comes).
    if (!this.linkIsUp) return 0;
    const entry = this.txFree.shift();
    if (!entry) {
      this.txErrNoBuf++;
      return -Errno.EBUSY;
    }
    fillEntry(entry, cb, data, len);
    const rc = this.processTx(entry);
    if (rc) this.txFree.push(entry);
    return rc;
  }

  /** ntb_process_tx */
  private processTx(entry: QueueEntry): number {
    if (!this.txFreeEntry()) {
      this.txRingFull++;
      return -Errno.EAGAIN;
    }
    if (entry.len > this.txMaxFrame - HDR_SIZE) {
      this.handlers.txHandler?.(this, this.cbData, null, -Errno.EIO);
      this.txFree.push(entry);
      return 0;
    }
    this.asyncTx(entry);
    this.txPkts++;
    return 0;
  }

  /** ntb_async_tx: claim the slot, write len and ver, then copy (CPU inline or the offload thread). */
  private asyncTx(entry: QueueEntry): void {
    const txMw = this.txMw!;
    entry.txIndex = this.txIndex;
    const slotOff = this.txMaxFrame * entry.txIndex;
    entry.hdrOff = slotOff + this.txMaxFrame - HDR_SIZE;

    if (!this.txFreeEntry() && !this.txIndexWarned) {
      this.txIndexWarned = true;
      this.k.bugs.push({ where: `ntb_async_tx qp${this.qpNum}`, error: new Error('WARN_ON_ONCE(!ntb_transport_tx_free_entry(qp))') });
    }
    // current mainline: the head moves before anything is written to the window.
    this.txIndex = (this.txIndex + 1) % this.txMaxEntry;

    txMw.iowrite32(entry.len >>> 0, entry.hdrOff + HDR_LEN);
    txMw.iowrite32(this.txPkts % U32, entry.hdrOff + HDR_VER);

    // No TX DMA channel: CPU copy.
    if (this.txCopy) {
      this.txCopy.jobs.push({ entry, slotOff });
      this.txCopy.wq.wakeUp();
    } else {
      this.memcpyTx(entry, slotOff);
    }
    this.txMemcpy++;
  }

  /** ntb_memcpy_tx: the payload through the write-combined window, a barrier, then completion. */
  private memcpyTx(entry: QueueEntry, slotOff: number): void {
    if (entry.len > 0 && entry.buf) this.txMw!.memcpyToio(slotOff, entry.buf.subarray(0, entry.len));
    barrier(); // wmb: the payload is out before the flags
    this.txCopyCallback(entry);
  }

  /** ntb_tx_copy_callback: DONE flag, flag read-back, peer notification, client callback, recycle. */
  private txCopyCallback(entry: QueueEntry): void {
    const txMw = this.txMw!;
    txMw.iowrite32((entry.flags | DESC_DONE_FLAG) >>> 0, entry.hdrOff + HDR_FLAGS);
    // current mainline: order the WC writes before the notification with a read across the NTB.
    barrier(); // dma_mb
    txMw.ioread32(entry.hdrOff + HDR_FLAGS);

    if (this.useMsi) ntbMsiPeerTrigger(this.ndev, PIDX, this.peerMsiDesc);
    else ntbPeerDbSet(this.ndev, this.qpBit);

    // A zero-length entry is a LINK_DOWN notice: nothing to complete.
    if (entry.len > 0) {
      this.txBytes += entry.len;
      this.handlers.txHandler?.(this, this.cbData, entry.cbData, entry.len);
    }
    this.txFree.push(entry);
  }

  // ---- RX path (§9) -------------------------------------------------------------------------------

  /** ntb_transport_rx_enqueue after the NULL check: 0 or -ENOMEM. */
  rxEnqueue(cb: unknown, data: Uint8Array, len: number): number {
    const entry = this.rxFree.shift();
    if (!entry) return -Errno.ENOMEM;
    fillEntry(entry, cb, data, len);
    this.rxPend.push(entry);
    if (this.active) this.rxTasklet.schedule();
    return 0;
  }

  /** ntb_transport_rx_remove: take back one posted, unused buffer (only while the client is not ready). */
  rxRemove(): { cb: unknown; len: number } | null {
    if (this.clientReady) return null;
    const entry = this.rxPend.shift();
    if (!entry) return null;
    const out = { cb: entry.cbData, len: entry.len };
    this.rxFree.push(entry);
    return out;
  }

  /** ntb_transport_rxc_db: the RX tasklet. */
  private rxcDb(): void {
    if (this.debugOn) this.log(LogLevel.DEBUG, `ntb_transport_rxc_db: doorbell ${this.qpNum} received`);
    let i = 0;
    // At most one ring's worth per run, for fairness.
    for (; i < this.rxMaxEntry; i++) if (this.processRxc() !== 0) break;

    if (i === this.rxMaxEntry) {
      if (this.active) this.rxTasklet.schedule();
    } else if ((ntbDbRead(this.ndev) & this.qpBit) !== 0n) {
      ntbDbClear(this.ndev, this.qpBit);
      // the read makes sure the clear has landed
      ntbDbRead(this.ndev);
      // a frame may have arrived between the last look and the clear
      if (this.active) this.rxTasklet.schedule();
    }
  }

  /** ntb_process_rxc: 0 when a frame was taken, a negative errno otherwise. */
  private processRxc(): number {
    const mem = this.rxMem;
    if (!mem || this.rxMaxFrame === 0) return -Errno.EAGAIN;
    const slotOff = this.rxBuffOff + this.rxMaxFrame * this.rxIndex;
    const hdrOff = slotOff + this.rxMaxFrame - HDR_SIZE;
    const flags = mem.read32(hdrOff + HDR_FLAGS);
    if (this.debugOn) {
      this.log(LogLevel.DEBUG, `qp ${this.qpNum}: RX ver ${mem.read32(hdrOff + HDR_VER)} len ${mem.read32(hdrOff + HDR_LEN) | 0} flags ${flags.toString(16)}`);
    }

    const dbg = this.dbg;
    if (!(flags & DESC_DONE_FLAG)) {
      dbg('done flag not set');
      this.rxRingEmpty++;
      return -Errno.EAGAIN;
    }
    if (flags & LINK_DOWN_FLAG) {
      dbg('link down flag set');
      this.k.scheduleWork(this.linkCleanupWork);
      mem.write32(hdrOff + HDR_FLAGS, 0);
      return -Errno.EAGAIN;
    }
    const ver = mem.read32(hdrOff + HDR_VER);
    if (ver !== this.rxPkts % U32) {
      dbg(`version mismatch, expected ${this.rxPkts} - got ${ver}`);
      this.rxErrVer++;
      return -Errno.EIO;
    }
    const entry = this.rxPend.shift();
    if (!entry) {
      dbg('no receive buffer');
      this.rxErrNoBuf++;
      return -Errno.EAGAIN;
    }
    this.rxPost.push(entry);
    entry.hdrOff = hdrOff;
    entry.rxIndex = this.rxIndex;

    const len = mem.read32(hdrOff + HDR_LEN);
    // ntbsim: Linux checks hdr->len only against the client's buffer, so a peer's length above
    // the slot payload into a bigger buffer is copied from past the slot (its header, the next
    // slots and, from the last slot, memory after the inbound buffer). A slot never carries more
    // than rx_max_frame - 12 bytes: such a length takes the overflow path instead.
    if (len > entry.len >>> 0 || len > this.rxMaxFrame - HDR_SIZE) {
      dbg(`receive buffer overflow! Wanted ${len | 0} got ${entry.len | 0}`);
      this.rxErrOflow++;
      entry.len = -Errno.EIO;
      entry.flags |= DESC_DONE_FLAG;
      this.completeRxc();
    } else {
      dbg(`RX OK index ${this.rxIndex} ver ${ver} size ${len | 0} into buf size ${entry.len | 0}`);
      this.rxBytes += len;
      this.rxPkts++;
      entry.len = len;
      // No RX DMA channel: CPU copy.
      this.memcpyRx(entry, slotOff);
      this.rxMemcpy++;
    }
    this.rxIndex = (this.rxIndex + 1) % this.rxMaxEntry;
    return 0;
  }

  /** ntb_memcpy_rx */
  private memcpyRx(entry: QueueEntry, slotOff: number): void {
    if (entry.len > 0 && entry.buf) this.rxMem!.readInto(slotOff, entry.buf.subarray(0, entry.len));
    barrier(); // wmb: copied out before the flags are cleared
    entry.flags |= DESC_DONE_FLAG;
    this.completeRxc();
  }

  /** ntb_complete_rxc: in order, for every finished descriptor: free the slot, return credit, deliver. */
  private completeRxc(): void {
    while (this.rxPost.length > 0) {
      const entry = this.rxPost[0];
      if (!(entry.flags & DESC_DONE_FLAG)) break;
      this.rxMem!.write32(entry.hdrOff + HDR_FLAGS, 0);
      this.txMw!.iowrite32(entry.rxIndex, this.rxInfoOff);
      const cb = entry.cbData;
      const len = entry.len;
      this.rxPost.shift();
      this.rxFree.push(entry);
      if (this.handlers.rxHandler && this.clientReady) this.handlers.rxHandler(this, this.cbData, cb, len);
    }
  }

  // ---- MSI (§11) ----------------------------------------------------------------------------------

  /** ntb_transport_isr: the QP's own MSI vector. */
  private isr(): IrqReturn {
    this.rxTasklet.schedule();
    return IrqReturn.HANDLED;
  }

  /** ntb_transport_setup_qp_msi: request our vector once, publish its descriptor in our scratchpads. */
  setupQpMsi(): void {
    const nt = this.transport;
    if (!nt.useMsi) return;
    const spad = nt.msiSpadOffset + 2 * this.qpNum;
    if (spad >= ntbSpadCount(this.ndev)) {
      if (!nt.state.warnedOnce.has('msi-spads')) {
        nt.state.warnedOnce.add('msi-spads');
        this.log(LogLevel.WARNING, 'Not enough SPADS to use MSI interrupts');
      }
      return;
    }
    ntbIgnoreErrorSync(this.k, this.ndev, 'spad_write', () => ntbSpadWrite(this.ndev, spad, 0));
    ntbIgnoreErrorSync(this.k, this.ndev, 'spad_write', () => ntbSpadWrite(this.ndev, spad + 1, 0));

    if (!this.msiIrq) {
      try {
        this.msiIrq = ntbmMsiRequestIrq(this.ndev, () => this.isr(), NTB_TRANSPORT_NAME, this, this.msiDesc);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        this.msiIrq = -e.errno;
        this.log(LogLevel.WARNING, `Unable to allocate MSI interrupt for qp${this.qpNum}`);
        return;
      }
    }
    try {
      ntbSpadWrite(this.ndev, spad, this.msiDesc.addrOffset);
      ntbSpadWrite(this.ndev, spad + 1, this.msiDesc.data);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      // The irq goes, but its number stays recorded: later passes do not request again.
      if (this.msiIrq > 0) ntbmMsiFreeIrq(this.ndev, this.msiIrq, this);
      return;
    }
    if (this.debugOn) {
      this.log(LogLevel.DEBUG, `QP${this.qpNum} MSI ${this.msiIrq} addr=${this.msiDesc.addrOffset.toString(16)} data=${this.msiDesc.data.toString(16)}`);
    }
  }

  /** ntb_transport_setup_qp_peer_msi: read the peer's descriptor; a non-zero offset turns MSI on for good. */
  setupQpPeerMsi(): void {
    const nt = this.transport;
    if (!nt.useMsi) return;
    const spad = nt.msiSpadOffset + 2 * this.qpNum;
    if (spad >= ntbSpadCount(this.ndev)) return;
    this.peerMsiDesc.addrOffset = ntbPeerSpadRead(this.ndev, PIDX, spad) >>> 0;
    this.peerMsiDesc.data = ntbPeerSpadRead(this.ndev, PIDX, spad + 1) >>> 0;
    if (this.debugOn) {
      this.log(LogLevel.DEBUG, `QP${this.qpNum} Peer MSI addr=${this.peerMsiDesc.addrOffset.toString(16)} data=${this.peerMsiDesc.data.toString(16)}`);
    }
    if (this.peerMsiDesc.addrOffset) {
      this.useMsi = true;
      this.log(LogLevel.INFO, `Using MSI interrupts for QP${this.qpNum}`);
    }
  }

  // ---- queue creation and release (§12) ------------------------------------------------------------

  /** The part of ntb_transport_create_queue after the QP was taken from the free bitmap. */
  create(data: unknown, handlers: NtbQueueHandlers): void {
    const p = this.transport.p;
    this.cbData = data;
    this.handlers = { ...handlers };

    if (p.tx_memcpy_offload) this.startTxCopyThread();

    if (p.use_dma) {
      // The channel filter wants a DMA_MEMCPY channel on the NTB device's node; there is none.
      this.log(LogLevel.INFO, 'Unable to allocate TX DMA channel');
      this.log(LogLevel.INFO, 'Unable to allocate RX DMA channel');
    }
    this.log(LogLevel.DEBUG, `Using ${this.txDmaChan ? 'DMA' : 'CPU'} memcpy for TX`);
    this.log(LogLevel.DEBUG, `Using ${this.rxDmaChan ? 'DMA' : 'CPU'} memcpy for RX`);

    for (let i = 0; i < NTB_QP_DEF_NUM_ENTRIES; i++) this.rxFree.push(newEntry());
    this.rxAllocEntry = NTB_QP_DEF_NUM_ENTRIES;
    for (let i = 0; i < this.txMaxEntry; i++) this.txFree.push(newEntry());

    ntbIgnoreErrorSync(this.k, this.ndev, 'db_clear', () => ntbDbClear(this.ndev, this.qpBit));
    ntbIgnoreErrorSync(this.k, this.ndev, 'db_clear_mask', () => ntbDbClearMask(this.ndev, this.qpBit));
    this.log(LogLevel.INFO, `NTB Transport QP ${this.qpNum} created`);
  }

  private startTxCopyThread(): void {
    const t: TxCopyThread = { jobs: [], wq: this.k.waitQueue(), stop: false, task: undefined as unknown as Task<void> };
    t.task = this.k.kthreadRun(`ntb-txcpy/${this.ndev.pdev.name}/${this.qpNum}`, async () => {
      for (;;) {
        await t.wq.waitEvent(() => t.jobs.length > 0 || t.stop);
        while (t.jobs.length > 0) {
          const job = t.jobs.shift()!;
          this.memcpyTx(job.entry, job.slotOff);
          // The thread is busy for as long as the copy takes (charged by the window's timing):
          // that time passes before it looks at the next job.
          await this.k.sched.sleep(0);
        }
        if (t.stop) return;
      }
    });
    this.txCopy = t;
  }

  /** kthread_stop of the copy thread: it finishes the copies already queued, then exits. */
  private async stopTxCopyThread(): Promise<void> {
    const t = this.txCopy;
    if (!t) return;
    this.txCopy = undefined;
    t.stop = true;
    t.wq.wakeUp();
    await this.k.sched.join(t.task).catch((e: unknown) => {
      // Already reported as a kernel oops by kthreadRun.
      if (e instanceof KernelError) return;
      throw e;
    });
  }

  /** ntb_transport_free_queue */
  async free(): Promise<void> {
    this.active = false;
    await this.stopTxCopyThread();
    ntbIgnoreErrorSync(this.k, this.ndev, 'db_set_mask', () => ntbDbSetMask(this.ndev, this.qpBit));
    await this.rxTasklet.kill();
    await this.k.systemWq.cancelWorkSync(this.linkWork);

    this.cbData = null;
    this.handlers = {};

    this.rxFree = [];
    for (; this.rxPend.length > 0; this.rxPend.shift()) this.log(LogLevel.WARNING, 'Freeing item from non-empty rx_pend_q');
    for (; this.rxPost.length > 0; this.rxPost.shift()) this.log(LogLevel.WARNING, 'Freeing item from non-empty rx_post_q');
    this.txFree = [];

    this.transport.qpBitmapFree |= this.qpBit;
    this.log(LogLevel.INFO, `NTB Transport QP ${this.qpNum} freed`);
  }

  /** ntb_transport_max_size: the payload of a TX slot (no DMA channel: no copy alignment). */
  maxSize(): number {
    const copyAlign = 0;
    const maxSize = this.txMaxFrame - HDR_SIZE;
    return Math.floor(maxSize / 2 ** copyAlign) * 2 ** copyAlign;
  }

  // ---- debugfs (§14) --------------------------------------------------------------------------------

  /** qp<N>/stats: empty while the QP link is down. */
  statsText(): string {
    if (!this.linkIsUp) return '';
    return [
      '\nNTB QP stats:\n\n',
      `rx_bytes - \t${this.rxBytes}\n`,
      `rx_pkts - \t${this.rxPkts}\n`,
      `rx_memcpy - \t${this.rxMemcpy}\n`,
      `rx_async - \t${this.rxAsync}\n`,
      `rx_ring_empty - ${this.rxRingEmpty}\n`,
      `rx_err_no_buf - ${this.rxErrNoBuf}\n`,
      `rx_err_oflow - \t${this.rxErrOflow}\n`,
      `rx_err_ver - \t${this.rxErrVer}\n`,
      `rx_buff - \t0x${hashedPointer(this.k, this.rxBuffAddr)}\n`,
      `rx_index - \t${this.rxIndex}\n`,
      `rx_max_entry - \t${this.rxMaxEntry}\n`,
      `rx_alloc_entry - \t${this.rxAllocEntry}\n\n`,
      `tx_bytes - \t${this.txBytes}\n`,
      `tx_pkts - \t${this.txPkts}\n`,
      `tx_memcpy - \t${this.txMemcpy}\n`,
      `tx_async - \t${this.txAsync}\n`,
      `tx_ring_full - \t${this.txRingFull}\n`,
      `tx_err_no_buf - ${this.txErrNoBuf}\n`,
      `tx_mw - \t0x${hashedPointer(this.k, this.txMwAddr)}\n`,
      `tx_index (H) - \t${this.txIndex}\n`,
      `RRI (T) - \t${this.readCredit()}\n`,
      `tx_max_entry - \t${this.txMaxEntry}\n`,
      `free tx - \t${this.txFreeEntry()}\n`,
      '\n',
      `Using TX DMA - \t${this.txDmaChan ? 'Yes' : 'No'}\n`,
      `Using RX DMA - \t${this.rxDmaChan ? 'Yes' : 'No'}\n`,
      `QP Link - \t${this.linkIsUp ? 'Up' : 'Down'}\n`,
      '\n',
    ].join('');
  }

  /** The kernel addresses `rx_buff` and `tx_mw` would have (printed hashed, as %p does). */
  get rxBuffAddr(): bigint {
    return this.rxMem ? directMapAddr(this.rxMem.phys + this.rxBuffOff) : 0n;
  }

  get txMwAddr(): bigint {
    return this.txMw ? ioremapAddr(this.txMwPhys) : 0n;
  }
}
