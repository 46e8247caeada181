import { Command, CommandOptions, Option } from 'commander';
import type { Host } from '../../../core/host';
import { World } from '../../../core/world';
import { builtinPlugins } from '../../../plugins';
import { NtbEndpoint, OutputLine, runNtbTest } from '../../selftest/ntb-test';
import { CliError, globalOptions, printJson, UsageError } from '../common';
import { addTopologyOptions, TopologyOptions, topologyFromOptions } from '../topology';

/** The script's exit status, passed through as ntbsim's own (0 pass, 1, 255, …). */
export class ExitStatus extends Error {
  override readonly name = 'ExitStatus';
  constructor(readonly status: number) {
    super(`exit status ${status}`);
  }
}

interface SelftestOptions extends TopologyOptions {
  mwSize: string;
  perfOrder: string;
  maxMwSize: string;
  dma?: boolean;
}

export interface SelftestReport {
  seed: number;
  local: { host: string; device: string };
  remote: { host: string; device: string };
  lines: OutputLine[];
  status: number;
}

const NTB_DEVICES = '/sys/bus/ntb/devices';

/**
 * `ntbsim selftest`: boot a world (default: two hosts on a Switchtec switch) and run the kernel's
 * tools/testing/selftests/ntb/ntb_test.sh between the first two hosts' NTB devices, as
 * `ntb_test.sh -r host1 DEV0 DEV1` on host0 would. Prints what the script prints and exits with its status.
 */
export function selftestCommand(parent: Command, opts: CommandOptions = {}): Command {
  const cmd = parent
    .command('selftest', opts)
    .description('run ntb_test.sh (the kernel NTB selftest) between the NTB devices of the first two hosts (default topology: switchtec)')
    .addOption(new Option('-m, --mw-size <size>', 'MW_SIZE: memory window size for ntb_tool').default('65536', '65536'))
    .addOption(new Option('-p, --perf-order <order>', 'PERF_RUN_ORDER: total data order for ntb_perf').default('32', '32'))
    .addOption(new Option('-w, --max-mw-size <size>', 'MAX_MW_SIZE: maximum memory window size for ntb_perf').default('0', '0'))
    .option('-d, --dma', 'also run the ntb_perf test with use_dma=1');
  return addTopologyOptions(cmd).action(async (o: SelftestOptions, self: Command) => {
    const globals = globalOptions(self);
    if (o.topology === undefined) {
      if (self.getOptionValueSource('hosts') === 'cli') throw new UsageError('selftest runs on a Switchtec topology: use --topology switchtec:N instead of --hosts N');
      o.topology = 'switchtec';
    }
    const spec = topologyFromOptions(o, globals, self);
    const world = await World.create(spec, builtinPlugins());
    if (world.hosts.length < 2) throw new CliError(`selftest needs two hosts; the topology has ${world.hosts.length}`);
    const local = endpoint(world.hosts[0]);
    const remote = endpoint(world.hosts[1]);
    const result = await runNtbTest(world, local, remote, {
      mwSize: o.mwSize,
      perfOrder: o.perfOrder,
      maxMwSize: o.maxMwSize,
      runDmaTests: Boolean(o.dma),
      onLine: globals.json ? undefined : (l) => (l.stream === 'stdout' ? process.stdout : process.stderr).write(l.text + '\n'),
    });
    if (globals.json) {
      const report: SelftestReport = {
        seed: spec.seed!,
        local: { host: local.host.name, device: local.dev },
        remote: { host: remote.host.name, device: remote.dev },
        lines: result.lines,
        status: result.status,
      };
      printJson(report);
    }
    if (result.status !== 0) throw new ExitStatus(result.status);
  });
}

/** A host's only NTB device, as `ls /sys/bus/ntb/devices` shows it. */
function endpoint(host: Host): NtbEndpoint {
  const devs = host.exists(NTB_DEVICES) ? host.ls(NTB_DEVICES) : [];
  if (devs.length === 0) throw new CliError(`${host.name} has no NTB device (${NTB_DEVICES} is empty)`);
  if (devs.length > 1) throw new CliError(`${host.name} has ${devs.length} NTB devices (${devs.join(', ')}); selftest needs exactly one per host`);
  return { host, dev: devs[0] };
}
