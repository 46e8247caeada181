import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { HostNamespaces } from '../../../tools/fuse/namespaces';
import { mountsUnder } from '../../../tools/fuse/mountinfo';
import { writeShims } from '../../../tools/fuse/shims';
import { FIXTURES, MAIN, MountChild, ntbsim, run, skipWithoutFuse, tempDir } from './helpers';

const DEV = '0000:01:00.1';

describe('tools/fuse: ntbsim mount (a 2-host Switchtec world under FUSE)', function () {
  this.timeout(90_000);
  let dir: string;
  let mount: MountChild | undefined;

  before(function () {
    skipWithoutFuse(this);
  });

  beforeEach(() => {
    dir = tempDir();
  });

  afterEach(async () => {
    await mount?.stop('SIGKILL');
    mount = undefined;
    if (mountsUnder(dir).length) ntbsim(['umount', dir]);
    if (!mountsUnder(dir).length) rmSync(dir, { recursive: true, force: true });
  });

  it('lays each host out like its /sys and unmounts cleanly on SIGTERM', async () => {
    mount = await MountChild.start(dir);
    expect(mount.stdout).to.match(/^host0: \/sys at .*\/host0$/m);
    expect(readdirSync(dir).sort()).to.deep.equal(['.ntbsim.sock', 'host0', 'host1']);
    for (const h of ['host0', 'host1']) {
      expect(readdirSync(path.join(dir, h, 'bus/ntb/devices'))).to.deep.equal([DEV]);
      expect(existsSync(path.join(dir, h, 'kernel/debug'))).to.equal(true);
      expect(existsSync(path.join(dir, h, 'module/ntb_hw_switchtec'))).to.equal(true);
    }
    expect(mountsUnder(dir).map((m) => [path.basename(m.mountPoint), m.fsType]).sort()).to.deep.equal([
      ['host0', 'fuse.ntbsim'],
      ['host1', 'fuse.ntbsim'],
    ]);
    const end = await mount.stop('SIGTERM');
    expect(end.code).to.equal(0);
    expect(mount.stdout).to.include('ntbsim: unmounted');
    expect(mountsUnder(dir)).to.deep.equal([]);
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('passes every shell pattern of ntb_test.sh: cat, echo >, dd, cmp -n, ls | wc -l, [[ -e ]], ssh, blocking db_event/link_event, sleep with ping-pong', async () => {
    mount = await MountChild.start(dir);
    const ns = await HostNamespaces.create(dir, ['host0', 'host1']);
    const shims = tempDir('ntbsim-shims-');
    try {
      const bin = path.join(shims, 'bin');
      const paths = writeShims({ mountDir: dir, hosts: ['host0', 'host1'], nsPids: ns.pids, binDir: bin });
      const [cmd, args] = ns.command('host0', ['bash', path.join(FIXTURES, 'shell-patterns.sh'), 'host1'], '/');
      const r = await run(cmd, args, { env: { ...process.env, PATH: `${paths.host0}:${process.env.PATH}` } });
      expect(r.stderr, r.stdout).to.equal('');
      expect(r.status, r.stdout).to.equal(0);
      const oks = r.stdout.split('\n').filter((l) => l.startsWith('ok - '));
      expect(oks).to.have.length(10);
      const pp = /pingpong: (\d+) → (\d+), remote (\d+) → (\d+) in sleep 3/.exec(r.stdout);
      expect(pp, r.stdout).to.not.equal(null);
      // Real-time pacing: 3 s of wall time is at least about 3 s of virtual time (one ping a second).
      expect(Number(pp![2]) - Number(pp![1])).to.be.at.least(2);
    } finally {
      await ns.close();
      rmSync(shims, { recursive: true, force: true });
    }
    expect((await mount.stop()).code).to.equal(0);
    expect(mountsUnder(dir)).to.deep.equal([]);
  });

  it('modprobe/rmmod --mount act like kmod: exit codes and messages', async () => {
    mount = await MountChild.start(dir);
    const kmod = (...args: string[]) => run(process.execPath, [MAIN, ...args]);
    const ok = await kmod('modprobe', '--mount', dir, '--host', 'host1', 'ntb_perf', 'total_order=12');
    expect([ok.status, ok.stderr]).to.deep.equal([0, '']);
    expect(existsSync(path.join(dir, 'host1/kernel/debug/ntb_perf', DEV))).to.equal(true);
    expect(existsSync(path.join(dir, 'host0/kernel/debug/ntb_perf'))).to.equal(false);
    const again = await kmod('modprobe', '--mount', dir, '--host', 'host1', 'ntb_perf');
    expect([again.status, again.stderr]).to.deep.equal([0, '']);

    const unknown = await kmod('modprobe', '--mount', dir, '--host', 'host0', 'ntb_nosuch');
    expect([unknown.status, unknown.stderr]).to.deep.equal([1, 'modprobe: FATAL: Module ntb_nosuch not found in directory /lib/modules/6.12.0-ntbsim\n']);
    const badParam = await kmod('modprobe', '--mount', dir, '--host', 'host0', 'ntb_perf', 'total_order=lots');
    expect([badParam.status, badParam.stderr]).to.deep.equal([1, "modprobe: ERROR: could not insert 'ntb_perf': Invalid argument\n"]);
    const inUse = await kmod('modprobe', '--mount', dir, '--host', 'host1', '-r', 'ntb');
    expect([inUse.status, inUse.stderr]).to.deep.equal([1, 'modprobe: FATAL: Module ntb is in use.\n']);
    const rmInUse = await kmod('rmmod', '--mount', dir, '--host', 'host1', 'ntb');
    expect(rmInUse.status).to.equal(1);
    expect(rmInUse.stderr).to.match(/^rmmod: ERROR: Module ntb is in use by:( \w+)+\n$/);
    expect(rmInUse.stderr).to.include(' ntb_perf');
    const notLoaded = await kmod('rmmod', '--mount', dir, '--host', 'host0', 'ntb_perf');
    expect([notLoaded.status, notLoaded.stderr]).to.deep.equal([1, 'rmmod: ERROR: Module ntb_perf is not currently loaded\n']);
    // kmod's modprobe -r of a known module that is not loaded is silent and succeeds.
    const rNotLoaded = await kmod('modprobe', '--mount', dir, '--host', 'host0', '-r', 'ntb_perf');
    expect([rNotLoaded.status, rNotLoaded.stderr]).to.deep.equal([0, '']);
    const rUnknown = await kmod('modprobe', '--mount', dir, '--host', 'host0', '-r', 'ntb_transport_nosuch');
    expect([rUnknown.status, rUnknown.stderr]).to.deep.equal([1, 'modprobe: FATAL: Module ntb_transport_nosuch not found.\n']);
    const rm = await kmod('rmmod', '--mount', dir, '--host', 'host1', 'ntb_perf');
    expect([rm.status, rm.stderr]).to.deep.equal([0, '']);
    expect(existsSync(path.join(dir, 'host1/kernel/debug/ntb_perf'))).to.equal(false);

    const noHost = await kmod('modprobe', '--mount', dir, '--host', 'host7', 'ntb_tool');
    expect([noHost.status, noHost.stderr]).to.deep.equal([1, "ntbsim: error: no host 'host7' in the mounted world (hosts: host0, host1)\n"]);
  });

  it('refuses a second mount on a busy directory, a missing directory and a non-empty host directory, leaving nothing mounted', async () => {
    const missing = ntbsim(['mount', path.join(dir, 'nope')]);
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.equal(`ntbsim: error: ${path.join(dir, 'nope')}: no such directory (create it first)\n`);

    const other = tempDir();
    mkdirSync(path.join(other, 'host1'));
    writeFileSync(path.join(other, 'host1', 'x'), '');
    const busyHostDir = ntbsim(['mount', other]);
    expect(busyHostDir.status).to.equal(1);
    expect(busyHostDir.stderr).to.equal(`ntbsim: error: ${path.join(other, 'host1')} is not empty\n`);
    expect(mountsUnder(other)).to.deep.equal([]);
    expect(readdirSync(other)).to.deep.equal(['host1']);
    rmSync(other, { recursive: true, force: true });

    mount = await MountChild.start(dir);
    const second = ntbsim(['mount', dir]);
    expect(second.status).to.equal(1);
    expect(second.stderr).to.match(new RegExp(`^ntbsim: error: ${dir} is already mounted by ntbsim \\(pid ${mount.child.pid}\\): stop that one first`));
    expect(second.stderr.split('\n')).to.have.length(2);
    // The first mount is untouched.
    expect(readdirSync(path.join(dir, 'host0/bus/ntb/devices'))).to.deep.equal([DEV]);
    expect((await mount.stop()).code).to.equal(0);
  });

  it('ntbsim umount cleans up after a killed mount, and stops a live one', async () => {
    mount = await MountChild.start(dir);
    await mount.stop('SIGKILL');
    mount = undefined;
    expect(mountsUnder(dir)).to.have.length(2);
    const again = ntbsim(['mount', dir]);
    expect(again.status).to.equal(1);
    expect(again.stderr).to.match(/is still mounted \(a stale mount of a killed ntbsim\?\): run ntbsim umount /);
    const u = ntbsim(['umount', dir]);
    expect(u.status, u.stderr).to.equal(0);
    expect(u.stdout).to.include(`ntbsim: unmounted ${path.join(dir, 'host0')}`);
    expect(mountsUnder(dir)).to.deep.equal([]);
    expect(readdirSync(dir)).to.deep.equal([]);

    mount = await MountChild.start(dir);
    const stop = ntbsim(['umount', dir]);
    expect(stop.status, stop.stderr).to.equal(0);
    expect(stop.stdout).to.equal(`ntbsim: stopped the mount (pid ${mount.child.pid})\n`);
    expect((await mount.exited).code).to.equal(0);
    expect(mountsUnder(dir)).to.deep.equal([]);

    const nothing = ntbsim(['umount', dir]);
    expect(nothing.status).to.equal(1);
    expect(nothing.stderr).to.equal(`ntbsim: error: nothing of ntbsim is mounted on ${dir}\n`);
  });
});

describe('tools/fuse: commands without a mount', function () {
  this.timeout(60_000);

  it('modprobe --mount on a directory with no mount fails with one line', () => {
    const dir = tempDir();
    const r = ntbsim(['modprobe', '--mount', dir, '--host', 'host0', 'ntb_tool']);
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^ntbsim: error: no ntbsim mount is running on \S+ \(ENOENT on \S+\.ntbsim\.sock\)\n$/);
  });

  it('kselftest says what it needs when --script is missing or does not exist', () => {
    const none = ntbsim(['kselftest']);
    expect(none.status).to.equal(1);
    expect(none.stderr).to.equal(
      'ntbsim: error: kselftest needs --script PATH: ntb_test.sh is not shipped with ntbsim; use tools/testing/selftests/ntb/ntb_test.sh of a Linux kernel tree\n',
    );
    const missing = ntbsim(['kselftest', '--script', '/nonexistent/ntb_test.sh']);
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.equal('ntbsim: error: /nonexistent/ntb_test.sh: no such file (--script wants tools/testing/selftests/ntb/ntb_test.sh of a Linux kernel tree)\n');
  });

  it('mount and kselftest say what to install when the FUSE binding or libfuse 2 cannot load', () => {
    const dir = tempDir();
    const cases: Array<[string, RegExp]> = [
      ['missing', /^ntbsim: error: FUSE is not available: the optional dependency fuse-native is not installed \(run `npm install fuse-native` in the ntbsim directory; it needs libfuse 2: apt-get install libfuse2 fuse\)\n$/],
      ['nolib', /^ntbsim: error: FUSE is not available: fuse-native needs libfuse 2 \(libfuse\.so\.2\), which is not installed \(Debian\/Ubuntu: apt-get install libfuse2 fuse\)\n$/],
    ];
    for (const [mode, expected] of cases) {
      const env = { ...process.env, NTBSIM_TEST_FUSE: mode };
      const nodeArgs = ['--require', path.join(__dirname, 'no-fuse.js')];
      const m = ntbsim(['mount', dir], { env, nodeArgs });
      expect(m.status, m.stderr).to.equal(1);
      expect(m.stderr).to.match(expected);
      writeFileSync(path.join(dir, 'script.sh'), 'exit 0\n');
      if (typeof process.getuid === 'function' && process.getuid() === 0) {
        const k = ntbsim(['kselftest', '--script', path.join(dir, 'script.sh')], { env, nodeArgs });
        expect(k.status, k.stderr).to.equal(1);
        expect(k.stderr).to.match(expected);
      }
    }
    expect(mountsUnder(dir)).to.deep.equal([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
