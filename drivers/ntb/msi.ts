import { DevresEntry } from '../../core/base/devres';
import { Errno, KernelError } from '../../core/errno';
import { IrqHandler, IrqThreadFn } from '../../core/irq/irqdesc';
import { Kernel } from '../../core/kernel';
import { IoMem } from '../../core/mm/io';
import { MsiDesc } from '../../core/pci/msi-desc';
import { LogLevel, RateLimit } from '../../core/printk';
import { secs } from '../../core/time/units';
import {
  ntbCoreOf,
  ntbMwClearTrans,
  ntbMwGetAlign,
  ntbMwSetTrans,
  ntbPeerHighestMwIdx,
  ntbPeerMwCount,
  ntbPeerMwGetAddr,
  ntbPeerPortCount,
} from './core';
import { NtbDev } from './ntb';

/**
 * drivers/ntb/msi.c: interrupts sent to a peer as a memory write through an NTB memory window.
 * The receiver maps an inbound window onto its own MSI address range and hands out
 * {offset, data} descriptors; the sender writes `data` at `offset` of its outbound window.
 */

/** struct ntb_msi_desc: what a peer needs to raise one of our interrupts. */
export interface NtbMsiDesc {
  addrOffset: number;
  data: number;
}

/** struct ntb_msi (ntb->msi). */
interface NtbMsi {
  readonly k: Kernel;
  baseAddr: number;
  endAddr: number;
  readonly descChanged?: (ctx: unknown) => void;
  /** One mapping per peer of the whole outbound window reserved for it. */
  readonly peerMws: Array<IoMem | undefined>;
  /** Warnings about peer descriptors that point outside the window (created on first use). */
  badDescLimit?: RateLimit;
}

/** Per requested irq: how to refresh the client's descriptor when the message is rewritten. */
interface MsiIrqRecord {
  ntb: NtbDev;
  entry: MsiDesc;
  msiDesc: NtbMsiDesc;
  /** devres of the hook (removed by ntbmMsiFreeIrq). */
  res?: DevresEntry;
  /** devres of the irq itself (devm_request_threaded_irq). */
  irqRes?: DevresEntry;
}

const SZ_32K = 0x8000;

function msiOf(ntb: NtbDev): NtbMsi {
  const msi = ntb.msi as NtbMsi | undefined;
  if (!msi) throw new KernelError(Errno.EINVAL, `${ntb.name}: ntb_msi_init has not been called`);
  return msi;
}

const roundUpPow2 = (v: number, align: number): number => (align > 0 ? Math.ceil(v / align) * align : v);

/**
 * ntb_msi_init: map the last outbound window of each peer (window `peer_mw_count − 1 − pidx`).
 * Device-managed: released, and `ntb.msi` cleared, when the client unbinds.
 */
export function ntbMsiInit(k: Kernel, ntb: NtbDev, descChanged?: (ctx: unknown) => void): void {
  const peers = ntbPeerPortCount(ntb);
  if (peers <= 0) throw new KernelError(Errno.EINVAL, `${ntb.name}: no peers`);
  const msi: NtbMsi = { k, baseAddr: 0, endAddr: 0, descChanged, peerMws: new Array(peers).fill(undefined) };
  for (let i = 0; i < peers; i++) {
    const { base, size } = ntbPeerMwGetAddr(ntb, ntbPeerMwCount(ntb) - 1 - i);
    try {
      msi.peerMws[i] = k.pci.ioremap(base, size);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      throw new KernelError(Errno.EFAULT, `${ntb.name}: cannot map the MSI window of peer ${i}`);
    }
  }
  ntb.msi = msi;
  ntb.devres.add('ntb_msi', () => {
    msi.peerMws.fill(undefined);
    if (ntb.msi === msi) ntb.msi = undefined;
  });
}

/**
 * ntb_msi_setup_mws: point each peer's highest inbound window at our MSI address range (the first
 * vector's address, aligned down for every peer). Needs the link up; may sleep.
 */
export async function ntbMsiSetupMws(ntb: NtbDev): Promise<void> {
  const msi = msiOf(ntb);
  const first = ntb.pdev.msiDescs.find((d) => d.irq > 0);
  // Linux would dereference a missing descriptor; ntbsim refuses instead.
  if (!first) throw new KernelError(Errno.ENODEV, `${ntb.name}: the NTB device has no MSI vectors`);
  let addr = first.address;
  const peers = ntbPeerPortCount(ntb);
  for (let peer = 0; peer < peers; peer++) {
    const w = highestMw(ntb, peer);
    const { addrAlign } = ntbMwGetAlign(ntb, peer, w);
    addr -= addr % addrAlign;
  }
  let mwSize = SZ_32K;
  let mwMinSize = SZ_32K;
  let peer = 0;
  try {
    for (; peer < peers; peer++) {
      const w = highestMw(ntb, peer);
      const { sizeAlign, sizeMax } = ntbMwGetAlign(ntb, peer, w);
      mwSize = Math.max(roundUpPow2(mwSize, sizeAlign), sizeMax);
      if (mwSize < mwMinSize) mwMinSize = mwSize;
      await ntbMwSetTrans(ntb, peer, w, addr, mwSize);
    }
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    // As in Linux, the unwind uses the failing peer's window index for every earlier peer.
    const failedW = ntbPeerHighestMwIdx(ntb, peer);
    for (let i = 0; i < peer; i++) if (failedW >= 0) await ntbMwClearTrans(ntb, i, failedW);
    throw e;
  }
  msi.baseAddr = addr;
  msi.endAddr = addr + mwMinSize;
}

function highestMw(ntb: NtbDev, peer: number): number {
  const w = ntbPeerHighestMwIdx(ntb, peer);
  if (w < 0) throw new KernelError(-w as Errno, `${ntb.name}: no memory window for peer ${peer}`);
  return w;
}

/** ntb_msi_clear_mws: undo the inbound translations of ntbMsiSetupMws. */
export async function ntbMsiClearMws(ntb: NtbDev): Promise<void> {
  const peers = ntbPeerPortCount(ntb);
  for (let peer = 0; peer < peers; peer++) {
    const w = ntbPeerHighestMwIdx(ntb, peer);
    if (w >= 0) await ntbMwClearTrans(ntb, peer, w);
  }
}

/** The descriptor of `entry` relative to our window; false (warned once) when it lies outside. */
function setDesc(msi: NtbMsi, ntb: NtbDev, entry: MsiDesc, msiDesc: NtbMsiDesc): boolean {
  const addr = entry.address;
  if (addr < msi.baseAddr || addr >= msi.endAddr) {
    const core = ntbCoreOf(msi.k);
    if (!core.warnedOnce.has('msi-window')) {
      core.warnedOnce.add('msi-window');
      msi.k.printk.devLog(
        LogLevel.WARNING,
        ntb,
        `IRQ ${entry.irq}: MSI Address not within the memory window (${addr.toString(16)}, [${msi.baseAddr.toString(16)} ${msi.endAddr.toString(16)}])`,
      );
    }
    return false;
  }
  msiDesc.addrOffset = addr - msi.baseAddr;
  msiDesc.data = entry.msg.data;
  return true;
}

/** The kernel rewrote a vector's message (affinity change without interrupt remapping, …). */
function descChangedHook(_entry: MsiDesc, data: unknown): void {
  const rec = data as MsiIrqRecord;
  const msi = rec.ntb.msi as NtbMsi | undefined;
  if (!msi) return;
  // WARN_ON in Linux: the client keeps its old descriptor and is told anyway.
  if (!setDesc(msi, rec.ntb, rec.entry, rec.msiDesc)) msi.k.printk.warn('WARNING: CPU: 0 PID: 0 at drivers/ntb/msi.c ntb_msi_write_msg');
  msi.descChanged?.(rec.ntb.ctx);
}

/**
 * ntbm_msi_request_threaded_irq: take the first free MSI vector of the NTB device whose message
 * falls inside our window, fill `msiDesc` for the peer, and return its irq. Device-managed.
 */
export function ntbmMsiRequestThreadedIrq(
  ntb: NtbDev,
  handler: IrqHandler | undefined,
  threadFn: IrqThreadFn | undefined,
  name: string,
  devId: unknown,
  msiDesc: NtbMsiDesc,
): number {
  const msi = msiOf(ntb);
  const k = msi.k;
  for (const entry of ntb.pdev.msiDescs) {
    if (entry.irq <= 0 || k.irq.desc(entry.irq).actions.length > 0) continue;
    try {
      k.irq.requestThreadedIrq(entry.irq, handler, threadFn, 0, name, devId);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      continue;
    }
    const rec: MsiIrqRecord = { ntb, entry, msiDesc };
    rec.irqRes = ntb.devres.add(`devm_request_threaded_irq ${entry.irq}`, () => k.irq.freeIrq(entry.irq, devId));
    if (!setDesc(msi, ntb, entry, msiDesc)) {
      void ntb.devres.release(rec.irqRes);
      continue;
    }
    entry.writeMsiMsg = descChangedHook;
    entry.writeMsiMsgData = rec;
    rec.res = ntb.devres.add(`ntb_msi_devres ${entry.irq}`, () => {
      if (entry.writeMsiMsgData === rec) {
        entry.writeMsiMsg = undefined;
        entry.writeMsiMsgData = undefined;
      }
    });
    return entry.irq;
  }
  throw new KernelError(Errno.ENODEV, `${ntb.name}: no free MSI vector inside the window`);
}

/** ntbm_msi_request_irq: the threaded variant without a thread. */
export function ntbmMsiRequestIrq(ntb: NtbDev, handler: IrqHandler, name: string, devId: unknown, msiDesc: NtbMsiDesc): number {
  return ntbmMsiRequestThreadedIrq(ntb, handler, undefined, name, devId, msiDesc);
}

/** ntbm_msi_free_irq (kept from the series): drop the rewrite hook, then free the irq. */
export function ntbmMsiFreeIrq(ntb: NtbDev, irq: number, devId: unknown): void {
  const entry = ntb.pdev.msiDescs.find((d) => d.irq === irq);
  if (!entry) return;
  const rec = entry.writeMsiMsgData as MsiIrqRecord | undefined;
  entry.writeMsiMsg = undefined;
  entry.writeMsiMsgData = undefined;
  if (rec?.ntb === ntb && rec.res) ntb.devres.remove(rec.res);
  else msiOf(ntb).k.bugs.push({ where: `ntbm_msi_free_irq: no record for irq ${irq}`, error: new Error('WARN_ON') });
  if (rec?.irqRes && ntb.devres.remove(rec.irqRes)) msiOf(ntb).k.irq.freeIrq(irq, devId);
}

/** ntb_msi_peer_trigger: write the descriptor's data into the peer's window. No other checks, as in Linux. */
export function ntbMsiPeerTrigger(ntb: NtbDev, peer: number, desc: NtbMsiDesc): void {
  const msi = msiOf(ntb);
  const mw = msi.peerMws[peer];
  if (!mw) throw new KernelError(Errno.EINVAL, `${ntb.name}: peer ${peer} has no MSI window`);
  const off = Math.floor(desc.addrOffset / 4) * 4;
  if (!(off >= 0 && off + 4 <= mw.size)) {
    // ntbsim: Linux does not check, and its write lands past the window's ioremap (a kernel page
    // fault). The descriptor comes from the peer, so a garbage one must not take this host down:
    // the write is dropped, with a rate-limited warning.
    msi.badDescLimit ??= new RateLimit(msi.k.sched, secs(5), 10);
    if (msi.badDescLimit.allow()) {
      msi.k.printk.devLog(LogLevel.WARNING, ntb, `MSI descriptor offset ${hex(desc.addrOffset)} is outside the ${hex(mw.size)}-byte window of peer ${peer}: interrupt not sent`);
    }
    return;
  }
  mw.iowrite32(desc.data >>> 0, off);
}

const hex = (v: number): string => `0x${v.toString(16)}`;

/** ntb_msi_peer_addr (kept from the series): the bus address a DMA engine would write to. */
export function ntbMsiPeerAddr(ntb: NtbDev, peer: number, desc: NtbMsiDesc): number {
  const { base } = ntbPeerMwGetAddr(ntb, ntbPeerMwCount(ntb) - 1 - peer);
  return base + desc.addrOffset;
}
