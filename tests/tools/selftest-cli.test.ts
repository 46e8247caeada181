import { expect } from 'chai';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const MAIN = path.join(ROOT, 'dist/tools/cli/main.js');
const DEV = '0000:01:00.1';

function ntbsim(args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.length > 0);
}

interface SelftestJson {
  seed: number;
  local: { host: string; device: string };
  remote: { host: string; device: string };
  lines: Array<{ stream: 'stdout' | 'stderr'; text: string }>;
  status: number;
}

describe('tools/cli: ntbsim selftest (ntb_test.sh)', function () {
  this.timeout(60_000);

  it('selftest -p 20 passes on the default switchtec topology: the script`s lines on stdout, exit 0', () => {
    const r = ntbsim(['selftest', '-p', '20']);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    const out = r.stdout.split('\n');
    expect(out[0]).to.equal('Starting ntb_tool tests...');
    expect(out).to.include(`Running db tests on: ${DEV} / ${DEV}`);
    expect(out).to.include('  Passed');
    expect(out).to.include('Starting ntb_perf tests...');
    expect(out.filter((l) => /^0: copied 1048576 bytes in \d+ usecs, \d+ MBytes\/s$/.test(l))).to.have.length(2);
    expect(r.stdout.endsWith('  Passed\n\n')).to.equal(true, 'the final echo prints an empty line');
  });

  it('--json prints {seed, local, remote, lines: [{stream, text}], status}', () => {
    const r = ntbsim(['--seed', '3', 'selftest', '-p', '20', '--json']);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    const out = JSON.parse(r.stdout) as SelftestJson;
    expect(Object.keys(out)).to.deep.equal(['seed', 'local', 'remote', 'lines', 'status']);
    expect(out.seed).to.equal(3);
    expect(out.local).to.deep.equal({ host: 'host0', device: DEV });
    expect(out.remote).to.deep.equal({ host: 'host1', device: DEV });
    expect(out.status).to.equal(0);
    expect(out.lines[0]).to.deep.equal({ stream: 'stdout', text: 'Starting ntb_tool tests...' });
    expect(out.lines.every((l) => l.stream === 'stdout')).to.equal(true);
    expect(out.lines.at(-1)).to.deep.equal({ stream: 'stdout', text: '' });
  });

  it('--profile picks the timing profile of the switchtec topology; an unknown one, or one without a switchtec topology, is refused', () => {
    const r = ntbsim(['selftest', '-p', '20', '--profile', 'switchtec-gen3', '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as SelftestJson;
    expect(out.lines.filter((l) => l.text === '  Passed').length).to.be.at.least(15);
    const bad = ntbsim(['selftest', '--profile', 'gen9']);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.equal("ntbsim: error: option '--profile <name>' argument 'gen9' is invalid. Allowed choices are switchtec-gen3, ideal.\n");
    const noSwitch = ntbsim(['boot', '--profile', 'ideal']);
    expect(noSwitch.status).to.equal(2);
    expect(noSwitch.stderr).to.equal('ntbsim: error: --profile applies to a switchtec topology: add --topology switchtec\n');
  });

  it('a failing run exits with the script`s status and prints its error text on stderr (-m 0x100000000)', () => {
    const r = ntbsim(['selftest', '-p', '20', '-m', '0x100000000']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.equal('./ntb_test.sh: line 117: echo: write error: Numerical result out of range\n');
    expect(lines(r.stdout).at(-1)).to.equal(`Running mw0 tests on: ${DEV} /  ${DEV}`);

    const j = ntbsim(['selftest', '-p', '20', '-m', '0x100000000', '--json']);
    expect(j.status).to.equal(1);
    const out = JSON.parse(j.stdout) as SelftestJson;
    expect(out.status).to.equal(1);
    expect(out.lines.at(-1)).to.deep.equal({ stream: 'stderr', text: './ntb_test.sh: line 117: echo: write error: Numerical result out of range' });
  });

  it('a run that would hang on Linux (no DMA-alias quirk: the link never comes up) says where and exits 1', () => {
    const r = ntbsim(['selftest', '--cmdline', 'ntbsim.noquirk=quirk_switchtec_ntb_dma_alias']);
    expect(r.status).to.equal(1);
    expect(lines(r.stderr)).to.deep.equal([
      `ntbsim: ntb_test.sh would block forever at: echo "Y" > /sys/kernel/debug/ntb_tool/${DEV}/peer0/link_event (on host0; nothing left in the simulation can complete it)`,
    ]);
  });

  it('refuses a topology without an NTB device on each of two hosts: one line on stderr, non-zero exit', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ntbsim-selftest-'));
    try {
      const file = path.join(dir, 'edu.json');
      writeFileSync(file, JSON.stringify({ hosts: [{ name: 'a' }, { name: 'b' }], hardware: [{ type: 'edu' }] }));
      for (const [args, message] of [
        [['selftest', '--topology', file], 'ntbsim: error: a has no NTB device (/sys/bus/ntb/devices is empty)'],
        [['selftest', '--topology', 'switchtec:1'], 'ntbsim: error: selftest needs two hosts; the topology has 1'],
        [['selftest', '--hosts', '3'], 'ntbsim: error: selftest runs on a Switchtec topology: use --topology switchtec:N instead of --hosts N'],
      ] as const) {
        const r = ntbsim([...args]);
        expect(r.status, args.join(' ')).to.not.equal(0);
        expect(r.stdout).to.equal('');
        expect(lines(r.stderr)).to.deep.equal([message]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
