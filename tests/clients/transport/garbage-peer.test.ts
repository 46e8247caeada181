/**
 * Issue 5, "Bad input and faults": a peer that writes garbage into ntb_transport's rings.
 *
 * host0 sends to host1 over QP0 of the two-host Switchtec world; the tests then act as a buggy
 * peer. Garbage slot headers go into host1's inbound ring either through host0's memory window
 * (posted writes across the switch, as a peer would) or straight into host1's RAM; garbage
 * credit words go into host0's memory through host1's window. What Linux does with them is kept
 * (transport.md §9, §16): a wrong `ver` → rx_err_ver and the ring waits; a length larger than
 * the posted buffer → rx_err_oflow and -EIO to the client, then the ring stalls; an out-of-range
 * credit word is trusted by the sender (free slots = T − head). What the tests add to that is
 * safety: every access the receiver makes to its inbound buffer stays inside one slot or the
 * credit word, every access the sender makes through its window stays inside a slot < N (or
 * the credit word), no byte of RAM next to the buffers changes, no exception or oops, and the
 * client never gets as a good frame anything that a real tx_enqueue did not send.
 *
 * One ntbsim deviation is exercised: a header length larger than the slot's payload is dropped
 * as an overflow even when the client posted a bigger buffer (Linux copies past the slot; see
 * processRxc in clients/transport/qp.ts).
 */
import 'reflect-metadata';
import { expect } from 'chai';
import fc from 'fast-check';
import { NtbTransportQp, ntbTransportRxEnqueue, ntbTransportTxEnqueue, ntbTransportTxFreeEntry } from '../../../clients/transport';
import { DESC_DONE_FLAG, HDR_FLAGS, HDR_LEN, HDR_SIZE, HDR_VER, LINK_DOWN_FLAG, RX_INFO_SIZE } from '../../../clients/transport/defs';
import { Errno, KernelError } from '../../../core/errno';
import { Host } from '../../../core/host';
import type { IoMem, KernelBuffer } from '../../../core/mm/io';
import { LogLevel, LogRecord } from '../../../core/printk';
import { World } from '../../../core/world';
import { ntbPeerDbSet } from '../../../drivers/ntb';
import { switchtecTopology } from '../../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../../plugins';
import { frame, RxRecord, seqOf, TT, ttPlugin, ttState } from './tt-client';

const DBG = '/sys/kernel/debug/ntb_transport/0000:01:00.1/qp0/stats';
const EIO = -Errno.EIO;
const NEIGHBOUR = 64 * 1024;

/** One access to a ring: a method of the receiver's inbound KernelBuffer or the sender's window. */
interface Access {
  op: string;
  off: number;
  len: number;
}

interface Rig {
  world: World;
  h0: Host;
  h1: Host;
  /** host0's queue: the sender. */
  tx: NtbTransportQp;
  /** host1's queue: the receiver. */
  rx: NtbTransportQp;
  /** Slot size and slot count (the same in both views here). */
  F: number;
  N: number;
  /** Region size R; the credit word is at R − 4. */
  R: number;
  /** host1's inbound buffer and the offset of QP0's region in it. */
  rxBuf: KernelBuffer;
  rxBase: number;
  /** Every frame tx_enqueue accepted, by sequence number. */
  sent: Map<number, Uint8Array>;
  nextSeq: number;
  rxAccess: Access[];
  txAccess: Access[];
  /** Log records at WARNING or worse, on either host, since the rig was set up. */
  bad: LogRecord[];
  snapshots: Array<{ what: string; h: Host; phys: number; bytes: Buffer }>;
}

async function waitUntil(world: World, cond: () => boolean, limit = 20e9): Promise<void> {
  const end = world.now + limit;
  while (!cond()) {
    if (world.now >= end) throw new Error('condition not reached in virtual time');
    await world.runFor(10e6);
  }
}

/** Record every call of the named methods (offset first argument, length from `lenOf`). */
function spy(obj: object, log: Access[], methods: Record<string, (args: unknown[]) => number>): void {
  const o = obj as Record<string, (...a: unknown[]) => unknown>;
  for (const [name, lenOf] of Object.entries(methods)) {
    const orig = o[name].bind(obj);
    o[name] = (...args: unknown[]) => {
      log.push({ op: name, off: args[name.startsWith('iowrite') ? 1 : 0] as number, len: lenOf(args) });
      return orig(...args);
    };
  }
}

function snapshot(r: Rig, what: string, h: Host, phys: number, len: number): void {
  const mem = h.platform.mem;
  if (len <= 0 || !mem.isRam(phys, len)) return;
  r.snapshots.push({ what, h, phys, bytes: Buffer.from(mem.readBytes(phys, len)) });
}

/**
 * Boot, load ntb_transport and ntb_tt on both hosts (`tt1`: host1's ntb_tt arguments), wait for
 * QP0, put the spies on the rings, snapshot the RAM around them, then send `warm` real frames.
 */
async function rig(tt1: string[] = [], warm = 3): Promise<Rig> {
  const world = await World.create(switchtecTopology(), [...builtinPlugins(), ttPlugin]);
  const [h0, h1] = world.hosts;
  for (const h of world.hosts) await h.modprobe('ntb_transport');
  await h0.modprobe(TT);
  await h1.modprobe(TT, tt1);
  await waitUntil(world, () => ttState(h0).qp?.linkIsUp === true && ttState(h1).qp?.linkIsUp === true);
  const tx = ttState(h0).qp!;
  const rx = ttState(h1).qp!;
  // One QP on the one 2 MiB window: the region is the whole inbound buffer.
  expect([tx.transport.qpCount, rx.transport.mwCount]).to.deep.equal([1, 1]);
  expect([rx.rxMaxFrame, rx.rxMaxEntry, tx.txMaxFrame, tx.txMaxEntry]).to.deep.equal([65536, 31, 65536, 31]);
  const mw1 = rx.transport.mwVec[0];
  const r: Rig = {
    world,
    h0,
    h1,
    tx,
    rx,
    F: rx.rxMaxFrame,
    N: rx.rxMaxEntry,
    R: mw1.xlatSize,
    rxBuf: mw1.alloc!.cpu,
    rxBase: mw1.virtOff,
    sent: new Map(),
    nextSeq: 0,
    rxAccess: [],
    txAccess: [],
    bad: [],
    snapshots: [],
  };
  expect(tx.txMw!.size).to.equal(r.R);

  const four = () => 4;
  spy(r.rxBuf, r.rxAccess, {
    read: (a) => a[1] as number,
    write: (a) => (a[1] as Uint8Array).length,
    read32: four,
    write32: four,
    read64: () => 8,
    write64: () => 8,
    fill: (a) => a[1] as number,
  });
  spy(tx.txMw!, r.txAccess, {
    iowrite8: () => 1,
    iowrite16: () => 2,
    iowrite32: four,
    iowrite64: () => 8,
    ioread8: () => 1,
    ioread16: () => 2,
    ioread32: four,
    ioread64: () => 8,
    memcpyToio: (a) => (a[1] as Uint8Array).length,
    memcpyFromio: (a) => a[1] as number,
    memsetIo: (a) => a[2] as number,
  });
  for (const h of [h0, h1]) h.printk.records$.subscribe((rec) => rec.level <= LogLevel.WARNING && r.bad.push(rec));

  // host1's RAM on both sides of its inbound buffer (and any slack in the allocation).
  const b1 = r.rxBuf;
  snapshot(r, 'host1 RAM below the inbound buffer', h1, b1.phys - NEIGHBOUR, NEIGHBOUR);
  snapshot(r, 'host1 RAM above the inbound buffer', h1, b1.phys + b1.size, NEIGHBOUR);
  snapshot(r, 'host1 allocation before the region', h1, b1.phys, r.rxBase);
  snapshot(r, 'host1 allocation after the region', h1, b1.phys + r.rxBase + r.R, b1.size - r.rxBase - r.R);
  // host0's inbound buffer holds the host1 → host0 ring, which carries nothing here: only its
  // credit word (the receiver's credit return) may change.
  const b0 = tx.transport.mwVec[0].alloc!.cpu;
  const base0 = tx.transport.mwVec[0].virtOff;
  snapshot(r, 'host0 RAM below its inbound buffer', h0, b0.phys - NEIGHBOUR, NEIGHBOUR);
  snapshot(r, 'host0 ring (host1 → host0), all but the credit word', h0, b0.phys + base0, r.R - RX_INFO_SIZE);
  snapshot(r, 'host0 RAM above its inbound buffer', h0, b0.phys + b0.size, NEIGHBOUR);

  if (warm) {
    expect(await enqueue(r, warm, 1000)).to.equal(warm);
    await world.runFor(1e6);
    expect(good(r).map((x) => seqOf(x.bytes))).to.deep.equal([...Array(warm).keys()]);
  }
  return r;
}

/** tx_enqueue `count` real frames of `len` bytes on host0, one attempt each: how many were taken. */
function enqueue(r: Rig, count: number, len: number): Promise<number> {
  return r.h0.run('send', () => {
    let n = 0;
    for (; n < count; n++) {
      const seq = r.nextSeq;
      const data = frame(seq, len);
      try {
        ntbTransportTxEnqueue(r.tx, data, data, len);
      } catch (e) {
        if (e instanceof KernelError && e.errno === Errno.EAGAIN) break;
        throw e;
      }
      r.sent.set(seq, data);
      r.nextSeq++;
      expect(r.tx.txIndex).to.be.within(0, r.N - 1);
    }
    return n;
  });
}

/** Send `count` frames with retries on EAGAIN, `gap` ns of virtual time after each. */
async function stream(r: Rig, count: number, len: number, gap = 0): Promise<void> {
  for (let i = 0; i < count; ) {
    if ((await enqueue(r, 1, len)) === 1) i++;
    else await r.world.runFor(10e3);
    if (gap) await r.world.runFor(gap);
  }
}

interface Hdr {
  ver: number;
  len: number;
  flags: number;
}

/** Write a slot header of host1's ring as a buggy host0: through host0's window, or into host1's RAM. */
async function writeHdr(r: Rig, slot: number, h: Hdr, via: 'window' | 'ram' = 'window'): Promise<void> {
  const off = slot * r.F + r.F - HDR_SIZE;
  // ver first: whatever the receiver might see in between is already a bad header.
  const words: Array<[number, number]> = [
    [HDR_VER, h.ver],
    [HDR_LEN, h.len],
    [HDR_FLAGS, h.flags],
  ];
  if (via === 'window') {
    // The whole window's mapping, not the QP's (spied) view of it.
    const win = r.tx.transport.mwVec[0].vbase;
    await r.h0.run('garbage', () => words.forEach(([o, v]) => win.iowrite32(v >>> 0, off + o)));
  } else {
    const mem = r.h1.platform.mem;
    words.forEach(([o, v]) => mem.write(r.rxBuf.phys + r.rxBase + off + o, 4, v >>> 0));
  }
}

/** Ring host1's doorbell for QP0 from host0 and let the RX tasklet run. */
async function doorbell(r: Rig): Promise<void> {
  await r.h0.run('doorbell', () => ntbPeerDbSet(r.tx.ndev, r.tx.qpBit));
  await r.world.runFor(1e6);
}

/** As host1 gone wrong: write host0's credit word for the host0 → host1 ring through host1's window. */
async function writeCredit(r: Rig, value: number): Promise<void> {
  const win = r.rx.transport.mwVec[0].vbase;
  await r.h1.run('garbage credit', () => win.iowrite32(value >>> 0, r.R - RX_INFO_SIZE));
  await r.world.runFor(1e6);
}

async function stats(h: Host): Promise<Record<string, number>> {
  const text = await h.read(DBG);
  expect(text, `${h.name} qp0 stats (QP link up)`).to.not.equal('');
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(.+?) - \t?(\d+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

const deliveries = (r: Rig): RxRecord[] => ttState(r.h1).rx;
const good = (r: Rig): RxRecord[] => deliveries(r).filter((x) => x.len >= 0);

/** Every invariant of the issue; `what` names the case in failure messages. */
async function expectSafe(r: Rig, what = ''): Promise<void> {
  const at = what ? ` (${what})` : '';
  const { F, N, R } = r;
  for (const h of [r.h0, r.h1]) expect(h.kernel.bugs.map((b) => `${b.where}: ${String(b.error)}`), `oops on ${h.name}${at}`).to.deep.equal([]);
  expect(r.bad.map((b) => b.text), `warnings or errors in dmesg${at}`).to.deep.equal([]);

  // The receiver: headers and payloads of slots < N, and its credit word; nothing else.
  for (const a of r.rxAccess) {
    const off = a.off - r.rxBase;
    const slot = Math.floor(off / F);
    const inHdr = off >= slot * F + F - HDR_SIZE && off + a.len <= (slot + 1) * F;
    const ok =
      off >= 0 &&
      ((a.op === 'read' && slot < N && off === slot * F && a.len <= F - HDR_SIZE) ||
        ((a.op === 'read32' || a.op === 'write32') && ((slot < N && inHdr) || (off === R - RX_INFO_SIZE && a.len === 4))));
    expect(ok, `receiver ${a.op}(+${off}, ${a.len}) outside its ring's slots${at}`).to.equal(true);
  }
  // The sender: payloads and headers of slots < N, and (as a receiver) the peer's credit word.
  for (const a of r.txAccess) {
    const slot = Math.floor(a.off / F);
    const inHdr = a.off >= slot * F + F - HDR_SIZE && a.off + a.len <= (slot + 1) * F;
    const ok =
      a.off >= 0 &&
      ((a.op === 'memcpyToio' && slot < N && a.off === slot * F && a.len <= F - HDR_SIZE) ||
        ((a.op === 'iowrite32' || a.op === 'ioread32') && ((slot < N && inHdr) || (a.off === R - RX_INFO_SIZE && a.op === 'iowrite32'))));
    expect(ok, `sender ${a.op}(+${a.off}, ${a.len}) outside its window's slots${at}`).to.equal(true);
  }
  for (const s of r.snapshots) {
    const now = Buffer.from(s.h.platform.mem.readBytes(s.phys, s.bytes.length));
    expect(now.equals(s.bytes), `${s.what} changed${at}`).to.equal(true);
  }

  // What the client got: real frames, intact, in order, once; failures only as -EIO.
  let last = -1;
  let goodBytes = 0;
  for (const d of deliveries(r)) {
    if (d.len < 0) {
      expect(d.len, `error delivery${at}`).to.equal(EIO);
      continue;
    }
    const seq = d.len >= 4 ? seqOf(d.bytes) : -1;
    const sent = r.sent.get(seq);
    expect(sent, `a ${d.len}-byte frame nobody sent was delivered${at}`).to.not.equal(undefined);
    expect(Buffer.from(d.bytes).equals(Buffer.from(sent!)), `frame ${seq} intact${at}`).to.equal(true);
    expect(seq, `frame ${seq} after ${last}: in order, no duplicate${at}`).to.be.greaterThan(last);
    last = seq;
    goodBytes += d.len;
  }
  const s = await stats(r.h1);
  const bad = deliveries(r).length - good(r).length;
  expect([s.rx_pkts, s.rx_bytes, s.rx_err_oflow], `rx_pkts, rx_bytes, rx_err_oflow vs. deliveries${at}`).to.deep.equal([good(r).length, goodBytes, bad]);
}

describe('clients/transport: a peer writing garbage into the ring (issue 5)', function () {
  this.timeout(60_000);

  it('a wrong ver in the next slot: rx_err_ver on every look, nothing delivered, the ring waits; the sender`s next frame replaces it and the stream goes on intact', async () => {
    const cases: Array<{ ver: (rxPkts: number) => number; len: number; via: 'window' | 'ram' }> = [
      { ver: (p) => p + 1, len: 100, via: 'window' },
      { ver: (p) => p - 1, len: 1000, via: 'ram' },
      { ver: () => 0xffffffff, len: 0xffffffff, via: 'window' },
      { ver: () => 0x80000000, len: 0, via: 'ram' },
      { ver: () => 0xdeadbeef, len: 65536, via: 'window' },
    ];
    for (const [i, c] of cases.entries()) {
      const r = await rig();
      const before = await stats(r.h1);
      expect([before.rx_index, before.rx_pkts, before.rx_err_ver]).to.deep.equal([3, 3, 0]);
      await writeHdr(r, r.rx.rxIndex, { ver: c.ver(3), len: c.len, flags: DESC_DONE_FLAG | 0xfff0 }, c.via);
      await doorbell(r);
      const s1 = await stats(r.h1);
      expect(s1.rx_err_ver, `case ${i}`).to.be.greaterThan(0);
      expect([s1.rx_index, s1.rx_pkts, s1.rx_err_oflow], `case ${i}`).to.deep.equal([3, 3, 0]);
      expect(deliveries(r), `case ${i}`).to.have.length(3);
      // Still there: every new look counts again (the ring stalls, §16).
      await doorbell(r);
      const s2 = await stats(r.h1);
      expect(s2.rx_err_ver, `case ${i}`).to.be.greaterThan(s1.rx_err_ver);
      expect(s2.rx_index, `case ${i}`).to.equal(3);

      // The sender's frame 3 goes to that very slot: header rewritten, DONE, doorbell.
      await stream(r, 40, 1500);
      await r.world.runFor(1e6);
      expect(good(r).map((x) => seqOf(x.bytes)), `case ${i}`).to.deep.equal([...Array(43).keys()]);
      await expectSafe(r, `case ${i}`);
    }
  });

  it('a bad length with the right ver (huge, 0xffffffff, negative as u32, one above the slot payload): rx_err_oflow and -EIO, never a frame; then the ring stalls', async () => {
    const F = 65536;
    for (const len of [0xffffffff, 0x80000000, 0xfffffff4, 0x7fffffff, F - HDR_SIZE + 1, F, 2 * F]) {
      const what = `len 0x${len.toString(16)}`;
      const r = await rig();
      await writeHdr(r, 3, { ver: 3, len, flags: DESC_DONE_FLAG }, len & 1 ? 'window' : 'ram');
      await doorbell(r);
      expect(deliveries(r).slice(3).map((d) => d.len), what).to.deep.equal([EIO]);
      const s = await stats(r.h1);
      expect([s.rx_err_oflow, s.rx_err_ver, s.rx_pkts, s.rx_index], what).to.deep.equal([1, 0, 3, 4]);
      // The receiver returned credit for slot 3, where the sender's head is: to the sender the
      // ring is now full, and the receiver waits at slot 4 for ver 3. No recovery until a QP reset.
      const t = await stats(r.h0);
      expect([t['tx_index (H)'], t['RRI (T)'], t['free tx']], what).to.deep.equal([3, 3, 0]);
      expect(await enqueue(r, 1, 100), what).to.equal(0);
      expect((await stats(r.h0)).tx_ring_full, what).to.equal(1);
      await expectSafe(r, what);
    }
  });

  it('a length above the slot payload into a client buffer bigger than the slot: an overflow, not a copy past the slot or past the ring (ntbsim bound)', async () => {
    // ntb_tt posts 200 000-byte buffers: Linux would accept any hdr.len up to that and copy it
    // from the slot, i.e. the slot's header and the next slots, or from the last slot past the
    // end of the inbound buffer.
    for (const { warm, len } of [
      { warm: 3, len: 65536 - HDR_SIZE + 1 },
      { warm: 3, len: 200000 },
      { warm: 30, len: 65536 },
      { warm: 30, len: 150000 },
    ]) {
      const what = `slot ${warm}, len ${len}`;
      const r = await rig(['buflen=200000'], warm);
      await writeHdr(r, warm, { ver: warm, len, flags: DESC_DONE_FLAG });
      await doorbell(r);
      expect(deliveries(r).slice(warm).map((d) => d.len), what).to.deep.equal([EIO]);
      const s = await stats(r.h1);
      expect([s.rx_err_oflow, s.rx_pkts, s.rx_bytes], what).to.deep.equal([1, warm, warm * 1000]);
      await expectSafe(r, what);
    }
    // A frame of exactly the slot payload is still a frame.
    const r = await rig(['buflen=200000']);
    await stream(r, 5, 65536 - HDR_SIZE);
    await r.world.runFor(1e6);
    expect(good(r).map((d) => d.len)).to.deep.equal([1000, 1000, 1000, 65524, 65524, 65524, 65524, 65524]);
    await expectSafe(r);
  });

  it('DONE on slots the receiver has not reached is only looked at when it gets there (rx_err_ver), and the sender`s frames replace it: every real frame arrives intact', async () => {
    const r = await rig();
    const F = r.F;
    for (let slot = 0; slot < r.N; slot++) {
      if (slot === r.rx.rxIndex) continue;
      const lens = [0, 1, F - HDR_SIZE, F - HDR_SIZE + 1, 0xffffffff, 0x80000000];
      await writeHdr(r, slot, { ver: 0x10000000 + slot, len: lens[slot % lens.length], flags: (DESC_DONE_FLAG | (slot << 8)) >>> 0 }, slot & 1 ? 'ram' : 'window');
    }
    const empty0 = (await stats(r.h1)).rx_ring_empty;
    await doorbell(r);
    const s0 = await stats(r.h1);
    expect(s0.rx_ring_empty).to.be.greaterThan(empty0);
    expect([s0.rx_err_ver, s0.rx_err_oflow, s0.rx_index]).to.deep.equal([0, 0, 3]);
    // One frame at a time: after each, the receiver looks at the next slot, still garbage.
    await stream(r, 10, 700, 1e6);
    const s1 = await stats(r.h1);
    expect(s1.rx_err_ver).to.be.greaterThan(0);
    expect(s1.rx_err_oflow).to.equal(0);
    // Then a burst, twice round the ring.
    await stream(r, 70, 3000);
    await r.world.runFor(1e6);
    expect(good(r).map((x) => seqOf(x.bytes))).to.deep.equal([...Array(83).keys()]);
    await expectSafe(r);
  });

  it('an out-of-range credit word (≥ N, 0xffffffff): the sender trusts it (free = T − head, as Linux) but only ever writes slots < N; frames within the ring still arrive', async () => {
    for (const T of [31, 32, 1000, 0x7fffffff, 0x80000000, 0xffffffff]) {
      const what = `credit ${T}`;
      // No receive buffers: host1 consumes nothing, so only the garbage sets host0's view.
      const r = await rig(['post=0'], 0);
      await writeCredit(r, T);
      expect(ntbTransportTxFreeEntry(r.tx), what).to.equal(T - r.tx.txIndex);
      expect((await stats(r.h0))['RRI (T)'], what).to.equal(T);
      expect(await enqueue(r, r.N - 1, 2000), what).to.equal(r.N - 1);
      await r.world.runFor(1e6);
      expect((await stats(r.h1)).rx_err_no_buf, what).to.be.greaterThan(0);
      await r.h1.run('post', () => {
        for (let i = 0; i < 100; i++) {
          const buf = new Uint8Array(65524);
          ntbTransportRxEnqueue(r.rx, buf, buf, buf.length);
        }
      });
      await r.world.runFor(1e6);
      expect(good(r).map((x) => seqOf(x.bytes)), what).to.deep.equal([...Array(r.N - 1).keys()]);
      // The receiver's credit returns overwrote the garbage: the ring is sane again.
      const t = await stats(r.h0);
      expect([t['RRI (T)'], t['free tx']], what).to.deep.equal([r.N - 2, r.N - 1]);
      await expectSafe(r, what);
    }
  });

  it('an out-of-range credit word lets the sender lap the ring: it overwrites frames not yet consumed (with newer ver), so the receiver stalls on rx_err_ver and delivers nothing', async () => {
    for (const T of [31, 0xffffffff]) {
      const what = `credit ${T}`;
      const r = await rig(['post=0'], 0);
      await writeCredit(r, T);
      expect(await enqueue(r, r.N + 5, 2000), what).to.equal(r.N + 5);
      expect(r.tx.txIndex, what).to.equal(5);
      const slots = new Set(r.txAccess.filter((a) => a.op === 'memcpyToio').map((a) => a.off / r.F));
      expect([...slots].sort((a, b) => a - b), what).to.deep.equal([...Array(r.N).keys()]);
      await r.world.runFor(1e6);
      await r.h1.run('post', () => {
        for (let i = 0; i < 100; i++) {
          const buf = new Uint8Array(65524);
          ntbTransportRxEnqueue(r.rx, buf, buf, buf.length);
        }
      });
      await r.world.runFor(1e6);
      // Slot 0 now holds frame N (ver N); the receiver wants ver 0.
      expect(deliveries(r), what).to.deep.equal([]);
      expect((await stats(r.h1)).rx_err_ver, what).to.be.greaterThan(0);
      await expectSafe(r, what);
    }
  });

  it('a credit word equal to the sender`s head: ring full, EAGAIN and tx_ring_full (Linux), no write', async () => {
    const r = await rig();
    await writeCredit(r, r.tx.txIndex);
    const writes = r.txAccess.length;
    expect(await enqueue(r, 1, 100)).to.equal(0);
    expect(r.txAccess).to.have.length(writes);
    expect((await stats(r.h0)).tx_ring_full).to.equal(1);
    await expectSafe(r);
  });

  it('property: random garbage headers (next or any slot, window or RAM) between real frames never break the invariants; each is counted as spec §9 says', async () => {
    const F = 65536;
    const N = 31;
    const LIMIT = F - HDR_SIZE;
    const u32 = fc.oneof(
      fc.constantFrom(0, 1, LIMIT, LIMIT + 1, F, 0x7fffffff, 0x80000000, 0xfffffff4, 0xffffffff),
      fc.integer({ min: 0, max: 0xffffffff }),
    );
    const hdrOp = fc.record({
      kind: fc.constant('hdr' as const),
      /** -1: the slot the receiver looks at next. */
      slot: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: N - 1 })),
      /** bad: a count the test never reaches; stale: one already used; right: rx_pkts (only with an oversized len, at the next slot). */
      ver: fc.constantFrom('bad' as const, 'stale' as const, 'right' as const),
      verRnd: fc.integer({ min: 0, max: 0xffffffff }),
      len: u32,
      flagsRnd: fc.integer({ min: 0, max: 0xffffffff }),
      /** 0: no DONE flag (one time in four). */
      doneDraw: fc.integer({ min: 0, max: 3 }),
      via: fc.constantFrom('window' as const, 'ram' as const),
    });
    const sendOp = fc.record({
      kind: fc.constant('send' as const),
      count: fc.integer({ min: 1, max: 8 }),
      len: fc.oneof(fc.integer({ min: 4, max: 4096 }), fc.constant(LIMIT)),
    });
    const program = fc.array(fc.oneof(hdrOp, sendOp), { minLength: 1, maxLength: 10 });

    await fc.assert(
      fc.asyncProperty(program, async (ops) => {
        const r = await rig();
        for (const [i, op] of ops.entries()) {
          const what = `op ${i} ${JSON.stringify(op)}`;
          if (op.kind === 'send') {
            await enqueue(r, op.count, op.len);
            await r.world.runFor(1e6);
            continue;
          }
          const before = await stats(r.h1);
          const n0 = deliveries(r).length;
          const next = r.rx.rxIndex;
          const slot = op.slot < 0 ? next : op.slot;
          const p = r.rx.rxPkts;
          let ver: number;
          let len = op.len;
          if (op.ver === 'right' && slot === next) {
            ver = p;
            // Only an oversized length makes a right-ver header garbage.
            if (len <= LIMIT) len = LIMIT + 1 + (len % 1000);
          } else if (op.ver === 'stale' && p > 0) {
            ver = p - 1 - (op.verRnd % p);
          } else {
            ver = 0x10000000 + (op.verRnd % 0xe0000000);
          }
          // Never LINK_DOWN (that is the protocol's own reset); DONE three times out of four.
          const flags = ((op.flagsRnd & ~(DESC_DONE_FLAG | LINK_DOWN_FLAG)) | (op.doneDraw ? DESC_DONE_FLAG : 0)) >>> 0;
          await writeHdr(r, slot, { ver, len, flags }, op.via);
          await doorbell(r);
          const after = await stats(r.h1);
          const fresh = deliveries(r).slice(n0).map((d) => d.len);
          if (slot === next && flags & DESC_DONE_FLAG) {
            if (ver === p) {
              expect(fresh, what).to.deep.equal([EIO]);
              expect([after.rx_err_oflow - before.rx_err_oflow, after.rx_index, after.rx_pkts], what).to.deep.equal([1, (next + 1) % N, p]);
            } else {
              expect(fresh, what).to.deep.equal([]);
              expect(after.rx_err_ver, what).to.be.greaterThan(before.rx_err_ver);
              expect([after.rx_index, after.rx_pkts, after.rx_err_oflow], what).to.deep.equal([next, p, before.rx_err_oflow]);
            }
          } else {
            expect(fresh, what).to.deep.equal([]);
            expect([after.rx_index, after.rx_pkts, after.rx_err_oflow], what).to.deep.equal([next, p, before.rx_err_oflow]);
          }
        }
        await expectSafe(r, JSON.stringify(ops));
      }),
      // A fixed seed: the same programs on every run, like everything else in ntbsim.
      { numRuns: 40, seed: 0x15505 },
    );
  });
});
