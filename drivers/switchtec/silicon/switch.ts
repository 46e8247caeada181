import { MmioHandler } from '../../../core/mm/physmem';
import { PciBridgeModel } from '../../../core/pci/hw/bridge';
import { ConfigSpace } from '../../../core/pci/hw/config-space';
import { PciFunctionModel, PciUpstream, RequesterId, requesterId } from '../../../core/pci/hw/function';
import { MsixTable } from '../../../core/pci/hw/msix-table';
import * as R from '../../../core/pci/hw/regs';
import { Scheduler } from '../../../core/time/scheduler';
import { msecs, Nanoseconds } from '../../../core/time/units';
import * as G from '../switchtec-regs';
import { NTB_CFG_ERR } from './cfg-errors';
import { ntEndpointMmioTiming, SWITCHTEC_UNTIMED, SwitchtecTimingProfile } from './timing';

export interface WindowBarConfig {
  /** BAR index (2 or 4; 64-bit prefetchable, so index+1 is the upper half). */
  index: number;
  /** Size in bytes, a power of two. */
  size: number;
}

export interface SwitchtecOptions {
  /** Number of NT partitions (one host each; extra partitions are hostless). */
  partitions: number;
  /** PCI device ID (a gen3 ID); also SYS_INFO.device_id. */
  deviceId: number;
  /** BAR0 (GAS) size. */
  gasSize: number;
  /** Memory-window BARs of every NT endpoint (bar_entry[index].ctl VALID). */
  windowBars: WindowBarConfig[];
  /** Hardware MSI-X table size of the NT endpoint. */
  msixVectors: number;
  /** lut_table_entries of every partition (a power of two). */
  lutEntries: number;
  /** req_id_table_size of every partition (≤ 512; every entry becomes a DMA alias on peers). */
  reqIdTableSize: number;
  /** NT target partition of each partition (default: pairs 0↔1, 2↔3, …). */
  targets?: number[];
  /** PART_CFG.vep_vector_number (event vector). */
  eventVector: number;
  /** Firmware latency of each LOCK / CFG / RESET op. */
  opLatencyNs: Nanoseconds;
  /** MRPC command latency. */
  mrpcLatencyNs: Nanoseconds;
  /** PCIe link of each NT endpoint (Link Status speed code / width). */
  linkSpeed: number;
  linkWidth: number;
  /** What CPU accesses to the switch cost (default: only bulk copies, by link bandwidth; docs/timing.md). */
  timing: SwitchtecTimingProfile;
  /** Hook for tools/tests: called once with the built switch. */
  onBuild?: (sw: SwitchtecSwitch) => void;
}

export const DEFAULT_SWITCHTEC_OPTIONS: SwitchtecOptions = {
  partitions: 2,
  deviceId: G.SWITCHTEC_DEFAULT_DEVICE_ID,
  gasSize: 4 << 20,
  windowBars: [{ index: 2, size: 16 << 20 }],
  msixVectors: 4,
  lutEntries: 32,
  reqIdTableSize: 16,
  eventVector: 0,
  opLatencyNs: msecs(1),
  mrpcLatencyNs: msecs(1),
  linkSpeed: 3,
  linkWidth: 8,
  timing: SWITCHTEC_UNTIMED,
};

/** Where the NT endpoint's MSI-X table and PBA live: the top 64 KiB of the GAS (unused by Linux). */
const msixTableOffset = (gasSize: number): number => gasSize - 0x10000;
const msixPbaOffset = (gasSize: number): number => gasSize - 0x8000;

/** First devfn handed out as a proxy ID: 00.0 / 00.1 are the switch's own functions. */
export const PROXY_DEVFN_BASE = 0x08;

const lo32 = (v: number): number => v % 2 ** 32 >>> 0;
const hi32 = (v: number): number => Math.floor(v / 2 ** 32) >>> 0;
const merge = (old: number, val: number, mask: number): number => ((old & ~mask) | (val & mask)) >>> 0;

/**
 * The writable image of one NTB CTRL block (bar entries, requester table, LUT), as dwords indexed
 * by offset/4 within the block.
 */
type CtrlImage = Uint32Array;

type BarGeometry = ReturnType<SwitchtecSwitch['barGeometry']>;

/** The decode of one committed image: BAR geometry by BAR, LUT entries by index (null: disabled), proxy devfn by requester ID. */
interface CommittedDecode {
  bars: BarGeometry[];
  luts: Map<number, { part: number; base: number } | null>;
  proxies: Map<RequesterId, number | undefined>;
}

class CtrlBlock {
  state = G.NTB_CTRL_PART_STATUS_NORMAL;
  /** Partition (GAS view) whose LOCK is in force or in progress. */
  owner?: number;
  /** Partitions whose LOCK waits for the block (serialised LOCK…CFG, spec §13). */
  readonly queue: number[] = [];
  barError = 0;
  lutError = 0;
  reqIdError = 0;
  partitionCtrl = 0;
  committed: CtrlImage = new Uint32Array(G.NTB_CTRL_STRIDE / 4);
  staged?: CtrlImage;
}

interface InboundMsg {
  msg: number;
  status: number;
  mask: number;
  src: number;
}

class DbMsgBlock {
  odbMask = 0n;
  /** Doorbell bits 0..59 (60..63 are a view of the imsg status bytes). */
  idb = 0n;
  idbMask = 0n;
  readonly vecMap = new Uint8Array(64);
  msgMap = 0;
  readonly omsg = [0, 0, 0, 0];
  readonly omsgStatus = [0, 0, 0, 0];
  readonly imsg: InboundMsg[] = [0, 1, 2, 3].map(() => ({ msg: 0, status: 0, mask: 0, src: 0 }));

  get idbView(): bigint {
    let v = this.idb;
    for (let i = 0; i < G.DBMSG_NUM_MSGS; i++) if (this.imsg[i].status & 1) v |= 1n << BigInt(G.DBMSG_MSG_DB_SHIFT + i);
    return v;
  }
}

/** A 64-bit, 4-vector, non-maskable MSI capability (the field-report shape: 0x0E bytes at 0x40). */
class SimpleMsi {
  readonly capOffset: number;
  constructor(private readonly config: ConfigSpace) {
    this.capOffset = config.addCapability(R.PCI_CAP_ID_MSI, 0x0e, [
      [R.PCI_MSI_FLAGS, 2, R.PCI_MSI_FLAGS_ENABLE | R.PCI_MSI_FLAGS_QSIZE],
      [R.PCI_MSI_ADDRESS_LO, 4, 0xfffffffc],
      [R.PCI_MSI_ADDRESS_HI, 4, 0xffffffff],
      [R.PCI_MSI_DATA_64, 2, 0xffff],
    ]);
    config.set16(this.capOffset + R.PCI_MSI_FLAGS, (2 << 1) | R.PCI_MSI_FLAGS_64BIT);
  }
  get enabled(): boolean {
    return (this.config.get16(this.capOffset + R.PCI_MSI_FLAGS) & R.PCI_MSI_FLAGS_ENABLE) !== 0;
  }
  fire(n: number, upstream: PciUpstream | undefined, rid: RequesterId): void {
    const flags = this.config.get16(this.capOffset + R.PCI_MSI_FLAGS);
    const count = 1 << ((flags & R.PCI_MSI_FLAGS_QSIZE) >> 4);
    if (!this.enabled || n >= count || !(this.config.command & R.PCI_COMMAND_MASTER)) return;
    const addr = this.config.get32(this.capOffset + R.PCI_MSI_ADDRESS_HI) * 2 ** 32 + this.config.get32(this.capOffset + R.PCI_MSI_ADDRESS_LO);
    const data = this.config.get16(this.capOffset + R.PCI_MSI_DATA_64);
    upstream?.memWrite32(rid, addr, (data & ~(count - 1)) | n);
  }
}

/**
 * The NT endpoint of one partition (function 1 on the bus below the host's root port): BAR0 = GAS
 * (this partition's view), window BARs, MSI at 0x40, MSI-X at 0x50 (table in BAR0), PM at 0x5C,
 * PCIe endpoint capability at 0x64 (Link Control/Status dword at 0x74).
 */
export class SwitchtecNtEndpoint implements PciFunctionModel {
  readonly config: ConfigSpace;
  readonly msix: MsixTable;
  readonly msi: SimpleMsi;
  readonly label: string;
  upstream?: PciUpstream;
  rid = 0;
  private readonly handlers = new Map<number, MmioHandler>();

  constructor(
    readonly sw: SwitchtecSwitch,
    readonly partition: number,
  ) {
    const o = sw.options;
    this.label = `Switchtec ${o.deviceId.toString(16)} NT endpoint (partition ${partition})`;
    this.config = new ConfigSpace({ vendor: G.SWITCHTEC_VENDOR_ID, device: o.deviceId, classCode: G.PCI_CLASS_NT_EP });
    this.config.addBar({ index: 0, size: o.gasSize, is64: true, prefetchable: true });
    for (const b of o.windowBars) this.config.addBar({ index: b.index, size: b.size, is64: true, prefetchable: true });
    this.msi = new SimpleMsi(this.config);
    this.msix = new MsixTable(this.config, o.msixVectors, 0, msixTableOffset(o.gasSize), msixPbaOffset(o.gasSize));
    const pm = this.config.addCapability(R.PCI_CAP_ID_PM, 8);
    this.config.set16(pm + 2, 0x0003);
    const exp = this.config.addCapability(R.PCI_CAP_ID_EXP, 0x3c);
    this.config.set16(exp + R.PCI_EXP_FLAGS, 0x2 | (R.PCI_EXP_TYPE_ENDPOINT << 4));
    this.config.set16(exp + 0x12, this.linkStatus);
    this.handlers.set(0, sw.gasView(partition));
    for (const b of o.windowBars) this.handlers.set(b.index, sw.windowHandler(partition, b.index));
  }

  get linkStatus(): number {
    return (this.sw.options.linkSpeed & 0xf) | ((this.sw.options.linkWidth & 0x3f) << 4);
  }

  get bus(): number {
    return this.rid >> 8;
  }

  get busMaster(): boolean {
    return (this.config.command & R.PCI_COMMAND_MASTER) !== 0;
  }

  connect(upstream: PciUpstream, rid: RequesterId): void {
    this.upstream = upstream;
    this.rid = rid;
    this.msix.connect(upstream, rid);
  }

  barHandler(index: number): MmioHandler | undefined {
    return this.handlers.get(index);
  }

  /** Raise interrupt vector n (MSI-X table entry n; MSI message n as a fallback). */
  raise(n: number): void {
    if (this.msix.enabled) this.msix.fire(n);
    else this.msi.fire(n, this.upstream, this.rid);
  }
}

/** What one partition is made of. */
export interface SwitchtecPartition {
  readonly index: number;
  /** The partition's upstream port (devfn 0, multi-function, empty secondary bus). */
  readonly usp: PciBridgeModel;
  /** The NT endpoint (devfn 1). */
  readonly ntEp: SwitchtecNtEndpoint;
  /** Requester ID the host's CPU MMIO carries into the switch (NTB INFO.requester_id). */
  hostRequesterId: RequesterId;
  /** Whether a host enumerates this partition's functions. */
  attached: boolean;
}

/**
 * A Microsemi Switchtec gen3 PCIe switch split into NT partitions. All partitions share one GAS
 * (the same registers through every host's BAR0, except the "who am I" fields), NT windows
 * forward host writes/reads to the target partition's host under a proxy requester ID, and the
 * doorbell/message block routes interrupts between partitions.
 */
export class SwitchtecSwitch {
  readonly options: SwitchtecOptions;
  readonly partitions: SwitchtecPartition[] = [];
  private readonly ctrl: CtrlBlock[] = [];
  private readonly dbmsg: DbMsgBlock[] = [];
  private readonly eventHdrs = new Map<number, number>();
  private readonly mrpc: Uint8Array[] = [];
  private readonly targets: number[];
  /** Counters for tests/traces: what crossed the NT windows. */
  readonly stats = { forwardedWrites: 0, forwardedReads: 0, droppedWrites: 0, failedReads: 0, doorbells: 0, messages: 0 };

  constructor(
    readonly sched: Scheduler,
    options: Partial<SwitchtecOptions> = {},
  ) {
    this.options = { ...DEFAULT_SWITCHTEC_OPTIONS, ...options };
    const o = this.options;
    if (o.partitions < 1 || o.partitions > G.MAX_PARTITIONS) throw new Error(`switchtec: ${o.partitions} partitions (1..${G.MAX_PARTITIONS})`);
    if (o.reqIdTableSize < 0 || o.reqIdTableSize > G.CTRL_MAX_REQ_ID_ENTRIES) throw new Error('switchtec: reqIdTableSize must be 0..512');
    if (o.lutEntries < 0 || o.lutEntries > G.CTRL_MAX_LUT_ENTRIES) throw new Error('switchtec: lutEntries must be 0..512');
    this.targets = o.targets ?? Array.from({ length: o.partitions }, (_, p) => (p ^ 1) < o.partitions ? p ^ 1 : -1);
    for (let p = 0; p < o.partitions; p++) {
      this.ctrl.push(new CtrlBlock());
      this.dbmsg.push(new DbMsgBlock());
      this.mrpc.push(new Uint8Array(G.MRPC_END));
      const usp = new PciBridgeModel('upstream', G.SWITCHTEC_VENDOR_ID, o.deviceId, `Switchtec ${o.deviceId.toString(16)} upstream port (partition ${p})`);
      usp.config.bytes[R.PCI_HEADER_TYPE] |= 0x80;
      const part: SwitchtecPartition = { index: p, usp, ntEp: undefined as unknown as SwitchtecNtEndpoint, hostRequesterId: 0, attached: false };
      this.partitions.push(part);
      (part as { ntEp: SwitchtecNtEndpoint }).ntEp = new SwitchtecNtEndpoint(this, p);
      // Window BARs are VALID; nothing else (never BAR0).
      for (const b of o.windowBars) this.ctrl[p].committed[(G.CTRL_BAR_ENTRY + G.CTRL_BAR_ENTRY_STRIDE * b.index) / 4] = G.NTB_CTRL_BAR_VALID;
    }
    for (let i = 0; i < 2 * o.partitions; i++) this.eventHdrs.set(G.pffCsrBase(i) + G.PFF_LINK_STATE_HDR, 0);
  }

  // ---- identity / topology ---------------------------------------------------------------------------

  /** PFF index of partition p's upstream port / virtual EP. */
  uspPff(p: number): number {
    return 2 * p;
  }
  vepPff(p: number): number {
    return 2 * p + 1;
  }
  get pffCount(): number {
    return 2 * this.options.partitions;
  }

  /** The fixed proxy devfn of requester-table entry i of partition p (visible before programming). */
  proxyDevfn(p: number, i: number): number {
    return PROXY_DEVFN_BASE + ((p * this.options.reqIdTableSize + i) % (256 - PROXY_DEVFN_BASE));
  }

  get epMap(): bigint {
    return (1n << BigInt(this.options.partitions)) - 1n;
  }

  /** The NT peer a partition's doorbells and windows talk to. */
  ntPeer(p: number): number | undefined {
    const t = this.targets[p];
    return t !== undefined && t >= 0 && t < this.options.partitions ? t : undefined;
  }

  // ---- NTB CTRL: LOCK / CFG / RESET --------------------------------------------------------------------

  private ctrlImage(p: number): CtrlImage {
    const c = this.ctrl[p];
    return c.staged ?? c.committed;
  }

  private partitionOp(view: number, p: number, op: number): void {
    const c = this.ctrl[p];
    const lat = this.options.opLatencyNs;
    switch (op) {
      case G.NTB_CTRL_PART_OP_LOCK:
        if (c.owner === view || c.queue.includes(view)) return;
        if (c.owner !== undefined || c.state !== G.NTB_CTRL_PART_STATUS_NORMAL) {
          c.queue.push(view);
          return;
        }
        this.startLock(p, view);
        return;
      case G.NTB_CTRL_PART_OP_CFG:
        if (c.owner !== view || c.state !== G.NTB_CTRL_PART_STATUS_LOCKED) return;
        c.state = G.NTB_CTRL_PART_STATUS_CONFIGURING;
        this.sched.after(lat, () => this.finishCfg(p));
        return;
      case G.NTB_CTRL_PART_OP_RESET: {
        const qi = c.queue.indexOf(view);
        if (qi >= 0) {
          c.queue.splice(qi, 1);
          return;
        }
        if (c.owner !== undefined && c.owner !== view) return;
        c.state = G.NTB_CTRL_PART_STATUS_RESETTING;
        c.owner = view;
        this.sched.after(lat, () => {
          c.staged = undefined;
          this.release(p);
        });
        return;
      }
      default:
        return;
    }
  }

  private startLock(p: number, view: number): void {
    const c = this.ctrl[p];
    c.owner = view;
    c.state = G.NTB_CTRL_PART_STATUS_LOCKING;
    this.sched.after(this.options.opLatencyNs, () => {
      c.staged = c.committed.slice();
      c.state = G.NTB_CTRL_PART_STATUS_LOCKED;
    });
  }

  private release(p: number): void {
    const c = this.ctrl[p];
    c.owner = undefined;
    c.state = G.NTB_CTRL_PART_STATUS_NORMAL;
    const next = c.queue.shift();
    if (next !== undefined) this.startLock(p, next);
  }

  private finishCfg(p: number): void {
    const c = this.ctrl[p];
    const img = c.staged ?? c.committed;
    const errs = this.validate(p, img);
    c.barError = errs.bar;
    c.lutError = errs.lut;
    c.reqIdError = errs.reqId;
    if (errs.bar || errs.lut || errs.reqId) {
      // Stay locked with the staged copy: the driver sees -EIO, clears the window and CFGs again.
      c.state = G.NTB_CTRL_PART_STATUS_LOCKED;
      return;
    }
    c.committed = img.slice();
    c.staged = undefined;
    this.release(p);
  }

  private readonly decodeCache = new WeakMap<CtrlImage, CommittedDecode>();

  private barGeometry(img: CtrlImage, b: number) {
    const base = (G.CTRL_BAR_ENTRY + G.CTRL_BAR_ENTRY_STRIDE * b) / 4;
    const ctl = img[base];
    const winSizeReg = img[base + 1];
    const xlate = img[base + 3] * 2 ** 32 + img[base + 2];
    const ext = img[(G.CTRL_BAR_EXT_ENTRY + G.CTRL_BAR_ENTRY_STRIDE * b) / 4];
    const lutEn = (ctl & G.NTB_CTRL_BAR_LUT_WIN_EN) !== 0;
    const lutSize = 2 ** ((ctl >>> G.NTB_CTRL_BAR_LUT_SIZE_SHIFT) & G.NTB_CTRL_BAR_LUT_SIZE_MASK);
    const nLut = lutEn ? (ctl >>> G.NTB_CTRL_BAR_LUT_COUNT_SHIFT) + 1 : 0;
    const winSize = ext * 2 ** 32 + (winSizeReg & 0xfffff000);
    return { ctl, winSize, xlate, lutEn, lutSize, nLut, lutBytes: nLut * lutSize, dirEn: (ctl & G.NTB_CTRL_BAR_DIR_WIN_EN) !== 0 };
  }

  private validate(p: number, img: CtrlImage): { bar: number; lut: number; reqId: number } {
    const E = NTB_CFG_ERR;
    let bar = 0;
    let lut = 0;
    const n = this.options.partitions;
    for (let b = 0; b < 6; b++) {
      const g = this.barGeometry(img, b);
      const wb = this.options.windowBars.find((w) => w.index === b);
      if (!g.dirEn && !g.lutEn) continue;
      if (!wb || !(g.ctl & G.NTB_CTRL_BAR_VALID)) {
        bar ||= E.BAR_NOT_VALID;
        continue;
      }
      if (g.lutEn && (g.nLut > this.options.lutEntries || g.lutBytes > wb.size)) bar ||= E.LUT_GEOMETRY;
      if (g.dirEn) {
        const log2 = Math.floor(Math.log2(g.winSize || 1));
        if (g.winSize < 0x1000 || g.lutBytes + g.winSize > wb.size) bar ||= E.WIN_SIZE;
        else if ((g.xlate - (g.xlate % 0x1000)) % 2 ** log2 !== 0) bar ||= E.XLATE_ALIGN;
        else if ((g.xlate & G.XLATE_PART_MASK) >= n) bar ||= E.PARTITION;
      }
    }
    for (let i = 0; i < this.options.lutEntries; i++) {
      const v = this.lutEntry(img, i);
      if (!(v & G.NTB_CTRL_LUT_EN)) continue;
      const part = Number((v >> G.NTB_CTRL_LUT_PART_SHIFT) & G.NTB_CTRL_LUT_PART_MASK);
      if (part >= n) lut ||= E.PARTITION;
      else if ((v & ~0xffffn) % BigInt(G.LUT_SIZE) !== 0n) lut ||= E.LUT_ALIGN;
    }
    void p;
    return { bar, lut, reqId: 0 };
  }

  private lutEntry(img: CtrlImage, i: number): bigint {
    const w = (G.CTRL_LUT_ENTRY + 8 * i) / 4;
    return BigInt(img[w]) | (BigInt(img[w + 1]) << 32n);
  }

  /** Committed requester table → proxy devfn for `rid`, or undefined (UR). */
  private proxyFor(p: number, rid: RequesterId): number | undefined {
    const d = this.decoded(p);
    if (d.proxies.has(rid)) return d.proxies.get(rid);
    const img = this.ctrl[p].committed;
    let proxy: number | undefined;
    for (let i = 0; i < this.options.reqIdTableSize; i++) {
      const e = img[(G.CTRL_REQ_ID_TABLE + 4 * i) / 4];
      if (e & G.NTB_CTRL_REQ_ID_EN && e >>> G.NTB_CTRL_REQ_ID_SHIFT === rid) {
        proxy = this.proxyDevfn(p, i);
        break;
      }
    }
    d.proxies.set(rid, proxy);
    return proxy;
  }

  /**
   * What partition p's committed image decodes to, worked out on first use. A committed image is
   * never changed in place (CFG commits a new copy), so the decode is cached per image: the
   * data path (every TLP through a window) does not re-parse registers and LUT entries.
   */
  private decoded(p: number): CommittedDecode {
    const img = this.ctrl[p].committed;
    let d = this.decodeCache.get(img);
    if (!d) this.decodeCache.set(img, (d = { bars: [], luts: new Map(), proxies: new Map() }));
    return d;
  }

  // ---- window decode (§5.4) --------------------------------------------------------------------------

  /** Decode a host access at BAR `bar` offset `off` of partition S's NT endpoint. */
  translate(s: number, bar: number, off: number): { part: number; addr: number } | undefined {
    const img = this.ctrl[s].committed;
    const d = this.decoded(s);
    const g = (d.bars[bar] ??= this.barGeometry(img, bar));
    if (!(g.ctl & G.NTB_CTRL_BAR_VALID)) return undefined;
    if (off < g.lutBytes) {
      const idx = Math.floor(off / g.lutSize);
      if (idx >= this.options.lutEntries) return undefined;
      let lut = d.luts.get(idx);
      if (lut === undefined) {
        const v = this.lutEntry(img, idx);
        lut = v & G.NTB_CTRL_LUT_EN ? { part: Number((v >> G.NTB_CTRL_LUT_PART_SHIFT) & G.NTB_CTRL_LUT_PART_MASK), base: Number(v - (v % BigInt(g.lutSize))) } : null;
        d.luts.set(idx, lut);
      }
      if (!lut) return undefined;
      return { part: lut.part, addr: lut.base + (off % g.lutSize) };
    }
    const o = off - g.lutBytes;
    if (g.dirEn && o < g.winSize) {
      const part = g.xlate % 0x1000 & G.XLATE_PART_MASK;
      return { part, addr: g.xlate - (g.xlate % 0x1000) + o };
    }
    return undefined;
  }

  /** Route an access from partition S through its window; undefined when the switch refuses it. */
  private route(s: number, bar: number, off: number): { up: PciUpstream; rid: RequesterId; addr: number } | undefined {
    const t = this.translate(s, bar, off);
    if (!t || t.part >= this.options.partitions) return undefined;
    const proxy = this.proxyFor(s, this.partitions[s].hostRequesterId);
    if (proxy === undefined) return undefined;
    const dst = this.partitions[t.part].ntEp;
    // The destination NT endpoint emits the TLP upstream: it must be a bus master.
    if (!dst.upstream || !dst.busMaster) return undefined;
    return { up: dst.upstream, rid: requesterId(dst.bus, proxy), addr: t.addr };
  }

  /** The CPU cost of an access to an NT endpoint's BARs, from the link and the timing profile. */
  get mmioTiming() {
    const o = this.options;
    return ntEndpointMmioTiming(o.timing, o.linkSpeed, o.linkWidth);
  }

  windowHandler(s: number, bar: number): MmioHandler {
    /** Where a write at `off` goes (counted as forwarded), or undefined (counted as dropped). */
    const routeWrite = (off: number) => {
      const r = this.route(s, bar, off);
      if (r) this.stats.forwardedWrites++;
      else this.stats.droppedWrites++;
      return r;
    };
    const write = (off: number, data: Uint8Array): void => {
      const r = routeWrite(off);
      if (r) r.up.memWrite(r.rid, r.addr, data);
    };
    const read = (off: number, length: number): Uint8Array => {
      const r = this.route(s, bar, off);
      if (!r) {
        this.stats.failedReads++;
        return new Uint8Array(length).fill(0xff);
      }
      this.stats.forwardedReads++;
      return r.up.memRead(r.rid, r.addr, length);
    };
    return {
      timing: this.mmioTiming,
      // The windows are prefetchable BARs onto the peer's memory: reads have no side effects.
      prefetchable: true,
      read: (off, size) => {
        const b = read(off, size);
        let v = 0;
        for (let i = size - 1; i >= 0; i--) v = v * 256 + b[i];
        return v >>> 0;
      },
      write: (off, size, value) => {
        if (size === 4) {
          // A dword TLP: no byte array on the way (the hot path of every header and MSI write).
          const r = routeWrite(off);
          if (r) r.up.memWrite32(r.rid, r.addr, value >>> 0);
          return;
        }
        const b = new Uint8Array(size);
        for (let i = 0; i < size; i++) b[i] = (value >>> (8 * i)) & 0xff;
        write(off, b);
      },
      // Bulk accesses: split at LUT-window boundaries (each piece decodes separately).
      readBytes: (off, length) => {
        const out = new Uint8Array(length);
        for (let done = 0; done < length; ) {
          const n = Math.min(length - done, G.LUT_SIZE - ((off + done) % G.LUT_SIZE));
          out.set(read(off + done, n), done);
          done += n;
        }
        return out;
      },
      writeBytes: (off, data) => {
        for (let done = 0; done < data.length; ) {
          const n = Math.min(data.length - done, G.LUT_SIZE - ((off + done) % G.LUT_SIZE));
          write(off + done, data.subarray(done, done + n));
          done += n;
        }
      },
    };
  }

  // ---- doorbells and messages (§9) --------------------------------------------------------------------

  private ringDoorbells(x: number, bits: bigint): void {
    bits &= this.dbmsg[x].odbMask & G.DBMSG_DB_BITS_MASK;
    const q = this.ntPeer(x);
    if (!bits || q === undefined) return;
    this.stats.doorbells++;
    const deliver = () => {
      const d = this.dbmsg[q];
      const newly = bits & ~d.idb;
      d.idb |= bits;
      this.signal(q, newly);
    };
    // The switch takes this long to move an outbound doorbell into the peer's IDB and raise its
    // vector (the timing profile's doorbell delivery; docs/timing.md).
    const lat = this.options.timing.doorbellLatencyNs;
    if (lat > 0) this.sched.after(lat, deliver);
    else deliver();
  }

  /** Raise the vectors of the bits in `newly` that are enabled (one message per vector). */
  private signal(q: number, newly: bigint): void {
    const d = this.dbmsg[q];
    const pend = newly & d.idbMask;
    if (!pend) return;
    const vectors = new Set<number>();
    for (let b = 0; b < 64; b++) if ((pend >> BigInt(b)) & 1n) vectors.add(d.vecMap[b]);
    for (const v of vectors) this.partitions[q].ntEp.raise(v);
  }

  private sendMessage(x: number, j: number, value: number): void {
    this.stats.messages++;
    const code = (x << 2) | j;
    for (let q = 0; q < this.options.partitions; q++) {
      const d = this.dbmsg[q];
      for (let i = 0; i < G.DBMSG_NUM_MSGS; i++) {
        if (((d.msgMap >>> (8 * i)) & 0xff) !== code) continue;
        const m = d.imsg[i];
        const was = m.status & 1;
        if (was) this.dbmsg[x].omsgStatus[j] |= 1; // overrun (diagnostic)
        m.msg = value >>> 0;
        m.src = x;
        m.status = 1;
        // Every arrival is an interrupt event, also into a register whose status is still set
        // (an earlier message signalled before the driver mapped its message vector would
        // otherwise silence the register for good).
        if (m.mask === 1) this.signal(q, 1n << BigInt(G.DBMSG_MSG_DB_SHIFT + i));
      }
    }
  }

  // ---- events (§2.4, §8.3) ----------------------------------------------------------------------------

  private writeEventHdr(off: number, value: number, mask: number): void {
    let h = this.eventHdrs.get(off) ?? 0;
    if (value & mask & G.SWITCHTEC_EVENT_CLEAR) h &= ~G.SWITCHTEC_EVENT_OCCURRED;
    const wmask = mask & G.SWITCHTEC_EVENT_WRITABLE;
    h = merge(h, value, wmask);
    this.eventHdrs.set(off, h >>> 0);
  }

  /** An event occurs at header `off`; raises the event vector of `partitions` if EN_IRQ. */
  private raiseEvent(off: number, partitions: number[], count = false): void {
    let h = this.eventHdrs.get(off) ?? 0;
    h |= G.SWITCHTEC_EVENT_OCCURRED;
    if (count) {
      const c = (((h & G.SWITCHTEC_EVENT_COUNT_MASK) >>> G.SWITCHTEC_EVENT_COUNT_SHIFT) + 1) & 0xff;
      h = (h & ~G.SWITCHTEC_EVENT_COUNT_MASK) | (c << G.SWITCHTEC_EVENT_COUNT_SHIFT);
    }
    this.eventHdrs.set(off, h >>> 0);
    if (h & G.SWITCHTEC_EVENT_EN_IRQ) for (const p of partitions) this.partitions[p].ntEp.raise(this.options.eventVector);
  }

  /**
   * A link-state change of PFF `pff` (e.g. the partition's host rebooted or its link retrained):
   * bumps the header's counter and, with EN_IRQ, raises the event vector of every partition (every
   * host's management driver re-checks the NT link).
   */
  linkStateEvent(pff: number): void {
    if (pff >= this.pffCount) return;
    this.raiseEvent(G.pffCsrBase(pff) + G.PFF_LINK_STATE_HDR, this.partitions.map((p) => p.index), true);
  }

  // ---- GAS ---------------------------------------------------------------------------------------------

  /** BAR0 of partition `view`'s NT endpoint: the shared GAS seen from that partition. */
  gasView(view: number): MmioHandler {
    return {
      timing: this.mmioTiming,
      read: (off, size) => {
        const d = this.gasRead32(view, off & ~3);
        const sh = 8 * (off & 3);
        if (size === 4 && sh === 0) return d >>> 0;
        const v = sh + 8 * size > 32 ? (d >>> sh) | (this.gasRead32(view, (off & ~3) + 4) << (32 - sh)) : d >>> sh;
        return size === 4 ? v >>> 0 : v & (size === 2 ? 0xffff : 0xff);
      },
      write: (off, size, value) => {
        const sh = 8 * (off & 3);
        const full = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
        if (sh + 8 * size > 32) {
          // Unaligned access across a dword: split byte-wise.
          for (let i = 0; i < size; i++) this.gasWrite32(view, (off + i) & ~3, ((value >>> (8 * i)) & 0xff) << (8 * ((off + i) & 3)), 0xff << (8 * ((off + i) & 3)));
          return;
        }
        this.gasWrite32(view, off & ~3, ((value & full) << sh) >>> 0, (full << sh) >>> 0);
      },
    };
  }

  private sysInfo(view: number): Uint8Array {
    const b = new Uint8Array(G.SYS_INFO_SIZE);
    const dv = new DataView(b.buffer);
    dv.setUint32(G.SYS_INFO_DEVICE_ID, this.options.deviceId, true);
    dv.setUint32(G.SYS_INFO_DEVICE_VERSION, 0x00000003, true);
    dv.setUint32(G.SYS_INFO_FIRMWARE_VERSION, 0x01080062, true);
    dv.setUint32(G.SYS_INFO_PARTITION_ID, view, true);
    const str = (off: number, s: string, len: number) => {
      for (let i = 0; i < len; i++) b[off + i] = i < s.length ? s.charCodeAt(i) : 0x20;
    };
    str(G.SYS_INFO_VENDOR_ID, 'MICROSEM', 8);
    str(G.SYS_INFO_PRODUCT_ID, `PFX ${this.options.deviceId.toString(16)} NTBSIM`, 16);
    str(G.SYS_INFO_PRODUCT_REVISION, 'RevB', 4);
    str(G.SYS_INFO_COMPONENT_VENDOR, 'PMC-SIER', 8);
    dv.setUint16(G.SYS_INFO_COMPONENT_ID, this.options.deviceId, true);
    b[G.SYS_INFO_COMPONENT_REVISION] = 0x0f;
    return b;
  }

  private gasRead32(view: number, off: number): number {
    const o = this.options;
    const n = o.partitions;
    const ep = this.partitions[view].ntEp;
    const tOff = msixTableOffset(o.gasSize);
    const pOff = msixPbaOffset(o.gasSize);
    if (off >= tOff && off < tOff + ep.msix.tableBytes) return ep.msix.tableHandler.read(off - tOff, 4);
    if (off >= pOff && off < pOff + Math.ceil(o.msixVectors / 64) * 8) return ep.msix.pbaHandler.read(off - pOff, 4);
    if (off < G.MRPC_END) {
      const m = this.mrpc[view];
      return (m[off] | (m[off + 1] << 8) | (m[off + 2] << 16) | (m[off + 3] << 24)) >>> 0;
    }
    if (off >= G.GAS_SYS_INFO && off < G.GAS_SYS_INFO + G.SYS_INFO_SIZE) {
      const b = this.sysInfo(view);
      const r = off - G.GAS_SYS_INFO;
      return new DataView(b.buffer).getUint32(r, true);
    }
    if (off >= G.GAS_PART_CFG && off < G.GAS_PART_CFG + G.PART_CFG_STRIDE * G.MAX_PARTITIONS) {
      const p = Math.floor((off - G.GAS_PART_CFG) / G.PART_CFG_STRIDE);
      const r = (off - G.GAS_PART_CFG) % G.PART_CFG_STRIDE;
      if (p >= n) return 0;
      if (this.eventHdrs.has(off)) return this.eventHdrs.get(off)!;
      switch (r) {
        case G.PART_CFG_STATUS:
          return 1;
        case G.PART_CFG_STATE:
          return 1;
        case G.PART_CFG_PORT_CNT:
          return 1;
        case G.PART_CFG_USP_PFF_INST_ID:
          return this.uspPff(p);
        case G.PART_CFG_VEP_PFF_INST_ID:
          return this.vepPff(p);
        case G.PART_CFG_VEP_VECTOR_NUMBER:
          return o.eventVector & 0xffff; // usp_vector_number (upper half) reads 0
      }
      if (r >= G.PART_CFG_DSP_PFF_INST_ID && r < G.PART_CFG_DSP_PFF_INST_ID + 4 * G.PART_CFG_DSP_PFF_COUNT) return 0xff; // no DSPs
      return 0;
    }
    if (off >= G.GAS_NTB_INFO && off < G.GAS_NTB_INFO + G.NTB_INFO_SIZE) {
      const r = off - G.GAS_NTB_INFO;
      if (r === 0) return (n & 0xff) | ((view & 0xff) << 8);
      if (r === G.NTB_INFO_EP_MAP) return lo32(Number(this.epMap));
      if (r === G.NTB_INFO_EP_MAP + 4) return hi32(Number(this.epMap));
      if (r === G.NTB_INFO_REQUESTER_ID) return this.partitions[view].hostRequesterId & 0xffff;
      if (r >= G.NTB_INFO_NTP_INFO) {
        const p = Math.floor((r - G.NTB_INFO_NTP_INFO) / G.NTB_INFO_NTP_STRIDE);
        const f = (r - G.NTB_INFO_NTP_INFO) % G.NTB_INFO_NTP_STRIDE;
        const t = p < n ? this.ntPeer(p) : undefined;
        if (t === undefined) return 0;
        if (f === G.NTP_TARGET_PART_LOW) return t < 32 ? (1 << t) >>> 0 : 0;
        if (f === G.NTP_TARGET_PART_HIGH) return t >= 32 ? (1 << (t - 32)) >>> 0 : 0;
      }
      return 0;
    }
    if (off >= G.GAS_NTB_CTRL && off < G.GAS_NTB_DBMSG) {
      const p = Math.floor((off - G.GAS_NTB_CTRL) / G.NTB_CTRL_STRIDE);
      return p < n ? this.ctrlRead(view, p, (off - G.GAS_NTB_CTRL) % G.NTB_CTRL_STRIDE) : 0;
    }
    if (off >= G.GAS_NTB_DBMSG && off < G.GAS_PFF_CSR) {
      const p = Math.floor((off - G.GAS_NTB_DBMSG) / G.NTB_DBMSG_STRIDE);
      return p < n ? this.dbmsgRead(p, (off - G.GAS_NTB_DBMSG) % G.NTB_DBMSG_STRIDE) : 0;
    }
    if (off >= G.GAS_PFF_CSR && off < G.GAS_PFF_CSR + G.PFF_CSR_STRIDE * G.MAX_PFF) {
      const i = Math.floor((off - G.GAS_PFF_CSR) / G.PFF_CSR_STRIDE);
      const r = (off - G.GAS_PFF_CSR) % G.PFF_CSR_STRIDE;
      if (i >= this.pffCount) return 0;
      if (this.eventHdrs.has(off)) return this.eventHdrs.get(off)!;
      if (r >= G.PFF_EVENT_HDR_BASE && r < G.PFF_EVENT_END && (r - G.PFF_EVENT_HDR_BASE) % G.PFF_EVENT_HDR_STRIDE === 0) return 0;
      const part = this.partitions[i >> 1];
      if (r === G.PFF_LINK_CTL_STS) return (part.ntEp.linkStatus << 16) >>> 0;
      if (r < 0x800) return (i & 1 ? part.ntEp.config : part.usp.config).get32(r);
      return 0;
    }
    return 0;
  }

  private gasWrite32(view: number, off: number, value: number, mask: number): void {
    const o = this.options;
    const n = o.partitions;
    const ep = this.partitions[view].ntEp;
    const tOff = msixTableOffset(o.gasSize);
    if (off >= tOff && off < tOff + ep.msix.tableBytes) {
      const cur = ep.msix.tableHandler.read(off - tOff, 4);
      return ep.msix.tableHandler.write(off - tOff, 4, merge(cur, value, mask));
    }
    if (off < G.MRPC_END) return this.mrpcWrite(view, off, value, mask);
    if (this.eventHdrs.has(off) || this.isPartEventHdr(off)) return this.writeEventHdr(off, value, mask);
    if (off >= G.GAS_NTB_CTRL && off < G.GAS_NTB_DBMSG) {
      const p = Math.floor((off - G.GAS_NTB_CTRL) / G.NTB_CTRL_STRIDE);
      if (p < n) this.ctrlWrite(view, p, (off - G.GAS_NTB_CTRL) % G.NTB_CTRL_STRIDE, value, mask);
      return;
    }
    if (off >= G.GAS_NTB_DBMSG && off < G.GAS_PFF_CSR) {
      const p = Math.floor((off - G.GAS_NTB_DBMSG) / G.NTB_DBMSG_STRIDE);
      if (p < n) this.dbmsgWrite(p, (off - G.GAS_NTB_DBMSG) % G.NTB_DBMSG_STRIDE, value, mask);
      return;
    }
    // SYS_INFO, NTB INFO, PART_CFG (non-event) and PFF images are read-only.
  }

  private isPartEventHdr(off: number): boolean {
    if (off < G.GAS_PART_CFG || off >= G.GAS_PART_CFG + G.PART_CFG_STRIDE * this.options.partitions) return false;
    return G.PART_CFG_EVENT_HDRS.includes((off - G.GAS_PART_CFG) % G.PART_CFG_STRIDE);
  }

  // ---- MRPC: a minimal firmware (every command completes with ret 0, output = input) -------------------

  private mrpcWrite(view: number, off: number, value: number, mask: number): void {
    const m = this.mrpc[view];
    const dv = new DataView(m.buffer);
    if (off === G.MRPC_STATUS || off === G.MRPC_RET_VALUE || off === G.MRPC_DMA_VER) return;
    dv.setUint32(off, merge(dv.getUint32(off, true), value, mask), true);
    if (off !== G.MRPC_CMD) return;
    dv.setUint32(G.MRPC_STATUS, G.SWITCHTEC_MRPC_STATUS_INPROGRESS, true);
    this.sched.after(this.options.mrpcLatencyNs, () => {
      m.copyWithin(G.MRPC_OUTPUT_DATA, G.MRPC_INPUT_DATA, G.MRPC_INPUT_DATA + G.MRPC_DATA_LEN);
      dv.setUint32(G.MRPC_RET_VALUE, 0, true);
      dv.setUint32(G.MRPC_STATUS, G.SWITCHTEC_MRPC_STATUS_DONE, true);
      this.raiseEvent(G.partCfgBase(view) + G.PART_CFG_MRPC_COMP_HDR, [view]);
    });
  }

  // ---- CTRL registers ------------------------------------------------------------------------------------

  private ctrlRead(view: number, p: number, r: number): number {
    const c = this.ctrl[p];
    const o = this.options;
    switch (r) {
      case G.CTRL_PARTITION_STATUS:
        // LOCK…CFG is serialised per block and each partition sees its own transaction: a
        // queued locker sees its LOCK still in progress, and while another partition holds
        // the block everyone else sees it NORMAL (their own last op has completed).
        if (c.queue.includes(view)) return G.NTB_CTRL_PART_STATUS_LOCKING;
        if (c.owner !== undefined && c.owner !== view) return G.NTB_CTRL_PART_STATUS_NORMAL;
        return c.state;
      case G.CTRL_PARTITION_OP:
        return 0;
      case G.CTRL_PARTITION_CTRL:
        return c.partitionCtrl;
      case G.CTRL_BAR_ERROR:
        return c.barError;
      case G.CTRL_LUT_TABLE_ENTRIES:
        return o.lutEntries & 0xffff;
      case G.CTRL_LUT_ERROR:
        return c.lutError;
      case G.CTRL_REQ_ID_TABLE_SIZE:
        return o.reqIdTableSize & 0xffff;
      case G.CTRL_REQ_ID_ERROR:
        return c.reqIdError;
    }
    const img = this.ctrlImage(p);
    if (r >= G.CTRL_REQ_ID_TABLE && r < G.CTRL_REQ_ID_TABLE + 4 * G.CTRL_MAX_REQ_ID_ENTRIES) {
      const i = (r - G.CTRL_REQ_ID_TABLE) / 4;
      if (i >= o.reqIdTableSize) return 0;
      return ((img[r / 4] & ~G.NTB_CTRL_REQ_ID_PROXY_MASK) | (this.proxyDevfn(p, i) << G.NTB_CTRL_REQ_ID_PROXY_SHIFT)) >>> 0;
    }
    if (r >= G.CTRL_LUT_ENTRY && Math.floor((r - G.CTRL_LUT_ENTRY) / 8) >= o.lutEntries) return 0;
    return img[r / 4];
  }

  private ctrlWrite(view: number, p: number, r: number, value: number, mask: number): void {
    const c = this.ctrl[p];
    if (r === G.CTRL_PARTITION_OP) return this.partitionOp(view, p, value & mask);
    // Unlocked writes (or writes by a partition that does not hold the lock) are ignored.
    if (!c.staged || c.owner !== view || c.state !== G.NTB_CTRL_PART_STATUS_LOCKED) return;
    const o = this.options;
    const img = c.staged;
    if (r === G.CTRL_PARTITION_CTRL) {
      c.partitionCtrl = merge(c.partitionCtrl, value, mask);
      return;
    }
    const inBars = r >= G.CTRL_BAR_ENTRY && r < G.CTRL_BAR_ENTRY + 6 * G.CTRL_BAR_ENTRY_STRIDE;
    const inExt = r >= G.CTRL_BAR_EXT_ENTRY && r < G.CTRL_BAR_EXT_ENTRY + 6 * G.CTRL_BAR_ENTRY_STRIDE && (r - G.CTRL_BAR_EXT_ENTRY) % G.CTRL_BAR_ENTRY_STRIDE === 0;
    const inReq = r >= G.CTRL_REQ_ID_TABLE && r < G.CTRL_REQ_ID_TABLE + 4 * o.reqIdTableSize;
    const inLut = r >= G.CTRL_LUT_ENTRY && r < G.CTRL_LUT_ENTRY + 8 * o.lutEntries;
    if (!inBars && !inExt && !inReq && !inLut) return;
    let v = merge(img[r / 4], value, mask);
    if (inBars && (r - G.CTRL_BAR_ENTRY) % G.CTRL_BAR_ENTRY_STRIDE === G.BAR_ENTRY_CTL) {
      // VALID is configuration, not software's.
      v = (v & ~G.NTB_CTRL_BAR_VALID) | (img[r / 4] & G.NTB_CTRL_BAR_VALID);
    }
    if (inReq) v &= ~G.NTB_CTRL_REQ_ID_PROXY_MASK; // proxy devfn is read-only
    img[r / 4] = v >>> 0;
  }

  // ---- DBMSG registers -----------------------------------------------------------------------------------

  private dbmsgRead(p: number, r: number): number {
    const d = this.dbmsg[p];
    const half = (v: bigint, hi: boolean) => Number((hi ? v >> 32n : v) & 0xffffffffn) >>> 0;
    switch (r) {
      case G.DBMSG_ODB:
      case G.DBMSG_ODB + 4:
        return 0; // side-effect free; the management driver reads it as a WC flush
      case G.DBMSG_ODB_MASK:
      case G.DBMSG_ODB_MASK + 4:
        return half(d.odbMask, r !== G.DBMSG_ODB_MASK);
      case G.DBMSG_IDB:
      case G.DBMSG_IDB + 4:
        return half(d.idbView, r !== G.DBMSG_IDB);
      case G.DBMSG_IDB_MASK:
      case G.DBMSG_IDB_MASK + 4:
        return half(d.idbMask, r !== G.DBMSG_IDB_MASK);
      case G.DBMSG_MSG_MAP:
        return d.msgMap >>> 0;
    }
    if (r >= G.DBMSG_IDB_VEC_MAP && r < G.DBMSG_IDB_VEC_MAP + 64) {
      const i = r - G.DBMSG_IDB_VEC_MAP;
      return (d.vecMap[i] | (d.vecMap[i + 1] << 8) | (d.vecMap[i + 2] << 16) | (d.vecMap[i + 3] << 24)) >>> 0;
    }
    if (r >= G.DBMSG_OMSG && r < G.DBMSG_IMSG) {
      const j = (r - G.DBMSG_OMSG) >> 3;
      return (r - G.DBMSG_OMSG) & 4 ? d.omsgStatus[j] : d.omsg[j];
    }
    if (r >= G.DBMSG_IMSG && r < G.DBMSG_END) {
      const m = d.imsg[(r - G.DBMSG_IMSG) >> 3];
      return (r - G.DBMSG_IMSG) & 4 ? (m.status | (m.mask << 8) | (m.src << 16)) >>> 0 : m.msg;
    }
    return 0;
  }

  private dbmsgWrite(p: number, r: number, value: number, mask: number): void {
    const d = this.dbmsg[p];
    const v = BigInt((value & mask) >>> 0);
    const m64 = (hi: boolean) => BigInt(mask >>> 0) << (hi ? 32n : 0n);
    const mergeHalf = (old: bigint, hi: boolean) => (old & ~m64(hi)) | ((v << (hi ? 32n : 0n)) & m64(hi));
    switch (r) {
      case G.DBMSG_ODB:
      case G.DBMSG_ODB + 4:
        return this.ringDoorbells(p, v << (r === G.DBMSG_ODB ? 0n : 32n));
      case G.DBMSG_ODB_MASK:
      case G.DBMSG_ODB_MASK + 4:
        d.odbMask = mergeHalf(d.odbMask, r !== G.DBMSG_ODB_MASK);
        return;
      case G.DBMSG_IDB:
      case G.DBMSG_IDB + 4: {
        const clr = v << (r === G.DBMSG_IDB ? 0n : 32n);
        d.idb &= ~(clr & G.DBMSG_DB_BITS_MASK);
        for (let i = 0; i < G.DBMSG_NUM_MSGS; i++) if ((clr >> BigInt(G.DBMSG_MSG_DB_SHIFT + i)) & 1n) d.imsg[i].status = 0;
        return;
      }
      case G.DBMSG_IDB_MASK:
      case G.DBMSG_IDB_MASK + 4: {
        const old = d.idbMask;
        d.idbMask = mergeHalf(d.idbMask, r !== G.DBMSG_IDB_MASK);
        // Enabling a bit that is already pending raises its vector.
        const newlyEnabled = d.idbMask & ~old;
        const pendingMsgs = d.idbView & ~d.idb;
        const msgBlocked = [0, 1, 2, 3].reduce((acc, i) => (d.imsg[i].mask === 1 ? acc : acc | (1n << BigInt(G.DBMSG_MSG_DB_SHIFT + i))), 0n);
        this.signal(p, newlyEnabled & (d.idb | (pendingMsgs & ~msgBlocked)));
        return;
      }
      case G.DBMSG_MSG_MAP:
        d.msgMap = merge(d.msgMap, value, mask);
        return;
    }
    if (r >= G.DBMSG_IDB_VEC_MAP && r < G.DBMSG_IDB_VEC_MAP + 64) {
      for (let b = 0; b < 4; b++) if ((mask >>> (8 * b)) & 0xff) d.vecMap[r - G.DBMSG_IDB_VEC_MAP + b] = (value >>> (8 * b)) & 0xff;
      return;
    }
    if (r >= G.DBMSG_OMSG && r < G.DBMSG_IMSG) {
      const j = (r - G.DBMSG_OMSG) >> 3;
      if ((r - G.DBMSG_OMSG) & 4) d.omsgStatus[j] &= ~(value & mask);
      else {
        d.omsg[j] = merge(d.omsg[j], value, mask);
        this.sendMessage(p, j, d.omsg[j]);
      }
      return;
    }
    if (r >= G.DBMSG_IMSG && r < G.DBMSG_END && (r - G.DBMSG_IMSG) & 4) {
      const i = (r - G.DBMSG_IMSG) >> 3;
      const m = d.imsg[i];
      if (mask & 0xff && value & 1) m.status = 0; // W1C status byte
      if (mask & 0xff00) {
        const was = m.mask;
        m.mask = (value >>> 8) & 0xff;
        if (was !== 1 && m.mask === 1 && m.status & 1) this.signal(p, 1n << BigInt(G.DBMSG_MSG_DB_SHIFT + i));
      }
    }
    // imsg.msg and src are read-only.
  }
}
