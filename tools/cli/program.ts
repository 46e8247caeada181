import { Command, CommanderError, CommandOptions } from 'commander';
import { bootCommand } from './commands/boot';
import { iperfCommand } from './commands/iperf';
import { mainJobCommand } from './commands/main-job';
import { ExitStatus, selftestCommand } from './commands/selftest';
import { kselftestCommand } from './commands/kselftest';
import { modprobeCommand } from './commands/modprobe';
import { mountCommand } from './commands/mount';
import { rmmodCommand } from './commands/rmmod';
import { umountCommand } from './commands/umount';
import { addGlobalOptions, errorLine, UsageError } from './common';

/**
 * Exit codes: 0 success, 1 the simulation failed, 2 bad command line; `selftest` exits with the
 * script's own status.
 */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * Every subcommand, in the order `ntbsim --help` lists them; later subcommands register here. The
 * default one runs when no subcommand is named (`npm start`).
 */
const commands: Array<{ add: (parent: Command, opts: CommandOptions) => Command; isDefault?: boolean }> = [
  { add: mainJobCommand, isDefault: true },
  { add: bootCommand },
  { add: selftestCommand },
  { add: iperfCommand },
  { add: mountCommand },
  { add: umountCommand },
  { add: modprobeCommand },
  { add: rmmodCommand },
  { add: kselftestCommand },
];

export function buildProgram(): Command {
  const program = new Command('ntbsim')
    .description('A deterministic simulation of the Linux NTB stack')
    .version(require('../../../package.json').version)
    .showSuggestionAfterError(false)
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ outputError: (str, write) => write(`ntbsim: ${str.trimEnd().split('\n')[0]}\n`) })
    .exitOverride();
  addGlobalOptions(program);
  // Subcommands are created with program.command(), so they inherit the settings above.
  for (const c of commands) c.add(program, { isDefault: c.isDefault ?? false });
  return program;
}

/** Parse `argv` (process.argv style) and run the command; resolves to the process exit code. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    // Commander has already printed its one-line message (or the help / version text).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
    // The command has printed its output; it ends with a status of its own.
    if (e instanceof ExitStatus) return e.status;
    process.stderr.write(`ntbsim: error: ${errorLine(e)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}
