/**
 * A traffic generator over ntb_netdev (an in-kernel "iperf"): boot the two-host Switchtec world,
 * load ntb_transport (doorbells, or MSI through a memory window with `use_msi=1`) and ntb_netdev,
 * bring both interfaces up, wait for carrier, then stream Ethernet frames host0 → host1 (and back
 * with `bidir`) for a number of virtual seconds. Every payload carries a sequence number and a
 * checksum (`payload.ts`); the receiver verifies both and counts lost, duplicated and corrupted
 * frames.
 *
 * The sender runs in atomic context, as the kernel's NET_TX path does: one frame per event, each
 * event re-armed with `sched.after(0, …)`, so the CPU time the data path is charged (the copy into
 * the window, MMIO) delays the next frame and everything the frame causes, and the peer's events
 * interleave with it. When ntb_netdev stops the TX queue the sender parks; the queue's wake
 * (`netif_wake_queue`, from a TX completion or ntb_netdev's timer) reschedules it, as
 * `__netif_schedule` raises NET_TX. The generator adds no CPU cost of its own: every figure
 * comes from the simulated hardware, drivers and timing profile.
 */
import { performance } from 'node:perf_hooks';
import type { NtbNetdev } from '../../clients/netdev';
import type { NtbTransportQp } from '../../clients/transport';
import type { Host } from '../../core/host';
import type { Kernel } from '../../core/kernel';
import { ETH_HLEN, ethFrame, NET_XMIT_DROP, NetDevice, NetdevTx, OperState, SkBuff } from '../../core/net';
import { msecs, NSEC_PER_SEC, Nanoseconds, secs } from '../../core/time/units';
import { TopologySpec, World } from '../../core/world';
import { CALIBRATED_SWITCHTEC_PROFILE, SWITCHTEC_PROFILES } from '../../drivers/switchtec/silicon/profiles';
import { switchtecTopology } from '../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../plugins';
import { PAYLOAD_HEADER, PayloadCodec } from './payload';

export type StreamMode = 'doorbell' | 'msi';
export const STREAM_MODES: readonly StreamMode[] = ['doorbell', 'msi'];

/** Hardware timing profiles by name (drivers/switchtec/silicon/profiles.ts; docs/timing.md). */
export const TIMING_PROFILES = SWITCHTEC_PROFILES;
export const DEFAULT_PROFILE = CALIBRATED_SWITCHTEC_PROFILE;

/** A local experimental EtherType (IEEE 802 "local experimental 1") for the stream's frames. */
export const ETH_P_IPERF = 0x88b5;

/** A bad option: the message says which and why, in one line. */
export class IperfOptionError extends Error {
  override readonly name = 'IperfOptionError';
}

export interface WorldOptions {
  mode: StreamMode;
  /** The hosts' CONFIG_HZ (default 250, Ubuntu's before 24.04; spec timing.md). */
  hz?: number;
  /** ntb_transport `max_mw_size`: cap of each memory window's size (default 0: the window's own, 2 MiB on Switchtec). */
  mwSize?: number;
  /** ntb_transport `transport_mtu`: the slot size (default 65536). */
  transportMtu?: number;
  /** World seed (default 1). */
  seed?: number;
  /** Timing profile name (default `switchtec-gen3`, the only one so far). */
  profile?: string;
  /**
   * Load ntb_hw_switchtec with `use_lut_mws=1` (default: in MSI mode only, where it is needed:
   * MSI takes the last memory window, and without the LUT windows there is only one).
   */
  lutMws?: boolean;
}

export interface StreamRunOptions {
  /** Virtual seconds of streaming (default 1). */
  seconds?: number;
  /** Bytes per Ethernet frame, header included (default: the interface's MTU + 14, the largest). */
  frameSize?: number;
  /** Stream host1 → host0 at the same time. */
  bidir?: boolean;
  /** Also recompute each payload's checksum over the received words (slower; see payload.ts). */
  fullChecksum?: boolean;
}

export type StreamOptions = WorldOptions & StreamRunOptions;

/** One direction of a run. */
export interface DirectionResult {
  from: string;
  to: string;
  /** How the sender notified the receiver: MSI through the window, or the doorbell. */
  notify: 'msi' | 'doorbell';
  /** Payload (Ethernet payload) bits delivered intact within the window, per virtual second, / 1e9. */
  gbps: number;
  /** Frames delivered intact within the streaming window. */
  frames: number;
  /** Payload bytes of those frames. */
  bytes: number;
  /** Frames the interface accepted (dev_queue_xmit returned OK). */
  sent: number;
  /** Frames delivered intact in all, including those still in flight at the end (after the drain). */
  delivered: number;
  lost: number;
  duplicated: number;
  corrupted: number;
  /** Frames that arrived with a lower sequence number than one already seen (none expected). */
  outOfOrder: number;
  /** NTB interrupts on the receiving host per frame delivered. */
  interruptsPerFrame: number;
  /** Non-posted MMIO reads (register reads and reads through a window: each a round trip across the switch) per frame delivered, made by the receiving host and by the sending host. */
  rxReadsPerFrame: number;
  txReadsPerFrame: number;
  /** TX-queue stops / wakes of the sending interface, and wakes that did not come from a TX completion (the tx timer). */
  queueStops: number;
  queueWakes: number;
  timerWakes: number;
  /** dev_queue_xmit verdicts other than OK: BUSY (queue stopped or ring full) and drops by the stack. */
  busy: number;
  stackDrops: number;
  /** ntb_transport counters over the run: sender's tx ring full, receiver's rx ring empty and no-buffer events. */
  txRingFull: number;
  rxRingEmpty: number;
  rxErrNoBuf: number;
}

export interface StreamResult {
  mode: StreamMode;
  /** Sum over the directions: payload Gb/s of virtual time, and frames delivered intact within the window. */
  gbps: number;
  frames: number;
  lost: number;
  duplicated: number;
  corrupted: number;
  virtualSeconds: number;
  /** Wall-clock seconds spent simulating the streaming window (not the boot). */
  wallSeconds: number;
  /** Virtual seconds simulated per wall-clock second while streaming. */
  virtualPerWall: number;
  /** Wall-clock seconds to boot the world and bring the link up. */
  setupWallSeconds: number;
  sent: number;
  delivered: number;
  /** NTB interrupts (/proc/interrupts rows of the NT endpoint: doorbell, message, ntb_transport MSI) per host over the run. */
  interrupts: Record<string, number>;
  /** Of those, the Switchtec doorbell vector's. */
  doorbells: Record<string, number>;
  /** Receiver-side NTB interrupts per delivered frame (over all directions). */
  interruptsPerFrame: number;
  queueStops: number;
  queueWakes: number;
  timerWakes: number;
  profile: string;
  seed: number;
  hz: number;
  frameSize: number;
  mtu: number;
  /** Bytes per ring slot (the transport's frame size: transport_mtu, or half the region if smaller). */
  slotBytes: number;
  /** Bytes of the memory window each queue pair's ring gets, and the slots in it. */
  qpWindowBytes: number;
  ringSlots: number;
  bidir: boolean;
  directions: DirectionResult[];
}

type Ndev = NetDevice<NtbNetdev>;

/** Validate the options a world is built from; throws IperfOptionError. */
export function checkWorldOptions(o: WorldOptions): void {
  if (!STREAM_MODES.includes(o.mode)) throw new IperfOptionError(`unknown mode '${o.mode}' (known: ${STREAM_MODES.join(', ')})`);
  if (o.profile !== undefined && !(o.profile in TIMING_PROFILES)) {
    throw new IperfOptionError(`unknown timing profile '${o.profile}' (known: ${Object.keys(TIMING_PROFILES).join(', ')})`);
  }
  intOpt('hz', o.hz, 10, 10_000);
  intOpt('mw size', o.mwSize, 4096, 2 ** 32 - 1);
  intOpt('transport mtu', o.transportMtu, 64, 2 ** 31 - 1);
  intOpt('seed', o.seed, 0, 0xffffffff);
}

/** Validate the options of one stream; throws IperfOptionError. */
export function checkRunOptions(o: StreamRunOptions): void {
  if (o.seconds !== undefined && !(Number.isFinite(o.seconds) && o.seconds > 0)) {
    throw new IperfOptionError(`seconds must be a positive number of virtual seconds, not ${o.seconds}`);
  }
  intOpt('frame size', o.frameSize, ETH_HLEN + PAYLOAD_HEADER, 2 ** 31 - 1);
}

function intOpt(what: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new IperfOptionError(`${what} must be an integer from ${min} to ${max}, not ${v}`);
}

/** NTB interrupt rows in /proc/interrupts (the NT endpoint's vectors). */
const NTB_IRQ_NAMES = new Set(['switchtec_ntb_doorbell', 'switchtec_ntb_message', 'ntb_transport']);
const DOORBELL_IRQ = 'switchtec_ntb_doorbell';

/** Totals of /proc/interrupts rows by action name. */
export function procInterruptTotals(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s*\d+:((?:\s+\d+)+)\s+(.*\S)\s*$/.exec(line);
    if (!m) continue;
    const name = m[2].split(/\s+/).pop()!;
    const n = m[1].trim().split(/\s+/).reduce((s, c) => s + Number(c), 0);
    out.set(name, (out.get(name) ?? 0) + n);
  }
  return out;
}

interface IrqCounts {
  ntb: number;
  doorbell: number;
}

async function irqCounts(h: Host): Promise<IrqCounts> {
  const totals = procInterruptTotals(await h.read('/proc/interrupts'));
  let ntb = 0;
  for (const [name, n] of totals) if (NTB_IRQ_NAMES.has(name)) ntb += n;
  return { ntb, doorbell: totals.get(DOORBELL_IRQ) ?? 0 };
}

/**
 * The receiving end of one direction (the rx hook of the receiving interface): verifies every
 * payload and counts what arrives. Frames delivered by `windowEnd` count toward the rate.
 */
export class StreamReceiver {
  frames = 0;
  bytes = 0;
  delivered = 0;
  duplicated = 0;
  corrupted = 0;
  outOfOrder = 0;
  /** Frames of other EtherTypes (none expected). */
  foreign = 0;
  private highest = -1;
  private seen = new Uint8Array(1024);
  windowEnd = Infinity;

  constructor(
    private readonly now: () => Nanoseconds,
    private readonly codec: PayloadCodec,
    private readonly fullChecksum = false,
  ) {}

  private mark(seq: number): boolean {
    const byte = seq >>> 3;
    if (byte >= this.seen.length) {
      let n = this.seen.length;
      while (n <= byte) n *= 2;
      const grown = new Uint8Array(n);
      grown.set(this.seen);
      this.seen = grown;
    }
    const bit = 1 << (seq & 7);
    if (this.seen[byte] & bit) return false;
    this.seen[byte] |= bit;
    return true;
  }

  readonly hook = (skb: SkBuff): void => {
    if (skb.protocol !== ETH_P_IPERF) {
      this.foreign++;
      return;
    }
    const { seq, verdict } = this.codec.verify(skb.bytes, this.fullChecksum);
    if (verdict !== 'ok' || seq === undefined) {
      this.corrupted++;
      return;
    }
    if (!this.mark(seq)) {
      this.duplicated++;
      return;
    }
    if (seq < this.highest) this.outOfOrder++;
    else this.highest = seq;
    this.delivered++;
    if (this.now() <= this.windowEnd) {
      this.frames++;
      this.bytes += skb.len;
    }
  };
}

/** The sending end of one direction: a softirq-style loop of dev_queue_xmit calls. */
class Sender {
  seq = 0;
  sent = 0;
  busy = 0;
  stackDrops = 0;
  /** Queue wakes that happened inside our own dev_queue_xmit (TX completions). */
  wakesInXmit = 0;
  private pending: SkBuff | null = null;
  private parked = false;
  private finished = false;
  private readonly dst: Uint8Array;
  private readonly template: Uint8Array;

  constructor(
    private readonly k: Kernel,
    private readonly dev: Ndev,
    peer: Ndev,
    private readonly codec: PayloadCodec,
    private readonly frameSize: number,
    private readonly end: Nanoseconds,
  ) {
    this.dst = peer.devAddr.slice();
    // The Ethernet header; the payload is filled per frame.
    this.template = ethFrame(this.dst, dev.devAddr, ETH_P_IPERF, new Uint8Array(0));
  }

  start(at: Nanoseconds): void {
    this.k.sched.at(at, () => this.pump());
  }

  private makeSkb(): SkBuff | null {
    const skb = this.k.net.netdevAllocSkb(this.dev, this.frameSize);
    if (!skb) return null;
    skb.putData(this.template);
    this.codec.fill(skb.put(this.frameSize - ETH_HLEN), this.seq);
    return skb;
  }

  /** Stop: free a frame still held back by a BUSY queue. */
  finish(): void {
    this.finished = true;
    if (this.pending) {
      this.k.net.kfreeSkb(this.pending);
      this.pending = null;
    }
  }

  /** One NET_TX-softirq step: offer one frame, then re-arm (or park until the queue wakes). */
  private pump(): void {
    if (this.finished) return;
    const sched = this.k.sched;
    if (sched.cpuNow >= this.end) return;
    if (this.dev.netifQueueStopped()) return this.park();
    const skb = this.pending ?? this.makeSkb();
    this.pending = null;
    if (!skb) {
      sched.after(this.k.jiffies.tickNs, () => this.pump());
      return;
    }
    const wakes = this.dev.txq.wakes;
    const r = this.k.net.devQueueXmit(this.dev, skb);
    this.wakesInXmit += this.dev.txq.wakes - wakes;
    if (r === NetdevTx.OK) {
      this.sent++;
      this.seq = (this.seq + 1) >>> 0;
      sched.after(0, () => this.pump());
    } else if (r === NET_XMIT_DROP) {
      // No carrier as the stack sees it (the skb is freed; its sequence number is reused).
      this.stackDrops++;
      sched.after(this.k.jiffies.tickNs, () => this.pump());
    } else {
      this.busy++;
      this.pending = skb;
      if (this.dev.netifQueueStopped()) this.park();
      // Refused without a stop (no descriptor): the qdisc would requeue; try again a tick later.
      else sched.after(this.k.jiffies.tickNs, () => this.pump());
    }
  }

  /** Wait for netif_wake_queue, then run again (as __netif_schedule raises NET_TX). */
  private park(): void {
    if (this.parked) return;
    this.parked = true;
    this.k.sched.spawn(`iperf ${this.dev.name} txwait`, async () => {
      await this.dev.waitTxQueue();
      this.parked = false;
      this.k.sched.after(0, () => this.pump());
    });
  }
}

function ndev(h: Host): Ndev {
  const dev = h.kernel.net.devGetByName('eth0');
  if (!dev) throw new Error(`${h.name} has no eth0 (ntb_netdev did not create an interface)`);
  return dev as Ndev;
}

function qpOf(dev: Ndev): NtbTransportQp {
  const qp = dev.priv.qp;
  if (!qp) throw new Error(`${dev.name}: no transport queue`);
  return qp;
}

/** Virtual time allowed for the NTB link and both carriers to come up. */
const LINK_TIMEOUT = secs(60);
const LINK_POLL = msecs(10);

/**
 * A booted two-host Switchtec world with ntb_transport and ntb_netdev loaded and both interfaces
 * up with carrier; `stream` runs one measurement in it (several may run one after another).
 */
export class StreamWorld {
  private constructor(
    readonly world: World,
    readonly opts: Required<Omit<WorldOptions, 'mwSize' | 'transportMtu'>> & Pick<WorldOptions, 'mwSize' | 'transportMtu'>,
    readonly setupWallSeconds: number,
  ) {}

  get hosts(): [Host, Host] {
    return [this.world.hosts[0], this.world.hosts[1]];
  }

  /** The topology runStream boots: two hosts on a Switchtec switch with the chosen HZ, profile and LUT windows. */
  static topology(o: WorldOptions): TopologySpec {
    const spec = switchtecTopology({ seed: o.seed ?? 1, profile: o.profile ?? DEFAULT_PROFILE });
    const hz = o.hz;
    if (hz !== undefined) spec.hosts = spec.hosts.map((h) => ({ ...h, hz }));
    // `options ntb_hw_switchtec use_lut_mws=1` in modprobe.d: the switchtec driver's probe loads it.
    if (o.lutMws ?? o.mode === 'msi') {
      spec.hosts = spec.hosts.map((h) => ({ ...h, modprobeOptions: { ntb_hw_switchtec: ['use_lut_mws=1'] } }));
    }
    return spec;
  }

  static async open(o: WorldOptions): Promise<StreamWorld> {
    checkWorldOptions(o);
    const t0 = performance.now();
    const world = await World.create(StreamWorld.topology(o), builtinPlugins());
    if (world.hosts.length < 2) throw new Error('the stream needs two hosts');
    const args: string[] = [];
    if (o.mode === 'msi') args.push('use_msi=1');
    if (o.mwSize !== undefined) args.push(`max_mw_size=${o.mwSize}`);
    if (o.transportMtu !== undefined) args.push(`transport_mtu=${o.transportMtu}`);
    const hosts = world.hosts.slice(0, 2);
    for (const h of hosts) await h.modprobe('ntb_transport', args);
    for (const h of hosts) await h.modprobe('ntb_netdev');
    for (const h of hosts) await h.run('ip link set eth0 up', (k) => k.net.devOpen(ndev(h)));
    const up = () => hosts.every((h) => ndev(h).netifCarrierOk() && ndev(h).operstate === OperState.UP);
    const deadline = world.now + LINK_TIMEOUT;
    while (!up()) {
      if (world.now >= deadline) throw new Error(`the NTB link did not come up within ${LINK_TIMEOUT / NSEC_PER_SEC} s of virtual time (carrier: ${hosts.map((h) => `${h.name} ${ndev(h).netifCarrierOk() ? 1 : 0}`).join(', ')})`);
      await world.runFor(LINK_POLL);
    }
    const full = { mode: o.mode, hz: hosts[0].config.hz, seed: o.seed ?? 1, profile: o.profile ?? DEFAULT_PROFILE, lutMws: o.lutMws ?? o.mode === 'msi', mwSize: o.mwSize, transportMtu: o.transportMtu };
    return new StreamWorld(world, full, (performance.now() - t0) / 1000);
  }

  /** The interface's MTU (the transport's frame size − 14). */
  get mtu(): number {
    return ndev(this.hosts[0]).mtu;
  }

  /** Stream for `seconds` of virtual time and report. */
  async stream(r: StreamRunOptions = {}): Promise<StreamResult> {
    checkRunOptions(r);
    const world = this.world;
    const [h0, h1] = this.hosts;
    const [d0, d1] = [ndev(h0), ndev(h1)];
    const seconds = r.seconds ?? 1;
    const maxFrame = d0.mtu + ETH_HLEN;
    const frameSize = r.frameSize ?? maxFrame;
    if (frameSize > maxFrame) throw new IperfOptionError(`frame size ${frameSize} is larger than the interface allows (MTU ${d0.mtu} + 14 = ${maxFrame})`);
    PayloadCodec.check(frameSize - ETH_HLEN);

    const pairs: Array<[Host, Host]> = r.bidir ? [[h0, h1], [h1, h0]] : [[h0, h1]];
    const seed = this.opts.seed;
    const begin = world.now;
    const end = begin + Math.round(seconds * NSEC_PER_SEC);
    const irqBefore = await Promise.all(this.hosts.map(irqCounts));
    const mmioReads = (h: Host) => h.kernel.platform.mem.accessStats.mmioReads;
    const readsBefore = this.hosts.map(mmioReads);
    const dirs = pairs.map(([from, to], i) => {
      const codec = new PayloadCodec((seed * 2 + i) >>> 0);
      const txDev = ndev(from);
      const rxDev = ndev(to);
      const receiver = new StreamReceiver(() => to.kernel.sched.cpuNow, codec, Boolean(r.fullChecksum));
      receiver.windowEnd = end;
      rxDev.rxHook = receiver.hook;
      const sender = new Sender(from.kernel, txDev, rxDev, codec, frameSize, end);
      const txQp = qpOf(txDev);
      const rxQp = qpOf(rxDev);
      return {
        from,
        to,
        txDev,
        sender,
        receiver,
        txQp,
        rxQp,
        stops0: txDev.txq.stops,
        wakes0: txDev.txq.wakes,
        ringFull0: txQp.txRingFull,
        ringEmpty0: rxQp.rxRingEmpty,
        noBuf0: rxQp.rxErrNoBuf,
      };
    });
    for (const d of dirs) d.sender.start(begin);

    const w0 = performance.now();
    await world.sched.runUntil(end);
    const wallSeconds = (performance.now() - w0) / 1000;
    for (const d of dirs) d.sender.finish();
    // Let frames still in flight land (they count as delivered, not as lost), then look.
    await world.runFor(Math.max(msecs(10), 3 * h0.kernel.jiffies.tickNs));
    const irqAfter = await Promise.all(this.hosts.map(irqCounts));
    const readsDelta = (h: Host) => mmioReads(h) - readsBefore[this.hosts.indexOf(h)];
    for (const d of dirs) ndev(d.to).rxHook = undefined;

    const irqDelta = (h: Host) => {
      const i = this.hosts.indexOf(h);
      return { ntb: irqAfter[i].ntb - irqBefore[i].ntb, doorbell: irqAfter[i].doorbell - irqBefore[i].doorbell };
    };
    const directions: DirectionResult[] = dirs.map((d) => {
      const rx = d.receiver;
      const tx = d.sender;
      const wakes = d.txDev.txq.wakes - d.wakes0;
      return {
        from: d.from.name,
        to: d.to.name,
        notify: d.txQp.useMsi ? 'msi' : 'doorbell',
        gbps: (rx.bytes * 8) / seconds / 1e9,
        frames: rx.frames,
        bytes: rx.bytes,
        sent: tx.sent,
        delivered: rx.delivered,
        lost: Math.max(0, tx.sent - rx.delivered),
        duplicated: rx.duplicated,
        corrupted: rx.corrupted,
        outOfOrder: rx.outOfOrder,
        interruptsPerFrame: rx.delivered ? irqDelta(d.to).ntb / rx.delivered : 0,
        rxReadsPerFrame: rx.delivered ? readsDelta(d.to) / rx.delivered : 0,
        txReadsPerFrame: rx.delivered ? readsDelta(d.from) / rx.delivered : 0,
        queueStops: d.txDev.txq.stops - d.stops0,
        queueWakes: wakes,
        timerWakes: wakes - tx.wakesInXmit,
        busy: tx.busy,
        stackDrops: tx.stackDrops,
        txRingFull: d.txQp.txRingFull - d.ringFull0,
        rxRingEmpty: d.rxQp.rxRingEmpty - d.ringEmpty0,
        rxErrNoBuf: d.rxQp.rxErrNoBuf - d.noBuf0,
      };
    });
    const sum = (f: (d: DirectionResult) => number) => directions.reduce((s, d) => s + f(d), 0);
    const receivers = [...new Set(dirs.map((d) => d.to))];
    const delivered = sum((d) => d.delivered);
    const qp = qpOf(d0);
    return {
      mode: this.opts.mode,
      gbps: sum((d) => d.gbps),
      frames: sum((d) => d.frames),
      lost: sum((d) => d.lost),
      duplicated: sum((d) => d.duplicated),
      corrupted: sum((d) => d.corrupted),
      virtualSeconds: seconds,
      wallSeconds,
      virtualPerWall: wallSeconds > 0 ? seconds / wallSeconds : Infinity,
      setupWallSeconds: this.setupWallSeconds,
      sent: sum((d) => d.sent),
      delivered,
      interrupts: Object.fromEntries(this.hosts.map((h) => [h.name, irqDelta(h).ntb])),
      doorbells: Object.fromEntries(this.hosts.map((h) => [h.name, irqDelta(h).doorbell])),
      interruptsPerFrame: delivered ? receivers.reduce((s, h) => s + irqDelta(h).ntb, 0) / delivered : 0,
      queueStops: sum((d) => d.queueStops),
      queueWakes: sum((d) => d.queueWakes),
      timerWakes: sum((d) => d.timerWakes),
      profile: this.opts.profile,
      seed,
      hz: this.opts.hz,
      frameSize,
      mtu: d0.mtu,
      slotBytes: qp.txMaxFrame,
      qpWindowBytes: qp.txMw?.size ?? 0,
      ringSlots: qp.txMaxEntry,
      bidir: Boolean(r.bidir),
      directions,
    };
  }
}

/** Boot the world for `opts`, bring the link up and run one stream. */
export async function runStream(opts: StreamOptions): Promise<StreamResult> {
  checkWorldOptions(opts);
  checkRunOptions(opts);
  const sw = await StreamWorld.open(opts);
  return sw.stream(opts);
}
