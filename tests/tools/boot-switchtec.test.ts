import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const MAIN = path.join(ROOT, 'dist/tools/cli/main.js');

function ntbsim(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw r.error;
  return r;
}

describe('tools/cli: ntbsim boot --topology switchtec', function () {
  this.timeout(60_000);

  it('lists each host`s /sys/bus/ntb/devices after the Switchtec drivers probed', () => {
    const r = ntbsim(['boot', '--topology', 'switchtec']);
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    const sections = r.stdout.split(/^=== /m).filter(Boolean);
    expect(sections).to.have.length(2);
    for (const s of sections) {
      expect(s).to.match(/^--- ls \/sys\/bus\/ntb\/devices ---\n0000:01:00\.1$/m);
      expect(s).to.match(/switchtec switchtec0: NTB device registered$/m);
    }
  });

  it('boots switchtec:4 as two NT pairs and reports the NTB devices in --json', () => {
    const r = ntbsim(['boot', '--topology', 'switchtec:4', '--json']);
    expect(r.status).to.equal(0);
    const out = JSON.parse(r.stdout) as { hosts: Array<{ name: string; ntbDevices: string[] }> };
    expect(out.hosts.map((h) => [h.name, h.ntbDevices])).to.deep.equal([
      ['host0', ['0000:01:00.1']],
      ['host1', ['0000:01:00.1']],
      ['host2', ['0000:01:00.1']],
      ['host3', ['0000:01:00.1']],
    ]);
  });

  it('refuses a switch with more partitions than Switchtec has', () => {
    const r = ntbsim(['boot', '--topology', 'switchtec:49']);
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/1 to 48 partitions/);
  });

  it('boots the example topology files: named hosts, IOMMU per host, module arguments, seed', () => {
    const r = ntbsim(['boot', '--topology', 'examples/topologies/switchtec-2host.json', '--json']);
    expect(r.status).to.equal(0, r.stderr);
    const out = JSON.parse(r.stdout) as { seed: number; hosts: Array<{ name: string; dmesg: string[]; ntbDevices: string[] }> };
    expect(out.seed).to.equal(7);
    expect(out.hosts.map((h) => [h.name, h.ntbDevices])).to.deep.equal([
      ['alpha', ['0000:01:00.1']],
      ['beta', ['0000:01:00.1']],
    ]);
    expect(out.hosts[1].dmesg.some((l) => l.endsWith('DMAR: IOMMU disabled'))).to.equal(true);
  });

  it('boots without the DMA-alias quirk from a topology file: no proxy-ID aliases on either host', () => {
    const r = ntbsim(['boot', '--topology', 'examples/topologies/switchtec-no-alias-quirk.json']);
    expect(r.status).to.equal(0, r.stderr);
    expect(r.stdout).to.not.match(/Setting Switchtec proxy ID aliases/);
    expect(r.stdout.match(/NTB device registered/g)).to.have.length(2);
  });
});
