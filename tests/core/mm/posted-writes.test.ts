import { expect } from 'chai';
import { CpuClock, MmioHandler, PhysicalMemory } from '../../../core/mm/physmem';
import { postedWritesOf } from '../../../core/mm/posted-writes';

/** A CPU clock under the test's control: `charge` is what the running code has been charged. */
class TestClock implements CpuClock {
  now = 0;
  charge = 0;
  private queue: { time: number; fn: () => void; cancelled: boolean }[] = [];
  get pendingCharge(): number {
    return this.charge;
  }
  get cpuNow(): number {
    return this.now + this.charge;
  }
  at(time: number, fn: () => void) {
    const e = { time, fn, cancelled: false };
    this.queue.push(e);
    return { cancel: () => void (e.cancelled = true) };
  }
  /** Let the charged time pass: every event due by then runs. */
  advance(): void {
    this.now += this.charge;
    this.charge = 0;
    for (const e of this.queue.splice(0)) if (!e.cancelled && e.time <= this.now) e.fn();
  }
}

/** A device region of bytes that records the order in which writes reach it. */
function device(size: number, prefetchable: boolean): MmioHandler & { bytes: Uint8Array; log: string[] } {
  const bytes = new Uint8Array(size);
  const log: string[] = [];
  return {
    bytes,
    log,
    prefetchable,
    read: (o, s) => {
      let v = 0;
      for (let i = s - 1; i >= 0; i--) v = v * 256 + bytes[o + i];
      return v;
    },
    write: (o, s, v) => {
      log.push(`${o}:${v.toString(16)}`);
      for (let i = 0; i < s; i++) bytes[o + i] = (v >>> (8 * i)) & 0xff;
    },
  };
}

describe('core/mm posted MMIO writes', () => {
  const REGS = 0x1000_0000;
  const WIN = 0x2000_0000;
  function setup() {
    const mem = new PhysicalMemory(1 << 20);
    const clock = new TestClock();
    mem.cpuClock = clock;
    const regs = device(0x100, false);
    const win = device(0x100, true);
    mem.addRegion(REGS, 0x100, 'regs', regs);
    mem.addRegion(WIN, 0x100, 'win', win);
    return { mem, clock, regs, win, pw: postedWritesOf(mem) };
  }

  it('lands a write at once when the CPU has not been charged, and only when the charge has passed otherwise', () => {
    const { clock, win, pw } = setup();
    pw.write(WIN, 4, 0x11111111);
    expect(win.log).to.deep.equal(['0:11111111']);
    clock.charge = 9000;
    pw.write(WIN + 4, 4, 0x22222222);
    expect(win.log).to.have.length(1);
    expect(pw.inFlight).to.equal(1);
    clock.advance();
    expect(win.log).to.deep.equal(['0:11111111', '4:22222222']);
    expect(pw.inFlight).to.equal(0);
  });

  it('a register read lets every earlier posted write land first, in issue order (a read never passes a write)', () => {
    const { clock, regs, win, pw } = setup();
    clock.charge = 100;
    pw.write(WIN, 4, 0xaa);
    pw.write(REGS + 8, 4, 0xbb);
    pw.write(WIN + 4, 4, 0xcc);
    expect(pw.read(REGS + 8, 4)).to.equal(0xbb);
    expect(win.log).to.deep.equal(['0:aa']);
    expect(regs.log).to.deep.equal(['8:bb']);
    expect(pw.inFlight).to.equal(1);
    clock.advance();
    expect(win.log).to.deep.equal(['0:aa', '4:cc']);
  });

  it("a read of a prefetchable window sees the CPU's own pending writes laid over memory, whole or in part", () => {
    const { clock, win, pw } = setup();
    win.bytes.set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08], 0);
    clock.charge = 100;
    pw.write(WIN, 4, 0xdeadbeef);
    pw.write(WIN + 6, 2, 0xa1b2);
    pw.write(WIN + 5, 1, 0x3c);
    expect(pw.read(WIN, 4)).to.equal(0xdeadbeef);
    expect(pw.read(WIN + 4, 4)).to.equal(0xa1b23c05);
    expect(pw.read(WIN + 6, 2)).to.equal(0xa1b2);
    expect(pw.read(WIN + 2, 4)).to.equal(0x3c05dead);
    // Nothing landed: the reads looked, they did not flush.
    expect(win.log).to.deep.equal([]);
    expect(pw.inFlight).to.equal(3);
    clock.advance();
    expect(pw.read(WIN + 4, 4)).to.equal(0xa1b23c05);
  });
});
