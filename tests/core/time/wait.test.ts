import 'reflect-metadata';
import { expect } from 'chai';
import { Scheduler } from '../../../core/time/scheduler';
import { msecs } from '../../../core/time/units';
import { Completion, Mutex, WaitQueue } from '../../../core/time/wait';

describe('core/time/wait: completions, wait queues, mutexes', () => {
  it('wait_for_completion_timeout returns false after exactly the timeout when nobody completes', async () => {
    const s = new Scheduler();
    const c = new Completion(s);
    const [ok, t] = await s.runTask('w', async () => [await c.waitTimeout(msecs(50)), s.now] as const);
    expect(ok).to.equal(false);
    expect(t).to.equal(msecs(50));
  });

  it('wait_for_completion_timeout returns true at the moment complete() is called', async () => {
    const s = new Scheduler();
    const c = new Completion(s);
    s.after(msecs(7), () => c.complete());
    const [ok, t] = await s.runTask('w', async () => [await c.waitTimeout(msecs(50)), s.now] as const);
    expect(ok).to.equal(true);
    expect(t).to.equal(msecs(7));
    // The cancelled timeout leaves nothing behind that could wake a later waiter.
    const [again] = await s.runTask('w2', async () => [await c.waitTimeout(msecs(10))] as const);
    expect(again).to.equal(false);
  });

  it('counts complete() calls made before anyone waits', async () => {
    const s = new Scheduler();
    const c = new Completion(s);
    c.complete();
    c.complete();
    const r = await s.runTask('w', async () => [await c.waitTimeout(1), await c.waitTimeout(1), await c.waitTimeout(1)]);
    expect(r).to.deep.equal([true, true, false]);
  });

  it('complete() wakes one waiter, complete_all() wakes all and stays done until reinit', async () => {
    const s = new Scheduler();
    const c = new Completion(s);
    const woke: string[] = [];
    await s.runTask('main', async () => {
      const ws = ['a', 'b', 'c'].map((n) => s.spawn(n, async () => {
        await c.wait();
        woke.push(`${n}@${s.now}`);
      }));
      s.after(10, () => c.complete());
      s.after(20, () => c.completeAll());
      for (const w of ws) await s.join(w);
    });
    expect(woke).to.deep.equal(['a@10', 'b@20', 'c@20']);
    expect(c.isDone).to.equal(true);
    expect(await s.runTask('x', () => c.waitTimeout(5))).to.equal(true);
    c.reinit();
    expect(c.isDone).to.equal(false);
    expect(await s.runTask('y', () => c.waitTimeout(5))).to.equal(false);
  });

  it('wait_event sleeps through wake-ups whose condition is still false', async () => {
    const s = new Scheduler();
    const wq = new WaitQueue(s);
    let flag = 0;
    s.after(10, () => wq.wakeUp()); // spurious
    s.after(20, () => {
      flag = 1;
      wq.wakeUp();
    });
    const t = await s.runTask('w', async () => {
      await wq.waitEvent(() => flag === 1);
      return s.now;
    });
    expect(t).to.equal(20);
  });

  it('wait_event_timeout returns false at the deadline and true when the condition already holds', async () => {
    const s = new Scheduler();
    const wq = new WaitQueue(s);
    const [a, ta] = await s.runTask('w', async () => [await wq.waitEventTimeout(() => false, 100), s.now] as const);
    expect(a).to.equal(false);
    expect(ta).to.equal(100);
    const [b, tb] = await s.runTask('w', async () => [await wq.waitEventTimeout(() => true, 100), s.now] as const);
    expect(b).to.equal(true);
    expect(tb).to.equal(100);
  });

  it('a mutex hands over to waiters in FIFO order', async () => {
    const s = new Scheduler();
    const m = new Mutex(s);
    const log: string[] = [];
    await s.runTask('main', async () => {
      const ts = ['a', 'b', 'c'].map((n) => s.spawn(n, () => m.with(async () => {
        log.push(`${n}+${s.now}`);
        await s.sleep(10);
        log.push(`${n}-${s.now}`);
      })));
      for (const t of ts) await s.join(t);
    });
    expect(log).to.deep.equal(['a+0', 'a-10', 'b+10', 'b-20', 'c+20', 'c-30']);
    expect(m.isLocked).to.equal(false);
    expect(m.tryLock()).to.equal(true);
    expect(m.tryLock()).to.equal(false);
  });
});
