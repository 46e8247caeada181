/**
 * Two fake NTB functions wired back to back across two hosts, for client tests that need a real
 * peer without the Switchtec model: module `ntb_fake_pair` turns the edu function of each host
 * into an NtbDev whose "peer" ops reach the other host's FakeNtbHw state.
 *
 * - link: up on both sides once both have enabled it (raised `delayNs` later), down when either
 *   disables it;
 * - doorbells and message registers arrive at the peer `delayNs` after the write; scratchpad writes
 *   and reads reach the peer's registers at once;
 * - memory windows: outbound window W of one host is an MMIO range at PAIR_WINDOW_BASE + W·size of
 *   its physical address space; a write at offset o lands at `trans + o` of the peer's physical
 *   memory, where `trans` is what the peer programmed into its inbound window W with mw_set_trans
 *   (accesses beyond the translated size are dropped, reads return all ones). The addresses are
 *   taken as physical, so both hosts must run without an IOMMU.
 *
 * Host index 0 is the B2B upstream side (port 0), host index 1 the downstream side (port 1).
 */
import { Kernel } from '../../../core/kernel';
import { MmioHandler, MmioRegion } from '../../../core/mm/physmem';
import { ModuleDecl } from '../../../core/module/module';
import { NtbsimPlugin } from '../../../core/plugin';
import { NtbDev, NtbDevOps, NtbTopo, registerNtbDev, unregisterNtbDev } from '../../../drivers/ntb';
import { eduDevices, FakeHwOptions, FakeNtbHw } from '../../drivers/ntb/fake-ntb-hw';

export const PAIR_WINDOW_BASE = 0x20_0000_0000;
export const PAIR_WINDOW_SIZE = 1 << 20;

export interface PairSide {
  k: Kernel;
  hw: FakeNtbHw;
  ntb: NtbDev;
  region: MmioRegion;
}

export class FakeNtbPair {
  readonly sides: Array<PairSide | undefined> = [undefined, undefined];

  constructor(
    readonly opts: FakeHwOptions = {},
    readonly delayNs = 1000,
  ) {}

  side(index: number): PairSide {
    const s = this.sides[index];
    if (!s) throw new Error(`fake pair: side ${index} is not loaded`);
    return s;
  }

  private other(index: number): PairSide | undefined {
    return this.sides[1 - index];
  }

  private updateLink(k: Kernel): void {
    const [a, b] = this.sides;
    const up = !!a && !!b && a.hw.linkEnabled && b.hw.linkEnabled;
    for (const s of this.sides) {
      if (s && s.hw.linkUp !== up) {
        k.sched.after(this.delayNs, () => {
          if (this.sides.includes(s) && s.hw.linkUp !== up) s.hw.setLink(up);
        });
      }
    }
  }

  private linkedOps(index: number, k: Kernel, hw: FakeNtbHw): NtbDevOps {
    const base = hw.ops();
    const mws = this.opts.mws ?? 2;
    return {
      ...base,
      linkEnable: (n, s, w) => {
        base.linkEnable(n, s, w);
        this.updateLink(k);
      },
      linkDisable: (n) => {
        base.linkDisable(n);
        this.updateLink(k);
      },
      peerMwCount: () => mws,
      peerMwGetAddr: (_n, widx) => ({ base: PAIR_WINDOW_BASE + widx * PAIR_WINDOW_SIZE, size: PAIR_WINDOW_SIZE }),
      peerDbSet: (n, bits) => {
        base.peerDbSet(n, bits);
        k.sched.after(this.delayNs, () => this.other(index)?.hw.peerRings(bits));
      },
      ...(base.spadCount
        ? {
            peerSpadWrite: (n: NtbDev, pidx: number, sidx: number, val: number) => {
              base.peerSpadWrite!(n, pidx, sidx, val);
              const o = this.other(index);
              if (o) o.hw.spad[sidx] = val >>> 0;
            },
            peerSpadRead: (_n: NtbDev, _pidx: number, sidx: number) => this.other(index)?.hw.spad[sidx] ?? 0xffffffff,
          }
        : {}),
      ...(base.msgCount
        ? {
            peerMsgWrite: (n: NtbDev, pidx: number, midx: number, msg: number) => {
              base.peerMsgWrite!(n, pidx, midx, msg);
              k.sched.after(this.delayNs, () => this.other(index)?.hw.msgArrives(0, midx, msg));
            },
          }
        : {}),
    };
  }

  /** Where a byte at `offset` of our window range lands on the peer, if anywhere. */
  private target(index: number, offset: number, len: number): { mem: Kernel['platform']['mem']; addr: number } | undefined {
    const o = this.other(index);
    if (!o) return undefined;
    const widx = Math.floor(offset / PAIR_WINDOW_SIZE);
    const off = offset % PAIR_WINDOW_SIZE;
    const t = o.hw.inTrans.get(`0/${widx}`);
    if (!t || t.size === 0 || off + len > t.size) return undefined;
    return { mem: o.k.platform.mem, addr: t.addr + off };
  }

  private windowHandler(index: number): MmioHandler {
    return {
      read: (offset, size) => {
        const t = this.target(index, offset, size);
        if (!t) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
        return t.mem.read(t.addr, size);
      },
      write: (offset, size, value) => {
        const t = this.target(index, offset, size);
        if (t) t.mem.write(t.addr, size, value);
      },
      readBytes: (offset, length) => {
        const t = this.target(index, offset, length);
        return t ? t.mem.readBytes(t.addr, length) : new Uint8Array(length).fill(0xff);
      },
      writeBytes: (offset, data) => {
        const t = this.target(index, offset, data.length);
        if (t) t.mem.writeBytes(t.addr, data);
      },
    };
  }

  /** The hardware driver module; load it on both hosts. */
  module(): ModuleDecl<Kernel, {}, PairSide> {
    return {
      name: 'ntb_fake_pair',
      description: 'two fake NTB functions wired back to back (client tests)',
      license: 'GPL',
      depends: ['ntb'],
      init: async (k) => {
        const index = k.config.index;
        if (index > 1) throw new Error('fake pair: only hosts 0 and 1');
        const pdev = eduDevices(k)[0];
        const hw = new FakeNtbHw(this.opts);
        const ntb = new NtbDev(pdev, this.linkedOps(index, k, hw), index === 0 ? NtbTopo.B2B_USD : NtbTopo.B2B_DSD);
        hw.ntb = ntb;
        const mws = this.opts.mws ?? 2;
        const region = k.platform.mem.addRegion(PAIR_WINDOW_BASE, mws * PAIR_WINDOW_SIZE, 'fake pair windows', this.windowHandler(index));
        const side: PairSide = { k, hw, ntb, region };
        this.sides[index] = side;
        await registerNtbDev(k, ntb);
        return side;
      },
      exit: async (k, side) => {
        await unregisterNtbDev(k, side.ntb);
        k.platform.mem.removeRegion(side.region);
        this.sides[k.config.index] = undefined;
        this.updateLink(k);
      },
    };
  }

  plugin(extra: Array<ModuleDecl<Kernel, any, any>> = []): NtbsimPlugin {
    return { name: 'ntb-fake-pair', modules: [this.module(), ...extra] };
  }
}
