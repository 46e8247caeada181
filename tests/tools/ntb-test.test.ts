import 'reflect-metadata';
import { expect } from 'chai';
import { Host } from '../../core/host';
import { NtbsimPlugin } from '../../core/plugin';
import { World } from '../../core/world';
import { switchtecTopology, SwitchtecTopologyOptions } from '../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../plugins';
import { CLEANUP_MODULES, NtbEndpoint, NtbTestOptions, NtbTestScript, OutputLine, runNtbTest, ScriptExit, SCRIPT_PID } from '../../tools/selftest/ntb-test';
import { bashArith, getNumber } from '../../tools/selftest/shell';

const DEV = '0000:01:00.1';
const DBG = '/sys/kernel/debug';
/** Small perf runs keep the suite fast: 2^20 bytes each way. */
const PERF_ORDER = 20;

/** The built-in plugins without ntb_msi_test: the world the brief's "module not available" path needs. */
function pluginsWithoutMsiTest(): NtbsimPlugin[] {
  return builtinPlugins().map((p) => ({ ...p, modules: p.modules?.filter((m) => m.name !== 'ntb_msi_test') }));
}

async function switchtecWorld(opts: SwitchtecTopologyOptions = {}, plugins = pluginsWithoutMsiTest()): Promise<World> {
  return World.create(switchtecTopology(opts), plugins);
}

function endpoints(world: World): [NtbEndpoint, NtbEndpoint] {
  const [h0, h1] = [world.host('host0'), world.host('host1')];
  return [
    { host: h0, dev: h0.ls('/sys/bus/ntb/devices')[0] },
    { host: h1, dev: h1.ls('/sys/bus/ntb/devices')[0] },
  ];
}

/** A transcript as text: stderr lines marked "2> ". */
function text(lines: OutputLine[]): string[] {
  return lines.map((l) => (l.stream === 'stderr' ? `2> ${l.text}` : l.text));
}

/** Lines printed while `fn` runs. */
async function printed(script: NtbTestScript, fn: () => Promise<unknown>): Promise<string[]> {
  const mark = script.out.lines.length;
  await fn();
  return text(script.out.since(mark));
}

/** `fn` must end the script with `status`; returns what it printed. */
async function exits(script: NtbTestScript, status: number, fn: () => Promise<unknown>): Promise<string[]> {
  const mark = script.out.lines.length;
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'the script should have exited').to.be.instanceOf(ScriptExit);
  expect((caught as ScriptExit).status).to.equal(status);
  return text(script.out.since(mark));
}

const PERF_STATS = /^0: copied 1048576 bytes in \d+ usecs, \d+ MBytes\/s$/;

/** Spec §6 adapted to two hosts (ntb_test.sh -r host1 on host0): one MW, no messages, no ntb_msi_test. */
const GOLDEN: Array<string | RegExp> = [
  'Starting ntb_tool tests...',
  `Running port tests on: ${DEV} / ${DEV}`,
  'Local port 0 with index 0 on remote host',
  'Peer port 0 with index 0 on local host',
  '  Passed',
  `Running link tests on: ${DEV} / ${DEV}`,
  '  Passed',
  `Running link tests on: ${DEV} / ${DEV}`,
  '  Passed',
  `Running db tests on: ${DEV} / ${DEV}`,
  '  Passed',
  `Running db tests on: ${DEV} / ${DEV}`,
  '  Passed',
  `Running spad tests on: ${DEV} / ${DEV}`,
  '  Passed',
  `Running spad tests on: ${DEV} / ${DEV}`,
  '  Passed',
  `Running msg tests on: ${DEV} / ${DEV}`,
  '  Unsupported',
  `Running msg tests on: ${DEV} / ${DEV}`,
  '  Unsupported',
  `Running mw0 tests on: ${DEV} /  ${DEV}`,
  '  Passed',
  `Running mw0 tests on: ${DEV} /  ${DEV}`,
  '  Passed',
  '',
  'Starting ntb_pingpong tests...',
  `Running ping pong tests on: ${DEV} / ${DEV}`,
  '  Passed',
  '',
  'Starting ntb_msi_test tests...',
  '  Not doing MSI tests seeing the module is not available.',
  '',
  'Starting ntb_perf tests...',
  'Running local perf test without DMA',
  '      Peer 0 test statistics:',
  PERF_STATS,
  '  Passed',
  'Running remote perf test without DMA',
  '      Peer 0 test statistics:',
  PERF_STATS,
  '  Passed',
  '',
];

function expectTranscript(actual: string[], expected: Array<string | RegExp>): void {
  expect(actual.length, actual.join('\n')).to.equal(expected.length);
  expected.forEach((e, i) => {
    if (typeof e === 'string') expect(actual[i], `line ${i + 1}`).to.equal(e);
    else expect(actual[i], `line ${i + 1}`).to.match(e);
  });
}

async function runOn(world: World, opts: NtbTestOptions = {}) {
  const [local, remote] = endpoints(world);
  return runNtbTest(world, local, remote, { perfOrder: PERF_ORDER, ...opts });
}

describe('tools/selftest: ntb_test.sh on two Switchtec hosts, function by function', function () {
  this.timeout(60_000);
  let world: World;
  let h0: Host;
  let h1: Host;
  let t: NtbTestScript;

  before(async () => {
    world = await switchtecWorld();
    [h0, h1] = [world.host('host0'), world.host('host1')];
    const [local, remote] = endpoints(world);
    expect(local.dev).to.equal(DEV);
    expect(remote.dev).to.equal(DEV);
    t = new NtbTestScript(world, local, remote, { perfOrder: PERF_ORDER });
  });

  it('runs as ntb_test.sh -r host1: remote paths are host1:/…, local ones plain', () => {
    expect(t.REMOTE_HOST).to.equal('host1');
    expect(t.LOCAL_TOOL).to.equal(`${DBG}/ntb_tool/${DEV}`);
    expect(t.REMOTE_TOOL).to.equal(`host1:${DBG}/ntb_tool/${DEV}`);
    expect(t.REMOTE_PERF).to.equal(`host1:${DBG}/ntb_perf/${DEV}`);
  });

  it('cleanup: modprobe -r of every client, silently, although none is loaded', async () => {
    expect(await printed(t, () => t.cleanup())).to.deep.equal([]);
    for (const h of [h0, h1]) for (const m of CLEANUP_MODULES) expect(h.kernel.modules.isLoaded(m), `${m} on ${h.name}`).to.equal(false);
  });

  it('ntb_tool_tests: prints the banner and loads ntb_tool on both hosts', async () => {
    expect(await printed(t, async () => {
      t.echo('Starting ntb_tool tests...');
      t.setE(await t.modprobe(['ntb_tool']), 'modprobe');
    })).to.deep.equal(['Starting ntb_tool tests...']);
    for (const h of [h0, h1]) expect(h.exists(`${DBG}/ntb_tool/${DEV}/peer0/port`)).to.equal(true);
  });

  it('port_test: both ports 0, each side finds the other at peer index 0', async () => {
    expect(await printed(t, () => t.portTest(t.LOCAL_TOOL, t.REMOTE_TOOL))).to.deep.equal([
      `Running port tests on: ${DEV} / ${DEV}`,
      'Local port 0 with index 0 on remote host',
      'Peer port 0 with index 0 on local host',
      '  Passed',
    ]);
    expect([t.LOCAL_PORT, t.REMOTE_PORT, t.LOCAL_PIDX, t.REMOTE_PIDX]).to.deep.equal(['0', '0', '0', '0']);
    expect(t.LOCAL_PEER_TOOL).to.equal(`${DBG}/ntb_tool/${DEV}/peer0`);
    expect(t.REMOTE_PEER_TOOL).to.equal(`host1:${DBG}/ntb_tool/${DEV}/peer0`);
  });

  it('link_test local → remote: disabling host0 takes the link down as host1 sees it', async () => {
    expect(await printed(t, () => t.linkTest(t.LOCAL_PEER_TOOL, t.REMOTE_PEER_TOOL))).to.deep.equal([`Running link tests on: ${DEV} / ${DEV}`, '  Passed']);
  });

  it('link_test remote → local', async () => {
    expect(await printed(t, () => t.linkTest(t.REMOTE_PEER_TOOL, t.LOCAL_PEER_TOOL))).to.deep.equal([`Running link tests on: ${DEV} / ${DEV}`, '  Passed']);
  });

  it('waits for link-up on both sides (echo Y > peer0/link_event), silently', async () => {
    expect(await printed(t, async () => {
      await t.write('Y', `${t.LOCAL_PEER_TOOL}/link_event`);
      await t.write('Y', `${t.REMOTE_PEER_TOOL}/link_event`);
    })).to.deep.equal([]);
    expect(await h0.read(`${DBG}/ntb_tool/${DEV}/peer0/link`)).to.equal('Y\n');
    expect(await h1.read(`${DBG}/ntb_tool/${DEV}/peer0/link`)).to.equal('Y\n');
  });

  it('doorbell_test local → remote: 64 bits rung through peer_db land in the remote db', async () => {
    expect(await printed(t, () => t.doorbellTest(t.LOCAL_TOOL, t.REMOTE_TOOL))).to.deep.equal([`Running db tests on: ${DEV} / ${DEV}`, '  Passed']);
    expect(await h1.read(`${DBG}/ntb_tool/${DEV}/db`)).to.equal('0x0\n', 'cleared at the end');
  });

  it('doorbell_test remote → local', async () => {
    expect(await printed(t, () => t.doorbellTest(t.REMOTE_TOOL, t.LOCAL_TOOL))).to.deep.equal([`Running db tests on: ${DEV} / ${DEV}`, '  Passed']);
  });

  it('scratchpad_test local → remote: every peer spad written with $RANDOM reads back on the remote', async () => {
    expect(t.getFilesCount('spad', t.LOCAL_PEER_TOOL)).to.be.greaterThan(0);
    expect(await printed(t, () => t.scratchpadTest(t.LOCAL_PEER_TOOL, t.REMOTE_PEER_TOOL))).to.deep.equal([`Running spad tests on: ${DEV} / ${DEV}`, '  Passed']);
  });

  it('scratchpad_test remote → local', async () => {
    expect(t.getFilesCount('spad', t.REMOTE_PEER_TOOL)).to.be.greaterThan(0);
    expect(await printed(t, () => t.scratchpadTest(t.REMOTE_PEER_TOOL, t.LOCAL_PEER_TOOL))).to.deep.equal([`Running spad tests on: ${DEV} / ${DEV}`, '  Passed']);
  });

  it('message_test both ways: Switchtec has no message registers, so "Unsupported"', async () => {
    expect(t.getFilesCount('msg', t.LOCAL_PEER_TOOL)).to.equal(0);
    expect(await printed(t, async () => {
      await t.messageTest(t.LOCAL_PEER_TOOL, t.REMOTE_PEER_TOOL);
      await t.messageTest(t.REMOTE_PEER_TOOL, t.LOCAL_PEER_TOOL);
    })).to.deep.equal([`Running msg tests on: ${DEV} / ${DEV}`, '  Unsupported', `Running msg tests on: ${DEV} / ${DEV}`, '  Unsupported']);
  });

  it('mw_test local → remote: mw_alloc, dd into mw0, cmp with the remote peer_mw0, mw_free', async () => {
    expect(t.getFilesCount('mw_trans', t.LOCAL_PEER_TOOL)).to.equal(1);
    const mark = t.out.lines.length;
    t.echo(`Running mw0 tests on: ${t.subdirname(t.LOCAL_PEER_TOOL)} /  ${t.subdirname(t.REMOTE_PEER_TOOL)}`);
    await t.mwAlloc(0, t.LOCAL_PEER_TOOL, t.REMOTE_PEER_TOOL);
    expect(t.MW_ALIGNED_SIZE).to.equal('0x0000000000010000');
    expect(t.MW_DMA_ADDR).to.match(/^0x[0-9a-f]{16}$/);
    expect(h0.exists(`${DBG}/ntb_tool/${DEV}/peer0/mw0`)).to.equal(true);
    expect(h1.exists(`${DBG}/ntb_tool/${DEV}/peer0/peer_mw0`)).to.equal(true);
    await t.mwCheck(0, t.LOCAL_PEER_TOOL, t.REMOTE_PEER_TOOL);
    // The remote window came over "ssh host1 cat" into the script's temp file B (never removed).
    const b = t.sh.tmp.get(`/tmp/ntb_test.${SCRIPT_PID}.B`)!;
    expect(b.length).to.equal(0x10000);
    expect(Buffer.from(await h0.readBytes(`${DBG}/ntb_tool/${DEV}/peer0/mw0`)).equals(Buffer.from(b))).to.equal(true);
    expect(b.some((x) => x !== 0), 'random bytes, not zeros').to.equal(true);
    await t.mwFree(0, t.LOCAL_PEER_TOOL, t.REMOTE_PEER_TOOL);
    t.echo('  Passed');
    expect(text(t.out.since(mark))).to.deep.equal([`Running mw0 tests on: ${DEV} /  ${DEV}`, '  Passed']);
    expect(h0.exists(`${DBG}/ntb_tool/${DEV}/peer0/mw0`)).to.equal(false);
    expect(h1.exists(`${DBG}/ntb_tool/${DEV}/peer0/peer_mw0`)).to.equal(false);
  });

  it('mw_test remote → local (the remote mw0 is copied to /tmp/ntb_test.$$.A)', async () => {
    expect(await printed(t, () => t.mwTest(t.REMOTE_PEER_TOOL, t.LOCAL_PEER_TOOL))).to.deep.equal([`Running mw0 tests on: ${DEV} /  ${DEV}`, '  Passed']);
    expect(t.sh.tmp.get(`/tmp/ntb_test.${SCRIPT_PID}.A`)?.length).to.equal(0x10000);
  });

  it('ntb_tool_tests ends with modprobe -r ntb_tool on both hosts', async () => {
    t.setE(await t.modprobe(['-r', 'ntb_tool']), 'modprobe -r');
    for (const h of [h0, h1]) expect(h.exists(`${DBG}/ntb_tool`)).to.equal(false);
    t.echo('');
  });

  it('ntb_pingpong_tests: both counters move during sleep 7', async () => {
    const start = world.now;
    expect(await printed(t, () => t.ntbPingpongTests())).to.deep.equal([
      'Starting ntb_pingpong tests...',
      `Running ping pong tests on: ${DEV} / ${DEV}`,
      '  Passed',
    ]);
    expect(world.now - start).to.be.at.least(7e9);
    for (const h of [h0, h1]) expect(h.kernel.modules.isLoaded('ntb_pingpong')).to.equal(false);
    t.echo('');
  });

  it('ntb_msi_tests: modprobe ntb_msi_test fails, so the group is skipped as the script does', async () => {
    expect(await printed(t, () => t.ntbMsiTests())).to.deep.equal(['Starting ntb_msi_test tests...', '  Not doing MSI tests seeing the module is not available.']);
    t.echo('');
  });

  it('ntb_perf_tests: perf_test 0 loads ntb_perf total_order=20 on both hosts, runs and cats run each way', async () => {
    const lines = await printed(t, () => t.ntbPerfTests());
    expectTranscript(lines, GOLDEN.slice(GOLDEN.indexOf('Starting ntb_perf tests...'), -1));
    for (const h of [h0, h1]) expect(h.kernel.modules.isLoaded('ntb_perf')).to.equal(false);
    t.echo('');
  });

  it('the steps together print the golden transcript, the same as one whole run on a fresh world', async () => {
    const steps = text(t.out.lines);
    expectTranscript(steps, GOLDEN);
    const whole = await runOn(await switchtecWorld());
    expect(whole.status).to.equal(0);
    expect(text(whole.lines)).to.deep.equal(steps);
  });
});

describe('tools/selftest: ntb_test.sh whole runs', function () {
  this.timeout(60_000);

  it('is deterministic: the same seed gives the same transcript, kernel logs and virtual time', async () => {
    const [wa, wb] = [await switchtecWorld({ seed: 5 }), await switchtecWorld({ seed: 5 })];
    const [a, b] = [await runOn(wa), await runOn(wb)];
    expect(a.status).to.equal(0);
    expect(text(b.lines)).to.deep.equal(text(a.lines));
    expect(wb.now).to.equal(wa.now);
    for (const h of ['host0', 'host1']) expect(wb.host(h).dmesg()).to.equal(wa.host(h).dmesg());
  });

  it('with the MSI test module available, ntb_msi_tests runs port_test and msi_test both ways', async function () {
    if (!builtinPlugins().some((p) => p.modules?.some((m) => m.name === 'ntb_msi_test'))) this.skip();
    const r = await runOn(await switchtecWorld({}, builtinPlugins()));
    expect(r.status, text(r.lines).join('\n')).to.equal(0);
    const msi = GOLDEN.indexOf('Starting ntb_msi_test tests...');
    expectTranscript(text(r.lines), [
      ...GOLDEN.slice(0, msi + 1),
      `Running port tests on: ${DEV} / ${DEV}`,
      'Local port 0 with index 0 on remote host',
      'Peer port 0 with index 0 on local host',
      '  Passed',
      `Running MSI interrupt tests on: ${DEV} / ${DEV}`,
      '  Passed',
      `Running MSI interrupt tests on: ${DEV} / ${DEV}`,
      '  Passed',
      ...GOLDEN.slice(msi + 2),
    ]);
  });

  it('passes under the calibrated switchtec-gen3 profile too (doorbells land 1 ms late, MMIO round trips, module loads), as on the hardware', async () => {
    const world = await switchtecWorld({ profile: 'switchtec-gen3' }, builtinPlugins());
    const r = await runOn(world);
    expect(r.status, text(r.lines).join('\n')).to.equal(0);
    expect(text(r.lines).filter((l) => l === '  Passed')).to.have.length(GOLDEN.filter((l) => l === '  Passed').length + 3);
    // Each command of the script costs its fork/exec (and ssh) time: far more virtual time than the ideal world's run.
    expect(world.now).to.be.above(10e9);
  });

  it('…but only because a shell command takes time: with commands free, the remote db is read before the doorbell lands', async () => {
    const spec = switchtecTopology({ profile: 'switchtec-gen3' });
    spec.hosts = spec.hosts.map((h) => ({ ...h, timing: { ...h.timing!, execNs: 0, sshNs: 0 } }));
    const world = await World.create(spec, pluginsWithoutMsiTest());
    const r = await runOn(world);
    expect(r.status).to.equal(255);
    expect(text(r.lines).at(-1)).to.equal(`2> Doorbell doesn't match expected value 1  in host1:${DBG}/ntb_tool/${DEV}/db`);
  });

  it('without the DMA-alias quirk the link never comes up: the script would block forever at link_event, status 1', async () => {
    const r = await runOn(await switchtecWorld({ noAliasQuirk: true }));
    expect(r.status).to.equal(1);
    expect(text(r.lines)).to.deep.equal([
      ...(GOLDEN.slice(0, 9) as string[]),
      `2> ntbsim: ntb_test.sh would block forever at: echo "Y" > ${DBG}/ntb_tool/${DEV}/peer0/link_event (on host0; nothing left in the simulation can complete it)`,
    ]);
  });

  it('…and when a periodic timer keeps the world busy, the write is given up after the task time limit (3600 s virtual)', async () => {
    const world = await switchtecWorld({ noAliasQuirk: true });
    const k = world.host('host1').kernel;
    const tick = k.timer(() => tick.modIn(k.jiffies.msecsToJiffies(1000)));
    tick.modIn(1);
    const r = await runOn(world);
    expect(r.status).to.equal(1);
    expect(text(r.lines).at(-1)).to.equal(
      `2> ntbsim: ntb_test.sh would block forever at: echo "Y" > ${DBG}/ntb_tool/${DEV}/peer0/link_event (on host0; still blocked after 3600 s of virtual time)`,
    );
    tick.del();
  });

  for (const [mw, error] of [
    ['0x100000000', 'Numerical result out of range'],
    ['64k', 'Invalid argument'],
  ]) {
    it(`-m ${mw}: ntb_tool rejects the size, and the failed echo ends the script like set -e (status 1)`, async () => {
      const r = await runOn(await switchtecWorld(), { mwSize: mw });
      expect(r.status).to.equal(1);
      const lines = text(r.lines);
      expect(lines.slice(-2)).to.deep.equal([`Running mw0 tests on: ${DEV} /  ${DEV}`, `2> ./ntb_test.sh: line 117: echo: write error: ${error}`]);
      expect(lines.slice(0, -2)).to.deep.equal(GOLDEN.slice(0, 21));
    });
  }

  it('-m 100: the window is rounded up, and mw_alloc says so', async () => {
    const world = await switchtecWorld();
    const [local, remote] = endpoints(world);
    const t = new NtbTestScript(world, local, remote, { mwSize: 100 });
    await t.cleanup();
    await t.ntbToolTests();
    const lines = text(t.out.lines);
    const mw = lines.indexOf(`Running mw0 tests on: ${DEV} /  ${DEV}`);
    expect(lines.slice(mw)).to.deep.equal([
      `Running mw0 tests on: ${DEV} /  ${DEV}`,
      `MW 0 size aligned to ${t.MW_ALIGNED_SIZE}`,
      '  Passed',
      `Running mw0 tests on: ${DEV} /  ${DEV}`,
      `MW 0 size aligned to ${t.MW_ALIGNED_SIZE}`,
      '  Passed',
    ]);
    expect(bashArith(t.MW_ALIGNED_SIZE) > 100n).to.equal(true);
  });

  it('-d: perf_test 1 follows with use_dma=1; without a DMA engine each thread reports -ENODEV, and the run write still succeeds', async () => {
    const r = await runOn(await switchtecWorld(), { runDmaTests: true });
    expect(r.status).to.equal(0);
    const lines = text(r.lines);
    expect(lines.slice(-9)).to.deep.equal([
      'Running local perf test with DMA',
      '      Peer 0 test statistics:',
      '0: error status -19',
      '  Passed',
      'Running remote perf test with DMA',
      '      Peer 0 test statistics:',
      '0: error status -19',
      '  Passed',
      '',
    ]);
    expectTranscript(lines.slice(0, -9), [...GOLDEN.slice(0, -1)]);
  });

  it('-p 300: modprobe ntb_perf fails (total_order is a byte), the script stops with kmod`s message, status 1', async () => {
    const r = await runOn(await switchtecWorld(), { perfOrder: 300 });
    expect(r.status).to.equal(1);
    expect(text(r.lines).slice(-2)).to.deep.equal(['Starting ntb_perf tests...', "2> modprobe: ERROR: could not insert 'ntb_perf': Numerical result out of range"]);
  });

  it('ping pong counters that do not move within 7 s (ntb_pingpong already loaded with delay_ms=10000) fail with status 1', async () => {
    const world = await switchtecWorld();
    for (const h of world.hosts) await h.modprobe('ntb_pingpong', ['delay_ms=10000']);
    const [local, remote] = endpoints(world);
    const t = new NtbTestScript(world, local, remote);
    const lines = await exits(t, 1, () => t.ntbPingpongTests());
    expect(lines).to.deep.equal(['Starting ntb_pingpong tests...', `Running ping pong tests on: ${DEV} / ${DEV}`, '2> Ping pong counter not incrementing!']);
  });
});

describe('tools/selftest: the shell under the script', function () {
  this.timeout(60_000);
  let world: World;
  let t: NtbTestScript;

  before(async () => {
    world = await switchtecWorld();
    const [local, remote] = endpoints(world);
    t = new NtbTestScript(world, local, remote);
    await t.modprobe(['ntb_tool']);
  });

  after(async () => {
    await t.modprobe(['-r', 'ntb_tool']);
  });

  it('write_file: a rejected write prints bash`s echo write error, locally with the script line, through ssh as bash -c', async () => {
    expect(await printed(t, async () => {
      expect(await t.sh.writeFile('1', `${t.LOCAL_TOOL}/port`)).to.equal(1);
      expect(await t.sh.writeFile('1', `${t.REMOTE_TOOL}/port`)).to.equal(1);
    })).to.deep.equal(['2> ./ntb_test.sh: line 117: echo: write error: Invalid argument', '2> bash: line 1: echo: write error: Invalid argument']);
  });

  it('write_file: debugfs cannot create a missing file (EACCES); a missing directory is ENOENT', async () => {
    expect(await printed(t, async () => {
      expect(await t.sh.writeFile('1', `${t.LOCAL_TOOL}/nonexistent`)).to.equal(1);
      expect(await t.sh.writeFile('1', `${DBG}/nowhere/file`)).to.equal(1);
    })).to.deep.equal([`2> ./ntb_test.sh: line 117: ${DBG}/ntb_tool/${DEV}/nonexistent: Permission denied`, `2> ./ntb_test.sh: line 117: ${DBG}/nowhere/file: No such file or directory`]);
  });

  it('read_file under set -e: a missing file prints cat`s error and ends the script with status 1', async () => {
    expect(await exits(t, 1, () => t.readVar(`${t.REMOTE_TOOL}/peer7/port`))).to.deep.equal([`2> cat: ${DBG}/ntb_tool/${DEV}/peer7/port: No such file or directory`]);
  });

  it('port_test aborts silently (status 1) when no peer has the other side`s port', async () => {
    const lines = await exits(t, 1, () => t.portTest(t.LOCAL_TOOL, `host1:${DBG}/ntb_tool/${DEV}/peer0`));
    expect(lines).to.deep.equal([`Running port tests on: ${DEV} / peer0`]);
  });

  it('cmp -n: equal prefixes pass; a difference is reported on stdout, an early EOF on stderr, both status 1', async () => {
    const sh = t.sh;
    sh.tmp.set('/tmp/x', Uint8Array.from([1, 10, 2, 3]));
    sh.tmp.set('/tmp/y', Uint8Array.from([1, 10, 2, 4]));
    sh.tmp.set('/tmp/z', Uint8Array.from([1, 10]));
    expect(await printed(t, async () => {
      expect(await sh.cmp('0x3', '/tmp/x', '/tmp/y')).to.equal(0);
      expect(await sh.cmp('0x0000000000000004', '/tmp/x', '/tmp/y')).to.equal(1);
      expect(await sh.cmp('4', '/tmp/x', '/tmp/z')).to.equal(1);
    })).to.deep.equal(['/tmp/x /tmp/y differ: byte 4, line 2', '2> cmp: EOF on /tmp/z after byte 2, line 1']);
  });

  it('bash arithmetic and get_number read the kernel`s numbers as the script does', () => {
    expect(bashArith('0x7fff')).to.equal(0x7fffn);
    expect(bashArith('010')).to.equal(8n);
    expect(bashArith('')).to.equal(0n);
    expect(bashArith('-9223372036854775808')).to.equal(-(1n << 63n));
    expect(BigInt.asIntN(64, 1n << 63n)).to.equal(bashArith('0x8000000000000000'));
    const report = 'Inbound MW     \t0\nWindow Size    \t0x0000000000010000\nDMA Address    \t0x0000000812340000[p]\n';
    expect(getNumber(report, 'Window Size')).to.equal('0x0000000000010000');
    expect(getNumber(report, 'DMA Address')).to.equal('0x0000000812340000');
    expect(getNumber(report, 'Size Max')).to.equal('');
  });
});
