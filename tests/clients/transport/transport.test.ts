import 'reflect-metadata';
import { expect } from 'chai';
import { Errno, KernelError } from '../../../core/errno';
import { Host } from '../../../core/host';
import { TopologySpec, World } from '../../../core/world';
import { ntbBus, NtbDev, ntbPeerDbSet, ntbSpadRead, ntbSpadWrite } from '../../../drivers/ntb';
import { switchtecTopology } from '../../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../../plugins';
import {
  hashedPointer,
  NtbTransportQp,
  ntbTransportCreateQueue,
  ntbTransportLinkDown,
  ntbTransportLinkQuery,
  ntbTransportLinkUp,
  ntbTransportMaxSize,
  ntbTransportQpNum,
  ntbTransportRegisterClient,
  ntbTransportRegisterClientDev,
  ntbTransportRxEnqueue,
  ntbTransportRxRemove,
  ntbTransportTxEnqueue,
  ntbTransportTxFreeEntry,
} from '../../../clients/transport';
import { expectErrno, linesSince, parseProcInterrupts } from '../../helpers/world';
import { frame, sendFrames, seqOf, TT, ttPlugin, ttState } from './tt-client';

const NTB_DEV = '0000:01:00.1';
const DBG = `/sys/kernel/debug/ntb_transport/${NTB_DEV}`;
const PARAMS = '/sys/module/ntb_transport/parameters';
const stats = (h: Host, q = 0) => h.read(`${DBG}/qp${q}/stats`);

interface Opts {
  /** Reload ntb_hw_switchtec with use_lut_mws=1 first (31 extra 64 KiB windows). */
  lut?: boolean;
  transport?: string[];
  /** ntb_tt arguments per host; undefined: do not load ntb_tt. */
  tt?: [string[], string[]];
  spec?: (s: TopologySpec) => void;
}

interface Pair {
  world: World;
  h0: Host;
  h1: Host;
}

async function pair(o: Opts = {}): Promise<Pair> {
  const spec = switchtecTopology();
  o.spec?.(spec);
  const world = await World.create(spec, [...builtinPlugins(), ttPlugin]);
  const [h0, h1] = world.hosts;
  if (o.lut) {
    for (const h of world.hosts) {
      await h.rmmod('ntb_hw_switchtec');
      await h.modprobe('ntb_hw_switchtec', ['use_lut_mws=1']);
    }
    // Let each side's forced-link-down handling of the other's reload finish.
    await world.runFor(1e9);
  }
  for (const h of world.hosts) await h.modprobe('ntb_transport', o.transport ?? []);
  if (o.tt) {
    await h0.modprobe(TT, o.tt[0]);
    await h1.modprobe(TT, o.tt[1]);
    await waitUntil(world, () => ttState(h0).qp?.linkIsUp === true && ttState(h1).qp?.linkIsUp === true);
  }
  return { world, h0, h1 };
}

/** Run the world in 10 ms steps until `cond` holds (at most `limit` ns of virtual time). */
async function waitUntil(world: World, cond: () => boolean, limit = 20e9): Promise<void> {
  const end = world.now + limit;
  while (!cond()) {
    if (world.now >= end) throw new Error('condition not reached in virtual time');
    await world.runFor(10e6);
  }
}

function ntbOf(h: Host): NtbDev {
  const devs = h.kernel.driverCore.devices(ntbBus(h.kernel)!);
  expect(devs).to.have.length(1);
  return devs[0] as NtbDev;
}

const spads = (h: Host, ...idx: number[]) => h.run('spads', () => idx.map((i) => ntbSpadRead(ntbOf(h), i)));

function qpOf(h: Host): NtbTransportQp {
  const qp = ttState(h).qp;
  expect(qp, `ntb_tt queue on ${h.name}`).to.not.equal(null);
  return qp!;
}

/** Total count of the /proc/interrupts rows whose name is `name`. */
async function irqTotal(h: Host, name: string): Promise<number> {
  let n = 0;
  for (const [, row] of parseProcInterrupts(await h.read('/proc/interrupts'))) if (row.rest.endsWith(` ${name}`)) n += row.counts.reduce((a, b) => a + b, 0);
  return n;
}

async function irqRows(h: Host, name: string): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  for (const [irq, row] of parseProcInterrupts(await h.read('/proc/interrupts'))) if (row.rest.endsWith(` ${name}`)) out.set(irq, row.counts);
  return out;
}

/** Every frame 0 … n-1 arrived once, in order, intact, with the right length. */
function expectFrames(h: Host, n: number, len: number, from = 0): void {
  const rx = ttState(h).rx.slice(from);
  expect(rx.map((r) => (r.len > 0 ? seqOf(r.bytes) : r.len))).to.deep.equal([...Array(n).keys()]);
  rx.forEach((r, i) => {
    expect(r.len).to.equal(len);
    expect(Buffer.from(r.bytes).equals(Buffer.from(frame(i, len))), `frame ${i} intact`).to.equal(true);
  });
}

function expectNoBugs(...hosts: Host[]): void {
  for (const h of hosts) expect(h.kernel.bugs, `kernel bugs on ${h.name}`).to.deep.equal([]);
}

describe('clients/transport: ntb_transport on the two-host Switchtec world', () => {
  it('module: parameters with Linux names, defaults, modes and descriptions; init line; bus, debugfs and binding', async () => {
    const { h0 } = await pair();
    const mod = h0.kernel.modules.get('ntb_transport')!;
    expect(mod.decl.description).to.equal('Software Queue-Pair Transport over NTB');
    expect(mod.decl.version).to.equal('4');
    expect(mod.decl.license).to.equal('Dual BSD/GPL');
    expect(mod.decl.depends).to.deep.equal(['ntb']);
    const expected: Record<string, [string, string]> = {
      max_mw_size: ['0\n', 'Limit size of large memory windows'],
      transport_mtu: ['65536\n', 'Maximum size of NTB transport packets'],
      max_num_clients: ['0\n', 'Maximum number of NTB transport clients'],
      copy_bytes: ['1024\n', 'Threshold under which NTB will use the CPU to copy instead of DMA'],
      use_dma: ['N\n', 'Use DMA engine to perform large data copy'],
      use_msi: ['N\n', 'Use MSI interrupts instead of doorbells'],
      tx_memcpy_offload: ['N\n', 'Offload TX memcpy_toio() to a kernel thread'],
    };
    expect(h0.ls(PARAMS).sort()).to.deep.equal(Object.keys(expected).sort());
    for (const [name, [value, desc]] of Object.entries(expected)) {
      expect(await h0.read(`${PARAMS}/${name}`), name).to.equal(value);
      expect(h0.kernel.fs.stat(`${PARAMS}/${name}`).mode, name).to.equal(0o644);
      expect((mod.decl.params as Record<string, { description: string }>)[name].description).to.equal(desc);
    }
    expect(h0.printk.lines()).to.include('Software Queue-Pair Transport over NTB, version 4');
    expect(h0.exists('/sys/bus/ntb_transport/devices')).to.equal(true);
    expect(h0.exists(`/sys/bus/ntb/drivers/ntb_transport/${NTB_DEV}`)).to.equal(true);
    // One direct 2 MiB window and a 28-bit doorbell mask: one QP.
    expect(h0.ls(DBG)).to.deep.equal(['qp0']);
    expect(h0.ls(`${DBG}/qp0`)).to.deep.equal(['stats']);
    expect(h0.kernel.fs.stat(`${DBG}/qp0/stats`).mode).to.equal(0o400);
    // QP link down: a read returns nothing.
    expect(await stats(h0)).to.equal('');
    await expectErrno(h0.write(`${DBG}/qp0/stats`, '1\n'), Errno.EINVAL);
  });

  it('a client needs a transport context: ENODEV without an NTB device, client devices and drivers otherwise', async () => {
    const world = await World.create(switchtecTopology(), [...builtinPlugins(), ttPlugin]);
    const [h0] = world.hosts;
    await h0.rmmod('ntb_hw_switchtec');
    await h0.modprobe('ntb_transport');
    await expectErrno(h0.modprobe(TT), Errno.ENODEV);
    await expectErrno(
      h0.run('register', (k) => ntbTransportRegisterClient(k, { name: 'x', probe: () => undefined, remove: () => undefined })),
      Errno.ENODEV,
    );
    await expectErrno(h0.run('register dev', (k) => ntbTransportRegisterClientDev(k, 'x')), Errno.ENODEV);
    await h0.modprobe('ntb_hw_switchtec');
    await h0.modprobe(TT);
    // Device ntb_tt0 under the NTB device, bound to driver ntb_tt by name prefix.
    expect(h0.ls('/sys/bus/ntb_transport/devices')).to.deep.equal(['ntb_tt0']);
    expect(h0.exists(`/sys/bus/ntb_transport/drivers/${TT}/ntb_tt0`)).to.equal(true);
    expect(ttState(h0).dev!.parent).to.equal(ntbOf(h0));
    expect(linesSince(h0, 0)).to.include(`switchtec ${NTB_DEV}: NTB Transport QP 0 created`);
    expectNoBugs(h0);
  });

  it('doorbell mode: frames with sequence numbers both ways arrive once, in order, intact; tx completions return the cookies', async () => {
    const { world, h0, h1 } = await pair({ tt: [[], []] });
    const [a, b] = [ttState(h0), ttState(h1)];
    expect(a.events).to.deep.equal([true]);
    expect(b.events).to.deep.equal([true]);
    expect(ntbTransportQpNum(a.qp)).to.equal(0);
    expect(ntbTransportMaxSize(a.qp)).to.equal(65524);
    expect(ntbTransportLinkQuery(a.qp)).to.equal(true);
    const db0 = await irqTotal(h1, 'switchtec_ntb_doorbell');

    const again = await Promise.all([sendFrames(h0, 0, 300, 1500), sendFrames(h1, 0, 300, 65524)]);
    await world.runFor(1e6);
    expectFrames(h1, 300, 1500);
    expectFrames(h0, 300, 65524);
    // The rings (30 frames in flight) filled up: the senders saw EAGAIN and retried.
    expect(again[0]).to.be.greaterThan(0);
    expect(a.tx.length).to.equal(300);
    a.tx.forEach((t, i) => {
      expect(t.len).to.equal(1500);
      expect(seqOf(t.cb as Uint8Array)).to.equal(i);
    });
    // Doorbell interrupts carried the notifications; there is no transport MSI.
    expect(await irqTotal(h1, 'switchtec_ntb_doorbell')).to.be.greaterThan(db0);
    expect(await irqTotal(h1, 'ntb_transport')).to.equal(0);
    expectNoBugs(h0, h1);
  });

  it('debugfs qp0/stats: the exact text (hashed pointers, counters, ring state)', async () => {
    const { world, h0, h1 } = await pair({ tt: [[], []] });
    await sendFrames(h0, 0, 5, 100);
    await world.runFor(1e6);
    const ptr = (h: Host, v: bigint) => `0x${hashedPointer(h.kernel, v)}`;
    const q0 = qpOf(h0);
    const q1 = qpOf(h1);
    expect(await stats(h0)).to.equal(
      '\nNTB QP stats:\n\n' +
        'rx_bytes - \t0\nrx_pkts - \t0\nrx_memcpy - \t0\nrx_async - \t0\nrx_ring_empty - 1\nrx_err_no_buf - 0\n' +
        `rx_err_oflow - \t0\nrx_err_ver - \t0\nrx_buff - \t${ptr(h0, q0.rxBuffAddr)}\nrx_index - \t0\nrx_max_entry - \t31\nrx_alloc_entry - \t100\n\n` +
        'tx_bytes - \t500\ntx_pkts - \t5\ntx_memcpy - \t5\ntx_async - \t0\ntx_ring_full - \t0\ntx_err_no_buf - 0\n' +
        `tx_mw - \t${ptr(h0, q0.txMwAddr)}\ntx_index (H) - \t5\nRRI (T) - \t4\ntx_max_entry - \t31\nfree tx - \t30\n\n` +
        'Using TX DMA - \tNo\nUsing RX DMA - \tNo\nQP Link - \tUp\n\n',
    );
    expect(await stats(h1)).to.equal(
      '\nNTB QP stats:\n\n' +
        // Each frame's flag and doorbell land when its copy is done, so each frame is its own batch:
        // the run that takes it ends on an empty slot, and the doorbell bit, still set, makes a second,
        // empty run (spec transport.md §18): two per frame, plus the run queued at QP setup.
        'rx_bytes - \t500\nrx_pkts - \t5\nrx_memcpy - \t5\nrx_async - \t0\nrx_ring_empty - 11\nrx_err_no_buf - 0\n' +
        `rx_err_oflow - \t0\nrx_err_ver - \t0\nrx_buff - \t${ptr(h1, q1.rxBuffAddr)}\nrx_index - \t5\nrx_max_entry - \t31\nrx_alloc_entry - \t100\n\n` +
        'tx_bytes - \t0\ntx_pkts - \t0\ntx_memcpy - \t0\ntx_async - \t0\ntx_ring_full - \t0\ntx_err_no_buf - 0\n' +
        `tx_mw - \t${ptr(h1, q1.txMwAddr)}\ntx_index (H) - \t0\nRRI (T) - \t30\ntx_max_entry - \t31\nfree tx - \t30\n\n` +
        'Using TX DMA - \tNo\nUsing RX DMA - \tNo\nQP Link - \tUp\n\n',
    );
    // %p: 16 hex digits, the upper half zero; different hosts hash differently.
    expect(ptr(h0, q0.rxBuffAddr)).to.match(/^0x00000000[0-9a-f]{8}$/);
    expect(hashedPointer(h0.kernel, 0x1000n)).to.not.equal(hashedPointer(h1.kernel, 0x1000n));
    expectNoBugs(h0, h1);
  });

  it('MSI mode (use_msi=1, use_lut_mws=1): one window and one doorbell bit go to MSI; each frame is an MSI of its QP, the doorbell irq stays still', async () => {
    const { world, h0, h1 } = await pair({ lut: true, transport: ['use_msi=1'], tt: [[], []] });
    // 32 windows: the last is the MSI window, 31 carry QPs; 27 doorbell-derived QPs − 1 = 26.
    expect(await spads(h0, 2, 3)).to.deep.equal([26, 31]);
    expect(h0.ls(DBG)).to.have.length(26);
    for (const h of [h0, h1]) {
      expect(h.printk.lines()).to.include(`switchtec ${NTB_DEV}: Using MSI interrupts for QP0`);
      expect((await irqRows(h, 'ntb_transport')).size).to.equal(26);
    }
    const irq1 = qpOf(h1).msiIrq;
    const irq0 = qpOf(h0).msiIrq;
    // QP0's descriptor sits at msi_spad_offset = 4 + 2 × 31.
    const [off, data] = await spads(h1, 66, 67);
    expect(qpOf(h0).peerMsiDesc).to.deep.equal({ addrOffset: off, data });
    expect(off).to.not.equal(0);

    const db = [await irqTotal(h0, 'switchtec_ntb_doorbell'), await irqTotal(h1, 'switchtec_ntb_doorbell')];
    const msi1 = (await irqRows(h1, 'ntb_transport')).get(irq1)!.reduce((x, y) => x + y, 0);
    await Promise.all([sendFrames(h0, 0, 200, 4000), sendFrames(h1, 0, 100, 60000)]);
    await world.runFor(1e6);
    expectFrames(h1, 200, 4000);
    expectFrames(h0, 100, 60000);
    // One MSI per frame on the receiving QP's own vector; no doorbell interrupt at all.
    expect((await irqRows(h1, 'ntb_transport')).get(irq1)!.reduce((x, y) => x + y, 0) - msi1).to.equal(200);
    expect((await irqRows(h0, 'ntb_transport')).get(irq0)!.reduce((x, y) => x + y, 0)).to.equal(100);
    expect([await irqTotal(h0, 'switchtec_ntb_doorbell'), await irqTotal(h1, 'switchtec_ntb_doorbell')]).to.deep.equal(db);
    expectNoBugs(h0, h1);
  });

  it('doorbell mode with use_lut_mws=1: 32 windows, 27 QPs; a 64 KiB LUT window holds a 2-slot ring of 32 766-byte frames', async () => {
    const { world, h0, h1 } = await pair({ lut: true, tt: [[], []] });
    expect(await spads(h0, 2, 3)).to.deep.equal([27, 32]);
    // A second queue on each side: QP1, on MW1 (a LUT window).
    const qs = await Promise.all(
      [h0, h1].map((h) =>
        h.run('create', () => {
          const qp = ntbTransportCreateQueue(null, ttState(h).dev!, {})!;
          ntbTransportLinkUp(qp);
          return qp;
        }),
      ),
    );
    await waitUntil(world, () => qs.every((q) => q.linkIsUp));
    expect(qs.map((q) => ntbTransportQpNum(q))).to.deep.equal([1, 1]);
    expect(ntbTransportMaxSize(qs[0])).to.equal(32754);
    const s = await stats(h0, 1);
    expect(s).to.contain('rx_max_entry - \t2\n');
    expect(s).to.contain('tx_max_entry - \t2\n');
    expect(s).to.contain('free tx - \t1\n');
    expect(await irqTotal(h0, 'ntb_transport')).to.equal(0);
    expect(h0.printk.lines().some((l) => l.includes('Using MSI'))).to.equal(false);
    expectNoBugs(h0, h1);
  });

  it('use_msi=1 without LUT windows falls back to doorbells: one window, nothing reserved, no MSI irq', async () => {
    const { world, h0, h1 } = await pair({ transport: ['use_msi=1'], tt: [[], []] });
    expect(await spads(h0, 2, 3)).to.deep.equal([1, 1]);
    expect(await irqTotal(h1, 'ntb_transport')).to.equal(0);
    expect(h1.printk.lines().some((l) => l.includes('MSI'))).to.equal(false);
    await sendFrames(h0, 0, 50, 2000);
    await world.runFor(1e6);
    expectFrames(h1, 50, 2000);
    expect(qpOf(h0).useMsi).to.equal(false);
    expectNoBugs(h0, h1);
  });

  it('peers that disagree on QP or window counts (MSI on one side only) retry the handshake forever, silently', async () => {
    const world = await World.create(switchtecTopology(), [...builtinPlugins(), ttPlugin]);
    const [h0, h1] = world.hosts;
    for (const h of world.hosts) {
      await h.rmmod('ntb_hw_switchtec');
      await h.modprobe('ntb_hw_switchtec', ['use_lut_mws=1']);
    }
    await world.runFor(1e9);
    await h0.modprobe('ntb_transport', ['use_msi=1']);
    await h1.modprobe('ntb_transport');
    for (const h of world.hosts) await h.modprobe(TT);
    await world.runFor(2e9);
    expect(await spads(h0, 2, 3)).to.deep.equal([27, 32]);
    expect(await spads(h1, 2, 3)).to.deep.equal([26, 31]);
    expect(ntbTransportLinkQuery(qpOf(h0))).to.equal(false);
    expect(ntbTransportLinkQuery(qpOf(h1))).to.equal(false);
    expect(ttState(h0).events).to.deep.equal([]);
    for (const h of world.hosts) expect(h.printk.records.filter((r) => r.level <= 3)).to.deep.equal([]);
    expectNoBugs(h0, h1);
  });

  it('a rewritten MSI message (affinity change, peer without interrupt remapping) is republished through the scratchpads and the msi doorbell bit', async () => {
    const { world, h0, h1 } = await pair({
      lut: true,
      transport: ['use_msi=1'],
      tt: [[], []],
      spec: (s) => (s.hosts[1] = { ...s.hosts[1], intremap: false }),
    });
    const irq = qpOf(h1).msiIrq;
    const cpu = Number(await h1.read(`/proc/irq/${irq}/effective_affinity_list`));
    const target = (cpu + 1) % 4;
    const before = { ...qpOf(h0).peerMsiDesc };
    await h1.write(`/proc/irq/${irq}/smp_affinity_list`, `${target}\n`);
    await world.runFor(1e6);
    const [off, data] = await spads(h1, 66, 67);
    expect(off).to.equal(before.addrOffset + (target - cpu) * 0x1000);
    expect(qpOf(h0).peerMsiDesc).to.deep.equal({ addrOffset: off, data });
    await sendFrames(h0, 0, 10, 100);
    await world.runFor(1e6);
    expectFrames(h1, 10, 100);
    expect((await irqRows(h1, 'ntb_transport')).get(irq)![target]).to.equal(10);
    expectNoBugs(h0, h1);
  });

  it('a peer that publishes a garbage MSI descriptor (offset outside the window) costs it its interrupts, never the sender: tx completes, a warning, frames intact once a good descriptor returns', async () => {
    const { world, h0, h1 } = await pair({ lut: true, transport: ['use_msi=1'], tt: [[], []] });
    const good = { ...qpOf(h0).peerMsiDesc };
    const nt1 = qpOf(h1).transport;
    // The buggy peer: QP0's descriptor scratchpads (66, 67) get garbage, then the "descriptors changed" doorbell bit.
    const publish = (off: number, data: number) =>
      h1.run('publish', () => {
        ntbSpadWrite(ntbOf(h1), 66, off);
        ntbSpadWrite(ntbOf(h1), 67, data);
        ntbPeerDbSet(ntbOf(h1), nt1.msiDbMask);
      });
    await publish(0xfffff000, 0x1234);
    await world.runFor(1e6);
    expect(qpOf(h0).peerMsiDesc).to.deep.equal({ addrOffset: 0xfffff000, data: 0x1234 });
    const mark = h0.printk.lines().length;
    const completed = ttState(h0).tx.length;
    await sendFrames(h0, 0, 5, 500);
    await world.runFor(1e6);
    expect(linesSince(h0, mark).filter((l) => l.includes('MSI descriptor offset 0xfffff000 is outside the'))).to.have.length(5);
    // The sends completed, but nobody told host1: the frames wait in its ring, their slots not yet credited back.
    expect(ttState(h0).tx.length - completed).to.equal(5);
    expect(ttState(h1).rx).to.deep.equal([]);
    expect(ntbTransportTxFreeEntry(qpOf(h0))).to.equal(25);
    // The peer mends its descriptor; the next frame's interrupt lets the receiver take all six, in order.
    await publish(good.addrOffset, good.data);
    await world.runFor(1e6);
    await sendFrames(h0, 5, 1, 500);
    await world.runFor(1e6);
    expectFrames(h1, 6, 500);
    expectNoBugs(h0, h1);
  });

  it('ring full: EAGAIN and tx_ring_full; frames wait for receive buffers (rx_err_no_buf) and resume in order when buffers come', async () => {
    const { world, h0, h1 } = await pair({ tt: [[], ['post=0', 'repost=0']] });
    const q0 = qpOf(h0);
    const sent = await h0.run('fill', () => {
      let n = 0;
      while (n < 1000) {
        try {
          ntbTransportTxEnqueue(q0, n, frame(n, 64), 64);
        } catch (e) {
          if (e instanceof KernelError && e.errno === Errno.EAGAIN) return n;
          throw e;
        }
        n++;
      }
      return n;
    });
    await world.runFor(1e6);
    // 31 slots, one always empty.
    expect(sent).to.equal(30);
    expect(ntbTransportTxFreeEntry(q0)).to.equal(0);
    await expectErrno(h0.run('full', () => ntbTransportTxEnqueue(q0, 99, frame(99, 64), 64)), Errno.EAGAIN);
    expect(await stats(h0)).to.contain('tx_ring_full - \t2\n');
    expect(ttState(h1).rx).to.deep.equal([]);
    expect(await stats(h1)).to.match(/rx_err_no_buf - [1-9]\d*\n/);

    await h1.run('post', () => {
      for (let i = 0; i < 30; i++) {
        const buf = new Uint8Array(64);
        ntbTransportRxEnqueue(qpOf(h1), buf, buf, 64);
      }
    });
    await world.runFor(1e6);
    expectFrames(h1, 30, 64);
    expect(ntbTransportTxFreeEntry(q0)).to.equal(30);
    expectNoBugs(h0, h1);
  });

  it('EINVAL (NULL qp, zero length), a frame larger than a slot (tx handler gets NULL, -EIO), TX on a down QP (silently dropped)', async () => {
    const { h0 } = await pair({ tt: [[], []] });
    const q0 = qpOf(h0);
    await expectErrno(h0.run('null', () => ntbTransportTxEnqueue(null, 0, new Uint8Array(1), 1)), Errno.EINVAL);
    await expectErrno(h0.run('len0', () => ntbTransportTxEnqueue(q0, 0, new Uint8Array(1), 0)), Errno.EINVAL);
    await expectErrno(h0.run('rx null', () => ntbTransportRxEnqueue(null, 0, new Uint8Array(1), 1)), Errno.EINVAL);
    await h0.run('big', () => ntbTransportTxEnqueue(q0, 'big', frame(0, 65525), 65525));
    expect(ttState(h0).tx).to.deep.equal([{ cb: null, len: -Errno.EIO }]);
    expect(await stats(h0)).to.contain('tx_pkts - \t0\n');

    await h0.run('down', () => ntbTransportLinkDown(q0));
    expect(ntbTransportLinkQuery(q0)).to.equal(false);
    await h0.run('tx down', () => ntbTransportTxEnqueue(q0, 'lost', frame(1, 10), 10));
    expect(ttState(h0).tx).to.have.length(1);
    // Nothing was posted elsewhere; rx_remove works once the client is no longer ready.
    expect(ntbTransportRxRemove(null)).to.equal(null);
    const back = await h0.run('remove', () => ntbTransportRxRemove(q0));
    expect(back?.len).to.equal(65524);
    expectNoBugs(h0);
  });

  it('an RX buffer too small: the rx handler gets -EIO (rx_err_oflow), then the ring stalls on the version check (rx_err_ver)', async () => {
    const { world, h0, h1 } = await pair({ tt: [[], ['buflen=100']] });
    await sendFrames(h0, 0, 1, 200);
    await world.runFor(1e6);
    expect(ttState(h1).rx.map((r) => r.len)).to.deep.equal([-Errno.EIO]);
    await sendFrames(h0, 1, 1, 50);
    await world.runFor(1e6);
    expect(ttState(h1).rx).to.have.length(1);
    const s = await stats(h1);
    expect(s).to.contain('rx_err_oflow - \t1\n');
    expect(s).to.match(/rx_err_ver - \t[1-9]\d*\n/);
    expect(s).to.contain('rx_pkts - \t0\n');
    expectNoBugs(h0, h1);
  });

  it('EBUSY: descriptors lost to failed link-down frames (ring full) leave tx_enqueue without a free TX descriptor', async () => {
    // 64 KiB windows: a 2-slot ring, one frame in flight, two TX descriptors.
    const { world, h0, h1 } = await pair({ transport: ['max_mw_size=65536'], tt: [[], ['post=0']] });
    const q0 = qpOf(h0);
    expect(q0.txMaxEntry).to.equal(2);
    for (let round = 0; round < 2; round++) {
      await h0.run('send', () => ntbTransportTxEnqueue(q0, round, frame(round, 8), 8));
      const mark = h0.printk.lines().length;
      await h0.run('down', () => ntbTransportLinkDown(q0));
      expect(linesSince(h0, mark)).to.deep.equal([`switchtec ${NTB_DEV}: qp 0: Send Link Down`, `switchtec ${NTB_DEV}: ntb: QP0 unable to send linkdown msg`]);
      await h0.run('up', () => ntbTransportLinkUp(q0));
      await waitUntil(world, () => q0.linkIsUp);
    }
    await expectErrno(h0.run('busy', () => ntbTransportTxEnqueue(q0, 9, frame(9, 8), 8)), Errno.EBUSY);
    expect(await stats(h0)).to.contain('tx_err_no_buf - 1\n');
    expectNoBugs(h0, h1);
  });

  it('a client link_down sends LINK_DOWN: the peer cleans its QP up, then both come up again on link_up', async () => {
    const { world, h0, h1 } = await pair({ tt: [[], []] });
    const mark = h1.printk.lines().length;
    await h0.run('down', () => ntbTransportLinkDown(qpOf(h0)));
    await world.runFor(1e8);
    expect(ttState(h1).events).to.deep.equal([true, false]);
    expect(linesSince(h1, mark)).to.include(`switchtec ${NTB_DEV}: qp 0: Link Cleanup`);
    expect(await stats(h1)).to.equal('');
    await h0.run('up', () => ntbTransportLinkUp(qpOf(h0)));
    await waitUntil(world, () => qpOf(h0).linkIsUp && qpOf(h1).linkIsUp);
    expect(ttState(h1).events).to.deep.equal([true, false, true]);
    await sendFrames(h0, 0, 20, 300);
    await world.runFor(1e6);
    expectFrames(h1, 20, 300);
    expectNoBugs(h0, h1);
  });

  it('peer module reload: link down (Link Cleanup, event 0), then up again with fresh counters', async () => {
    const { world, h0, h1 } = await pair({ tt: [[], []] });
    await sendFrames(h0, 0, 10, 100);
    await world.runFor(1e6);
    const mark = h0.printk.lines().length;
    await h1.rmmod(TT);
    await h1.rmmod('ntb_transport');
    // Cleanup clears the inbound translations (the switch's lock/configure handshake) first.
    await world.runFor(1e9);
    // The LINK_DOWN frame, then the hardware link going down.
    expect(ttState(h0).events).to.deep.equal([true, false, false]);
    expect(linesSince(h0, mark).filter((l) => l.includes('Link Cleanup'))).to.have.length(2);
    expect(ntbTransportLinkQuery(qpOf(h0))).to.equal(false);
    // Cleanup zeroed every local scratchpad.
    expect(await spads(h0, 0, 1, 2, 3, 4, 5)).to.deep.equal([0, 0, 0, 0, 0, 0]);

    await h1.modprobe('ntb_transport');
    await h1.modprobe(TT);
    await waitUntil(world, () => qpOf(h0).linkIsUp && qpOf(h1).linkIsUp);
    expect(ttState(h0).events).to.deep.equal([true, false, false, true]);
    await sendFrames(h0, 0, 10, 100);
    await world.runFor(1e6);
    expectFrames(h1, 10, 100);
    expect(await stats(h0)).to.contain('tx_pkts - \t10\n');
    expectNoBugs(h0, h1);
  });

  it('rmmod order: the transport is busy while a client module is loaded; client first, then the transport; leftover client devices are removed', async () => {
    const { h0 } = await pair({ tt: [[], []] });
    await expectErrno(h0.rmmod('ntb_transport'), Errno.EBUSY);
    const mark = h0.printk.lines().length;
    await h0.rmmod(TT);
    expect(linesSince(h0, mark)).to.include.members([`switchtec ${NTB_DEV}: qp 0: Send Link Down`, `switchtec ${NTB_DEV}: NTB Transport QP 0 freed`]);
    expect(h0.ls('/sys/bus/ntb_transport/devices')).to.deep.equal([]);

    await h0.run('dev', (k) => ntbTransportRegisterClientDev(k, 'orphan'));
    const mark2 = h0.printk.lines().length;
    await h0.rmmod('ntb_transport');
    expect(linesSince(h0, mark2)).to.include(`ntb_transport ${NTB_DEV}: orphan0 still attached to bus, removing`);
    expect(h0.exists('/sys/kernel/debug/ntb_transport')).to.equal(false);
    expect(h0.exists('/sys/bus/ntb_transport')).to.equal(false);
    await h0.modprobe('ntb_transport');
    expect(h0.ls(DBG)).to.deep.equal(['qp0']);
    expectNoBugs(h0);
  });

  it('the NTB device going away with a client bound: the client is removed, the transport unbinds, the peer sees the link drop', async () => {
    const { world, h0, h1 } = await pair({ tt: [[], []] });
    const mark = h1.printk.lines().length;
    await h1.rmmod('ntb_hw_switchtec');
    await world.runFor(1e8);
    const lines = linesSince(h1, mark);
    expect(lines).to.include(`ntb_transport ${NTB_DEV}: ntb_tt0 still attached to bus, removing`);
    expect(lines).to.include(`switchtec ${NTB_DEV}: NTB Transport QP 0 freed`);
    expect(ttState(h1).qp).to.equal(null);
    expect(h1.ls('/sys/bus/ntb_transport/devices')).to.deep.equal([]);
    expect(h1.exists(DBG)).to.equal(false);
    // As in Linux, the transport's remove runs first: the client's queue sends its LINK_DOWN
    // frame (one event on the peer); the hardware link then drops on a QP already down.
    expect(ttState(h0).events).to.deep.equal([true, false]);
    await h1.rmmod(TT);
    await h1.rmmod('ntb_transport');
    expectNoBugs(h0, h1);
  });

  it('max_num_clients below the doorbell count puts several QPs on one window; transport_mtu sets the slot size', async () => {
    const { world, h0, h1 } = await pair({ transport: ['max_num_clients=3', 'transport_mtu=16384'], tt: [[], []] });
    expect(h0.ls(DBG)).to.deep.equal(['qp0', 'qp1', 'qp2']);
    const qs = await Promise.all(
      [h0, h1].map((h) =>
        h.run('create', () => [1, 2].map(() => ntbTransportCreateQueue(null, ttState(h).dev!, {})!).map((q) => (ntbTransportLinkUp(q), q))),
      ),
    );
    await waitUntil(world, () => qs.flat().every((q) => q.linkIsUp));
    // Region = floor(2 MiB / 3) = 699 050 bytes; 16 KiB slots: floor(699 046 / 16 384) = 42.
    for (const q of [0, 1, 2]) expect(await stats(h0, q)).to.contain('tx_max_entry - \t42\n');
    expect(ntbTransportMaxSize(qs[0][1])).to.equal(16372);
    expect(await spads(h0, 2, 3)).to.deep.equal([3, 1]);
    expectNoBugs(h0, h1);
  });

  it('tx_memcpy_offload: copies and completions run in the ntb-txcpy thread; frames still arrive in order', async () => {
    const { world, h0, h1 } = await pair({ transport: ['tx_memcpy_offload=1'], tt: [[], []] });
    const q0 = qpOf(h0);
    const done = await h0.run('send', () => {
      ntbTransportTxEnqueue(q0, 0, frame(0, 100), 100);
      // The completion has not run yet: it belongs to the copy thread.
      return ttState(h0).tx.length;
    });
    expect(done).to.equal(0);
    await sendFrames(h0, 1, 99, 100);
    await world.runFor(1e6);
    expectFrames(h1, 100, 100);
    expect(ttState(h0).tx).to.have.length(100);
    expectNoBugs(h0, h1);
  });

  it('use_dma=1 without a DMA engine: "Unable to allocate TX/RX DMA channel", CPU copies', async () => {
    const { h0 } = await pair({ transport: ['use_dma=1'], tt: [[], []] });
    const lines = h0.printk.lines();
    expect(lines).to.include(`switchtec ${NTB_DEV}: Unable to allocate TX DMA channel`);
    expect(lines).to.include(`switchtec ${NTB_DEV}: Unable to allocate RX DMA channel`);
    expect(await stats(h0)).to.contain('Using TX DMA - \tNo\n');
  });

  it('probe refuses hardware without inbound translation ops: "Inbound MW based NTB API is required", -EINVAL', async () => {
    const world = await World.create(switchtecTopology(), [...builtinPlugins(), ttPlugin]);
    const [h0] = world.hosts;
    const ops = ntbOf(h0).ops as { mwSetTrans?: unknown };
    delete ops.mwSetTrans;
    await h0.modprobe('ntb_transport');
    const lines = h0.printk.lines();
    expect(lines).to.include(`ntb_transport ${NTB_DEV}: Inbound MW based NTB API is required`);
    expect(lines).to.include(`ntb_transport: probe of ${NTB_DEV} failed with error -22`);
    expect(h0.exists(DBG)).to.equal(false);
  });
});
