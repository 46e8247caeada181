import { World } from '../../core/world';
import { switchtecTopology } from '../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../plugins';
import { Benchmark, secondsSince } from './types';

const BOOTS = 10;
const CLIENTS = ['ntb_tool', 'ntb_pingpong', 'ntb_perf'];

/** Boot-to-ready cost of the standard world: what every test and every `ntbsim` command pays first. */
export const switchtecBoot: Benchmark = {
  name: 'switchtec-boot',
  title: '2-host Switchtec world: boot, drivers probed, test clients loaded',
  unit: 'boots/s',
  // The target is "under 300 ms" per boot.
  target: 1 / 0.3,
  rounds: 5,
  method:
    `Builds and boots switchtecTopology() (2 hosts, IOMMU and interrupt remapping on) with builtinPlugins(), which loads ` +
    '`switchtec` on each host; its probe requests ntb_hw_switchtec, whose CTRL handshakes run in virtual time before the ' +
    `world settles. Then modprobes ${CLIENTS.join(', ')} on both hosts (the first binds the NTB device; one client ` +
    `per device, as in Linux). Checks that each host has its NTB device bound to ntb_tool. ${BOOTS} boots per round; ` +
    'timed: all of it.',
  async round({ scale }) {
    const n = Math.max(1, Math.round(BOOTS * scale));
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const world = await World.create(switchtecTopology(), builtinPlugins());
      for (const h of world.hosts) for (const m of CLIENTS) await h.modprobe(m);
      for (const h of world.hosts) {
        if (!h.exists('/sys/kernel/debug/ntb_tool/0000:01:00.1')) throw new Error(`switchtec-boot: ${h.name} has no ntb_tool device`);
      }
    }
    const seconds = secondsSince(start);
    return { ops: n, seconds, notes: [`${((seconds / n) * 1000).toFixed(1)} ms per boot`] };
  },
};
