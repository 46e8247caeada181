/**
 * ntb_pingpong (drivers/ntb/test/ntb_pingpong.c, version 2.0): every NTB device it binds plays
 * ping-pong with one peer. A ping writes the local counter into the peer's scratchpad 0 and
 * message register 0 and rings the doorbell bit of the peer's port number; a doorbell on our own
 * port bit is a pong: it increments `count` and re-arms the ping timer (`delay_ms`, hrtimer style,
 * so exact virtual nanoseconds rather than jiffies).
 *
 * debugfs: /sys/kernel/debug/ntb_pingpong/<pci name>/count (signed atomic counter, read/write).
 */
import { Errno, KernelError } from '../../core/errno';
import { kstrtoll } from '../../core/lib/kstrtox';
import { hexAlt } from '../../core/lib/printf';
import { Kernel } from '../../core/kernel';
import { LoadedModule, ModuleDecl } from '../../core/module/module';
import { param, ParamValues } from '../../core/module/params';
import { LogLevel } from '../../core/printk';
import { EventHandle } from '../../core/time/scheduler';
import { msecs, Nanoseconds } from '../../core/time/units';
import {
  NtbClient,
  NtbDev,
  NtbMsgSource,
  ntbClearCtx,
  ntbDbClear,
  ntbDbClearMask,
  ntbDbIsUnsafe,
  ntbDbSetMask,
  ntbDbValidMask,
  ntbLinkDisable,
  ntbLinkEnable,
  ntbLinkEvent,
  ntbLinkIsUp,
  ntbMsgClearSts,
  ntbMsgCount,
  ntbMsgInbits,
  ntbMsgOutbits,
  ntbMsgRead,
  ntbMsgSetMask,
  ntbPeerDbSet,
  ntbPeerMsgWrite,
  ntbPeerPortCount,
  ntbPeerPortNumber,
  ntbPeerSpadWrite,
  ntbPortNumber,
  ntbRegisterClientWithDebugfs,
  ntbSetCtx,
  ntbSpadCount,
  ntbSpadIsUnsafe,
  ntbSpadRead,
  ntbUnregisterClientWithDebugfs,
  ntbIgnoreErrorSync,
} from '../../drivers/ntb';

export const PINGPONG_NAME = 'ntb_pingpong';
export const PINGPONG_VERSION = '2.0';

const params = {
  unsafe: param.uint(0, 0o644, 'Run even though ntb operations may be unsafe'),
  delay_ms: param.uint(1000, 0o644, 'Milliseconds to delay the response to peer'),
};
type PpParams = ParamValues<typeof params>;

/** simple_attr_write looks at no more than sizeof(set_buf) - 1 bytes. */
const ATTR_WRITE_MAX = 23;
const ALL_ONES_64 = (1n << 64n) - 1n;

/** GENMASK_ULL(h, l); empty when h < l. */
function genmask(h: number, l: number): bigint {
  if (h < l) return 0n;
  return ((1n << BigInt(h + 1)) - 1n) & ~((1n << BigInt(l)) - 1n);
}

/** __ffs64 of a non-zero mask. */
function ffs64(v: bigint): number {
  let i = 0;
  while (((v >> BigInt(i)) & 1n) === 0n) i++;
  return i;
}

/** A relative, one-shot hrtimer in virtual time: start() re-arms, cancel() disarms. */
class HrTimer {
  private handle?: EventHandle;

  constructor(
    private readonly k: Kernel,
    private readonly fn: () => void,
  ) {}

  start(delay: Nanoseconds): void {
    this.cancel();
    this.handle = this.k.sched.after(delay, () => {
      this.handle = undefined;
      this.fn();
    });
  }

  cancel(): void {
    this.handle?.cancel();
    this.handle = undefined;
  }
}

/** struct pp_ctx: the state of one bound device. */
class PpCtx {
  readonly timer: HrTimer;
  inDb = 0n;
  outDb = 0n;
  outPidx = 0;
  nmask = 0n;
  pmask = 0n;
  /** atomic_t: a signed 32-bit counter of pongs received. */
  count = 0;
  readonly dir: string;

  constructor(
    readonly k: Kernel,
    readonly ntb: NtbDev,
    readonly p: PpParams,
  ) {
    this.timer = new HrTimer(k, () => this.ping());
    this.dir = `${PINGPONG_NAME}/${ntb.pdev.name}`;
  }

  dbg(text: string): void {
    this.k.printk.devLog(LogLevel.DEBUG, this.ntb, text);
  }

  err(text: string): void {
    this.k.printk.devLog(LogLevel.ERR, this.ntb, text);
  }

  /**
   * An NTB op whose status Linux's ping-pong ignores (a missing spad/msg op on hardware that has
   * only one of the two, for instance): the error is noted at debug level and play goes on.
   */
  ignoring(what: string, op: () => void): void {
    ntbIgnoreErrorSync(this.k, this.ntb, what, op);
  }

  private startTimer(): void {
    this.timer.start(msecs(this.p.delay_ms));
  }

  /** pp_init_flds: our doorbell bit and the masks of the peers enumerated before and after us. */
  initFields(): void {
    const lport = ntbPortNumber(this.ntb);
    const pcnt = ntbPeerPortCount(this.ntb);
    let pidx = 0;
    while (pidx < pcnt && !(lport < ntbPeerPortNumber(this.ntb, pidx))) pidx++;
    this.inDb = 1n << BigInt(lport);
    this.pmask = genmask(pidx, 0) >> 1n;
    this.nmask = genmask(pcnt - 1, pidx);
    this.dbg(`Inbound db ${hexAlt(this.inDb)}, prev ${hexAlt(this.pmask)}, next ${hexAlt(this.nmask)}`);
  }

  /** pp_find_next_peer: the lowest linked peer after us, else the lowest before us. */
  private findNextPeer(): boolean {
    const link = ntbLinkIsUp(this.ntb);
    let pidx: number;
    if ((link & this.nmask) !== 0n) pidx = ffs64(link & this.nmask);
    else if ((link & this.pmask) !== 0n) pidx = ffs64(link & this.pmask);
    else return false;
    this.outDb = 1n << BigInt(ntbPeerPortNumber(this.ntb, pidx));
    this.outPidx = pidx;
    return true;
  }

  /** Link event: pick the peer to play with and arm the first ping. */
  setup(): void {
    this.ignoring('db_set_mask', () => ntbDbSetMask(this.ntb, this.inDb));
    this.timer.cancel();
    if (!this.findNextPeer()) {
      this.dbg('Got no peers, so cancel');
      return;
    }
    this.dbg(`Ping-pong started with port ${ntbPeerPortNumber(this.ntb, this.outPidx)}, db ${hexAlt(this.outDb)}`);
    this.startTimer();
  }

  /** Remove: stop playing and mask our doorbell bit. */
  clear(): void {
    this.timer.cancel();
    this.ignoring('db_set_mask', () => ntbDbSetMask(this.ntb, this.inDb));
    this.dbg('Ping-pong cancelled');
  }

  /** Timer expiry: send the counter to the peer and ring it; unmask our bit for the answer. */
  ping(): void {
    const count = this.count >>> 0;
    this.ignoring('peer_spad_write', () => ntbPeerSpadWrite(this.ntb, this.outPidx, 0, count));
    this.ignoring('peer_msg_write', () => ntbPeerMsgWrite(this.ntb, this.outPidx, 0, count));
    this.dbg(`Ping port ${ntbPeerPortNumber(this.ntb, this.outPidx)} spad ${hexAlt(count)}, msg ${hexAlt(count)}`);
    this.ignoring('peer_db_set', () => ntbPeerDbSet(this.ntb, this.outDb));
    this.ignoring('db_clear_mask', () => ntbDbClearMask(this.ntb, this.inDb));
  }

  /** Doorbell event: count the pong, silence our bit and schedule the next ping. */
  pong(): void {
    const spad = ntbSpadRead(this.ntb, 0);
    const src: NtbMsgSource = { pidx: 0 };
    const msg = ntbMsgRead(this.ntb, 0, src);
    this.ignoring('msg_clear_sts', () => ntbMsgClearSts(this.ntb, ALL_ONES_64));
    this.dbg(`Pong spad ${hexAlt(spad)}, msg ${hexAlt(msg)} (port ${this.peerPortForLog(src.pidx ?? 0)})`);
    this.count = (this.count + 1) | 0;
    this.ignoring('db_set_mask', () => ntbDbSetMask(this.ntb, this.inDb));
    this.ignoring('db_clear', () => ntbDbClear(this.ntb, this.inDb));
    this.startTimer();
  }

  private peerPortForLog(pidx: number): string {
    try {
      return String(ntbPeerPortNumber(this.ntb, pidx));
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      return String(-e.errno);
    }
  }

  /** debugfs `count`: DEFINE_DEBUGFS_ATTRIBUTE_SIGNED over the atomic_t ("%lld\n", kstrtoll). */
  createDebugfs(): void {
    this.k.debugfs.createDir(this.dir);
    this.k.debugfs.createFile(`${this.dir}/count`, 0o600, {
      show: () => `${this.count}\n`,
      write: (data) => {
        const text = new TextDecoder().decode(data.subarray(0, ATTR_WRITE_MAX));
        this.count = Number(BigInt.asIntN(32, kstrtoll(text, 0)));
        return data.length;
      },
    });
  }
}

/** pp_check_ntb: the hardware must be safe (or `unsafe` set) and offer what ping-pong needs. */
function checkNtb(pp: { dbg(t: string): void; err(t: string): void }, ntb: NtbDev, p: PpParams): void {
  if (ntbDbIsUnsafe(ntb)) {
    pp.dbg('Doorbell is unsafe');
    if (!p.unsafe) throw new KernelError(Errno.EINVAL, 'doorbell is unsafe');
  }
  if (ntbSpadIsUnsafe(ntb)) {
    pp.dbg('Scratchpad is unsafe');
    if (!p.unsafe) throw new KernelError(Errno.EINVAL, 'scratchpad is unsafe');
  }
  const pmask = genmask(ntbPeerPortCount(ntb), 0);
  if ((ntbDbValidMask(ntb) & pmask) !== pmask) {
    pp.err('Unsupported DB configuration');
    throw new KernelError(Errno.EINVAL, 'Unsupported DB configuration');
  }
  const spads = ntbSpadCount(ntb);
  const msgs = ntbMsgCount(ntb);
  if (spads < 1 && msgs < 1) {
    pp.err('Scratchpads and messages unsupported');
    throw new KernelError(Errno.EINVAL, 'Scratchpads and messages unsupported');
  } else if (spads < 1) pp.dbg('Scratchpads unsupported');
  else if (msgs < 1) pp.dbg('Messages unsupported');
}

function probe(k: Kernel, p: PpParams, ntb: NtbDev): void {
  const pp = new PpCtx(k, ntb, p);
  checkNtb(pp, ntb, p);
  pp.initFields();

  // Mask every doorbell and message event until we know whom to play with.
  ntbDbSetMask(ntb, ntbDbValidMask(ntb));
  if (ntbMsgCount(ntb) >= 1) ntbMsgSetMask(ntb, ntbMsgOutbits(ntb) | ntbMsgInbits(ntb));

  ntbSetCtx<PpCtx>(ntb, pp, {
    linkEvent: (c) => c.setup(),
    dbEvent: (c) => c.pong(),
  });
  ntbLinkEnable(ntb);
  ntbLinkEvent(ntb);
  pp.createDebugfs();
}

function remove(k: Kernel, ntb: NtbDev): void {
  const pp = ntb.ctx as PpCtx;
  k.debugfs.remove(pp.dir);
  ntbLinkDisable(ntb);
  ntbClearCtx(ntb);
  pp.clear();
}

interface PpModuleState {
  client: NtbClient;
}

/** Module ntb_pingpong: registers the client on this kernel's ntb bus. */
export const ntbPingpongModule: ModuleDecl<Kernel, typeof params, PpModuleState> = {
  name: PINGPONG_NAME,
  description: 'PCIe NTB Simple Pingpong Client',
  version: PINGPONG_VERSION,
  license: 'Dual BSD/GPL',
  depends: ['ntb'],
  params,
  async init(k, p, mod: LoadedModule<PpModuleState>) {
    const client: NtbClient = {
      probe: (ntb) => probe(k, p, ntb),
      remove: (ntb) => remove(k, ntb),
    };
    await ntbRegisterClientWithDebugfs(k, client, mod, PINGPONG_NAME);
    return { client };
  },
  async exit(k, st) {
    await ntbUnregisterClientWithDebugfs(k, st.client, PINGPONG_NAME);
  },
};
