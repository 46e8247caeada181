import 'reflect-metadata';
import { expect } from 'chai';
import fc from 'fast-check';
import { Errno, KernelError } from '../../../core/errno';
import { EventHeap } from '../../../core/time/event-heap';
import { Scheduler, TraceRecord } from '../../../core/time/scheduler';
import { msecs, secs } from '../../../core/time/units';
import { World } from '../../../core/world';
import { testdevPlugin } from '../../../drivers/testdev';
import { eduDebugfs, expectErrno } from '../../helpers/world';

describe('core/time/scheduler', () => {
  describe('event ordering', () => {
    it('runs events in time order, and events at equal time in the order they were scheduled', async () => {
      const s = new Scheduler();
      const log: string[] = [];
      s.at(100, () => log.push('a@100'));
      s.at(50, () => log.push('b@50'));
      s.at(100, () => log.push('c@100'));
      s.after(100, () => log.push('d@100'));
      s.at(0, () => log.push('e@0'));
      await s.runUntil(1000);
      expect(log).to.deep.equal(['e@0', 'b@50', 'a@100', 'c@100', 'd@100']);
      expect(s.now).to.equal(1000);
      expect(s.eventsExecuted).to.equal(5);
    });

    it('runs an event scheduled from an event at the same time after the ones already queued for that time', async () => {
      const s = new Scheduler();
      const log: string[] = [];
      s.at(10, () => {
        log.push('first');
        s.after(0, () => log.push('nested'));
      });
      s.at(10, () => log.push('second'));
      await s.runUntil(10);
      expect(log).to.deep.equal(['first', 'second', 'nested']);
    });

    it('clamps an event scheduled in the past to the current time', async () => {
      const s = new Scheduler();
      await s.runUntil(500);
      let ranAt = -1;
      const h = s.at(100, () => (ranAt = s.now));
      expect(h.time).to.equal(500);
      await s.runFor(0);
      expect(ranAt).to.equal(500);
    });

    it('skips a cancelled event', async () => {
      const s = new Scheduler();
      const log: number[] = [];
      s.at(10, () => log.push(10));
      const h = s.at(20, () => log.push(20));
      s.at(30, () => log.push(30));
      h.cancel();
      await s.runUntil(100);
      expect(log).to.deep.equal([10, 30]);
    });

    it('runUntil stops at its target, leaving later events pending', async () => {
      const s = new Scheduler();
      const log: number[] = [];
      s.at(10, () => log.push(10));
      s.at(20, () => log.push(20));
      s.at(21, () => log.push(21));
      await s.runUntil(20);
      expect(log).to.deep.equal([10, 20]);
      expect(s.now).to.equal(20);
      expect(s.pendingEvents).to.equal(1);
    });

    it('refuses to run the world from inside the running world', async () => {
      const s = new Scheduler();
      let err: unknown;
      s.at(5, () => {
        s.runUntil(10).catch((e) => (err = e));
      });
      await s.runUntil(20);
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.match(/already running/);
    });

    it('pops random events in (time, scheduling order) order (property)', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
          const heap = new EventHeap();
          times.forEach((time, seq) => heap.push({ time, seq, fn: () => undefined, cancelled: false }));
          const popped: Array<[number, number]> = [];
          for (let ev = heap.pop(); ev; ev = heap.pop()) popped.push([ev.time, ev.seq]);
          const expected = times.map((t, i): [number, number] => [t, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
          expect(popped).to.deep.equal(expected);
        }),
      );
    });

    it('keeps (time, scheduling order) order when pushes and pops interleave as the scheduler does them (property)', () => {
      // Delays mix zero (tasklets), sub-millisecond, and several-millisecond (far bucket) distances.
      const delay = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 8 * 2 ** 20 }));
      const op = fc.oneof(fc.record({ push: delay }), fc.record({ pop: fc.constant(true) }));
      fc.assert(
        fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
          const heap = new EventHeap();
          const model: Array<{ time: number; seq: number }> = [];
          let now = 0;
          let seq = 0;
          const popBoth = () => {
            const ev = heap.pop();
            model.sort((a, b) => a.time - b.time || a.seq - b.seq);
            const want = model.shift();
            expect(ev && { time: ev.time, seq: ev.seq }).to.deep.equal(want);
            if (ev) now = ev.time;
          };
          for (const o of ops) {
            if ('push' in o) {
              const ev = { time: now + o.push, seq: seq++, fn: () => undefined, cancelled: false };
              heap.push(ev);
              model.push({ time: ev.time, seq: ev.seq });
            } else popBoth();
          }
          while (model.length > 0) popBoth();
          expect(heap.pop()).to.equal(undefined);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('tasks', () => {
    it('sleep advances only virtual time: an hour of sleeping costs no wall-clock time', async () => {
      const s = new Scheduler();
      const wallStart = Date.now();
      const t = await s.runTask('sleeper', async () => {
        await s.sleep(secs(3000));
        return s.now;
      });
      expect(t).to.equal(secs(3000));
      expect(Date.now() - wallStart).to.be.below(2000);
    });

    it('interleaves tasks sleeping for the same time in the order they were started', async () => {
      const s = new Scheduler();
      const log: string[] = [];
      const mk = (name: string) => async () => {
        for (let i = 0; i < 3; i++) {
          await s.sleep(msecs(1));
          log.push(`${name}${i}@${s.now / 1e6}`);
        }
      };
      await s.runTask('both', async () => {
        const a = s.spawn('a', mk('a'));
        const b = s.spawn('b', mk('b'));
        await s.join(a);
        await s.join(b);
      });
      expect(log).to.deep.equal(['a0@1', 'b0@1', 'a1@2', 'b1@2', 'a2@3', 'b2@3']);
    });

    it('join returns another task\'s result and rethrows its error', async () => {
      const s = new Scheduler();
      const r = await s.runTask('joiner', async () => {
        const ok = s.spawn('ok', async () => {
          await s.sleep(10);
          return 42;
        });
        const bad = s.spawn('bad', async () => {
          await s.sleep(5);
          throw new KernelError(Errno.EIO, 'boom');
        });
        const v = await s.join(ok);
        try {
          await s.join(bad);
          return -1;
        } catch (e) {
          return (e as KernelError).errno === Errno.EIO ? v : -2;
        }
      });
      expect(r).to.equal(42);
    });

    it('reports a task that waits on nothing as a deadlock (KernelError EINVAL naming the task)', async () => {
      const s = new Scheduler();
      const err = await expectErrno(
        s.runTask('stuck-task', () => s.block<void>(() => undefined)),
        Errno.EINVAL,
      );
      expect(err.message).to.match(/deadlock: no event can wake task\(s\) stuck-task/);
    });

    it('keeps working after a deadlock was reported: a later task runs to completion', async () => {
      const s = new Scheduler();
      await expectErrno(s.runTask('stuck', () => s.block<void>(() => undefined)), Errno.EINVAL);
      const v = await s.runTask('later', async () => {
        await s.sleep(100);
        return 'done';
      });
      expect(v).to.equal('done');
      expect(s.now).to.equal(100);
    });

    it('fails a task still blocked when its virtual time limit runs out with ETIMEDOUT', async () => {
      const s = new Scheduler();
      const err = await expectErrno(
        s.runTask('slow', () => s.sleep(secs(10)), secs(1)),
        Errno.ETIMEDOUT,
      );
      expect(err.message).to.match(/slow/);
      // The stuck task does not block the next caller.
      expect(await s.runTask('next', () => 7)).to.equal(7);
    });

    it('detects a task awaiting something other than a kernel primitive (a wall-clock timer)', async () => {
      const s = new Scheduler();
      let err: unknown;
      try {
        await s.runTask('naughty', () => new Promise<void>((r) => setTimeout(r, 5)));
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.match(/waiting on something other than a kernel primitive/);
    });

    it('does not render trace details nobody listens to', () => {
      const s = new Scheduler();
      let rendered = 0;
      s.trace('h', 'k', () => String(++rendered));
      expect(rendered).to.equal(0);
      const got: TraceRecord[] = [];
      const sub = s.trace$.subscribe((r) => got.push(r));
      s.trace('h', 'k', () => String(++rendered));
      sub.unsubscribe();
      expect(rendered).to.equal(1);
      expect(got).to.deep.equal([{ time: 0, host: 'h', kind: 'k', detail: '1' }]);
    });
  });

  describe('determinism of a whole world', () => {
    /** Boot a world, drive edu interrupts, DMA, a DMA fault and seed-dependent sleeps; return its trace. */
    async function traceOf(seed: number): Promise<string[]> {
      const world = new World(
        { seed, hosts: [{ name: 'host0' }, { name: 'host1', iommu: false, intremap: false }], hardware: [{ type: 'edu', options: { msixVectors: 4 } }] },
        [testdevPlugin],
      );
      const records: TraceRecord[] = [];
      world.sched.trace$.subscribe((r) => records.push(r));
      await world.boot();
      for (const h of world.hosts) {
        await h.modprobe('edu', ['nvec=4']);
        for (const v of ['0', '3', '1']) await h.write(eduDebugfs(h, 'raise'), `${v}\n`);
        await h.write(eduDebugfs(h, 'dma_buf'), 'determinism');
        await h.write(eduDebugfs(h, 'dma'), 'from_ram');
        await h.write(eduDebugfs(h, 'dma'), 'to_ram');
        await h.run('jitter', async (k) => {
          for (let i = 0; i < 4; i++) {
            await k.sched.sleep(k.prng.int(1, 10_000));
            k.printk.info(`jitter ${i} at ${k.now}`);
          }
        });
      }
      await world.host('host0').write(eduDebugfs(world.host('host0'), 'dma'), 'to_ram 0x2000');
      await world.runFor(msecs(5));
      return records.map((r) => JSON.stringify(r));
    }

    it('produces byte-identical trace records for two worlds with the same seed and inputs', async () => {
      const a = await traceOf(7);
      const b = await traceOf(7);
      expect(a.length).to.be.above(40);
      expect(a.some((r) => r.includes('"kind":"irq"'))).to.equal(true);
      expect(a.some((r) => r.includes('fault addr 0x2000'))).to.equal(true);
      expect(a.join('\n')).to.equal(b.join('\n'));
    });

    it('changes seed-dependent timing when only the seed changes', async () => {
      const a = await traceOf(7);
      const c = await traceOf(8);
      const jitter = (t: string[]) => t.filter((r) => r.includes('jitter'));
      expect(jitter(a)).to.have.length(8);
      expect(jitter(a)).to.not.deep.equal(jitter(c));
    });
  });
});
