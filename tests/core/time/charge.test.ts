import { expect } from 'chai';
import { Scheduler } from '../../../core/time/scheduler';
import { usecs } from '../../../core/time/units';

describe('core/time: CPU time charged to event handlers', () => {
  it('delays what a handler causes by the time it has been charged, along the chain', async () => {
    const s = new Scheduler();
    const seen: Array<[string, number]> = [];
    s.at(usecs(10), () => {
      s.charge(usecs(5)); // e.g. an MMIO read round trip
      expect(s.cpuNow).to.equal(usecs(15));
      expect(s.now).to.equal(usecs(10), 'the clock itself does not jump');
      s.after(usecs(1), () => {
        seen.push(['posted write lands', s.now]);
        s.charge(usecs(2));
        s.after(0, () => seen.push(['tasklet runs', s.now]));
      });
      s.at(usecs(12), () => seen.push(['absolute time before the work ends', s.now]));
      s.at(usecs(30), () => seen.push(['absolute time after it', s.now]));
    });
    await s.runUntilIdle();
    expect(seen).to.deep.equal([
      ['absolute time before the work ends', usecs(15)],
      ['posted write lands', usecs(16)],
      ['tasklet runs', usecs(18)],
      ['absolute time after it', usecs(30)],
    ]);
  });

  it('starts every event with a clean slate; a task pays its charges at its next wait; outside the world they are dropped', async () => {
    const s = new Scheduler();
    const seen: number[] = [];
    s.charge(usecs(100));
    s.at(usecs(1), () => s.charge(usecs(50)));
    s.at(usecs(2), () => {
      expect(s.pendingCharge).to.equal(0);
      s.after(0, () => seen.push(s.now));
    });
    await s.runTask('task', async () => {
      s.charge(usecs(7)); // e.g. MMIO reads in a probe
      expect(s.cpuNow - s.now).to.equal(usecs(7), 'seen by the task until it pays');
      await s.sleep(usecs(3));
      seen.push(s.now);
    });
    await s.runUntilIdle();
    expect(seen).to.deep.equal([usecs(2), usecs(10)]);
  });

  it('runs a task that a busy handler wakes or starts only after the handler`s CPU time', async () => {
    const s = new Scheduler();
    const seen: Array<[string, number]> = [];
    let wakeIt: (() => void) | undefined;
    s.spawn('waiter', async () => {
      await s.block<void>((wake) => (wakeIt = wake));
      seen.push(['woken task runs', s.now]);
    });
    s.at(usecs(10), () => {
      s.charge(usecs(4));
      wakeIt!();
      s.spawn('started', async () => {
        seen.push(['started task runs', s.now]);
        s.charge(usecs(3)); // paid before its sleep starts
        await s.sleep(usecs(1));
        seen.push(['after its sleep', s.now]);
      });
    });
    await s.runUntilIdle();
    expect(seen).to.deep.equal([
      ['woken task runs', usecs(14)],
      ['started task runs', usecs(14)],
      ['after its sleep', usecs(18)],
    ]);
  });
});

