import { runCli } from './program';

// `ntbsim` (bin/ntbsim.js) and `npm start` land here.

// A reader that goes away early (`ntbsim | head`) is not an error of ours.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

void runCli(process.argv).then((code) => {
  process.exitCode = code;
});
