import 'reflect-metadata';
import { expect } from 'chai';
import { Host } from '../../../core/host';
import { World } from '../../../core/world';
import { msecs } from '../../../core/time/units';

async function boot(): Promise<{ world: World; host: Host }> {
  const world = await World.create({ hosts: [{ name: 'h', hz: 250 }] }, []);
  return { world, host: world.host('h') };
}

describe('core/time/workqueue', () => {
  it('queue_work on a pending work is a no-op returning false, and the work runs once', async () => {
    const { world, host } = await boot();
    const k = host.kernel;
    let runs = 0;
    const w = k.work('w', () => void runs++);
    expect(k.scheduleWork(w)).to.equal(true);
    expect(w.pending).to.equal(true);
    expect(k.scheduleWork(w)).to.equal(false);
    expect(k.scheduleWork(w)).to.equal(false);
    await world.runFor(msecs(1));
    expect(runs).to.equal(1);
    expect(w.pending).to.equal(false);
  });

  it('a work queued again while it runs runs a second time', async () => {
    const { world, host } = await boot();
    const k = host.kernel;
    let runs = 0;
    const w = k.work('w', async () => {
      runs++;
      if (runs === 1) {
        expect(k.scheduleWork(w)).to.equal(true);
        await k.msleep(1);
      }
    });
    k.scheduleWork(w);
    await world.runFor(msecs(50));
    expect(runs).to.equal(2);
  });

  it('runs delayed work after its delay in jiffies, not before', async () => {
    const { world, host } = await boot();
    const k = host.kernel;
    let ranAt = -1;
    const dw = k.delayedWork('dw', () => void (ranAt = k.now));
    expect(k.scheduleDelayedWork(dw, 5)).to.equal(true);
    expect(k.scheduleDelayedWork(dw, 1)).to.equal(false);
    await world.runFor(msecs(19));
    expect(ranAt).to.equal(-1);
    await world.runFor(msecs(5));
    expect(ranAt).to.equal(msecs(20));
  });

  it('cancel_delayed_work_sync on a pending delayed work stops it and returns true; on an idle one returns false', async () => {
    const { world, host } = await boot();
    const k = host.kernel;
    let runs = 0;
    const dw = k.delayedWork('dw', () => void runs++);
    k.scheduleDelayedWork(dw, 3);
    expect(await host.run('cancel', () => k.systemWq.cancelWorkSync(dw))).to.equal(true);
    expect(await host.run('cancel', () => k.systemWq.cancelWorkSync(dw))).to.equal(false);
    await world.runFor(msecs(100));
    expect(runs).to.equal(0);
  });

  it('cancel_work_sync waits for a running work to finish', async () => {
    const { world, host } = await boot();
    const k = host.kernel;
    let finishedAt = -1;
    const w = k.work('slow', async () => {
      await k.msleep(20);
      finishedAt = k.now;
    });
    k.scheduleWork(w);
    await world.runFor(msecs(1));
    const [was, returnedAt] = await host.run('cancel', async () => [await k.systemWq.cancelWorkSync(w), k.now] as const);
    expect(was).to.equal(false);
    expect(finishedAt).to.be.above(0);
    expect(returnedAt).to.equal(finishedAt);
  });

  it('flush_workqueue waits until every queued item has run', async () => {
    const { host } = await boot();
    const k = host.kernel;
    const wq = k.allocWorkqueue('test_wq');
    const done: string[] = [];
    const result = await host.run('flush', async () => {
      for (const [name, ms] of [['a', 30], ['b', 10], ['c', 20]] as const) {
        wq.queueWork(k.work(name, async () => {
          await k.msleep(ms);
          done.push(name);
        }));
      }
      await wq.flush();
      return [...done];
    });
    expect(result).to.have.members(['a', 'b', 'c']);
  });

  it('flush_workqueue returns when the only queued work is cancelled before it runs', async () => {
    const { host } = await boot();
    const k = host.kernel;
    const wq = k.allocWorkqueue('test_wq');
    let runs = 0;
    const w = k.work('w', () => void runs++);
    await host.run('flush-vs-cancel', async () => {
      wq.queueWork(w);
      const flusher = k.sched.spawn('flusher', () => wq.flush());
      expect(wq.cancelPending(w)).to.equal(true);
      await k.sched.join(flusher);
    });
    expect(runs).to.equal(0);
  });

  it('an ordered workqueue runs one item at a time, in queueing order', async () => {
    const { world, host } = await boot();
    const k = host.kernel;
    const wq = k.allocWorkqueue('ordered', 1);
    const log: string[] = [];
    for (const name of ['x', 'y', 'z']) {
      wq.queueWork(k.work(name, async () => {
        log.push(`${name}+`);
        await k.msleep(5);
        log.push(`${name}-`);
      }));
    }
    await world.runFor(msecs(100));
    expect(log).to.deep.equal(['x+', 'x-', 'y+', 'y-', 'z+', 'z-']);
  });

  it('an unordered workqueue runs queued items concurrently', async () => {
    const { world, host } = await boot();
    const k = host.kernel;
    const log: string[] = [];
    for (const name of ['x', 'y']) {
      k.scheduleWork(k.work(name, async () => {
        log.push(`${name}+`);
        await k.msleep(5);
        log.push(`${name}-`);
      }));
    }
    await world.runFor(msecs(100));
    expect(log).to.deep.equal(['x+', 'y+', 'x-', 'y-']);
  });

  it('reports a work function that throws as a kernel WARNING and keeps the queue running', async () => {
    const { world, host } = await boot();
    const k = host.kernel;
    let after = 0;
    k.scheduleWork(k.work('bad', () => {
      throw new Error('boom');
    }));
    k.scheduleWork(k.work('good', () => void after++));
    await world.runFor(msecs(1));
    expect(host.printk.lines().some((l) => l.startsWith('WARNING: workqueue events: bad: Error: boom'))).to.equal(true);
    expect(k.bugs).to.have.length(1);
    expect(after).to.equal(1);
  });
});
