/**
 * Shape check of spec timing.md: "two queue pairs ≈ 2× one when CPU-bound".
 *
 * ntb_netdev drives one queue pair, so the check runs at the transport's client API: ntb_transport
 * with max_num_clients=2 on the default Switchtec world puts two queue pairs in the one 2 MiB
 * window (1 MiB, 15 slots each) and rings one doorbell vector for both. In the `ideal` profile
 * only bulk copies cost time, so the senders' CPU copies of 32 KiB frames into the window
 * (memcpy_toio at the link's rate) are what bounds the rate. The model has no shared CPU between tasks: two senders in two tasks are two CPUs.
 * So two queues sent from two tasks must move about twice the frames of one — nothing in the
 * transport, the switch or the shared doorbell vector may serialise them — and two queues fed by
 * one task (one CPU) about as many as one queue.
 */
import 'reflect-metadata';
import { expect } from 'chai';
import { NtbTransportQp, ntbTransportCreateQueue, ntbTransportLinkUp, ntbTransportRxEnqueue, ntbTransportTxEnqueue } from '../../../clients/transport';
import { Errno, KernelError } from '../../../core/errno';
import { Host } from '../../../core/host';
import { Kernel } from '../../../core/kernel';
import { World } from '../../../core/world';
import { switchtecTopology } from '../../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../../plugins';
import { TT, ttPlugin, ttState } from './tt-client';

const LEN = 32 * 1024;
/** Virtual time each run streams for. */
const WINDOW = 2e6;

interface Rig {
  world: World;
  h0: Host;
  /** host0's queues (senders). */
  tx: NtbTransportQp[];
  /** Frames received so far per queue on host1. */
  received(): number[];
}

async function waitUntil(world: World, cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 2000) throw new Error('condition not reached in virtual time');
    await world.runFor(10e6);
  }
}

async function rig(): Promise<Rig> {
  const world = await World.create(switchtecTopology({ profile: 'ideal' }), [...builtinPlugins(), ttPlugin]);
  const [h0, h1] = world.hosts;
  for (const h of world.hosts) await h.modprobe('ntb_transport', ['max_num_clients=2']);
  for (const h of world.hosts) await h.modprobe(TT, ['post=0']);
  let second = 0;
  const queues = async (h: Host, receiver: boolean): Promise<NtbTransportQp[]> =>
    h.run('queues', () => {
      const st = ttState(h);
      // QP0 is ntb_tt's (it reposts each buffer and logs each frame); QP1 counts and reposts.
      const qp1 = ntbTransportCreateQueue(null, st.dev!, {
        rxHandler: (qp, _d, data) => {
          second++;
          ntbTransportRxEnqueue(qp, data, data as Uint8Array, LEN);
        },
      })!;
      const qs = [st.qp!, qp1];
      for (const qp of qs) {
        for (let i = 0; receiver && i < 100; i++) {
          const b = new Uint8Array(LEN);
          ntbTransportRxEnqueue(qp, b, b, LEN);
        }
      }
      ntbTransportLinkUp(qp1);
      return qs;
    });
  const tx = await queues(h0, false);
  const rx = await queues(h1, true);
  await waitUntil(world, () => [...tx, ...rx].every((q) => q.linkIsUp));
  expect(tx.map((q) => q.qpNum)).to.deep.equal([0, 1]);
  expect(tx.map((q) => q.txMaxEntry)).to.deep.equal([15, 15], 'two queue pairs share the 2 MiB window: 1 MiB, 15 slots each');
  return { world, h0, tx, received: () => [ttState(h1).rx.length, second] };
}

/** Send on `qps` from one task until WINDOW has passed: each enqueue's copy is paid before the next. */
async function sender(k: Kernel, qps: NtbTransportQp[], until: number): Promise<void> {
  const data = new Uint8Array(LEN);
  while (k.sched.now < until) {
    for (const qp of qps) {
      try {
        ntbTransportTxEnqueue(qp, null, data, LEN);
      } catch (e) {
        if (!(e instanceof KernelError) || e.errno !== Errno.EAGAIN) throw e;
      }
      // Pay the CPU time of the copy (and wait a little when the ring was full).
      await k.sched.sleep(100);
    }
  }
}

/** Frames received per queue while the given senders run for WINDOW. */
async function stream(r: Rig, senders: NtbTransportQp[][]): Promise<number[]> {
  const before = r.received();
  const until = r.world.now + WINDOW;
  await Promise.all(senders.map((qps, i) => r.h0.run(`sender ${i}`, (k) => sender(k, qps, until))));
  await r.world.runFor(1e6);
  return r.received().map((n, i) => n - before[i]);
}

describe('clients/transport: two queue pairs ≈ 2× one when CPU-bound (spec timing.md shape check)', function () {
  this.timeout(60_000);

  it('two senders (two CPUs) on two queues move about twice the frames of one; one sender on both about as many as one queue', async () => {
    const r = await rig();
    const [one] = await stream(r, [[r.tx[0]]]);
    const two = await stream(r, [[r.tx[0]], [r.tx[1]]]);
    const shared = await stream(r, [[r.tx[0], r.tx[1]]]);
    expect(one).to.be.above(300, 'a 2 ms run of 32 KiB frames');
    const ratio = (two[0] + two[1]) / one;
    expect(ratio, `one queue ${one}, two queues ${two}`).to.be.within(1.8, 2.05);
    expect(two[1] / two[0]).to.be.within(0.9, 1.1);
    expect((shared[0] + shared[1]) / one, `one CPU on two queues: ${shared}`).to.be.within(0.9, 1.1);
  });
});
