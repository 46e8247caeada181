/**
 * A fake NTB hardware driver for the NTB core tests: an in-memory register model per device,
 * packaged as module `ntb_fake_hw` that registers one NtbDev on each edu PCI function of the
 * host (parameter `ndev` limits how many). Tests drive "hardware" events with the FakeNtbHw
 * methods (peer rings a doorbell, link comes up, a message arrives).
 */
import { Errno, KernelError } from '../../../core/errno';
import { Kernel } from '../../../core/kernel';
import { ModuleDecl } from '../../../core/module/module';
import { param } from '../../../core/module/params';
import { PciDev } from '../../../core/pci/pci-dev';
import { NtbsimPlugin } from '../../../core/plugin';
import {
  NtbDev,
  NtbDevOps,
  NtbMwAlign,
  NtbTopo,
  ntbDbEvent,
  ntbLinkEvent,
  ntbMsgEvent,
  registerNtbDev,
  unregisterNtbDev,
} from '../../../drivers/ntb';

export const EDU_VENDOR = 0x1234;
export const EDU_DEVICE = 0x11e8;

export interface FakeHwOptions {
  /** Local port and ascending peer ports; absent = no port ops (core defaults apply). */
  ports?: { port: number; peers: number[] };
  spads?: number;
  msgs?: number;
  /** Doorbell vectors (db_vector_count/mask present when set). */
  vectors?: number;
  mws?: number;
  /** Add peer_spad_read (reads back what we wrote into the peer's scratchpads). */
  peerSpadRead?: boolean;
  /** Add the optional doorbell ops: db_set, db_read_mask and the peer_db read/clear/mask group. */
  fullDb?: boolean;
  /** What msg_outbits reports (default 0). */
  msgOutbits?: bigint;
  /** Override mw_get_align's answer (default addr/size alignment 4 KiB, max 1 MiB). */
  mwAlign?: Partial<NtbMwAlign>;
  /** mw_count reports 0 while the link is down (as some hardware does). */
  mwCountNeedsLink?: boolean;
  /** Add peer_mw_set_trans/peer_mw_clear_trans, recorded in `outTrans`. */
  peerMwTrans?: boolean;
}

/** In-memory state of one fake NTB function; every register is plain data. */
export class FakeNtbHw {
  ntb?: NtbDev;
  linkUp = false;
  linkEnabled = false;
  db = 0n;
  dbMask = 0n;
  readonly dbValid = 0xffffn;
  peerDb = 0n;
  spad: number[];
  peerSpad: number[];
  msgIn: Array<{ val: number; pidx: number }>;
  msgSts = 0n;
  msgMask = 0n;
  readonly sentMsgs: Array<{ pidx: number; midx: number; msg: number }> = [];
  readonly inTrans = new Map<string, { addr: number; size: number }>();
  /** Outbound translations (peerMwTrans option), keyed "pidx/widx". */
  readonly outTrans = new Map<string, { addr: number; size: number }>();
  peerDbMask = 0n;
  /** When set, link_is_up reports these bits instead of "all peers" / none. */
  linkBits?: bigint;
  /** Injected failures: an op named here throws KernelError(errno) instead of running. */
  readonly faults = new Map<keyof NtbDevOps, Errno>();

  constructor(readonly opts: FakeHwOptions = {}) {
    this.spad = new Array(opts.spads ?? 0).fill(0);
    this.peerSpad = new Array(opts.spads ?? 0).fill(0);
    this.msgIn = Array.from({ length: opts.msgs ?? 0 }, () => ({ val: 0, pidx: 0 }));
  }

  get peerCount(): number {
    return this.opts.ports?.peers.length ?? 1;
  }

  /** The peer changed our link: raise the link event. */
  setLink(up: boolean): void {
    this.linkUp = up;
    if (this.ntb) ntbLinkEvent(this.ntb);
  }

  /** The peer rang `bits`: latch them; interrupt if any is unmasked. */
  peerRings(bits: bigint, vector = 0): void {
    this.db |= bits & this.dbValid;
    if (this.ntb && (bits & ~this.dbMask) !== 0n) ntbDbEvent(this.ntb, vector);
  }

  /** Peer `pidx` wrote message register `midx`. */
  msgArrives(pidx: number, midx: number, val: number): void {
    this.msgIn[midx] = { val, pidx };
    const bit = 1n << BigInt(midx);
    this.msgSts |= bit;
    if (this.ntb && (this.msgMask & bit) === 0n) ntbMsgEvent(this.ntb);
  }

  /** An ops table with exactly the mandatory ops plus the optional groups `opts` asks for. */
  ops(): NtbDevOps {
    const hw = this;
    const mwCount = this.opts.mws ?? 2;
    const ops: NtbDevOps = {
      linkIsUp: (_n, out) => {
        if (out && hw.linkUp) {
          out.speed = 3;
          out.width = 4;
        }
        if (hw.linkBits !== undefined) return hw.linkBits;
        return hw.linkUp ? (1n << BigInt(hw.peerCount)) - 1n : 0n;
      },
      linkEnable: () => {
        hw.linkEnabled = true;
      },
      linkDisable: () => {
        hw.linkEnabled = false;
      },
      mwCount: () => (hw.opts.mwCountNeedsLink && !hw.linkUp ? 0 : mwCount),
      mwGetAlign: (_n, _pidx, widx) => {
        if (widx >= mwCount) throw new KernelError(Errno.EINVAL, `no mw ${widx}`);
        return { addrAlign: 4096, sizeAlign: 4096, sizeMax: 1 << 20, ...hw.opts.mwAlign };
      },
      mwSetTrans: (_n, pidx, widx, addr, size) => {
        hw.inTrans.set(`${pidx}/${widx}`, { addr, size });
      },
      peerMwCount: () => mwCount,
      peerMwGetAddr: (_n, widx) => ({ base: 0x1_0000_0000 + widx * (1 << 20), size: 1 << 20 }),
      dbValidMask: () => hw.dbValid,
      dbRead: () => hw.db,
      dbClear: (_n, bits) => {
        hw.db &= ~bits;
      },
      dbSetMask: (_n, bits) => {
        hw.dbMask |= bits & hw.dbValid;
      },
      dbClearMask: (n, bits) => {
        hw.dbMask &= ~bits;
        if ((hw.db & bits) !== 0n) ntbDbEvent(n, 0);
      },
      peerDbSet: (_n, bits) => {
        hw.peerDb |= bits;
      },
    };
    const ports = this.opts.ports;
    if (ports) {
      ops.portNumber = () => ports.port;
      ops.peerPortCount = () => ports.peers.length;
      ops.peerPortNumber = (_n, pidx) => {
        if (pidx < 0 || pidx >= ports.peers.length) throw new KernelError(Errno.EINVAL, `pidx ${pidx}`);
        return ports.peers[pidx];
      };
      ops.peerPortIdx = (_n, port) => {
        const i = ports.peers.indexOf(port);
        if (i < 0) throw new KernelError(Errno.EINVAL, `port ${port}`);
        return i;
      };
    }
    const vectors = this.opts.vectors;
    if (vectors !== undefined) {
      ops.dbVectorCount = () => vectors;
      ops.dbVectorMask = (_n, v) => (v < vectors ? 1n << BigInt(v) : 0n);
    }
    if (this.opts.spads !== undefined) {
      ops.spadCount = () => hw.spad.length;
      ops.spadRead = (_n, sidx) => hw.spad[sidx];
      ops.spadWrite = (_n, sidx, val) => {
        hw.spad[sidx] = val;
      };
      ops.peerSpadWrite = (_n, _pidx, sidx, val) => {
        hw.peerSpad[sidx] = val;
      };
      if (this.opts.peerSpadRead) ops.peerSpadRead = (_n, _pidx, sidx) => hw.peerSpad[sidx];
    }
    if (this.opts.fullDb) {
      ops.dbSet = (_n, bits) => hw.peerRings(bits);
      ops.dbReadMask = () => hw.dbMask;
      ops.peerDbRead = () => hw.peerDb;
      ops.peerDbClear = (_n, bits) => {
        hw.peerDb &= ~bits;
      };
      ops.peerDbReadMask = () => hw.peerDbMask;
      ops.peerDbSetMask = (_n, bits) => {
        hw.peerDbMask |= bits;
      };
      ops.peerDbClearMask = (_n, bits) => {
        hw.peerDbMask &= ~bits;
      };
    }
    if (this.opts.peerMwTrans) {
      ops.peerMwSetTrans = (_n, pidx, widx, addr, size) => {
        hw.outTrans.set(`${pidx}/${widx}`, { addr, size });
      };
      ops.peerMwClearTrans = (_n, pidx, widx) => {
        hw.outTrans.delete(`${pidx}/${widx}`);
      };
    }
    if (this.opts.msgs !== undefined) {
      const inbits = (1n << BigInt(hw.msgIn.length)) - 1n;
      ops.msgCount = () => hw.msgIn.length;
      ops.msgInbits = () => inbits;
      ops.msgOutbits = () => hw.opts.msgOutbits ?? 0n;
      ops.msgReadSts = () => hw.msgSts;
      ops.msgClearSts = (_n, bits) => {
        hw.msgSts &= ~bits;
      };
      ops.msgSetMask = (_n, bits) => {
        hw.msgMask |= bits;
      };
      ops.msgClearMask = (_n, bits) => {
        hw.msgMask &= ~bits;
      };
      ops.msgRead = (_n, midx, out) => {
        if (out) out.pidx = hw.msgIn[midx].pidx;
        return hw.msgIn[midx].val;
      };
      ops.peerMsgWrite = (_n, pidx, midx, msg) => {
        hw.sentMsgs.push({ pidx, midx, msg });
      };
    }
    return this.withFaults(ops);
  }

  /** Wrap every op so that an entry in `faults` makes it fail. */
  private withFaults(ops: NtbDevOps): NtbDevOps {
    const table = ops as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const name of Object.keys(table)) {
      const op = table[name];
      table[name] = (...args: unknown[]) => {
        const errno = this.faults.get(name as keyof NtbDevOps);
        if (errno !== undefined) throw new KernelError(errno, `injected ${name} failure`);
        return op(...args);
      };
    }
    return ops;
  }
}

export function eduDevices(k: Kernel): PciDev[] {
  return k.pci.devices.filter((d) => d.vendor === EDU_VENDOR && d.device === EDU_DEVICE);
}

interface FakeModState {
  devs: Array<{ ntb: NtbDev; hw: FakeNtbHw }>;
}

const fakeParams = {
  ndev: param.uint(16, 0o444, 'How many edu functions to turn into NTB devices'),
  topo: param.int(NtbTopo.B2B_USD, 0o444, 'enum ntb_topo of every device'),
};

/**
 * The fake hardware driver module. `hwOptions` gives the register layout of each new device;
 * `created` collects every FakeNtbHw so a test can reach the one behind an NtbDev.
 */
export function fakeNtbHwModule(hwOptions: FakeHwOptions = {}, created: FakeNtbHw[] = []): ModuleDecl<Kernel, typeof fakeParams, FakeModState> {
  return {
    name: 'ntb_fake_hw',
    description: 'in-memory NTB hardware for the ntb core tests',
    license: 'GPL',
    depends: ['ntb'],
    params: fakeParams,
    async init(k, p) {
      const st: FakeModState = { devs: [] };
      for (const pdev of eduDevices(k).slice(0, p.ndev)) {
        const hw = new FakeNtbHw(hwOptions);
        const ntb = new NtbDev(pdev, hw.ops(), p.topo as NtbTopo);
        hw.ntb = ntb;
        await registerNtbDev(k, ntb);
        st.devs.push({ ntb, hw });
        created.push(hw);
      }
      return st;
    },
    async exit(k, st) {
      for (const { ntb } of st.devs.reverse()) await unregisterNtbDev(k, ntb);
    },
  };
}

export function fakeHwPlugin(modules: Array<ModuleDecl<Kernel, any, any>>): NtbsimPlugin {
  return { name: 'ntb-core-tests', modules };
}
