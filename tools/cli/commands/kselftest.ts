import { existsSync, statSync } from 'node:fs';
import { Command, CommandOptions } from 'commander';
import { World } from '../../../core/world';
import { builtinPlugins } from '../../../plugins';
import { runKselftest } from '../../fuse/kselftest';
import { MountError } from '../../fuse/mount';
import { CliError, globalOptions } from '../common';
import { addTopologyOptions, TopologyOptions, topologyFromOptions } from '../topology';
import { fuseOrFail } from './mount';
import { ExitStatus } from './selftest';

interface KselftestCliOptions extends TopologyOptions {
  script?: string;
}

const WHERE = 'tools/testing/selftests/ntb/ntb_test.sh of a Linux kernel tree';

/**
 * `ntbsim kselftest --script PATH/ntb_test.sh [-- ARGS]`: the kernel's own script, unmodified, run
 * as root against a mounted world (default topology: switchtec). Exits with the script's status.
 */
export function kselftestCommand(parent: Command, opts: CommandOptions = {}): Command {
  const cmd = parent
    .command('kselftest', opts)
    .description('run the kernel\'s own ntb_test.sh (not shipped with ntbsim) as root against a mounted world (default topology: switchtec)')
    .option('--script <path>', `the script to run: ${WHERE}`)
    .argument('[args...]', 'after --: arguments for the script (default: -r <second host> <device of host A> <device of host B>)');
  return addTopologyOptions(cmd).action(async (args: string[], o: KselftestCliOptions, self: Command) => {
    const globals = globalOptions(self);
    if (o.script === undefined) throw new CliError(`kselftest needs --script PATH: ntb_test.sh is not shipped with ntbsim; use ${WHERE}`);
    if (!existsSync(o.script)) throw new CliError(`${o.script}: no such file (--script wants ${WHERE})`);
    if (!statSync(o.script).isFile()) throw new CliError(`${o.script}: not a file (--script wants ${WHERE})`);
    if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new CliError('kselftest must run as root (ntb_test.sh checks for it; ntbsim mounts the views and makes mount namespaces)');
    fuseOrFail();
    if (o.topology === undefined && self.getOptionValueSource('hosts') !== 'cli') o.topology = 'switchtec';
    const spec = topologyFromOptions(o, globals, self);
    const world = await World.create(spec, builtinPlugins());
    let status: number;
    try {
      status = await runKselftest(world, { script: o.script, args });
    } catch (e) {
      if (e instanceof MountError) throw new CliError(e.message);
      throw e;
    }
    if (status !== 0) throw new ExitStatus(status);
  });
}
