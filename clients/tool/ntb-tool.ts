/**
 * ntb_tool (drivers/ntb/test/ntb_tool.c, version 2.0, current mainline): a debugfs front end to
 * almost every NTB operation, one directory per bound device at
 * /sys/kernel/debug/ntb_tool/<ntb dev name>/ with device-wide files and a peer<N>/ directory per
 * peer (see debugfs-clients.md §1). The link is not enabled at probe; remove disables it.
 *
 * Blocking files (db_event, msg_event, peer<N>/link_event) sleep on the device's wait queues,
 * which only the NTB event callbacks (and remove) wake. Memory windows: writing a size to
 * peer<N>/mw_trans<W> allocates a DMA-coherent buffer and programs inbound translation, exposing
 * the buffer as peer<N>/mw<W>; writing "addr:size" to peer<N>/peer_mw_trans<W> programs outbound
 * window W for peer N and maps it, exposing it as peer<N>/peer_mw<W>.
 */
import { DmaBuffer } from '../../core/dma/mapping';
import { Errno, isKernelError, KernelError } from '../../core/errno';
import { FileOps } from '../../core/fs/pseudofs';
import { Kernel } from '../../core/kernel';
import { FROM_USER_MAX, kstrtobool, kstrtouint, kstrtoull } from '../../core/lib/kstrtox';
import { hexAlt, hexPad, hexZeroPad, physAddr } from '../../core/lib/printf';
import { IoMem } from '../../core/mm/io';
import { LoadedModule, ModuleDecl } from '../../core/module/module';
import { LogLevel } from '../../core/printk';
import { WaitQueue } from '../../core/time/wait';
import { directMapAddr, ioremapAddr } from '../../core/mm/layout';
import {
  NtbClient,
  NtbDev,
  NtbDevOps,
  NtbLinkInfo,
  NtbMsgSource,
  NtbSpeed,
  NtbWidth,
  ntbClearCtx,
  ntbDbIsUnsafe,
  ntbDbRead,
  ntbDbVectorMask,
  ntbLinkDisable,
  ntbLinkEnable,
  ntbLinkIsUp,
  ntbMsgCount,
  ntbMsgRead,
  ntbMsgReadSts,
  ntbMwClearTrans,
  ntbMwCount,
  ntbMwGetAlign,
  ntbMwSetTrans,
  ntbPeerMsgWrite,
  ntbPeerMwClearTrans,
  ntbPeerMwCount,
  ntbPeerMwGetAddr,
  ntbPeerMwSetTrans,
  ntbPeerPortCount,
  ntbPeerPortNumber,
  ntbPeerSpadRead,
  ntbPeerSpadWrite,
  ntbPortNumber,
  ntbRegisterClientWithDebugfs,
  ntbSetCtx,
  ntbSpadCount,
  ntbSpadIsUnsafe,
  ntbSpadRead,
  ntbSpadWrite,
  ntbUnregisterClientWithDebugfs,
  ntbIgnoreError,
} from '../../drivers/ntb';
import { ksscanf } from './sscanf';

export const TOOL_NAME = 'ntb_tool';
export const TOOL_VERSION = '2.0';

/** TOOL_BUF_LEN: the stack buffer of the small text files. */
const TOOL_BUF_LEN = 32;
/** The window report files format into at most this many bytes. */
const TRANS_BUF_LEN = 512;

/** Where %pK of a direct-mapped buffer / an ioremap()ed range would point on x86-64. */

const latin1 = new TextDecoder('latin1');
const encoder = new TextEncoder();

/**
 * The bytes user space wrote, as the C string the kernel parses: at most `max` bytes are copied,
 * and the string ends at the first NUL.
 */
function userString(data: Uint8Array, max = data.length): string {
  const s = latin1.decode(data.subarray(0, Math.min(max, data.length)));
  const nul = s.indexOf('\0');
  return nul >= 0 ? s.slice(0, nul) : s;
}

/**
 * simple_read_from_buffer over `text` as formatted into a buffer of `cap` bytes: snprintf keeps
 * at most cap - 1 characters; the read returns the slice at `offset` (EOF past the end).
 */
function readFromBuffer(text: string, cap: number, offset: number, length: number): Uint8Array {
  const bytes = encoder.encode(text).subarray(0, Math.max(0, cap - 1));
  if (offset >= bytes.length) return new Uint8Array(0);
  return bytes.slice(offset, offset + length);
}

/** A C `int` result of an op that may fail: the value, or the negative errno it would return. */
function cInt(fn: () => number): number {
  try {
    return fn();
  } catch (e) {
    if (!isKernelError(e)) throw e;
    return -e.errno;
  }
}

/** round_up() for the power-of-two alignments NTB hardware reports (0 rounds to 0, as in C). */
function roundUp(x: number, align: number): number {
  return align > 0 ? Math.ceil(x / align) * align : 0;
}

function isAligned(x: number, align: number): boolean {
  return align > 0 ? x % align === 0 : x === 0;
}

/** An inbound window of one peer: the buffer the peer writes into through its outbound window. */
interface InMw {
  readonly pidx: number;
  readonly widx: number;
  buf?: DmaBuffer;
  /** Size after rounding; 0 while unallocated. */
  size: number;
  /** debugfs path (relative) of peer<N>/mw<W> while the buffer exists. */
  file?: string;
}

/** An outbound window, shared by all peers: mapped for at most one of them at a time. */
interface OutMw {
  readonly widx: number;
  pidx: number;
  io?: IoMem;
  xlat: bigint;
  /** The translation size as written (size_t). */
  size: bigint;
  file?: string;
}

interface ToolPeer {
  readonly pidx: number;
  readonly dir: string;
  readonly inMws: InMw[];
  readonly outMwCount: number;
  readonly outSpadCount: number;
  readonly outMsgCount: number;
}

/** bits → an op of the "s/c" files; undefined when the hardware lacks it. */
type BitsOp = ((bits: bigint) => void) | undefined;
/** A u64 register read of the read side of those files. */
type ReadOp = (() => bigint) | undefined;

/** struct tool_ctx: everything ntb_tool keeps for one bound device. */
class ToolCtx {
  readonly linkWq: WaitQueue;
  readonly dbWq: WaitQueue;
  readonly msgWq: WaitQueue;
  readonly dir: string;
  readonly peers: ToolPeer[] = [];
  readonly outMws: OutMw[] = [];
  readonly inSpadCount: number;
  readonly inMsgCount: number;
  /** Set by remove: woken waiters give up instead of touching the device again. */
  removed = false;

  constructor(
    readonly k: Kernel,
    readonly ntb: NtbDev,
  ) {
    this.linkWq = k.waitQueue();
    this.dbWq = k.waitQueue();
    this.msgWq = k.waitQueue();
    this.dir = `${TOOL_NAME}/${ntb.name}`;
    if (ntbDbIsUnsafe(ntb)) this.dbg('doorbell is unsafe');
    if (ntbSpadIsUnsafe(ntb)) this.dbg('scratchpad is unsafe');

    const peerCount = ntbPeerPortCount(ntb);
    const outMwCount = ntbPeerMwCount(ntb);
    for (let widx = 0; widx < outMwCount; widx++) this.outMws.push({ widx, pidx: -1, xlat: 0n, size: 0n });
    this.inSpadCount = ntbSpadCount(ntb);
    this.inMsgCount = ntbMsgCount(ntb);
    for (let pidx = 0; pidx < peerCount; pidx++) {
      const inMwCount = ntbMwCount(ntb, pidx);
      this.peers.push({
        pidx,
        dir: `${this.dir}/peer${pidx}`,
        inMws: Array.from({ length: inMwCount }, (_, widx) => ({ pidx, widx, size: 0 })),
        outMwCount,
        outSpadCount: ntbSpadCount(ntb),
        outMsgCount: ntbMsgCount(ntb),
      });
    }
  }

  get ops(): NtbDevOps {
    return this.ntb.ops;
  }

  dbg(text: string): void {
    this.k.printk.devLog(LogLevel.DEBUG, this.ntb, text);
  }

  /** An op whose status ntb_tool ignores (teardown paths): a failure is only noted at debug level. */
  async ignoring(what: string, op: () => unknown): Promise<void> {
    await ntbIgnoreError(this.k, this.ntb, what, op);
  }

  // ---- events --------------------------------------------------------------------------------

  onLinkEvent(): void {
    const info: NtbLinkInfo = {};
    const up = ntbLinkIsUp(this.ntb, info);
    this.dbg(`link is ${up !== 0n ? 'up' : 'down'} speed ${info.speed ?? NtbSpeed.NONE} width ${info.width ?? NtbWidth.NONE}`);
    this.linkWq.wakeUp();
  }

  onDbEvent(vector: number): void {
    const mask = ntbDbVectorMask(this.ntb, vector);
    const bits = ntbDbRead(this.ntb);
    this.dbg(`doorbell vec ${vector} mask ${hexAlt(mask)} bits ${hexAlt(bits)}`);
    this.dbWq.wakeUp();
  }

  onMsgEvent(): void {
    this.dbg(`message bits ${hexAlt(ntbMsgReadSts(this.ntb))}`);
    this.msgWq.wakeUp();
  }

  /** wait_event_interruptible on `wq` until `cond` holds; remove wakes and fails the waiter. */
  async waitFor(wq: WaitQueue, cond: () => boolean): Promise<void> {
    await wq.waitEvent(() => this.removed || cond());
    if (this.removed) throw new KernelError(Errno.EIO, `${this.ntb.name}: device removed while waiting`);
  }

  // ---- memory windows ------------------------------------------------------------------------

  async freeInMw(mw: InMw): Promise<void> {
    if (mw.file) this.k.debugfs.remove(mw.file);
    if (mw.buf) {
      const buf = mw.buf;
      await this.ignoring('mw_clear_trans', () => ntbMwClearTrans(this.ntb, mw.pidx, mw.widx));
      this.k.dma.freeCoherent(this.ntb.pdev, buf);
    }
    mw.buf = undefined;
    mw.size = 0;
    mw.file = undefined;
  }

  async setupInMw(mw: InMw, request: number): Promise<void> {
    const align = ntbMwGetAlign(this.ntb, mw.pidx, mw.widx);
    let size = Math.min(request, align.sizeMax);
    size = roundUp(size, align.addrAlign);
    size = roundUp(size, align.sizeAlign);
    if (size === 0) throw new KernelError(Errno.ENOMEM, 'zero-size window buffer');
    let buf: DmaBuffer;
    try {
      buf = this.k.dma.allocCoherent(this.ntb.pdev, size);
    } catch (e) {
      if (!isKernelError(e)) throw e;
      throw new KernelError(Errno.ENOMEM, `dma_alloc_coherent(${size}): ${e.message}`);
    }
    if (!isAligned(buf.dmaAddr, align.addrAlign)) {
      this.k.dma.freeCoherent(this.ntb.pdev, buf);
      throw new KernelError(Errno.ENOMEM, `buffer at ${physAddr(buf.dmaAddr)} is not ${hexAlt(align.addrAlign)}-aligned`);
    }
    try {
      await ntbMwSetTrans(this.ntb, mw.pidx, mw.widx, buf.dmaAddr, size);
    } catch (e) {
      this.k.dma.freeCoherent(this.ntb.pdev, buf);
      throw e;
    }
    mw.buf = buf;
    mw.size = size;
    mw.file = `${this.peers[mw.pidx].dir}/mw${mw.widx}`;
    this.k.debugfs.createFile(mw.file, 0o600, this.inMwDataOps(mw));
  }

  async freeOutMw(mw: OutMw): Promise<void> {
    if (mw.file) this.k.debugfs.remove(mw.file);
    if (mw.io) {
      const pidx = mw.pidx;
      await this.ignoring('peer_mw_clear_trans', () => ntbPeerMwClearTrans(this.ntb, pidx, mw.widx));
    }
    mw.io = undefined;
    mw.xlat = 0n;
    mw.size = 0n;
    mw.pidx = -1;
    mw.file = undefined;
  }

  async setupOutMw(mw: OutMw, pidx: number, addr: bigint, size: bigint): Promise<void> {
    const map = ntbPeerMwGetAddr(this.ntb, mw.widx);
    await ntbPeerMwSetTrans(this.ntb, pidx, mw.widx, Number(addr), Number(size));
    mw.io = this.k.pci.ioremap(map.base, map.size);
    mw.xlat = addr;
    mw.size = size;
    mw.pidx = pidx;
    mw.file = `${this.peers[pidx].dir}/peer_mw${mw.widx}`;
    this.k.debugfs.createFile(mw.file, 0o600, this.outMwDataOps(mw));
  }

  /** peer<N>/mw<W>: the local buffer as a file of `size` bytes. */
  private inMwDataOps(mw: InMw): FileOps {
    return {
      read: (offset, length) => {
        if (!mw.buf) throw new KernelError(Errno.ENXIO, 'window buffer not allocated');
        if (offset >= mw.size || length === 0) return new Uint8Array(0);
        return mw.buf.cpu.read(offset, Math.min(length, mw.size - offset));
      },
      write: (data, offset) => {
        if (!mw.buf) throw new KernelError(Errno.ENXIO, 'window buffer not allocated');
        if (offset >= mw.size || data.length === 0) return 0;
        const n = Math.min(data.length, mw.size - offset);
        mw.buf.cpu.write(offset, data.subarray(0, n));
        return n;
      },
    };
  }

  /** peer<N>/peer_mw<W>: the outbound window, `size` bytes (never beyond the mapping). */
  private outMwDataOps(mw: OutMw): FileOps {
    const span = (): number => {
      const io = mw.io!;
      return mw.size < BigInt(io.size) ? Number(mw.size) : io.size;
    };
    return {
      read: (offset, length) => {
        if (!mw.io) throw new KernelError(Errno.EIO, 'outbound window not mapped');
        const limit = span();
        if (offset >= limit || length === 0) return new Uint8Array(0);
        return mw.io.memcpyFromio(offset, Math.min(length, limit - offset));
      },
      write: (data, offset) => {
        if (!mw.io) throw new KernelError(Errno.EIO, 'outbound window not mapped');
        const limit = span();
        if (offset >= limit || data.length === 0) return 0;
        const n = Math.min(data.length, limit - offset);
        mw.io.memcpyToio(offset, data.subarray(0, n));
        return n;
      },
    };
  }

  inMwReport(mw: InMw): string {
    const align = ntbMwGetAlign(this.ntb, mw.pidx, mw.widx);
    const vaddr = mw.buf ? directMapAddr(mw.buf.cpu.phys) : 0n;
    const line = (label: string, value: string) => `${label.padEnd(15)}\t${value}\n`;
    return (
      line('Inbound MW', String(mw.widx)) +
      line('Port', `${cInt(() => ntbPeerPortNumber(this.ntb, mw.pidx))} (${mw.pidx})`) +
      line('Window Address', `0x${hexZeroPad(vaddr, 16)}`) +
      line('DMA Address', physAddr(mw.buf?.dmaAddr ?? 0)) +
      line('Window Size', physAddr(mw.size)) +
      line('Alignment', physAddr(align.addrAlign)) +
      line('Size Alignment', physAddr(align.sizeAlign)) +
      line('Size Max', physAddr(align.sizeMax))
    );
  }

  outMwReport(mw: OutMw): string {
    const map = ntbPeerMwGetAddr(this.ntb, mw.widx);
    const vaddr = mw.io ? ioremapAddr(mw.io.phys) : 0n;
    const line = (label: string, value: string) => `${label.padEnd(20)}\t${value}\n`;
    const port = mw.io ? `${cInt(() => ntbPeerPortNumber(this.ntb, mw.pidx))} (${mw.pidx})` : '-1 (-1)';
    return (
      line('Outbound MW:', String(mw.widx)) +
      line('Port attached', port) +
      line('Virtual address', `0x${hexZeroPad(vaddr, 16)}`) +
      line('Phys Address', physAddr(map.base)) +
      line('Mapping Size', physAddr(map.size)) +
      line('Translation Address', hexPad(mw.xlat, 16)) +
      line('Window Size', physAddr(mw.size))
    );
  }

  async clearMws(): Promise<void> {
    for (const mw of this.outMws) await this.freeOutMw(mw);
    for (const peer of this.peers) for (const mw of peer.inMws) await this.freeInMw(mw);
  }

  // ---- debugfs -------------------------------------------------------------------------------

  /** A file whose read prints `value()` as "%#llx\n" (tool_fn_read); missing op → EINVAL. */
  private fnRead(read: ReadOp): FileOps['read'] {
    return (offset, length) => {
      if (!read) throw new KernelError(Errno.EINVAL, 'operation not supported by the hardware');
      return readFromBuffer(`${hexAlt(read())}\n`, Math.min(length, TOOL_BUF_LEN), offset, length);
    };
  }

  /** The "s/c" write syntax (tool_fn_write): "%c %lli", 's' → set, 'c' → clear. */
  private fnWrite(set: BitsOp, clear: BitsOp): FileOps['write'] {
    return (data, offset) => {
      if (offset !== 0) return 0;
      const items = ksscanf(userString(data), '%c %lli');
      if (items.length !== 2) throw new KernelError(Errno.EINVAL, 'expected "s|c <bits>"');
      const [cmd, bits] = items as [string, bigint];
      const op = cmd === 's' ? set : cmd === 'c' ? clear : undefined;
      if (cmd !== 's' && cmd !== 'c') throw new KernelError(Errno.EINVAL, `unknown command '${cmd}'`);
      if (!op) throw new KernelError(Errno.EINVAL, `'${cmd}' not supported by the hardware`);
      op(bits);
      return data.length;
    };
  }

  /** A text file with a fixed TOOL_BUF_LEN buffer. */
  private smallText(render: () => string): FileOps['read'] {
    return (offset, length) => readFromBuffer(render(), TOOL_BUF_LEN, offset, length);
  }

  private bound<A extends unknown[], R>(fn: ((ntb: NtbDev, ...args: A) => R) | undefined): ((...args: A) => R) | undefined {
    return fn ? (...args: A) => fn.call(this.ops, this.ntb, ...args) : undefined;
  }

  createDebugfs(): void {
    const fs = this.k.debugfs;
    const ntb = this.ntb;
    const ops = this.ops;
    const dir = this.dir;
    fs.createDir(dir);

    fs.createFile(`${dir}/port`, 0o600, { read: this.smallText(() => `${cInt(() => ntbPortNumber(ntb))}\n`) });
    fs.createFile(`${dir}/link`, 0o600, {
      write: (data) => {
        if (kstrtobool(userString(data, FROM_USER_MAX.bool))) ntbLinkEnable(ntb, NtbSpeed.AUTO, NtbWidth.AUTO);
        else ntbLinkDisable(ntb);
        return data.length;
      },
    });
    fs.createFile(`${dir}/db`, 0o600, {
      read: this.fnRead(this.bound(ops.dbRead)),
      write: this.fnWrite(this.bound(ops.dbSet), this.bound(ops.dbClear)),
    });
    fs.createFile(`${dir}/db_valid_mask`, 0o600, { read: this.fnRead(this.bound(ops.dbValidMask)) });
    fs.createFile(`${dir}/db_mask`, 0o600, {
      read: this.fnRead(this.bound(ops.dbReadMask)),
      write: this.fnWrite(this.bound(ops.dbSetMask), this.bound(ops.dbClearMask)),
    });
    fs.createFile(`${dir}/db_event`, 0o600, {
      write: async (data) => {
        const want = kstrtoull(userString(data, FROM_USER_MAX.u64), 0);
        await this.waitFor(this.dbWq, () => ntbDbRead(ntb) === want);
        return data.length;
      },
    });
    fs.createFile(`${dir}/peer_db`, 0o600, {
      read: this.fnRead(this.bound(ops.peerDbRead)),
      write: this.fnWrite(this.bound(ops.peerDbSet), this.bound(ops.peerDbClear)),
    });
    fs.createFile(`${dir}/peer_db_mask`, 0o600, {
      read: this.fnRead(this.bound(ops.peerDbReadMask)),
      write: this.fnWrite(this.bound(ops.peerDbSetMask), this.bound(ops.peerDbClearMask)),
    });

    for (let sidx = 0; sidx < this.inSpadCount; sidx++) {
      fs.createFile(`${dir}/spad${sidx}`, 0o600, {
        read: (offset, length) => {
          if (!ops.spadRead) throw new KernelError(Errno.EINVAL, 'no spad_read');
          return readFromBuffer(`${hexAlt(ntbSpadRead(ntb, sidx))}\n`, TOOL_BUF_LEN, offset, length);
        },
        write: (data) => {
          if (!ops.spadWrite) throw new KernelError(Errno.EINVAL, 'no spad_write');
          ntbSpadWrite(ntb, sidx, kstrtouint(userString(data, FROM_USER_MAX.u32), 0));
          return data.length;
        },
      });
    }

    if (this.inMsgCount > 0) {
      for (let midx = 0; midx < this.inMsgCount; midx++) {
        fs.createFile(`${dir}/msg${midx}`, 0o600, {
          read: this.smallText(() => {
            const src: NtbMsgSource = {};
            const val = ntbMsgRead(ntb, midx, src);
            return `${hexPad(val >>> 0, 8)}<-${src.pidx ?? 0}\n`;
          }),
        });
      }
      fs.createFile(`${dir}/msg_sts`, 0o600, {
        read: this.fnRead(this.bound(ops.msgReadSts)),
        write: this.fnWrite(undefined, this.bound(ops.msgClearSts)),
      });
      fs.createFile(`${dir}/msg_inbits`, 0o600, { read: this.fnRead(this.bound(ops.msgInbits)) });
      fs.createFile(`${dir}/msg_outbits`, 0o600, { read: this.fnRead(this.bound(ops.msgOutbits)) });
      fs.createFile(`${dir}/msg_mask`, 0o600, { write: this.fnWrite(this.bound(ops.msgSetMask), this.bound(ops.msgClearMask)) });
      fs.createFile(`${dir}/msg_event`, 0o600, {
        write: async (data) => {
          const want = kstrtoull(userString(data, FROM_USER_MAX.u64), 0);
          await this.waitFor(this.msgWq, () => ntbMsgReadSts(ntb) === want);
          return data.length;
        },
      });
    }

    for (const peer of this.peers) this.createPeerDebugfs(peer);
  }

  private createPeerDebugfs(peer: ToolPeer): void {
    const fs = this.k.debugfs;
    const ntb = this.ntb;
    const ops = this.ops;
    const { pidx, dir } = peer;
    const linkBit = 1n << BigInt(pidx);
    const linkUp = () => (ntbLinkIsUp(ntb) & linkBit) !== 0n;
    fs.createDir(dir);

    fs.createFile(`${dir}/port`, 0o600, { read: this.smallText(() => `${cInt(() => ntbPeerPortNumber(ntb, pidx))}\n`) });
    fs.createFile(`${dir}/link`, 0o200, { read: (offset, length) => readFromBuffer(linkUp() ? 'Y\n' : 'N\n', 3, offset, length) });
    fs.createFile(`${dir}/link_event`, 0o200, {
      write: async (data) => {
        const want = kstrtobool(userString(data, FROM_USER_MAX.bool));
        await this.waitFor(this.linkWq, () => linkUp() === want);
        return data.length;
      },
    });

    for (const mw of peer.inMws) {
      fs.createFile(`${dir}/mw_trans${mw.widx}`, 0o600, {
        read: (offset, length) => readFromBuffer(this.inMwReport(mw), Math.min(length, TRANS_BUF_LEN), offset, length),
        write: async (data) => {
          const size = kstrtouint(userString(data, FROM_USER_MAX.u32), 0);
          await this.freeInMw(mw);
          if (size !== 0) await this.setupInMw(mw, size);
          return data.length;
        },
      });
    }

    for (let widx = 0; widx < peer.outMwCount; widx++) {
      const mw = this.outMws[widx];
      fs.createFile(`${dir}/peer_mw_trans${widx}`, 0o600, {
        read: (offset, length) => readFromBuffer(this.outMwReport(mw), Math.min(length, TRANS_BUF_LEN), offset, length),
        write: async (data) => {
          const items = ksscanf(userString(data, TOOL_BUF_LEN - 1), '%lli:%zi');
          if (items.length !== 2) throw new KernelError(Errno.EINVAL, 'expected "<addr>:<size>"');
          const [addr, size] = items as [bigint, bigint];
          await this.freeOutMw(mw);
          if (size !== 0n) await this.setupOutMw(mw, pidx, addr, size);
          return data.length;
        },
      });
    }

    for (let sidx = 0; sidx < peer.outSpadCount; sidx++) {
      fs.createFile(`${dir}/spad${sidx}`, 0o600, {
        read: (offset, length) => {
          if (!ops.peerSpadRead) throw new KernelError(Errno.EINVAL, 'no peer_spad_read');
          return readFromBuffer(`${hexAlt(ntbPeerSpadRead(ntb, pidx, sidx))}\n`, TOOL_BUF_LEN, offset, length);
        },
        write: (data) => {
          if (!ops.peerSpadWrite) throw new KernelError(Errno.EINVAL, 'no peer_spad_write');
          ntbPeerSpadWrite(ntb, pidx, sidx, kstrtouint(userString(data, FROM_USER_MAX.u32), 0));
          return data.length;
        },
      });
    }

    for (let midx = 0; midx < peer.outMsgCount; midx++) {
      fs.createFile(`${dir}/msg${midx}`, 0o600, {
        write: (data) => {
          ntbPeerMsgWrite(ntb, pidx, midx, kstrtouint(userString(data, FROM_USER_MAX.u32), 0));
          return data.length;
        },
      });
    }
  }

  wakeAll(): void {
    this.linkWq.wakeUp();
    this.dbWq.wakeUp();
    this.msgWq.wakeUp();
  }
}

function probe(k: Kernel, ntb: NtbDev): void {
  const tc = new ToolCtx(k, ntb);
  ntbSetCtx<ToolCtx>(ntb, tc, {
    linkEvent: (c) => c.onLinkEvent(),
    dbEvent: (c, vector) => c.onDbEvent(vector),
    msgEvent: (c) => c.onMsgEvent(),
  });
  tc.createDebugfs();
}

async function remove(k: Kernel, ntb: NtbDev): Promise<void> {
  const tc = ntb.ctx as ToolCtx;
  k.debugfs.remove(tc.dir);
  ntbClearCtx(ntb);
  await tc.ignoring('link_disable', () => ntbLinkDisable(ntb));
  await tc.clearMws();
  tc.removed = true;
  tc.wakeAll();
}

interface ToolModuleState {
  client: NtbClient;
}

/** Module ntb_tool: no parameters; registers the client on this kernel's ntb bus. */
export const ntbToolModule: ModuleDecl<Kernel, {}, ToolModuleState> = {
  name: TOOL_NAME,
  description: 'PCIe NTB Debugging Tool',
  version: TOOL_VERSION,
  license: 'Dual BSD/GPL',
  depends: ['ntb'],
  async init(k, _p, mod: LoadedModule<ToolModuleState>) {
    const client: NtbClient = {
      probe: (ntb) => probe(k, ntb),
      remove: (ntb) => remove(k, ntb),
    };
    await ntbRegisterClientWithDebugfs(k, client, mod, TOOL_NAME);
    return { client };
  },
  async exit(k, st) {
    await ntbUnregisterClientWithDebugfs(k, st.client, TOOL_NAME);
  },
};
