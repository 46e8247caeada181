import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const LAYERS = ['core', 'drivers', 'clients', 'tools'];

interface Violation {
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: Array<{ name: string } | string>;
}

interface CruiseResult {
  modules: Array<{ source: string }>;
  summary: { error: number; warn: number; totalCruised: number; violations: Violation[] };
}

/** Run dependency-cruiser with the project's rules on `files` (relative to `cwd`). */
function cruise(cwd: string, files: string[]): CruiseResult {
  const r = spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', 'json', ...files], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (!r.stdout.trim()) throw new Error(`depcruise printed nothing (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as CruiseResult;
}

function describeViolation(v: Violation): string {
  const cycle = v.cycle?.length ? ` (cycle: ${v.cycle.map((c) => (typeof c === 'string' ? c : c.name)).join(' → ')})` : '';
  return `${v.rule.severity} ${v.rule.name}: ${v.from} → ${v.to}${cycle}`;
}

/** Every TypeScript source of a layer, as the path of its compiled module under dist/. */
function compiledSources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(path.posix.join('dist', rel.replace(/\.ts$/, '.js')));
    }
  };
  for (const layer of LAYERS) if (existsSync(path.join(ROOT, layer))) walk(layer);
  out.push('dist/index.js');
  return out;
}

describe('tools/architecture: dependency directions (.dependency-cruiser.cjs)', function () {
  this.timeout(60_000);

  it('has no circular dependency and respects core → drivers → clients → tools, silicon and client boundaries', () => {
    // The compiled tree is cruised (dependency-cruiser cannot read TypeScript 7 sources); only
    // files with a current source are named, so stale output of deleted sources is ignored.
    const files = compiledSources();
    const missing = files.filter((f) => !existsSync(path.join(ROOT, f)));
    expect(missing, 'sources without compiled output: run the build first').to.deep.equal([]);
    const result = cruise(ROOT, files);
    const problems = result.summary.violations.map(describeViolation);
    expect(problems, `dependency rule violations:\n  ${problems.join('\n  ')}\n`).to.deep.equal([]);
    expect(result.summary.error).to.equal(0);
    // Guard against a vacuous pass (no parser, wrong paths): every named module was cruised.
    expect(result.summary.totalCruised).to.be.at.least(files.length);
  });

  it('catches each kind of violation (the rules match real paths)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ntbsim-depcruise-'));
    try {
      const files: Record<string, string> = {
        'dist/core/kernel.js': "require('../drivers/foo/driver');",
        'dist/core/a.js': "require('./b');",
        'dist/core/b.js': "require('./a');",
        'dist/drivers/foo/driver.js': "require('../../clients/bar/client'); require('./silicon/chip');",
        'dist/drivers/foo/silicon/chip.js': "require('../driver'); require('../../other/silicon/ok');",
        'dist/drivers/other/silicon/ok.js': '',
        'dist/clients/bar/client.js': "require('../../drivers/foo/silicon/chip'); require('../../tools/cli');",
        'dist/tools/cli.js': '',
      };
      for (const [f, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        writeFileSync(path.join(dir, f), text + '\n');
      }
      const got = cruise(dir, Object.keys(files))
        .summary.violations.filter((v) => v.rule.name !== 'no-circular' || v.from === 'dist/core/a.js')
        .map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)
        .sort();
      expect(got).to.include.members([
        'core-knows-no-backend: dist/core/kernel.js → dist/drivers/foo/driver.js',
        'no-circular: dist/core/a.js → dist/core/b.js',
        'drivers-below-clients-and-tools: dist/drivers/foo/driver.js → dist/clients/bar/client.js',
        'silicon-is-hardware: dist/drivers/foo/silicon/chip.js → dist/drivers/foo/driver.js',
        'clients-use-no-silicon: dist/clients/bar/client.js → dist/drivers/foo/silicon/chip.js',
        'clients-below-tools: dist/clients/bar/client.js → dist/tools/cli.js',
      ]);
      // Allowed: a driver using its own silicon's definitions, silicon using other silicon.
      expect(got.join('\n')).not.to.match(/driver\.js → dist\/drivers\/foo\/silicon/);
      expect(got.join('\n')).not.to.match(/→ dist\/drivers\/other\/silicon\/ok\.js/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
