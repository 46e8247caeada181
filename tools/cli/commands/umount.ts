import { Command, CommandOptions } from 'commander';
import { MountError } from '../../fuse/mount';
import { umount } from '../../fuse/umount';
import { CliError } from '../common';

/** `ntbsim umount DIR`: stop a mount on DIR, or clean up after one that was killed. */
export function umountCommand(parent: Command, opts: CommandOptions = {}): Command {
  return parent
    .command('umount', opts)
    .description('stop the ntbsim mount on DIR, or unmount what a killed one left behind (fusermount -u -z / umount -l)')
    .argument('<dir>', 'the DIR given to ntbsim mount')
    .action(async (dir: string) => {
      try {
        const r = await umount(dir);
        if (r.stopped !== undefined) process.stdout.write(`ntbsim: stopped the mount (pid ${r.stopped})\n`);
        for (const m of r.unmounted) process.stdout.write(`ntbsim: unmounted ${m}\n`);
        if (r.removedSocket) process.stdout.write('ntbsim: removed a stale control socket\n');
      } catch (e) {
        if (e instanceof MountError) throw new CliError(e.message);
        throw e;
      }
    });
}
