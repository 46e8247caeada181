import 'reflect-metadata';
import { expect } from 'chai';
import { World } from '../../../core/world';
import { switchtecTopology } from '../../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../../plugins';

const RUN = '/sys/kernel/debug/ntb_perf/0000:01:00.1/run';

/** ntb_perf host0 → host1 on a Switchtec switch whose NT endpoints train at `width` lanes. */
async function perfRate(width: number): Promise<{ copied: number; usecs: number; mbs: number }> {
  const spec = switchtecTopology();
  spec.hardware = [{ type: 'switchtec', options: { partitions: 2, linkWidth: width } }];
  const world = await World.create(spec, builtinPlugins());
  for (const h of world.hosts) await h.modprobe('ntb_perf', ['total_order=22']);
  const h0 = world.host('host0');
  await h0.write(RUN, '0\n');
  const m = /0: copied (\d+) bytes in (\d+) usecs, (\d+) MBytes\/s/.exec(await h0.read(RUN));
  expect(m).to.not.equal(null);
  return { copied: Number(m![1]), usecs: Number(m![2]), mbs: Number(m![3]) };
}

describe('clients/perf on the Switchtec world: the figure follows the hardware', () => {
  it('reports the window`s write bandwidth (Gen3 x8 at 90 % posted efficiency ≈ 7.09 GB/s), and half of it at x4', async () => {
    const x8 = await perfRate(8);
    const x4 = await perfRate(4);
    expect(x8.copied).to.equal(1 << 22);
    // 8 GT/s × 128/130 / 8 bits × 8 lanes × 0.9 = 7.089 GB/s → 7089 bytes per µs.
    expect(x8.mbs).to.be.within(7080, 7100);
    expect(x4.usecs / x8.usecs).to.be.within(1.99, 2.01);
  });
});
