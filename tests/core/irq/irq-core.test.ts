import 'reflect-metadata';
import { expect } from 'chai';
import sinon from 'sinon';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { IrqChip, IrqEvent } from '../../../core/irq/irq-core';
import { IRQF_SHARED, IrqDesc, IrqReturn } from '../../../core/irq/irqdesc';
import { FIRST_DEVICE_VECTOR, LAST_DEVICE_VECTOR, VectorMatrix } from '../../../core/irq/vector';
import { TraceRecord } from '../../../core/time/scheduler';
import { World } from '../../../core/world';
import { expectErrno, lines, linesSince } from '../../helpers/world';

interface Fixture {
  w: World;
  h: Host;
  chip: { startup: sinon.SinonSpy; shutdown: sinon.SinonSpy; setAffinity: sinon.SinonSpy };
  /** A routed irq: descriptor plus a way to raise it as its CPU would take it. */
  irq(hwirq?: number): { desc: IrqDesc; fire(): void };
}

async function boot(): Promise<Fixture> {
  const w = await World.create({ hosts: [{ name: 'h', cpus: 4 }] }, []);
  const h = w.host('h');
  const chip = { startup: sinon.spy(), shutdown: sinon.spy(), setAffinity: sinon.spy() };
  return {
    w,
    h,
    chip,
    irq: (hwirq = 7) => {
      const k = h.kernel;
      const desc = k.irq.allocDesc(hwirq, 'TEST', chip as IrqChip);
      const { cpu, vector } = k.irq.vectors.alloc(desc.irq, desc.affinity);
      desc.cpu = cpu;
      desc.vector = vector;
      return { desc, fire: () => h.platform.apics.deliver(desc.cpu, desc.vector) };
    },
  };
}

describe('core/irq: descriptors, handlers and /proc', () => {
  it('numbers dynamic irqs from 24, creates /proc/irq/N, and reuses the lowest freed number', async () => {
    const f = await boot();
    const a = f.irq();
    const b = f.irq();
    const c = f.irq();
    expect([a.desc.irq, b.desc.irq, c.desc.irq]).to.deep.equal([24, 25, 26]);
    expect(f.h.ls('/proc/irq/25')).to.deep.equal(['effective_affinity_list', 'smp_affinity', 'smp_affinity_list']);
    f.h.kernel.irq.freeDesc(c.desc);
    f.h.kernel.irq.freeDesc(a.desc);
    expect(f.h.exists('/proc/irq/24')).to.equal(false);
    expect(f.irq().desc.irq).to.equal(24);
    expect(f.irq().desc.irq).to.equal(26);
  });

  it('runs the handler when the CPU takes the irq\'s vector, counting per CPU', async () => {
    const f = await boot();
    const { desc, fire } = f.irq();
    const seen: Array<[number, unknown]> = [];
    f.h.kernel.irq.requestIrq(desc.irq, (irq, dev) => (seen.push([irq, dev]), IrqReturn.HANDLED), 0, 'mydev', 'cookie');
    fire();
    fire();
    expect(seen).to.deep.equal([[desc.irq, 'cookie'], [desc.irq, 'cookie']]);
    expect(desc.counts[desc.cpu]).to.equal(2);
    expect(desc.total).to.equal(2);
  });

  it('starts the chip up on the first request and shuts it down when the last handler is freed', async () => {
    const f = await boot();
    const { desc } = f.irq();
    const k = f.h.kernel;
    k.irq.requestIrq(desc.irq, () => IrqReturn.HANDLED, IRQF_SHARED, 'a', 'A');
    k.irq.requestIrq(desc.irq, () => IrqReturn.HANDLED, IRQF_SHARED, 'b', 'B');
    expect(f.chip.startup.callCount).to.equal(1);
    expect(desc.name).to.equal('a, b');
    k.irq.freeIrq(desc.irq, 'A');
    expect(f.chip.shutdown.callCount).to.equal(0);
    k.irq.freeIrq(desc.irq, 'B');
    expect(f.chip.shutdown.callCount).to.equal(1);
  });

  it('refuses a second non-shared handler with EBUSY, a shared one without dev_id with EINVAL', async () => {
    const f = await boot();
    const { desc } = f.irq();
    const k = f.h.kernel;
    k.irq.requestIrq(desc.irq, () => IrqReturn.HANDLED, 0, 'first', 1);
    await expectErrno(() => k.irq.requestIrq(desc.irq, () => IrqReturn.HANDLED, IRQF_SHARED, 'second', 2), Errno.EBUSY);
    await expectErrno(() => k.irq.requestIrq(desc.irq, () => IrqReturn.HANDLED, IRQF_SHARED, 'third', undefined), Errno.EINVAL);
    await expectErrno(() => k.irq.requestIrq(9999, () => IrqReturn.HANDLED, 0, 'x', 1), Errno.EINVAL);
    await expectErrno(() => k.irq.requestIrq(desc.irq, undefined as never, 0, 'x', 1), Errno.EINVAL);
  });

  it('refuses to free an irq with an unknown dev_id, and a descriptor that still has handlers', async () => {
    const f = await boot();
    const { desc } = f.irq();
    const k = f.h.kernel;
    k.irq.requestIrq(desc.irq, () => IrqReturn.HANDLED, 0, 'x', 'me');
    const e = await expectErrno(() => k.irq.freeIrq(desc.irq, 'someone else'), Errno.EINVAL);
    expect(e.message).to.match(/Trying to free already-free IRQ/);
    await expectErrno(() => k.irq.freeDesc(desc), Errno.EBUSY);
  });

  it('counts a disabled irq as spurious without running its handler, until enable_irq', async () => {
    const f = await boot();
    const { desc, fire } = f.irq();
    const k = f.h.kernel;
    let runs = 0;
    k.irq.requestIrq(desc.irq, () => (runs++, IrqReturn.HANDLED), 0, 'x', 1);
    k.irq.disableIrq(desc.irq);
    k.irq.disableIrq(desc.irq);
    fire();
    k.irq.enableIrq(desc.irq);
    fire();
    expect(runs).to.equal(0);
    expect(desc.spurious).to.equal(2);
    k.irq.enableIrq(desc.irq);
    fire();
    expect(runs).to.equal(1);
  });

  it('logs a vector no irq owns', async () => {
    const f = await boot();
    const mark = lines(f.h).length;
    f.h.platform.apics.deliver(1, 0xc8);
    expect(linesSince(f.h, mark)).to.deep.equal(['do_IRQ: 1.200 No irq handler for vector']);
    f.h.platform.apics.deliver(9, 0x30);
    expect(f.h.platform.apics.spurious).to.equal(1);
  });

  it('runs a threaded handler in process context, once more for wake-ups during a run, never concurrently', async () => {
    const f = await boot();
    const { desc, fire } = f.irq();
    const k = f.h.kernel;
    const log: string[] = [];
    k.irq.requestThreadedIrq(
      desc.irq,
      () => (log.push(`hard@${k.now}`), IrqReturn.WAKE_THREAD),
      async () => {
        log.push(`thread+@${k.now}`);
        await k.usleepRange(10);
        log.push(`thread-@${k.now}`);
        return IrqReturn.HANDLED;
      },
      0,
      'thr',
      1,
    );
    f.w.sched.at(f.w.now + 100, () => {
      fire();
      fire();
      fire();
    });
    await f.w.runFor(100_000);
    expect(log).to.deep.equal(['hard@100', 'thread+@100', 'hard@100', 'hard@100', 'thread-@10100', 'thread+@10100', 'thread-@20100']);
    f.w.sched.at(f.w.now + 1, () => fire());
    await f.w.runFor(100_000);
    expect(log.slice(7)).to.have.length(3);
  });

  it('runs the thread function alone when there is no hard handler', async () => {
    const f = await boot();
    const { desc, fire } = f.irq();
    let runs = 0;
    f.h.kernel.irq.requestThreadedIrq(desc.irq, undefined, () => (runs++, IrqReturn.HANDLED), 0, 'only-thread', 1);
    fire();
    await f.w.runFor(1000);
    expect(runs).to.equal(1);
  });

  it('streams irq events and trace records as handlers run', async () => {
    const f = await boot();
    const { desc, fire } = f.irq();
    f.h.kernel.irq.requestIrq(desc.irq, () => IrqReturn.HANDLED, 0, 'streamed', 1);
    const events: IrqEvent[] = [];
    const traces: TraceRecord[] = [];
    f.h.kernel.irq.irq$.subscribe((e) => events.push(e));
    f.w.sched.trace$.subscribe((r) => traces.push(r));
    fire();
    expect(events).to.deep.equal([{ time: f.w.now, irq: desc.irq, cpu: desc.cpu, name: 'streamed' }]);
    expect(traces).to.deep.equal([{ time: f.w.now, host: 'h', kind: 'irq', detail: `${desc.irq} cpu${desc.cpu} streamed` }]);
  });

  it('formats /proc/interrupts like Linux, listing only irqs with handlers', async () => {
    const f = await boot();
    const a = f.irq(524288);
    f.irq(99); // no handler: not listed
    f.h.kernel.irq.requestIrq(a.desc.irq, () => IrqReturn.HANDLED, 0, 'edu', 1);
    a.fire();
    expect(await f.h.read('/proc/interrupts')).to.equal(
      '           CPU0       CPU1       CPU2       CPU3\n' +
        ' 24:          1          0          0          0      TEST 524288-edge      edu\n',
    );
  });

  it('asks the chip to move the irq on an affinity change and records the new mask', async () => {
    const f = await boot();
    const { desc } = f.irq();
    await f.h.write(`/proc/irq/${desc.irq}/smp_affinity_list`, '1,3\n');
    expect(f.chip.setAffinity.calledOnce).to.equal(true);
    expect([...f.chip.setAffinity.firstCall.args[1]].sort()).to.deep.equal([1, 3]);
    expect(await f.h.read(`/proc/irq/${desc.irq}/smp_affinity`)).to.equal('a\n');
  });

  describe('vector matrix', () => {
    it('spreads vectors over the least-loaded allowed CPUs, lowest vector first', () => {
      const m = new VectorMatrix(3);
      const all = new Set([0, 1, 2]);
      expect([1, 2, 3, 4].map((irq) => m.alloc(irq, all))).to.deep.equal([
        { cpu: 0, vector: FIRST_DEVICE_VECTOR },
        { cpu: 1, vector: FIRST_DEVICE_VECTOR },
        { cpu: 2, vector: FIRST_DEVICE_VECTOR },
        { cpu: 0, vector: FIRST_DEVICE_VECTOR + 1 },
      ]);
      expect(m.alloc(5, new Set([2]))).to.deep.equal({ cpu: 2, vector: FIRST_DEVICE_VECTOR + 1 });
      expect(m.lookup(0, FIRST_DEVICE_VECTOR + 1)).to.equal(4);
      m.free(0, FIRST_DEVICE_VECTOR + 1);
      expect(m.lookup(0, FIRST_DEVICE_VECTOR + 1)).to.equal(undefined);
    });

    it('never hands out the syscall vector 0x80 and fails with ENOSPC when a CPU is full', async () => {
      const m = new VectorMatrix(1);
      const got: number[] = [];
      for (;;) {
        try {
          got.push(m.alloc(got.length, new Set([0])).vector);
        } catch (e) {
          await expectErrno(() => {
            throw e;
          }, Errno.ENOSPC);
          break;
        }
      }
      expect(got).to.not.include(0x80);
      expect(got).to.have.length(LAST_DEVICE_VECTOR - FIRST_DEVICE_VECTOR);
      expect(Math.max(...got)).to.equal(LAST_DEVICE_VECTOR);
    });
  });
});
