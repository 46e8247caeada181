import { expect } from 'chai';
import { benchmarks, markdownReport, runBenchmark } from '../../tools/bench/run';

// Runs every registered benchmark at a tiny size: each one checks that the simulation did exactly
// what it measured (events run, handler counts). No timing is asserted.
describe('tools/bench: every benchmark runs and checks its own result (tiny size, no timing)', function () {
  this.timeout(60_000);

  it('has uniquely named benchmarks with a method description', () => {
    const names = benchmarks.map((b) => b.name);
    expect(new Set(names).size).to.equal(names.length);
    for (const b of benchmarks) expect(b.method.length, b.name).to.be.greaterThan(20);
  });

  for (const bench of benchmarks) {
    it(bench.name, async function () {
      const why = bench.unavailable?.();
      if (why) {
        process.stdout.write(`      skipped: ${why}\n`);
        this.skip();
      }
      const o = await runBenchmark(bench, 0.002, 1);
      expect(o.median.ops).to.be.greaterThan(0);
      expect(o.rate).to.be.greaterThan(0);
      expect(markdownReport([o])).to.include(`| ${bench.name} |`);
    });
  }
});
