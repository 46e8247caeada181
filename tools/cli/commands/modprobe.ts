import { Command, CommandOptions } from 'commander';
import { kmodCommand, NoMount } from '../../fuse/control';
import { CliError } from '../common';
import { ExitStatus } from './selftest';

export interface KmodOptions {
  mount: string;
  host: string;
  remove?: boolean;
  quiet?: boolean;
  firstTime?: boolean;
}

/**
 * `ntbsim modprobe --mount DIR --host H [-r] [-q] NAME [k=v …]`: kmod's modprobe on a host of a
 * running mount, with kmod's messages and exit status (the kselftest shims send the same request).
 */
export function modprobeCommand(parent: Command, opts: CommandOptions = {}): Command {
  return parent
    .command('modprobe', opts)
    .description('load (or with -r unload) a module on a host of a running ntbsim mount, as kmod does')
    .requiredOption('--mount <dir>', 'the DIR of a running ntbsim mount')
    .requiredOption('--host <name>', 'the simulated host')
    .option('-r, --remove', 'remove the modules (and dependencies nothing else uses)')
    .option('-q, --quiet', 'print no messages')
    .option('--first-time', 'fail if the module is already loaded (or, with -r, not loaded)')
    .argument('<module>', 'module name')
    .argument('[params...]', 'module parameters (name=value); with -r, more module names')
    .action(async (module: string, params: string[], o: KmodOptions) => {
      const argv = [...(o.remove ? ['-r'] : []), ...(o.quiet ? ['-q'] : []), ...(o.firstTime ? ['--first-time'] : []), '--', module, ...params];
      await kmod('modprobe', o, argv);
    });
}

/** Send the request, print kmod's messages, end with kmod's status. */
export async function kmod(prog: 'modprobe' | 'rmmod', o: KmodOptions, argv: string[]): Promise<void> {
  let status: number;
  try {
    status = await kmodCommand(prog, o.mount, o.host, argv);
  } catch (e) {
    if (e instanceof NoMount) throw new CliError(e.message);
    throw new CliError((e as Error)?.message ?? String(e));
  }
  if (status !== 0) throw new ExitStatus(status);
}
