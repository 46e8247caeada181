import { Errno, KernelError } from '../../core/errno';
import { IrqReturn } from '../../core/irq/irqdesc';
import { Kernel } from '../../core/kernel';
import { hexZeroPad, physAddr } from '../../core/lib/printf';
import { DmaBuffer } from '../../core/dma/mapping';
import { IoMem } from '../../core/mm/io';
import { LogLevel } from '../../core/printk';
import { WorkStruct } from '../../core/time/workqueue';
import {
  NTB_DEF_PEER_IDX,
  NtbDev,
  NtbDevOps,
  NtbLinkInfo,
  NtbMwAlign,
  NtbPeerDbAddr,
  NtbPeerMwAddr,
  NtbSpeed,
  NtbTopo,
  NtbWidth,
  ntbDbEvent,
  ntbLinkEvent,
} from '../ntb';
import * as G from './switchtec-regs';
import type { SwitchtecDev } from './switchtec-dev';

/**
 * The shared window both NTB drivers keep in host RAM behind LUT 0 of the peer's BAR (mainline
 * layout, MAX_MWS 256). Software only: the switch knows nothing of it.
 */
export const SHARED_MW = {
  MAGIC: 0x45cc0001,
  OFF_MAGIC: 0x000,
  OFF_LINK_STA: 0x004,
  OFF_PARTITION_ID: 0x008,
  OFF_MW_SIZES: 0x010,
  MAX_MWS: 256,
  OFF_SPAD: 0x810,
  SPAD_COUNT: 128,
} as const;

/** Link messages carried in message register 0. */
export enum SwitchtecMsg {
  LINK_UP = 1,
  LINK_DOWN = 2,
  CHECK_LINK = 3,
  LINK_FORCE_DOWN = 4,
}
const LINK_MESSAGE = 0;

const LUT_SIZE = G.LUT_SIZE;
const SZ_4K = 0x1000;
const DB_MASK_ALL = 0x0fffffffffffffffn;
const OP_TEXT: Record<number, string> = { 1: 'lock', 2: 'configure', 3: 'reset' };

/** What the module's parameters say, read at each use (they are writable at run time). */
export interface SwitchtecNtbParams {
  maxMwSize(): number;
  useLutMws(): boolean;
}

const ilog2 = (v: number): number => Math.floor(Math.log2(v));
const roundDownPow2 = (v: number): number => (v <= 0 ? 0 : 2 ** ilog2(v));
const einval = (what: string): KernelError => new KernelError(Errno.EINVAL, what);

/**
 * struct switchtec_ntb: one NT endpoint as an NTB device. Everything it knows about the switch
 * comes from GAS registers; everything it does is an MMIO access, a DMA buffer or an interrupt.
 */
export class SwitchtecNtb {
  readonly ntb: NtbDev;
  selfPartition = 0;
  peerPartition = 0;

  readonly mmioNtbInfo: IoMem;
  mmioSelfCtrl!: IoMem;
  mmioPeerCtrl!: IoMem;
  mmioSelfDbmsg!: IoMem;
  /** Our own DBMSG block: without crosslink the switch routes its outbound registers to the peer. */
  mmioPeerDbmsg!: IoMem;

  directMwToBar: number[] = [];
  peerDirectMwToBar: number[] = [];
  nrLutMw = 0;
  peerNrLutMw = 0;
  nrRsvdLuts = 0;

  dbMask = 0n;
  dbValidMask = 0n;
  dbShift = 0;
  dbPeerShift = 0;

  selfShared?: DmaBuffer;
  peerShared?: IoMem;

  linkIsUp = false;
  linkForceDown = false;
  linkSpeed = NtbSpeed.NONE;
  linkWidth = NtbWidth.NONE;
  doorbellIrq = -1;
  messageIrq = -1;
  readonly checkLinkWork: WorkStruct;

  constructor(
    private readonly k: Kernel,
    readonly stdev: SwitchtecDev,
    private readonly params: SwitchtecNtbParams,
  ) {
    this.mmioNtbInfo = stdev.mmio.slice(G.GAS_NTB_INFO, G.NTB_INFO_SIZE);
    this.ntb = new NtbDev(stdev.pdev, this.ops(), NtbTopo.SWITCH);
    this.checkLinkWork = k.work('check_link_status_work', () => this.checkLinkStatusWork());
  }

  private log(level: LogLevel, text: string): void {
    this.k.printk.devLog(level, this.stdev, text);
  }

  get nrDirectMw(): number {
    return this.directMwToBar.length;
  }

  get peerNrDirectMw(): number {
    return this.peerDirectMwToBar.length;
  }

  // ---- probe steps (switchtec_ntb_add order) ----------------------------------------------------

  /** Find the one NT peer partition this driver supports. */
  initSndev(): void {
    const info = this.mmioNtbInfo;
    this.selfPartition = this.stdev.partition;
    const ntp = G.NTB_INFO_NTP_INFO + G.NTB_INFO_NTP_STRIDE * this.selfPartition;
    let tpart = (BigInt(info.ioread32(ntp + G.NTP_TARGET_PART_HIGH)) << 32n) | BigInt(info.ioread32(ntp + G.NTP_TARGET_PART_LOW));
    let pmap = info.ioread64(G.NTB_INFO_EP_MAP);
    tpart &= pmap;
    pmap &= ~(1n << BigInt(this.selfPartition));
    if (tpart === 0n) {
      if (this.stdev.partitionCount !== 2) return this.fail(Errno.ENODEV, 'ntb target partition not defined');
      if (pmap === 0n) return this.fail(Errno.ENODEV, 'peer partition is not NT partition');
      this.peerPartition = lowestBit(pmap);
    } else {
      if ((tpart & (tpart - 1n)) !== 0n) return this.fail(Errno.ENODEV, 'ntb driver only supports 1 pair of 1-1 ntb mapping');
      this.peerPartition = lowestBit(tpart);
      if ((pmap & (1n << BigInt(this.peerPartition))) === 0n) return this.fail(Errno.ENODEV, 'ntb target partition is not NT partition');
    }
    const xlink = info.ioread8(G.NTB_INFO_NTP_INFO + G.NTB_INFO_NTP_STRIDE * this.peerPartition + G.NTP_XLINK_ENABLED);
    if (xlink) return this.fail(Errno.ENODEV, 'crosslink configurations are not modelled by ntbsim');
    this.log(LogLevel.DEBUG, `Partition ID ${this.selfPartition} of ${this.stdev.partitionCount}`);
    this.mmioSelfCtrl = this.stdev.mmio.slice(G.ntbCtrlBase(this.selfPartition), G.NTB_CTRL_STRIDE);
    this.mmioPeerCtrl = this.stdev.mmio.slice(G.ntbCtrlBase(this.peerPartition), G.NTB_CTRL_STRIDE);
    this.mmioSelfDbmsg = this.stdev.mmio.slice(G.ntbDbmsgBase(this.selfPartition), G.NTB_DBMSG_STRIDE);
    this.mmioPeerDbmsg = this.mmioSelfDbmsg;
  }

  private fail(errno: Errno, text: string): never {
    this.log(LogLevel.ERR, text);
    throw new KernelError(errno, text);
  }

  initMw(): void {
    this.directMwToBar = mapBars(this.mmioSelfCtrl);
    this.nrLutMw = roundDownPow2(this.mmioSelfCtrl.ioread16(G.CTRL_LUT_TABLE_ENTRIES));
    this.log(LogLevel.DEBUG, `MWs: ${this.nrDirectMw} direct, ${this.nrLutMw} lut`);
    this.peerDirectMwToBar = mapBars(this.mmioPeerCtrl);
    this.peerNrLutMw = roundDownPow2(this.mmioPeerCtrl.ioread16(G.CTRL_LUT_TABLE_ENTRIES));
    this.log(LogLevel.DEBUG, `Peer MWs: ${this.peerNrDirectMw} direct, ${this.peerNrLutMw} lut`);
  }

  /** Let TLPs from our root complex and host bridge cross the NTB (they get proxy IDs). */
  async initReqIdTable(): Promise<void> {
    const reqIds = [0, this.mmioNtbInfo.ioread16(G.NTB_INFO_REQUESTER_ID)];
    const ctl = this.mmioSelfCtrl;
    if (ctl.ioread32(G.CTRL_REQ_ID_TABLE_SIZE) < reqIds.length) this.fail(Errno.EFAULT, 'Not enough requester IDs available.');
    await this.partOp(ctl, G.NTB_CTRL_PART_OP_LOCK, G.NTB_CTRL_PART_STATUS_LOCKED);
    reqIds.forEach((id, i) => {
      const reg = G.CTRL_REQ_ID_TABLE + 4 * i;
      ctl.iowrite32(((id << G.NTB_CTRL_REQ_ID_SHIFT) | G.NTB_CTRL_REQ_ID_EN) >>> 0, reg);
      const proxy = ctl.ioread32(reg);
      this.log(
        LogLevel.DEBUG,
        `Requester ID ${hex2(id >> 8)}:${hex2((id >> 3) & 0x1f)}.${((id & 7) >>> 0).toString(16).toUpperCase()} -> BB:${hex2((proxy >> 4) & 0x1f)}.${((proxy >> 1) & 7).toString(16).toUpperCase()}`,
      );
    });
    try {
      await this.partOp(ctl, G.NTB_CTRL_PART_OP_CFG, G.NTB_CTRL_PART_STATUS_NORMAL);
    } catch (e) {
      // Linux reports a refused table and carries on; a timeout is just as ignored.
      if (!(e instanceof KernelError)) throw e;
      if (e.errno === Errno.EIO) this.log(LogLevel.ERR, `Error setting up the requester ID table: ${hexZeroPad(ctl.ioread32(G.CTRL_REQ_ID_ERROR), 8)}`);
    }
  }

  initDb(): void {
    this.dbMask = DB_MASK_ALL;
    if (this.selfPartition < this.peerPartition) {
      this.dbShift = 0;
      this.dbPeerShift = 32;
    } else {
      this.dbShift = 32;
      this.dbPeerShift = 0;
    }
    this.dbValidMask = 0x0fffffffn;
    this.mmioSelfDbmsg.iowrite64(~this.dbMask & 0xffffffffffffffffn, G.DBMSG_IDB_MASK);
    this.mmioPeerDbmsg.iowrite64(this.dbValidMask << BigInt(this.dbPeerShift), G.DBMSG_ODB_MASK);
    this.log(LogLevel.DEBUG, `dbs: shift ${this.dbShift}/${this.dbPeerShift}, mask ${hexZeroPad(this.dbValidMask, 16)}`);
  }

  initMsgs(): void {
    let msgMap = 0;
    for (let i = 0; i < G.DBMSG_NUM_MSGS; i++) msgMap |= (i | (this.peerPartition << 2)) << (8 * i);
    this.mmioSelfDbmsg.iowrite32(msgMap >>> 0, G.DBMSG_MSG_MAP);
    for (let i = 0; i < G.DBMSG_NUM_MSGS; i++) {
      this.mmioSelfDbmsg.iowrite64(G.NTB_DBMSG_IMSG_STATUS | G.NTB_DBMSG_IMSG_MASK, G.DBMSG_IMSG + G.DBMSG_MSG_STRIDE * i);
    }
  }

  /** The 64 KiB buffer the peer reaches through its LUT 0: link state, window sizes, scratchpads. */
  async initSharedMw(): Promise<void> {
    const pdev = this.stdev.pdev;
    this.nrRsvdLuts++;
    let buf: DmaBuffer;
    try {
      buf = this.k.dma.allocCoherent(pdev, LUT_SIZE);
    } catch (e) {
      if (e instanceof KernelError && e.errno === Errno.ENOMEM) this.fail(Errno.ENOMEM, 'unable to allocate memory for shared mw');
      throw e;
    }
    this.selfShared = buf;
    this.initShared();
    try {
      await this.configRsvdLutWin(this.mmioPeerCtrl, 0, this.selfPartition, buf.dmaAddr);
      this.peerShared = this.k.pci.iomap(pdev, this.directMwToBar[0], LUT_SIZE);
    } catch (e) {
      this.k.dma.freeCoherent(pdev, buf);
      this.selfShared = undefined;
      this.nrRsvdLuts--;
      throw e;
    }
    this.log(LogLevel.DEBUG, 'Shared MW Ready');
  }

  private initShared(): void {
    const mem = this.selfShared!.cpu;
    mem.fill(0, LUT_SIZE, 0);
    mem.write32(SHARED_MW.OFF_MAGIC, SHARED_MW.MAGIC);
    mem.write32(SHARED_MW.OFF_PARTITION_ID, this.stdev.partition);
    const pdev = this.stdev.pdev;
    this.directMwToBar.forEach((bar, i) => {
      let size = this.k.pci.resourceLen(pdev, bar);
      if (i === 0) size = Math.min(size, LUT_SIZE * this.nrLutMw);
      mem.write64(SHARED_MW.OFF_MW_SIZES + 8 * i, BigInt(size));
    });
    for (let j = 0; j < this.nrLutMw; j++) {
      const idx = this.nrDirectMw + j;
      if (idx >= SHARED_MW.MAX_MWS) this.fail(Errno.EINVAL, `Total number of MW cannot be bigger than ${SHARED_MW.MAX_MWS}`);
      mem.write64(SHARED_MW.OFF_MW_SIZES + 8 * idx, BigInt(LUT_SIZE));
    }
  }

  /** Point LUT `lutIdx` of the partition behind `ctl` at `addr` in `partition`. */
  private async configRsvdLutWin(ctl: IoMem, lutIdx: number, partition: number, addr: number): Promise<void> {
    const peerBar = this.peerDirectMwToBar[0];
    await this.partOp(ctl, G.NTB_CTRL_PART_OP_LOCK, G.NTB_CTRL_PART_STATUS_LOCKED);
    const entry = G.CTRL_BAR_ENTRY + G.CTRL_BAR_ENTRY_STRIDE * peerBar + G.BAR_ENTRY_CTL;
    const ctlVal =
      (ctl.ioread32(entry) & 0xff) | G.NTB_CTRL_BAR_LUT_WIN_EN | (ilog2(LUT_SIZE) << G.NTB_CTRL_BAR_LUT_SIZE_SHIFT) | ((this.nrLutMw - 1) << G.NTB_CTRL_BAR_LUT_COUNT_SHIFT);
    ctl.iowrite32(ctlVal >>> 0, entry);
    ctl.iowrite64(G.NTB_CTRL_LUT_EN | (BigInt(partition) << G.NTB_CTRL_LUT_PART_SHIFT) | BigInt(addr), G.CTRL_LUT_ENTRY + 8 * lutIdx);
    try {
      await this.partOp(ctl, G.NTB_CTRL_PART_OP_CFG, G.NTB_CTRL_PART_STATUS_NORMAL);
    } catch (e) {
      if (e instanceof KernelError) {
        this.log(LogLevel.ERR, `Error setting up reserved lut window: ${hexZeroPad(ctl.ioread32(G.CTRL_BAR_ERROR), 8)} / ${hexZeroPad(ctl.ioread32(G.CTRL_LUT_ERROR), 8)}`);
      }
      throw e;
    }
  }

  /** Doorbell and message vectors: the first two MSI-X entries the event interrupt does not use. */
  initDbMsgIrq(): void {
    const partCfg = G.partCfgBase(this.stdev.partition);
    // A 32-bit read of a 16-bit field, as the driver does (hw-switchtec.md §2.3).
    const eventIrq = this.stdev.mmio.ioread32(partCfg + G.PART_CFG_VEP_VECTOR_NUMBER);
    let doorbellIrq = 0;
    let messageIrq = 0;
    while (doorbellIrq === eventIrq) doorbellIrq++;
    while (messageIrq === doorbellIrq || messageIrq === eventIrq) messageIrq++;
    this.log(LogLevel.DEBUG, `irqs - event: ${eventIrq}, db: ${doorbellIrq}, msgs: ${messageIrq}`);
    for (let i = 0; i < 64; i++) this.mmioSelfDbmsg.iowrite8(i < 60 ? doorbellIrq : messageIrq, G.DBMSG_IDB_VEC_MAP + i);
    const pdev = this.stdev.pdev;
    this.doorbellIrq = this.k.pciMsi.irqVector(pdev, doorbellIrq);
    this.messageIrq = this.k.pciMsi.irqVector(pdev, messageIrq);
    this.k.irq.requestIrq(this.doorbellIrq, () => this.doorbellIsr(), 0, 'switchtec_ntb_doorbell', this);
    try {
      this.k.irq.requestIrq(this.messageIrq, () => this.messageIsr(), 0, 'switchtec_ntb_message', this);
    } catch (e) {
      this.k.irq.freeIrq(this.doorbellIrq, this);
      this.doorbellIrq = -1;
      throw e;
    }
  }

  deinitDbMsgIrq(): void {
    if (this.messageIrq >= 0) this.k.irq.freeIrq(this.messageIrq, this);
    if (this.doorbellIrq >= 0) this.k.irq.freeIrq(this.doorbellIrq, this);
    this.messageIrq = this.doorbellIrq = -1;
  }

  deinitSharedMw(): void {
    this.peerShared = undefined;
    if (this.selfShared) this.k.dma.freeCoherent(this.stdev.pdev, this.selfShared);
    this.selfShared = undefined;
    if (this.nrRsvdLuts > 0) this.nrRsvdLuts--;
  }

  // ---- the NT control handshake ------------------------------------------------------------------

  /** Write `op` to a CTRL block and poll (50 ms sleeps) until the switch leaves the transitional state. */
  async partOp(ctl: IoMem, op: number, waitStatus: number): Promise<void> {
    const transitional: Record<number, number> = {
      [G.NTB_CTRL_PART_OP_LOCK]: G.NTB_CTRL_PART_STATUS_LOCKING,
      [G.NTB_CTRL_PART_OP_CFG]: G.NTB_CTRL_PART_STATUS_CONFIGURING,
      [G.NTB_CTRL_PART_OP_RESET]: G.NTB_CTRL_PART_STATUS_RESETTING,
    };
    const status = transitional[op];
    if (status === undefined) throw einval(`partition op ${op}`);
    ctl.iowrite32(op, G.CTRL_PARTITION_OP);
    let ps = status;
    for (let i = 0; i < 1000; i++) {
      await this.k.msleep(50);
      ps = ctl.ioread32(G.CTRL_PARTITION_STATUS) & 0xffff;
      if (ps !== status) break;
    }
    if (ps === waitStatus) return;
    if (ps === status) {
      this.log(LogLevel.ERR, `Timed out while performing ${OP_TEXT[op]} (${op}). (${hexZeroPad(ps, 8)})`);
      throw new KernelError(Errno.ETIMEDOUT, `partition op ${op}`);
    }
    throw new KernelError(Errno.EIO, `partition op ${op} ended in state ${ps}`);
  }

  // ---- link --------------------------------------------------------------------------------------

  sendMsg(idx: number, val: number): void {
    if (idx < 0 || idx >= G.DBMSG_NUM_MSGS) return;
    this.mmioPeerDbmsg.iowrite32(val, G.DBMSG_OMSG + G.DBMSG_MSG_STRIDE * idx);
  }

  /** Schedule a link check; a FORCE_DOWN message makes it a forced-down instead. */
  checkLink(msg: number): void {
    if (msg === SwitchtecMsg.LINK_FORCE_DOWN) this.linkForceDown = true;
    this.k.scheduleWork(this.checkLinkWork);
  }

  private async checkLinkStatusWork(): Promise<void> {
    if (this.linkForceDown) {
      this.linkForceDown = false;
      await this.reinitPeer();
      if (this.linkIsUp) {
        this.linkIsUp = false;
        ntbLinkEvent(this.ntb);
        this.log(LogLevel.INFO, 'ntb link forced down');
      }
      return;
    }
    this.linkStatusUpdate();
  }

  /** The peer reloaded its driver: point its LUT 0 at our shared buffer again. */
  private async reinitPeer(): Promise<void> {
    this.log(LogLevel.INFO, 'reinitialize shared memory window');
    try {
      await this.configRsvdLutWin(this.mmioPeerCtrl, 0, this.selfPartition, this.selfShared!.dmaAddr);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      // Already reported by configRsvdLutWin; the link simply stays down.
    }
  }

  /** Up when both sides have enabled the link; the peer's half is read through LUT 0. */
  linkStatusUpdate(): void {
    const old = this.linkIsUp;
    let up = this.selfShared!.cpu.read32(SHARED_MW.OFF_LINK_STA) !== 0;
    if (up) {
      const peer = this.peerShared!.ioread64(SHARED_MW.OFF_MAGIC);
      up = Number(peer & 0xffffffffn) === SHARED_MW.MAGIC ? Number(peer >> 32n) !== 0 : false;
    }
    this.linkIsUp = up;
    this.setLinkSpeed();
    if (up !== old) {
      this.sendMsg(LINK_MESSAGE, SwitchtecMsg.CHECK_LINK);
      ntbLinkEvent(this.ntb);
      this.log(LogLevel.INFO, `ntb link ${up ? 'up' : 'down'}`);
    }
  }

  private setLinkSpeed(): void {
    if (!this.linkIsUp) {
      this.linkSpeed = NtbSpeed.NONE;
      this.linkWidth = NtbWidth.NONE;
      return;
    }
    const self = this.partLinkSpeed(this.selfPartition);
    const peer = this.partLinkSpeed(this.peerPartition);
    this.linkSpeed = Math.min(self.speed, peer.speed);
    this.linkWidth = Math.min(self.width, peer.width);
  }

  private partLinkSpeed(partition: number): { speed: number; width: number } {
    const pff = this.stdev.mmio.ioread32(G.partCfgBase(partition) + G.PART_CFG_VEP_PFF_INST_ID) & 0xff;
    const sta = this.stdev.mmio.ioread32(G.pffCsrBase(pff) + G.PFF_LINK_CTL_STS);
    return { speed: (sta >>> G.LINK_STS_SPEED_SHIFT) & 0xf, width: (sta >>> G.LINK_STS_WIDTH_SHIFT) & 0x3f };
  }

  // ---- interrupts --------------------------------------------------------------------------------

  private doorbellIsr(): IrqReturn {
    this.log(LogLevel.DEBUG, 'doorbell');
    ntbDbEvent(this.ntb, 0);
    return IrqReturn.HANDLED;
  }

  private messageIsr(): IrqReturn {
    for (let i = 0; i < G.DBMSG_NUM_MSGS; i++) {
      const off = G.DBMSG_IMSG + G.DBMSG_MSG_STRIDE * i;
      const msg = this.mmioSelfDbmsg.ioread64(off);
      if ((msg & G.NTB_DBMSG_IMSG_STATUS) === 0n) continue;
      const val = Number(msg & 0xffffffffn);
      this.log(LogLevel.DEBUG, `message: ${i} ${hexZeroPad(val, 8)}`);
      this.mmioSelfDbmsg.iowrite8(1, off + 4);
      if (i === LINK_MESSAGE) this.checkLink(val);
    }
    return IrqReturn.HANDLED;
  }

  // ---- ntb_dev_ops -------------------------------------------------------------------------------

  private lutIndex(widx: number): number {
    return widx - this.nrDirectMw + this.nrRsvdLuts;
  }

  private peerLutIndex(widx: number): number {
    return widx - this.peerNrDirectMw + this.nrRsvdLuts;
  }

  mwCount(pidx: number): number {
    if (pidx !== NTB_DEF_PEER_IDX) throw einval(`pidx ${pidx}`);
    const lut = this.params.useLutMws() ? this.peerNrLutMw - this.nrRsvdLuts : 0;
    return this.peerNrDirectMw + lut;
  }

  peerMwCount(): number {
    const lut = this.params.useLutMws() ? this.nrLutMw - this.nrRsvdLuts : 0;
    return this.nrDirectMw + lut;
  }

  mwGetAlign(pidx: number, widx: number): NtbMwAlign {
    if (pidx !== NTB_DEF_PEER_IDX) throw einval(`pidx ${pidx}`);
    if (widx < 0 || widx >= SHARED_MW.MAX_MWS || !this.peerShared) throw einval(`mw ${widx}`);
    const lut = widx >= this.peerNrDirectMw;
    const size = Number(this.peerShared.ioread64(SHARED_MW.OFF_MW_SIZES + 8 * widx));
    if (size === 0) throw einval(`peer advertises no mw ${widx}`);
    return { addrAlign: lut ? size : SZ_4K, sizeAlign: lut ? size : SZ_4K, sizeMax: size };
  }

  /** Programs the PEER's CTRL block so that the peer's outbound window `widx` lands at our `addr`. */
  async mwSetTrans(pidx: number, widx: number, addr: number, size: number): Promise<void> {
    const ctl = this.mmioPeerCtrl;
    if (pidx !== NTB_DEF_PEER_IDX) throw einval(`pidx ${pidx}`);
    this.log(LogLevel.DEBUG, `MW ${widx}: part ${pidx} addr ${physAddr(addr)} size ${physAddr(size)}`);
    if (widx >= this.mwCount(pidx)) throw einval(`mw ${widx}`);
    const xlatePos = size > 0 ? ilog2(size) : 0;
    if (size !== 0 && xlatePos < 12) throw einval(`mw size ${size}`);
    if (size !== 0 && addr % 2 ** xlatePos !== 0) {
      this.log(LogLevel.ERR, 'ERROR: Memory window address is not aligned to its size!');
      throw einval(`mw ${widx} address not aligned`);
    }
    await this.partOp(ctl, G.NTB_CTRL_PART_OP_LOCK, G.NTB_CTRL_PART_STATUS_LOCKED);
    const direct = widx < this.peerNrDirectMw;
    if (size === 0) this.mwClear(widx, direct);
    else if (direct) this.mwSetDirect(widx, addr, size, xlatePos);
    else ctl.iowrite64(G.NTB_CTRL_LUT_EN | (BigInt(this.selfPartition) << G.NTB_CTRL_LUT_PART_SHIFT) | BigInt(addr), G.CTRL_LUT_ENTRY + 8 * this.peerLutIndex(widx));
    try {
      await this.partOp(ctl, G.NTB_CTRL_PART_OP_CFG, G.NTB_CTRL_PART_STATUS_NORMAL);
    } catch (e) {
      if (!(e instanceof KernelError) || e.errno !== Errno.EIO) throw e;
      this.log(LogLevel.ERR, `Hardware reported an error configuring mw ${widx}: ${hexZeroPad(ctl.ioread32(G.CTRL_BAR_ERROR), 8)}`);
      this.mwClear(widx, direct);
      await this.partOp(ctl, G.NTB_CTRL_PART_OP_CFG, G.NTB_CTRL_PART_STATUS_NORMAL).catch((again: unknown) => {
        if (!(again instanceof KernelError)) throw again;
      });
      throw e;
    }
  }

  private barEntry(bar: number, field: number): number {
    return G.CTRL_BAR_ENTRY + G.CTRL_BAR_ENTRY_STRIDE * bar + field;
  }

  private mwSetDirect(widx: number, addr: number, size: number, xlatePos: number): void {
    const ctl = this.mmioPeerCtrl;
    const bar = this.peerDirectMwToBar[widx];
    ctl.iowrite32((ctl.ioread32(this.barEntry(bar, G.BAR_ENTRY_CTL)) | G.NTB_CTRL_BAR_DIR_WIN_EN) >>> 0, this.barEntry(bar, G.BAR_ENTRY_CTL));
    ctl.iowrite32((xlatePos | (size % 2 ** 32 & 0xfffff000)) >>> 0, this.barEntry(bar, G.BAR_ENTRY_WIN_SIZE));
    ctl.iowrite32(Math.floor(size / 2 ** 32) >>> 0, G.CTRL_BAR_EXT_ENTRY + G.CTRL_BAR_ENTRY_STRIDE * bar);
    ctl.iowrite64(BigInt(this.selfPartition) | BigInt(addr), this.barEntry(bar, G.BAR_ENTRY_XLATE_ADDR));
  }

  private mwClear(widx: number, direct: boolean): void {
    const ctl = this.mmioPeerCtrl;
    if (!direct) {
      ctl.iowrite64(0n, G.CTRL_LUT_ENTRY + 8 * this.peerLutIndex(widx));
      return;
    }
    const bar = this.peerDirectMwToBar[widx];
    ctl.iowrite32((ctl.ioread32(this.barEntry(bar, G.BAR_ENTRY_CTL)) & ~G.NTB_CTRL_BAR_DIR_WIN_EN) >>> 0, this.barEntry(bar, G.BAR_ENTRY_CTL));
    ctl.iowrite32(0, this.barEntry(bar, G.BAR_ENTRY_WIN_SIZE));
    ctl.iowrite32(0, G.CTRL_BAR_EXT_ENTRY + G.CTRL_BAR_ENTRY_STRIDE * bar);
    ctl.iowrite64(BigInt(this.selfPartition), this.barEntry(bar, G.BAR_ENTRY_XLATE_ADDR));
  }

  peerMwGetAddr(widx: number): NtbPeerMwAddr {
    const pdev = this.stdev.pdev;
    if (widx >= 0 && widx < this.nrDirectMw) {
      const bar = this.directMwToBar[widx];
      const offset = widx === 0 ? LUT_SIZE * this.nrLutMw : 0;
      let size = this.k.pci.resourceLen(pdev, bar) - offset;
      if (offset && size > offset) size = offset;
      size = Math.min(size, this.params.maxMwSize());
      return { base: this.k.pci.resourceStart(pdev, bar) + offset, size };
    }
    if (widx >= 0 && widx < this.peerMwCount()) {
      return { base: this.k.pci.resourceStart(pdev, this.directMwToBar[0]) + LUT_SIZE * this.lutIndex(widx), size: LUT_SIZE };
    }
    throw einval(`peer mw ${widx}`);
  }

  linkIsUpOp(out?: NtbLinkInfo): bigint {
    if (out) {
      out.speed = this.linkSpeed;
      out.width = this.linkWidth;
    }
    return this.linkIsUp ? 1n : 0n;
  }

  linkEnable(): void {
    this.log(LogLevel.DEBUG, 'enabling link');
    this.selfShared!.cpu.write32(SHARED_MW.OFF_LINK_STA, 1);
    this.sendMsg(LINK_MESSAGE, SwitchtecMsg.LINK_UP);
    this.linkStatusUpdate();
  }

  linkDisable(): void {
    this.log(LogLevel.DEBUG, 'disabling link');
    this.selfShared!.cpu.write32(SHARED_MW.OFF_LINK_STA, 0);
    this.sendMsg(LINK_MESSAGE, SwitchtecMsg.LINK_DOWN);
    this.linkStatusUpdate();
  }

  private writeDbMask(): void {
    this.mmioSelfDbmsg.iowrite64(~this.dbMask & 0xffffffffffffffffn, G.DBMSG_IDB_MASK);
  }

  private ops(): NtbDevOps {
    const shift = (bits: bigint, by: number): bigint => (bits << BigInt(by)) & 0xffffffffffffffffn;
    const spadOff = (sidx: number): number => SHARED_MW.OFF_SPAD + 4 * sidx;
    const spadInRange = (sidx: number): boolean => Number.isInteger(sidx) && sidx >= 0 && sidx < SHARED_MW.SPAD_COUNT;
    return {
      linkIsUp: (_n, out) => this.linkIsUpOp(out),
      linkEnable: () => this.linkEnable(),
      linkDisable: () => this.linkDisable(),

      mwCount: (_n, pidx) => this.mwCount(pidx),
      mwGetAlign: (_n, pidx, widx) => this.mwGetAlign(pidx, widx),
      mwSetTrans: (_n, pidx, widx, addr, size) => this.mwSetTrans(pidx, widx, addr, size),
      peerMwCount: () => this.peerMwCount(),
      peerMwGetAddr: (_n, widx) => this.peerMwGetAddr(widx),

      dbValidMask: () => this.dbValidMask,
      dbVectorCount: () => 1,
      dbVectorMask: (_n, v) => (v < 0 || v > 1 ? 0n : this.dbValidMask),
      dbRead: () => (this.mmioSelfDbmsg.ioread64(G.DBMSG_IDB) >> BigInt(this.dbShift)) & this.dbValidMask,
      dbClear: (_n, bits) => this.mmioSelfDbmsg.iowrite64(shift(bits, this.dbShift), G.DBMSG_IDB),
      dbSetMask: (_n, bits) => {
        if ((bits & ~this.dbValidMask) !== 0n) throw einval(`doorbell bits ${bits.toString(16)}`);
        this.dbMask |= shift(bits, this.dbShift);
        this.writeDbMask();
      },
      dbClearMask: (_n, bits) => {
        if ((bits & ~this.dbValidMask) !== 0n) throw einval(`doorbell bits ${bits.toString(16)}`);
        this.dbMask &= ~shift(bits, this.dbShift);
        this.writeDbMask();
      },
      dbReadMask: () => (this.dbMask >> BigInt(this.dbShift)) & this.dbValidMask,
      peerDbAddr: (_n, dbBit) => this.peerDbAddr(dbBit),
      peerDbSet: (_n, bits) => this.mmioPeerDbmsg.iowrite64(shift(bits, this.dbPeerShift), G.DBMSG_ODB),

      spadCount: () => SHARED_MW.SPAD_COUNT,
      spadRead: (_n, sidx) => (this.selfShared && spadInRange(sidx) ? this.selfShared.cpu.read32(spadOff(sidx)) : 0),
      spadWrite: (_n, sidx, val) => {
        if (!this.selfShared || !spadInRange(sidx)) throw einval(`spad ${sidx}`);
        this.selfShared.cpu.write32(spadOff(sidx), val >>> 0);
      },
      peerSpadRead: (_n, pidx, sidx) => {
        // Linux returns -EINVAL through the u32 result.
        if (pidx !== NTB_DEF_PEER_IDX) return -Errno.EINVAL >>> 0;
        if (!this.peerShared || !spadInRange(sidx)) return 0;
        return this.peerShared.ioread32(spadOff(sidx));
      },
      peerSpadWrite: (_n, pidx, sidx, val) => {
        if (pidx !== NTB_DEF_PEER_IDX || !spadInRange(sidx)) throw einval(`peer spad ${pidx}/${sidx}`);
        if (!this.peerShared) throw new KernelError(Errno.EIO, 'no shared window');
        this.peerShared.iowrite32(val >>> 0, spadOff(sidx));
      },
      // ntbsim: the address Linux meant (LUT BAR + spad offset); Linux computes a meaningless one.
      peerSpadAddr: (_n, pidx, sidx) => {
        if (pidx !== NTB_DEF_PEER_IDX) throw einval(`pidx ${pidx}`);
        return this.k.pci.resourceStart(this.stdev.pdev, this.directMwToBar[0]) + spadOff(sidx);
      },
    };
  }

  /** ntbsim: the intended address of our odb register (Linux's formula is known to be wrong). */
  private peerDbAddr(dbBit: number): NtbPeerDbAddr {
    if (dbBit < 0 || dbBit >= 64) throw einval(`doorbell bit ${dbBit}`);
    const gas = this.k.pci.resourceStart(this.stdev.pdev, 0);
    return {
      dbAddr: gas + G.ntbDbmsgBase(this.selfPartition) + G.DBMSG_ODB + this.dbShift / 8,
      dbSize: 4,
      dbData: shiftBit(dbBit, this.dbPeerShift),
    };
  }
}

function shiftBit(bit: number, by: number): bigint {
  return ((1n << BigInt(bit)) << BigInt(by)) & 0xffffffffffffffffn;
}

function lowestBit(v: bigint): number {
  let i = 0;
  while (((v >> BigInt(i)) & 1n) === 0n) i++;
  return i;
}

function hex2(v: number): string {
  return v.toString(16).toUpperCase().padStart(2, '0');
}

/** The BARs of a CTRL block that the switch configuration marks as memory windows, in order. */
function mapBars(ctl: IoMem): number[] {
  const bars: number[] = [];
  for (let b = 0; b < 6; b++) {
    if (ctl.ioread32(G.CTRL_BAR_ENTRY + G.CTRL_BAR_ENTRY_STRIDE * b + G.BAR_ENTRY_CTL) & G.NTB_CTRL_BAR_VALID) bars.push(b);
  }
  return bars;
}
