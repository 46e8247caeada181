import { World } from '../../core/world';
import { switchtecTopology } from '../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../plugins';
import { Benchmark, secondsSince } from './types';

const ORDER = 28;
const RUN = '/sys/kernel/debug/ntb_perf/0000:01:00.1/run';

/**
 * ntb_perf across the Switchtec world: the figure ntb_perf itself prints (virtual time) and what
 * simulating it costs in wall-clock time.
 */
export const ntbPerf: Benchmark = {
  name: 'ntb-perf',
  title: 'ntb_perf host0 → host1 through the Switchtec window (simulated bytes per wall second)',
  unit: 'simulated bytes/s',
  rounds: 3,
  method:
    `Boots switchtecTopology(), modprobes \`ntb_perf total_order=${ORDER}\` on both hosts (the handshake runs over ` +
    `scratchpads and programs the memory windows through the CTRL handshake), then writes 0 to ${RUN} on host0, which ` +
    'blocks until the copy of 2^total_order bytes through the outbound window (memcpy_toio, chunk by chunk, each chunk ' +
    "really written into host1's buffer through the switch and host1's IOMMU) is done, and reads the report. Timed: the " +
    "run write. The note quotes ntb_perf's own line: its MBytes/s is virtual-time throughput.",
  async round({ scale }) {
    const order = scale >= 1 ? ORDER : 20;
    const world = await World.create(switchtecTopology(), builtinPlugins());
    for (const h of world.hosts) await h.modprobe('ntb_perf', [`total_order=${order}`]);
    const h0 = world.host('host0');
    const start = process.hrtime.bigint();
    await h0.write(RUN, '0\n');
    const seconds = secondsSince(start);
    const report = await h0.read(RUN);
    const m = /0: copied (\d+) bytes in (\d+) usecs, (\d+) MBytes\/s/.exec(report);
    if (!m) throw new Error(`ntb-perf: unexpected report ${JSON.stringify(report)}`);
    const bytes = Number(m[1]);
    if (bytes !== 2 ** order) throw new Error(`ntb-perf: copied ${bytes} bytes, expected ${2 ** order}`);
    return { ops: bytes, seconds, notes: [`ntb_perf: ${m[0]}`, `${(Number(m[2]) / 1e6 / seconds).toFixed(2)} virtual s per wall s`] };
  },
};
