/**
 * Preloaded (`node --require`) by the FUSE tests to play a machine without FUSE support:
 * NTBSIM_TEST_FUSE=missing makes `require('fuse-native')` fail as for a package that is not
 * installed, =nolib as for a binding whose libfuse.so.2 is not installed.
 */
import Module = require('node:module');

const mode = process.env.NTBSIM_TEST_FUSE;
const loader = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const original = loader._load;
loader._load = function (this: unknown, request: string, ...rest: unknown[]) {
  if (request === 'fuse-native' && mode === 'missing') {
    throw Object.assign(new Error("Cannot find module 'fuse-native'\nRequire stack:\n- …"), { code: 'MODULE_NOT_FOUND' });
  }
  if (request === 'fuse-native' && mode === 'nolib') {
    throw new Error('libfuse.so.2: cannot open shared object file: No such file or directory');
  }
  return original.call(this, request, ...rest);
};
