import { Command, InvalidArgumentError, Option } from 'commander';

/** Options every subcommand accepts (they may appear before or after the subcommand's name). */
export interface GlobalOptions {
  /** World seed; undefined = the topology's own, or 1. */
  seed?: number;
  json: boolean;
}

export function addGlobalOptions(program: Command): void {
  program
    .addOption(new Option('--seed <n>', 'seed of the world\'s random source (default: the topology\'s, else 1)').argParser(intArg(0, 0xffffffff)))
    .option('--json', 'print one JSON object instead of text');
}

export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals();
  return { seed: o.seed as number | undefined, json: Boolean(o.json) };
}

/** A commander argument parser for an integer in [min, max] (decimal, or hex with 0x). */
export function intArg(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const t = value.trim();
    const n = /^(0x[0-9a-f]+|\d+)$/i.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}.`);
    return n;
  };
}

/**
 * For a command without operands: `ntbsim frob` reaches the default command with "frob" as an
 * operand, so say that it is an unknown command rather than "too many arguments for 'boot'".
 */
export function noOperands(cmd: Command): Command {
  return cmd.allowExcessArguments(true).hook('preAction', (self) => {
    if (self.args.length) self.error(`error: unknown command or unexpected argument '${self.args[0]}' (see ntbsim --help)`, { code: 'ntbsim.unexpectedArgument' });
  });
}

/** A failure the user caused (bad file, bad combination of options): reported as one line. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
}

/** Options that contradict each other or name the impossible: a bad command line (exit code 2). */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
}

/** The first line of an error's message, for the one-line report on stderr. */
export function errorLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0] || (e instanceof Error ? e.name : 'unknown error');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printText(lines: string[]): void {
  process.stdout.write(lines.join('\n') + '\n');
}
