import { expect } from 'chai';
import { LogLevel, Printk, RateLimit } from '../../core/printk';
import { Scheduler } from '../../core/time/scheduler';
import { formatTimestamp, msecs, secs, usecs } from '../../core/time/units';

describe('core/printk', () => {
  it('stamps each line with virtual time in dmesg\'s [sssss.uuuuuu] format', async () => {
    const s = new Scheduler();
    const p = new Printk(s, 'h');
    p.info('boot');
    await s.runUntil(secs(12) + usecs(345));
    p.err('two\nlines\n');
    expect(p.dmesg()).to.equal('[    0.000000] boot\n[   12.000345] two\n[   12.000345] lines\n');
    expect(p.lines()).to.deep.equal(['boot', 'two', 'lines']);
    expect(p.records.map((r) => r.level)).to.deep.equal([LogLevel.INFO, LogLevel.ERR, LogLevel.ERR]);
    expect(formatTimestamp(secs(123456) + 999_999)).to.equal('[123456.000999]');
  });

  it('drops debug lines unless debugging is enabled', () => {
    const p = new Printk(new Scheduler(), 'h');
    p.debug('hidden');
    p.debugEnabled = true;
    p.debug('shown');
    expect(p.lines()).to.deep.equal(['shown']);
  });

  it('keeps only the newest records when the ring is full', () => {
    const p = new Printk(new Scheduler(), 'h', 3);
    for (let i = 0; i < 5; i++) p.info(`l${i}`);
    expect(p.lines()).to.deep.equal(['l2', 'l3', 'l4']);
    p.clear();
    expect(p.dmesg()).to.equal('');
  });

  it('streams records and traces them as printk records of the host', () => {
    const s = new Scheduler();
    const p = new Printk(s, 'hostX');
    const traced: string[] = [];
    const streamed: string[] = [];
    s.trace$.subscribe((r) => traced.push(`${r.host}/${r.kind}/${r.detail}`));
    p.records$.subscribe((r) => streamed.push(r.text));
    p.warn('careful');
    expect(traced).to.deep.equal(['hostX/printk/careful']);
    expect(streamed).to.deep.equal(['careful']);
  });

  it('rate-limits to a burst per interval and reports what it suppressed', async () => {
    const s = new Scheduler();
    const rl = new RateLimit(s, msecs(100), 2);
    const suppressed: number[] = [];
    const allowed = () => rl.allow((n) => suppressed.push(n));
    expect([allowed(), allowed(), allowed(), allowed()]).to.deep.equal([true, true, false, false]);
    await s.runUntil(msecs(99));
    expect(allowed()).to.equal(false);
    await s.runUntil(msecs(100));
    expect(allowed()).to.equal(true);
    expect(suppressed).to.deep.equal([3]);
  });
});
