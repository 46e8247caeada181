import 'reflect-metadata';
import { expect } from 'chai';
import { Errno, isKernelError } from '../../../core/errno';
import { msecs, secs } from '../../../core/time/units';
import { World } from '../../../core/world';
import { WorldDriver } from '../../../tools/fuse/driver';
import { parseModprobeArgs, parseRmmodArgs } from '../../../tools/fuse/kmod';
import { eduWorld } from '../../helpers/world';

const wallMs = () => Number(process.hrtime.bigint() / 1_000_000n);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('tools/fuse: the driver loop of a mounted world (real-time pacing)', function () {
  this.timeout(20_000);
  let world: World;
  let driver: WorldDriver;
  const warnings: string[] = [];

  beforeEach(async () => {
    world = await eduWorld();
    warnings.length = 0;
  });

  afterEach(async () => {
    await driver?.stop();
  });

  it('keeps virtual time up with the wall while idle', async () => {
    driver = new WorldDriver(world);
    const v0 = world.now;
    const w0 = wallMs();
    driver.start();
    await pause(300);
    const [v, w] = [world.now - v0, wallMs() - w0];
    expect(v).to.be.at.least(msecs(250));
    expect(v).to.be.at.most(msecs(w + 50));
  });

  it('runs ahead while a call blocks: 30 s of virtual sleep answer in well under a second, and the clock never goes back', async () => {
    driver = new WorldDriver(world);
    driver.start();
    const host = world.hosts[0];
    const v0 = world.now;
    const w0 = wallMs();
    await driver.submit(host, 'sleep', (k) => k.sched.sleep(secs(30)));
    expect(wallMs() - w0).to.be.below(1000);
    const after = world.now;
    expect(after - v0).to.be.at.least(secs(30));
    await pause(100);
    expect(world.now).to.be.at.least(after + msecs(80));
  });

  it('serves other calls while one is blocked, and lets a later call wake it', async () => {
    driver = new WorldDriver(world);
    driver.start();
    const host = world.hosts[0];
    let wake: (() => void) | undefined;
    let done = false;
    const blocked = driver
      .submit(host, 'wait', (k) => k.sched.block<void>((w) => (wake = () => w())))
      .then(() => (done = true));
    await pause(50);
    expect(done).to.equal(false);
    expect(await driver.submit(host, 'plain', () => 42)).to.equal(42);
    expect(done).to.equal(false);
    await driver.submit(host, 'waker', () => wake!());
    await blocked;
    expect(done).to.equal(true);
  });

  it('fails a call blocked past the limit with ETIMEDOUT, and calls still blocked at stop() with EINTR', async () => {
    const host = world.hosts[0];
    driver = new WorldDriver(world, { blockLimit: secs(2), warn: (l) => warnings.push(l) });
    driver.start();
    // Something pending in the world (a periodic timer) makes the clock run ahead to the limit.
    let ticks = 0;
    const tick = () => {
      ticks++;
      world.sched.after(msecs(100), tick);
    };
    world.sched.after(msecs(100), tick);
    const err = await driver.submit(host, 'forever', (k) => k.sched.block<void>(() => undefined)).catch((e) => e);
    expect(isKernelError(err, Errno.ETIMEDOUT), String(err)).to.equal(true);
    expect(warnings.join('\n')).to.include('host0/forever: still blocked after 2 s of virtual time');
    expect(ticks).to.be.at.least(20);
    await driver.stop();

    driver = new WorldDriver(world);
    driver.start();
    const pending = driver.submit(host, 'forever2', (k) => k.sched.block<void>(() => undefined)).catch((e) => e);
    await pause(20);
    await driver.stop();
    const perr = await pending;
    expect(isKernelError(perr, Errno.EINTR), String(perr)).to.equal(true);
    const late = await driver.submit(host, 'late', () => 1).catch((e) => e);
    expect(isKernelError(late, Errno.ENOTCONN), String(late)).to.equal(true);
  });
});

describe('tools/fuse: kmod command lines', () => {
  it('splits modprobe arguments as getopt_long does', () => {
    expect(parseModprobeArgs(['ntb_perf', 'total_order=20', 'use_dma=0'])).to.deep.equal({ remove: false, quiet: false, firstTime: false, all: false, args: ['ntb_perf', 'total_order=20', 'use_dma=0'] });
    expect(parseModprobeArgs(['-rq', 'ntb_tool'])).to.deep.include({ remove: true, quiet: true, args: ['ntb_tool'] });
    expect(parseModprobeArgs(['ntb_tool', '-r', '--first-time'])).to.deep.include({ remove: true, firstTime: true, args: ['ntb_tool'] });
    expect(parseModprobeArgs(['-C', '/etc/x.conf', '--', '-weird'])).to.deep.include({ args: ['-weird'] });
    expect(parseModprobeArgs(['-Z', 'x'])).to.deep.equal({ status: 1, stderr: "modprobe: invalid option -- 'Z'\n" });
    expect(parseRmmodArgs(['-f', 'a', 'b'])).to.deep.equal(['a', 'b']);
    expect(parseRmmodArgs(['--bogus'])).to.deep.equal({ status: 1, stderr: "rmmod: unrecognized option '--bogus'\n" });
  });
});
