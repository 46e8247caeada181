import 'reflect-metadata';
import { expect } from 'chai';
import { Kernel } from '../../core/kernel';
import { ModuleDecl } from '../../core/module/module';
import { param } from '../../core/module/params';
import { PluginRegistry } from '../../core/plugin';
import { World } from '../../core/world';
import { testdevPlugin } from '../../drivers/testdev';
import { eduDev, lines } from '../helpers/world';

describe('core/world: topology, hosts and plugins', () => {
  it('boots every host with its own kernel log, config and PCI tree', async () => {
    const w = await World.create(
      { hosts: [{ name: 'a', cpus: 2, cmdline: ['intel_iommu=on'] }, { name: 'b', iommu: false, intremap: false }], hardware: [{ type: 'edu', options: { hosts: ['b'] } }] },
      [testdevPlugin],
    );
    const [a, b] = w.hosts;
    expect(lines(a)).to.include('Linux version 6.12.0-ntbsim (ntbsim@a) #1 SMP');
    expect(lines(a)).to.include('Command line: intel_iommu=on');
    expect(lines(a)).to.include('smpboot: Allowing 2 CPUs, 0 hotplug CPUs');
    expect(lines(b)).to.include('DMAR: IOMMU disabled');
    expect(lines(a)).to.include('DMAR: Intel(R) Virtualization Technology for Directed I/O');
    expect(a.kernel.pci.devices).to.have.length(1);
    expect(eduDev(b).name).to.equal('0000:01:00.0');
    expect(a.kernel.iommu).to.not.equal(undefined);
    expect(b.kernel.iommu).to.equal(undefined);
    expect(a.kernel.irq.cpus).to.equal(2);
    expect(a.kernel.fs).to.not.equal(b.kernel.fs);
    expect(lines(a).at(-1)).to.equal('Run /sbin/init as init process');
  });

  it('loads the modules the topology lists for each host, with their arguments', async () => {
    const w = await World.create(
      { hosts: [{ name: 'a' }, { name: 'b' }], hardware: [{ type: 'edu' }], modules: { b: ['edu nvec=2'] } },
      [testdevPlugin],
    );
    expect(w.host('a').kernel.modules.isLoaded('edu')).to.equal(false);
    expect(w.host('b').kernel.modules.get('edu')!.params.nvec).to.equal(2);
    expect(eduDev(w.host('b')).msiDescs).to.have.length(2);
  });

  it('rejects unknown hardware, listing what the plugins provide', () => {
    expect(() => new World({ hosts: [{ name: 'a' }], hardware: [{ type: 'warp-drive' }] }, [testdevPlugin])).to.throw(/unknown hardware 'warp-drive' \(known: edu\)/);
  });

  it('refuses a plugin registered twice and a module two plugins provide', () => {
    const mod: ModuleDecl<Kernel, { x: ReturnType<typeof param.int> }, null> = { name: 'm', params: { x: param.int(0, 0, '') }, init: () => null };
    const r = new PluginRegistry().register({ name: 'p1', modules: [mod] });
    expect(() => r.register({ name: 'p1' })).to.throw(/registered twice/);
    expect(() => r.register({ name: 'p2', modules: [mod] })).to.throw(/module m provided twice/);
    expect(r.moduleNames).to.deep.equal(['m']);
    expect(r.findModule('m')).to.equal(mod);
  });

  it('throws for a host name that is not in the topology', async () => {
    const w = await World.create({ hosts: [{ name: 'a' }] }, []);
    expect(() => w.host('zz')).to.throw(/no host 'zz'/);
  });

  it('gives each host its own random stream, forked from the world seed', async () => {
    const draw = async (seed: number) => {
      const w = await World.create({ seed, hosts: [{ name: 'a' }, { name: 'b' }] }, []);
      return w.hosts.map((h) => [h.kernel.prng.int(0, 1e9), h.kernel.prng.int(0, 1e9)]);
    };
    const x = await draw(3);
    expect(await draw(3)).to.deep.equal(x);
    expect(x[0]).to.not.deep.equal(x[1]);
    expect(await draw(4)).to.not.deep.equal(x);
  });
});
