import { Command, CommandOptions } from 'commander';
import { kmod, KmodOptions } from './modprobe';

/** `ntbsim rmmod --mount DIR --host H NAME…`: kmod's rmmod on a host of a running mount. */
export function rmmodCommand(parent: Command, opts: CommandOptions = {}): Command {
  return parent
    .command('rmmod', opts)
    .description('unload modules from a host of a running ntbsim mount, as kmod\'s rmmod does')
    .requiredOption('--mount <dir>', 'the DIR of a running ntbsim mount')
    .requiredOption('--host <name>', 'the simulated host')
    .argument('<modules...>', 'module names')
    .action(async (modules: string[], o: KmodOptions) => {
      await kmod('rmmod', o, ['--', ...modules]);
    });
}

