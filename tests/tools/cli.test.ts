import { expect } from 'chai';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const MAIN = path.join(ROOT, 'dist/tools/cli/main.js');
const BIN = path.join(ROOT, 'bin/ntbsim.js');

function ntbsim(args: string[], script = MAIN): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

interface BootJson {
  seed: number;
  hosts: Array<{ name: string; dmesg: string[]; pci: Array<{ name: string; vendor: string; device: string; class: string; driver: string | null }> }>;
}

function stderrLines(r: SpawnSyncReturns<string>): string[] {
  return r.stderr.split('\n').filter((l) => l.length > 0);
}

describe('tools/cli: ntbsim', function () {
  this.timeout(60_000);

  it('boot --hosts 2 --json prints one JSON object: two hosts, each with the PCI host bridge in dmesg and the edu device', () => {
    const r = ntbsim(['boot', '--hosts', '2', '--json']);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    const out = JSON.parse(r.stdout) as BootJson;
    expect(out.seed).to.equal(1);
    expect(out.hosts.map((h) => h.name)).to.deep.equal(['host0', 'host1']);
    for (const h of out.hosts) {
      expect(h.dmesg.some((l) => l.includes('PCI host bridge to bus 0000:00'))).to.equal(true);
      expect(h.dmesg.every((l) => /^\[\s*\d+\.\d{6}\] /.test(l))).to.equal(true);
      const edu = h.pci.find((d) => d.vendor === '1234' && d.device === '11e8');
      expect(edu, `edu in ${JSON.stringify(h.pci)}`).to.deep.equal({ name: '0000:01:00.0', vendor: '1234', device: '11e8', class: '00ff00', driver: null });
    }
  });

  it('is deterministic: --seed 7 twice gives byte-identical output, and the seed is reported', () => {
    const a = ntbsim(['--seed', '7', 'boot', '--json']);
    const b = ntbsim(['boot', '--json', '--seed', '7']);
    expect(a.status).to.equal(0);
    expect(b.stdout).to.equal(a.stdout);
    expect((JSON.parse(a.stdout) as BootJson).seed).to.equal(7);
  });

  it('boot without options boots the default world, as text with a header, dmesg and lspci per host', () => {
    const r = ntbsim(['boot']);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^=== host0: 4 CPUs, IOMMU on, interrupt remapping on ===$/m);
    expect(r.stdout).to.match(/^=== host1: /m);
    expect(r.stdout).to.match(/^01:00\.0 \[00ff00\] QEMU edu test device .*\[1234:11e8\]$/m);
  });

  it('with no arguments runs the main job (compare): doorbells vs MSI beside the published figures, and the chart in out/', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ntbsim-cli-'));
    try {
      // The reduced configuration, in a scratch directory (the chart goes to ./out).
      const r = spawnSync(process.execPath, [MAIN], { cwd: dir, encoding: 'utf8', env: { ...process.env, NTBSIM_MAIN_JOB_QUICK: '1' } });
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^doorbell\s.*\s3\.88 Gb\/s$/m);
      expect(r.stdout).to.match(/^msi\s.*\s14\.1 Gb\/s$/m);
      expect(r.stdout).to.include('chart (throughput against frame size, both modes): out/throughput-vs-frame-size.svg');
      expect(existsSync(path.join(dir, 'out', 'throughput-vs-frame-size.svg'))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('applies host options and loads modules (--iommu off --modprobe "edu nvec=2")', () => {
    const r = ntbsim(['boot', '--hosts', '1', '--iommu', 'off', '--modprobe', 'edu nvec=2', '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const h = (JSON.parse(r.stdout) as BootJson).hosts[0];
    expect(h.dmesg.some((l) => l.includes('DMAR: IOMMU disabled'))).to.equal(true);
    expect(h.dmesg.some((l) => l.includes('2 interrupt vectors'))).to.equal(true);
    expect(h.pci.find((d) => d.vendor === '1234')?.driver).to.equal('edu');
  });

  it('boots a --topology file: its hosts, hardware placement, modules and seed; --no-intremap overrides every host', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ntbsim-cli-'));
    try {
      const file = path.join(dir, 'topo.json');
      const spec = {
        seed: 42,
        hosts: [{ name: 'alpha', cpus: 2 }, { name: 'beta' }],
        hardware: [{ type: 'edu', options: { hosts: ['beta'] } }],
        modules: { beta: ['edu nvec=1'] },
      };
      writeFileSync(file, JSON.stringify(spec));
      const r = ntbsim(['boot', '--topology', file, '--no-intremap', '--json']);
      expect(r.status, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout) as BootJson;
      expect(out.seed).to.equal(42);
      expect(out.hosts.map((h) => h.name)).to.deep.equal(['alpha', 'beta']);
      expect(out.hosts[0].dmesg.some((l) => l.includes('Allowing 2 CPUs'))).to.equal(true);
      expect(out.hosts[0].pci.some((d) => d.vendor === '1234')).to.equal(false);
      expect(out.hosts[1].pci.find((d) => d.vendor === '1234')?.driver).to.equal('edu');
      for (const h of out.hosts) expect(h.dmesg.some((l) => l.includes('Enabled IRQ remapping'))).to.equal(false);

      writeFileSync(file, JSON.stringify({ hosts: [{ name: 'a', cpu: 2 }] }));
      const bad = ntbsim(['boot', '--topology', file]);
      expect(bad.status).to.not.equal(0);
      expect(stderrLines(bad)).to.have.length(1);
      expect(bad.stderr).to.match(/unknown field "cpu"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs through the bin/ntbsim.js shim', () => {
    const r = ntbsim(['--version'], BIN);
    expect(r.status).to.equal(0);
    expect(r.stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
  });

  for (const args of [['boot', '--bogus'], ['boot', '--hosts', '0'], ['boot', '--hosts', 'two'], ['--seed', 'x'], ['frobnicate'], ['boot', '--topology', '/nonexistent/topo.json']]) {
    it(`fails with one line on stderr and a non-zero exit: ntbsim ${args.join(' ')}`, () => {
      const r = ntbsim(args);
      expect(r.status).to.not.equal(0);
      expect(r.stdout).to.equal('');
      const lines = stderrLines(r);
      expect(lines, r.stderr).to.have.length(1);
      expect(lines[0]).to.match(/^ntbsim: error: /);
    });
  }
});
