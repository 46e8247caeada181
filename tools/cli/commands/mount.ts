import { Command, CommandOptions } from 'commander';
import { World } from '../../../core/world';
import { builtinPlugins } from '../../../plugins';
import { FuseUnavailable, loadFuse } from '../../fuse/binding';
import { MountError, MountSession } from '../../fuse/mount';
import { CliError, globalOptions } from '../common';
import { addTopologyOptions, TopologyOptions, topologyFromOptions } from '../topology';

/**
 * `ntbsim mount DIR`: boot a world (default topology: switchtec) and mount each host's /sys at
 * DIR/<host> (FUSE) until SIGINT/SIGTERM/SIGHUP, then unmount. While mounted the world runs in
 * real time (see tools/fuse/driver.ts and the README).
 */
export function mountCommand(parent: Command, opts: CommandOptions = {}): Command {
  const cmd = parent
    .command('mount', opts)
    .description("boot a world (default topology: switchtec) and mount each host's /sys at DIR/<host> (FUSE) until interrupted")
    .argument('<dir>', 'an existing directory; DIR/<host> is created for each host');
  return addTopologyOptions(cmd).action(async (dir: string, o: TopologyOptions, self: Command) => {
    const globals = globalOptions(self);
    fuseOrFail();
    if (o.topology === undefined && self.getOptionValueSource('hosts') !== 'cli') o.topology = 'switchtec';
    const spec = topologyFromOptions(o, globals, self);
    const world = await World.create(spec, builtinPlugins());
    let session: MountSession;
    try {
      session = await MountSession.open(world, dir);
    } catch (e) {
      if (e instanceof MountError) throw new CliError(e.message);
      throw e;
    }
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) process.stderr.write(`ntbsim: ${sig} again while unmounting; still unmounting\n`);
      void session.close();
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
    // A crash of ntbsim itself must not leave the mounts behind.
    const onCrash = (e: unknown) => {
      process.stderr.write(`ntbsim: error: ${(e as Error)?.stack ?? String(e)}\n`);
      void session.close().finally(() => process.exit(1));
    };
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    for (const h of session.hostNames) process.stdout.write(`${h}: /sys at ${session.hostDir(h)}\n`);
    process.stdout.write(`ntbsim: mounted (pid ${process.pid}, seed ${spec.seed}); the world runs in real time; Ctrl-C or \`ntbsim umount ${session.dir}\` unmounts\n`);
    await session.done;
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    process.stdout.write('ntbsim: unmounted\n');
  });
}

/** FUSE or one clear line about what to install. */
export function fuseOrFail(): void {
  try {
    loadFuse();
  } catch (e) {
    if (e instanceof FuseUnavailable) throw new CliError(e.message);
    throw e;
  }
}
