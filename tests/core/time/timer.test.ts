import 'reflect-metadata';
import { expect } from 'chai';
import { Host } from '../../../core/host';
import { World } from '../../../core/world';
import { msecs, NSEC_PER_MSEC, usecs } from '../../../core/time/units';

async function hostWithHz(hz: number): Promise<{ world: World; host: Host }> {
  const world = await World.create({ hosts: [{ name: 'h', hz }] }, []);
  return { world, host: world.host('h') };
}

describe('core/time: jiffies, sleeps and timers', () => {
  it('msleep(10) at HZ=250 sleeps msecs_to_jiffies(10)+1 = 4 jiffies = 16 ms of virtual time', async () => {
    const { host } = await hostWithHz(250);
    const slept = await host.run('msleep', async (k) => {
      const t0 = k.now;
      await k.msleep(10);
      return k.now - t0;
    });
    expect(slept).to.equal(msecs(16));
  });

  it('msleep(10) at HZ=1000 sleeps 11 ms, and msleep(0) still sleeps one jiffy', async () => {
    const { host } = await hostWithHz(1000);
    const [a, b] = await host.run('msleep', async (k) => {
      let t0 = k.now;
      await k.msleep(10);
      const a = k.now - t0;
      t0 = k.now;
      await k.msleep(0);
      return [a, k.now - t0];
    });
    expect(a).to.equal(msecs(11));
    expect(b).to.equal(msecs(1));
  });

  it('usleep_range and udelay are not rounded to jiffies', async () => {
    const { host } = await hostWithHz(100);
    const [a, b] = await host.run('usleep', async (k) => {
      let t0 = k.now;
      await k.usleepRange(3, 10);
      const a = k.now - t0;
      t0 = k.now;
      await k.udelay(7);
      return [a, k.now - t0];
    });
    expect(a).to.equal(usecs(3));
    expect(b).to.equal(usecs(7));
  });

  it('a long msleep costs virtual time only', async () => {
    const { host, world } = await hostWithHz(250);
    const wall = Date.now();
    await host.run('long', (k) => k.msleep(600_000));
    expect(world.now).to.be.at.least(msecs(600_000));
    expect(Date.now() - wall).to.be.below(2000);
  });

  it('jiffies count HZ ticks per virtual second and convert ms rounding up', async () => {
    const { world, host } = await hostWithHz(250);
    const j = host.kernel.jiffies;
    await world.runFor(msecs(1000) - world.now);
    expect(j.now).to.equal(250);
    expect(j.msecsToJiffies(1)).to.equal(1);
    expect(j.msecsToJiffies(4)).to.equal(1);
    expect(j.msecsToJiffies(5)).to.equal(2);
    expect(j.jiffiesToMsecs(3)).to.equal(12);
  });

  it('fires a timer on the jiffy boundary it was armed for, not delta jiffies after the call', async () => {
    const { world, host } = await hostWithHz(250); // 4 ms ticks
    const k = host.kernel;
    await world.runFor(msecs(1)); // mid-jiffy 0
    const t0Jiffy = k.jiffies.now;
    let firedAt = -1;
    const timer = k.timer(() => (firedAt = k.now));
    expect(timer.modIn(3)).to.equal(false);
    expect(timer.pending).to.equal(true);
    expect(timer.expires).to.equal(t0Jiffy + 3);
    await world.runFor(msecs(20));
    expect(firedAt).to.equal((t0Jiffy + 3) * 4 * NSEC_PER_MSEC);
    expect(timer.pending).to.equal(false);
  });

  it('mod_timer on a pending timer re-arms it (returning true) and del_timer stops it', async () => {
    const { world, host } = await hostWithHz(250);
    const k = host.kernel;
    const fired: number[] = [];
    const timer = k.timer(() => fired.push(k.jiffies.now));
    timer.modIn(2);
    expect(timer.modIn(5)).to.equal(true);
    await world.runFor(msecs(40));
    expect(fired).to.have.length(1);
    expect(fired[0]).to.be.within(5, 6);
    timer.modIn(2);
    expect(timer.del()).to.equal(true);
    expect(timer.del()).to.equal(false);
    await world.runFor(msecs(40));
    expect(fired).to.have.length(1);
  });
});
