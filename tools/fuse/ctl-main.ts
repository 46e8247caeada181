import { kmodCommand } from './control';

/**
 * The modprobe/rmmod shims' entry point: `node ctl-main.js modprobe|rmmod DIR HOST ARGS…`. It sends
 * the same request as `ntbsim modprobe|rmmod --mount DIR --host HOST ARGS…`, without loading the
 * rest of ntbsim (it runs once per modprobe of a script), and exits with kmod's status.
 */
async function main(argv: string[]): Promise<number> {
  const [prog, dir, host, ...args] = argv;
  if ((prog !== 'modprobe' && prog !== 'rmmod') || !dir || !host) {
    process.stderr.write('usage: ctl-main.js modprobe|rmmod DIR HOST [ARGS…]\n');
    return 2;
  }
  try {
    return await kmodCommand(prog, dir, host, args);
  } catch (e) {
    process.stderr.write(`ntbsim: error: ${((e as Error)?.message ?? String(e)).split('\n')[0]}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
