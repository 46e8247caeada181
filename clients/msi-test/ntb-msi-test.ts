/**
 * ntb_msi_test (drivers/ntb/test/ntb_msi_test.c, version 0.1): raises interrupts on a peer
 * without doorbells, through the NTB MSI library (drivers/ntb/msi.ts). Spec: ntb-msi.md §5.
 *
 * Each bound device requests `num_irqs` MSI vectors of its NTB function once the link is up and
 * publishes their descriptors in its own scratchpads (spad 0 = count, 0xFFFFFFFF = not ready;
 * spad 2i+1 / 2i+2 = offset / data of irq i), then rings the peer with the doorbell bit of its
 * own port number. The peer's doorbell callback copies the descriptors (the bit number is used as
 * the peer index). Writing `i` to peer<N>/trigger writes descriptor i through the outbound MSI
 * window, which fires irq i on the peer and bumps its irq<i>_occurrences.
 *
 * debugfs: /sys/kernel/debug/ntb_msi_test/<pci name>/{port, irq<I>_occurrences,
 * peer<N>/{trigger, port, count, ready}}, all simple attributes ("%llu\n", 23-byte writes).
 *
 * Deviations from the C module, none of which a well-behaved run can observe:
 *  - num_irqs is read once per probe; C re-reads the global in setup and desc_changed, which
 *    overruns the per-device array if the parameter is raised through sysfs in between.
 *  - A doorbell bit ≥ the peer count is skipped instead of indexing past peers[] (spec §5.7).
 *  - remove waits for a queued or running setup_work before tearing down (C does not).
 *  - A write to peer<N>/ready still blocked at remove fails with EINTR: on Linux rmmod would
 *    wait in debugfs_remove until the writer is interrupted, which then sees EINTR; ntbsim has no
 *    signals, so remove plays that interruption.
 */
import { Errno, KernelError } from '../../core/errno';
import { IrqReturn } from '../../core/irq/irqdesc';
import { Kernel } from '../../core/kernel';
import { fromUser, kstrtoull, SIMPLE_ATTR_WRITE_MAX } from '../../core/lib/kstrtox';
import { LoadedModule, ModuleDecl } from '../../core/module/module';
import { param, ParamValues } from '../../core/module/params';
import { LogLevel } from '../../core/printk';
import { Completion, WaitQueue } from '../../core/time/wait';
import { WorkStruct } from '../../core/time/workqueue';
import {
  NtbClient,
  NtbDev,
  NtbMsiDesc,
  ntbClearCtx,
  ntbDbClear,
  ntbDbClearMask,
  ntbDbRead,
  ntbDbSetMask,
  ntbDbValidMask,
  ntbLinkDisable,
  ntbLinkEnable,
  ntbLinkIsUp,
  ntbMsiClearMws,
  ntbMsiInit,
  ntbMsiPeerTrigger,
  ntbMsiSetupMws,
  ntbmMsiRequestIrq,
  ntbPeerDbSet,
  ntbPeerPortCount,
  ntbPeerPortNumber,
  ntbPeerSpadRead,
  ntbPortNumber,
  ntbRegisterClientWithDebugfs,
  ntbSetCtx,
  ntbSpadCount,
  ntbSpadIsUnsafe,
  ntbSpadWrite,
  ntbUnregisterClientWithDebugfs,
  ntbIgnoreErrorSync,
} from '../../drivers/ntb';

export const MSI_TEST_NAME = 'ntb_msi_test';
export const MSI_TEST_VERSION = '0.1';

const params = {
  num_irqs: param.int(4, 0o644, 'number of irqs to use'),
};
type MsitParams = ParamValues<typeof params>;

/** Scratchpad 0 until the first setup has published: "not ready". */
const SPAD_NOT_READY = 0xffffffff;

/** KMALLOC_MAX_SIZE on x86-64 (order-10 pages): larger kcalloc requests fail. */
const KMALLOC_MAX_SIZE = 4 << 20;
/** sizeof(struct ntb_msit_isr_ctx) and sizeof(struct ntb_msi_desc) on x86-64. */
const ISR_CTX_SIZE = 32;
const MSI_DESC_SIZE = 8;

/** kcalloc(n, size) with n converted to size_t: a negative count or a huge total fails. */
function kcallocFails(n: number, size: number): boolean {
  return n < 0 || n * size > KMALLOC_MAX_SIZE;
}

function errnoOf(e: unknown): number {
  if (!(e instanceof KernelError)) throw e;
  return -e.errno;
}

/** struct ntb_msit_isr_ctx: one local interrupt. */
class IsrCtx {
  irqIdx = 0;
  /** 0 = not requested yet. */
  irqNum = 0;
  /** C int, wraps. */
  occurrences = 0;
  readonly desc: NtbMsiDesc = { addrOffset: 0, data: 0 };
}

/** struct ntb_msit_peer: what one peer advertised. */
class MsitPeer {
  numIrqs = 0;
  msiDesc: NtbMsiDesc[] = [];

  constructor(
    readonly pidx: number,
    readonly initComp: Completion,
  ) {}
}

/** struct ntb_msit_ctx: the state of one bound device. */
class MsitCtx {
  readonly isrCtx: IsrCtx[];
  readonly peers: MsitPeer[];
  readonly setupWork: WorkStruct;
  readonly dir: string;
  /** Wakes remove's wait for setup_work. */
  private readonly setupIdle: WaitQueue;
  private setupRunning = false;
  /** Set by remove: blocked ready writers give up. */
  private removed = false;

  constructor(
    readonly k: Kernel,
    readonly ntb: NtbDev,
    readonly numIrqs: number,
    peerCount: number,
  ) {
    this.isrCtx = Array.from({ length: numIrqs }, () => new IsrCtx());
    this.peers = Array.from({ length: peerCount }, (_, i) => new MsitPeer(i, k.completion()));
    this.setupIdle = k.waitQueue();
    this.setupWork = k.work('ntb_msit_setup_work', async () => {
      this.setupRunning = true;
      try {
        await this.setup();
      } finally {
        this.setupRunning = false;
        this.setupIdle.wakeUp();
      }
    });
    this.dir = `${MSI_TEST_NAME}/${ntb.pdev.name}`;
  }

  log(level: LogLevel, text: string): void {
    this.k.printk.devLog(level, this.ntb, text);
  }

  /** The doorbell bit the peer expects from us: our own port number. */
  private ourDbBit(): bigint {
    return 1n << BigInt(ntbPortNumber(this.ntb));
  }

  /** An operation whose status the C module ignores: noted at debug level only. */
  private ignoring(what: string, op: () => void): void {
    ntbIgnoreErrorSync(this.k, this.ntb, what, op);
  }

  // ---- setup (process context, from the link event) --------------------------------------------

  private async setup(): Promise<void> {
    try {
      await ntbMsiSetupMws(this.ntb);
    } catch (e) {
      this.log(LogLevel.ERR, `Unable to setup MSI windows: ${errnoOf(e)}`);
      return;
    }
    let irqCount = 0;
    for (let i = 0; i < this.numIrqs; i++) {
      const isr = this.isrCtx[i];
      isr.irqIdx = i;
      if (isr.irqNum === 0) {
        try {
          isr.irqNum = ntbmMsiRequestIrq(this.ntb, (irq, devId) => this.isr(irq, devId as IsrCtx), MSI_TEST_NAME, isr, isr.desc);
        } catch (e) {
          this.log(LogLevel.DEBUG, `irq ${i}: no MSI vector: ${errnoOf(e)}`);
          break;
        }
      }
      try {
        ntbSpadWrite(this.ntb, 2 * i + 1, isr.desc.addrOffset);
        ntbSpadWrite(this.ntb, 2 * i + 2, isr.desc.data);
      } catch (e) {
        this.log(LogLevel.DEBUG, `irq ${i}: spad_write failed: ${errnoOf(e)}`);
        break;
      }
      irqCount++;
    }
    this.ignoring('spad_write', () => ntbSpadWrite(this.ntb, 0, irqCount));
    this.ignoring('peer_db_set', () => ntbPeerDbSet(this.ntb, this.ourDbBit()));
  }

  /** flush_work(setup_work): wait until a queued or running setup has finished. */
  async flushSetup(): Promise<void> {
    await this.setupIdle.waitEvent(() => !this.setupWork.pending && !this.setupRunning);
  }

  // ---- callbacks ---------------------------------------------------------------------------------

  private isr(_irq: number, isr: IsrCtx): IrqReturn {
    this.log(LogLevel.DEBUG, `Interrupt Occurred: ${isr.irqIdx}`);
    isr.occurrences = (isr.occurrences + 1) | 0;
    return IrqReturn.HANDLED;
  }

  /** The library rewrote one of our vectors' messages: republish every descriptor. */
  descChanged(): void {
    this.log(LogLevel.DEBUG, 'MSI Descriptors Changed');
    for (let i = 0; i < this.numIrqs; i++) {
      const desc = this.isrCtx[i].desc;
      this.ignoring('spad_write', () => ntbSpadWrite(this.ntb, 2 * i + 1, desc.addrOffset));
      this.ignoring('spad_write', () => ntbSpadWrite(this.ntb, 2 * i + 2, desc.data));
    }
    this.ignoring('peer_db_set', () => ntbPeerDbSet(this.ntb, this.ourDbBit()));
  }

  linkEvent(): void {
    if (ntbLinkIsUp(this.ntb) === 0n) return;
    this.k.scheduleWork(this.setupWork);
  }

  /** Every doorbell bit set is taken as the index of a peer that (re)published its descriptors. */
  dbEvent(): void {
    const mask = ntbDbRead(this.ntb);
    ntbDbClear(this.ntb, mask);
    for (let b = 0; b < 64; b++) {
      if (((mask >> BigInt(b)) & 1n) === 0n) continue;
      const peer = this.peers[b];
      if (!peer) {
        this.log(LogLevel.DEBUG, `doorbell bit ${b} is not a peer index`);
        continue;
      }
      const n = ntbPeerSpadRead(this.ntb, b, 0) >>> 0;
      if (n === SPAD_NOT_READY) continue;
      if (kcallocFails(n, MSI_DESC_SIZE)) continue;
      peer.msiDesc = Array.from({ length: n }, (_, i) => ({
        addrOffset: ntbPeerSpadRead(this.ntb, b, 2 * i + 1) >>> 0,
        data: ntbPeerSpadRead(this.ntb, b, 2 * i + 2) >>> 0,
      }));
      peer.numIrqs = n | 0;
      this.log(LogLevel.INFO, `Found ${peer.numIrqs} interrupts on peer ${b}`);
      peer.initComp.completeAll();
    }
  }

  // ---- debugfs -----------------------------------------------------------------------------------

  private trigger(peer: MsitPeer, idx: bigint): void {
    // C compares the u64 with the int count converted to u64.
    if (idx >= BigInt.asUintN(64, BigInt(peer.numIrqs))) throw new KernelError(Errno.EINVAL, `no irq ${idx} on peer ${peer.pidx}`);
    this.log(LogLevel.DEBUG, `trigger irq ${idx} on peer ${peer.pidx}`);
    ntbMsiPeerTrigger(this.ntb, peer.pidx, peer.msiDesc[Number(idx)]);
  }

  /** peer<N>/ready: reads whether the descriptors arrived; a write waits for them. */
  private createReady(rel: string, peer: MsitPeer): void {
    this.k.debugfs.createFile(rel, 0o600, {
      show: () => `${peer.initComp.isDone ? 1 : 0}\n`,
      write: async (data) => {
        kstrtoull(fromUser(data, SIMPLE_ATTR_WRITE_MAX));
        await peer.initComp.wait();
        if (this.removed) throw new KernelError(Errno.EINTR, `${this.ntb.name}: device removed while waiting for peer ${peer.pidx}`);
        return data.length;
      },
      noReadErrno: Errno.EACCES,
      noWriteErrno: Errno.EACCES,
    });
  }

  createDebugfs(): void {
    const d = this.k.debugfs;
    d.createDir(this.dir);
    d.createAttribute(`${this.dir}/port`, 0o400, () => ntbPortNumber(this.ntb));
    for (const peer of this.peers) {
      const pdir = `${this.dir}/peer${peer.pidx}`;
      d.createDir(pdir);
      d.createAttribute(`${pdir}/trigger`, 0o200, undefined, (idx) => this.trigger(peer, idx));
      d.createAttribute(`${pdir}/port`, 0o400, () => ntbPeerPortNumber(this.ntb, peer.pidx));
      d.createAttribute(`${pdir}/count`, 0o400, () => peer.numIrqs);
      this.createReady(`${pdir}/ready`, peer);
    }
    this.isrCtx.forEach((isr, i) => d.createAttribute(`${this.dir}/irq${i}_occurrences`, 0o400, () => isr.occurrences));
  }

  removeDebugfs(): void {
    this.k.debugfs.remove(this.dir);
  }

  /** Remove: wake the ready writers still blocked (they fail with EINTR). */
  abandonWaiters(): void {
    this.removed = true;
    for (const peer of this.peers) peer.initComp.completeAll();
  }
}

// ---- probe / remove ----------------------------------------------------------------------------

function probe(k: Kernel, p: MsitParams, ntb: NtbDev): void {
  const err = (text: string) => k.printk.devLog(LogLevel.ERR, ntb, text);
  const numIrqs = p.num_irqs;

  const peers = ntbPeerPortCount(ntb);
  if (peers <= 0) throw new KernelError(Errno.EINVAL, `${ntb.name}: no peers`);

  // 2 * num_irqs + 1 in C int arithmetic.
  const spadsNeeded = (2 * numIrqs + 1) | 0;
  if (ntbSpadIsUnsafe(ntb) || ntbSpadCount(ntb) < spadsNeeded) {
    err(`NTB MSI test requires at least ${spadsNeeded} spads for ${numIrqs} irqs`);
    throw new KernelError(Errno.EFAULT, `${ntb.name}: not enough scratchpads`);
  }

  try {
    ntbSpadWrite(ntb, 0, SPAD_NOT_READY);
  } catch (e) {
    err(`Unable to write spads: ${errnoOf(e)}`);
    throw e;
  }

  try {
    ntbDbClearMask(ntb, (1n << BigInt(peers)) - 1n);
  } catch (e) {
    err(`Unable to clear doorbell mask: ${errnoOf(e)}`);
    throw e;
  }

  try {
    ntbMsiInit(k, ntb, (ctx) => {
      if (ctx instanceof MsitCtx) ctx.descChanged();
      else k.oops(`${MSI_TEST_NAME}: desc_changed`, new Error(`${ntb.name}: no client context`));
    });
  } catch (e) {
    err(`Unable to initialize MSI library: ${errnoOf(e)}`);
    throw e;
  }

  if (kcallocFails(numIrqs, ISR_CTX_SIZE)) throw new KernelError(Errno.ENOMEM, `${ntb.name}: isr_ctx[${numIrqs}]`);
  const nm = new MsitCtx(k, ntb, numIrqs, peers);
  nm.createDebugfs();
  try {
    ntbSetCtx<MsitCtx>(ntb, nm, {
      linkEvent: (c) => c.linkEvent(),
      dbEvent: (c) => c.dbEvent(),
    });
  } catch (e) {
    nm.removeDebugfs();
    throw e;
  }

  // The status of ntb_link_enable is ignored; setup starts with the hardware's link event.
  try {
    ntbLinkEnable(ntb);
  } catch (e) {
    k.printk.devLog(LogLevel.DEBUG, ntb, `link_enable failed: ${errnoOf(e)}`);
  }
}

async function remove(ntb: NtbDev): Promise<void> {
  const nm = ntb.ctx as MsitCtx;
  await nm.flushSetup();
  ntbLinkDisable(ntb);
  ntbDbSetMask(ntb, ntbDbValidMask(ntb));
  await ntbMsiClearMws(ntb);
  for (const peer of nm.peers) peer.msiDesc = [];
  ntbClearCtx(ntb);
  // A link event that slipped in before the context was cleared may have queued setup again.
  await nm.flushSetup();
  nm.abandonWaiters();
  nm.removeDebugfs();
}

interface MsitModuleState {
  client: NtbClient;
}

/** Module ntb_msi_test: registers the client on this kernel's ntb bus. */
export const ntbMsiTestModule: ModuleDecl<Kernel, typeof params, MsitModuleState> = {
  name: MSI_TEST_NAME,
  description: 'Test for sending MSI interrupts over an NTB memory window',
  version: MSI_TEST_VERSION,
  license: 'Dual BSD/GPL',
  depends: ['ntb'],
  params,
  async init(k, p, mod: LoadedModule<MsitModuleState>) {
    const client: NtbClient = {
      probe: (ntb) => probe(k, p, ntb),
      remove: (ntb) => remove(ntb),
    };
    await ntbRegisterClientWithDebugfs(k, client, mod, MSI_TEST_NAME);
    return { client };
  },
  async exit(k, st) {
    await ntbUnregisterClientWithDebugfs(k, st.client, MSI_TEST_NAME);
  },
};
