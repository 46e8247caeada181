import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { scriptArgs } from '../../../tools/fuse/kselftest';
import { mountsUnder } from '../../../tools/fuse/mountinfo';
import { FIXTURES, ntbsim, skipWithoutFuse } from './helpers';

const DEV = '0000:01:00.1';
const MINI = path.join(FIXTURES, 'mini-ntb-test.sh');

describe('tools/fuse: kselftest command line', () => {
  it('adds -r <second host> and the devices unless the arguments name them', () => {
    expect(scriptArgs([], 'host1', ['a', 'b'])).to.deep.equal(['-r', 'host1', 'a', 'b']);
    expect(scriptArgs(['-p', '20'], 'host1', ['a', 'b'])).to.deep.equal(['-r', 'host1', '-p', '20', 'a', 'b']);
    expect(scriptArgs(['-p20', '-d'], 'host1', ['a', 'b'])).to.deep.equal(['-r', 'host1', '-p20', '-d', 'a', 'b']);
    expect(scriptArgs(['-r', 'hostB', 'x', 'y'], 'host1', ['a', 'b'])).to.deep.equal(['-r', 'hostB', 'x', 'y']);
    expect(scriptArgs(['x', '-m', '4096', 'y'], 'host1', ['a', 'b'])).to.deep.equal(['-r', 'host1', 'x', '-m', '4096', 'y']);
    expect(() => scriptArgs([], 'host1', undefined)).to.throw(/no NTB device/);
  });
});

describe('tools/fuse: ntbsim kselftest', function () {
  this.timeout(120_000);

  before(function () {
    skipWithoutFuse(this);
  });

  afterEach(() => {
    // Nothing of a run stays mounted.
    expect(mountsUnder(tmpdir()).filter((m) => m.fsType === 'fuse.ntbsim')).to.deep.equal([]);
  });

  it('runs a script as root on host0 with -r host1 and both devices: modprobe and ssh shims, output and status pass through', () => {
    const r = ntbsim(['kselftest', '--script', MINI]);
    expect(r.stderr).to.equal('mini: done\n');
    expect(r.status).to.equal(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).to.equal(`args: -r host1 ${DEV} ${DEV}`);
    expect(lines).to.include('remote db: 0x9');
    expect(r.stdout).to.match(/^0: copied 1048576 bytes in \d+ usecs, \d+ MBytes\/s$/m);
  });

  it('passes ARGS after -- and exits with the script\'s status', () => {
    const r = ntbsim(['kselftest', '--script', MINI, '--', '-p', '16'], { env: { ...process.env, MINI_EXIT: '3' } });
    expect(r.status).to.equal(3);
    expect(r.stdout.split('\n')[0]).to.equal(`args: -r host1 -p 16 ${DEV} ${DEV}`);
    expect(r.stdout).to.match(/^0: copied \d+ bytes in /m);
    expect(r.stderr).to.equal('mini: done\n');
  });

  // The kernel's script is GPL and not part of ntbsim: point NTBSIM_NTB_TEST_SH at your kernel
  // tree's tools/testing/selftests/ntb/ntb_test.sh to run it here (with -p 20: 1 MiB perf runs).
  it('passes the kernel\'s own ntb_test.sh, MSI tests included (NTBSIM_NTB_TEST_SH)', function () {
    const script = process.env.NTBSIM_NTB_TEST_SH;
    if (!script || !existsSync(script)) {
      process.stdout.write('      skipped: set NTBSIM_NTB_TEST_SH to the path of a kernel tree\'s ntb_test.sh\n');
      this.skip();
    }
    const r = ntbsim(['kselftest', '--script', script!, '--', '-p', '20']);
    expect(r.stderr).to.equal('');
    expect(r.status, r.stdout).to.equal(0);
    expect(r.stdout).to.include('Starting ntb_msi_test tests...\nRunning port tests on:');
    expect(r.stdout).to.not.include('Not doing MSI tests');
    // port, 2 link, 2 db, 2 spad, 2 mw (msg: Unsupported), ping-pong, MSI port, 2 MSI, 2 perf.
    expect(r.stdout.match(/^ {2}Passed$/gm)).to.have.length(15);
  });
});
