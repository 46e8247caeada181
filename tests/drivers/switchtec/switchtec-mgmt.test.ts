import 'reflect-metadata';
import { expect } from 'chai';
import * as sinon from 'sinon';
import { Host } from '../../../core/host';
import { msecs } from '../../../core/time/units';
import { TopologySpec, World } from '../../../core/world';
import { SwitchtecDev, SwitchtecSymbols } from '../../../drivers/switchtec';
import type { SwitchtecSwitch } from '../../../drivers/switchtec/silicon/switch';
import { switchtecTopology, SwitchtecTopologyOptions } from '../../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../../plugins';
import { linesSince } from '../../helpers/world';

const NT_EP = '/sys/bus/pci/devices/0000:01:00.1';

async function world(opts: SwitchtecTopologyOptions & { switchtecArgs?: string; hw?: Record<string, unknown> } = {}): Promise<{ w: World; sw: SwitchtecSwitch }> {
  const spec: TopologySpec = switchtecTopology(opts);
  let sw: SwitchtecSwitch | undefined;
  spec.hardware = [{ type: 'switchtec', options: { partitions: 2, ...opts.hw, onBuild: (s: SwitchtecSwitch) => (sw = s) } }];
  if (opts.switchtecArgs) spec.modules = { host0: [`switchtec ${opts.switchtecArgs}`], host1: [`switchtec ${opts.switchtecArgs}`] };
  const w = await World.create(spec, builtinPlugins());
  return { w, sw: sw! };
}

function stdev(h: Host): SwitchtecDev {
  const cls = h.kernel.symbolsOf<SwitchtecSymbols>('switchtec').switchtecClass;
  expect(cls.devices).to.have.length(1);
  return cls.devices[0];
}

describe('switchtec management driver', () => {
  it('binds the NT endpoint, registers class device switchtec0 with its SYS_INFO attributes', async () => {
    const { w } = await world();
    for (const [i, h] of w.hosts.entries()) {
      expect(h.printk.lines()).to.include.members(['switchtec switchtec0: Management device registered.', 'switchtec: loaded.']);
      expect(h.ls('/sys/class/switchtec')).to.deep.equal(['switchtec0']);
      const attr = (name: string) => h.read(`/sys/class/switchtec/switchtec0/${name}`);
      expect(await attr('partition')).to.equal(`${i}\n`);
      expect(await attr('partition_count')).to.equal('2\n');
      expect(await attr('fw_version')).to.equal('01080062\n');
      expect(await attr('device_version')).to.equal('3\n');
      expect(await attr('vendor_id')).to.equal('MICROSEM\n');
      expect(await attr('product_revision')).to.equal('RevB\n');
      expect(await attr('component_id')).to.equal('PM8533\n');
      expect(await attr('component_revision')).to.equal('15\n');
      expect(h.lspci().find((l) => l.startsWith('01:00.1'))).to.match(/\(driver: switchtec\)$/);
    }
  });

  it('allocates nirqs=32 vectors on a 4-entry MSI-X table: the other 28 are virtual', async () => {
    const { w } = await world();
    const h = w.host('host0');
    expect(await h.read('/sys/module/switchtec/parameters/nirqs')).to.equal('32\n');
    const irqs = h.ls(`${NT_EP}/msi_irqs`);
    expect(irqs).to.have.length(32);
    expect(await h.read(`${NT_EP}/msi_irqs/${irqs[0]}`)).to.equal('msix\n');
    const pdev = h.kernel.pci.devices.find((d) => d.name === '0000:01:00.1')!;
    expect(h.kernel.pciMsi.msixVecCount(pdev)).to.equal(4);
    expect(await h.read('/proc/interrupts')).to.match(/ switchtec$/m);
  });

  it('raises nirqs below 4 to 4, in the parameter itself', async () => {
    const { w } = await world({ switchtecArgs: 'nirqs=2' });
    const h = w.host('host0');
    expect(await h.read('/sys/module/switchtec/parameters/nirqs')).to.equal('4\n');
    expect(h.ls(`${NT_EP}/msi_irqs`)).to.have.length(4);
  });

  it('fails the probe with "failed to init isr." when the event vector lies beyond the vectors it got', async () => {
    const { w } = await world({ switchtecArgs: 'nirqs=4', hw: { eventVector: 9 } });
    const h = w.host('host0');
    expect(h.printk.lines()).to.include.members([
      'switchtec switchtec0: failed to init isr.',
      'switchtec: probe of 0000:01:00.1 failed with error -14',
    ]);
    expect(h.ls('/sys/class/switchtec')).to.deep.equal([]);
    expect(h.exists(`${NT_EP}/msi_irqs`)).to.equal(false, 'vectors given back');
  });

  it('calls the NTB driver`s link notifier once per link-state event of the switch', async () => {
    const { w, sw } = await world();
    const h = w.host('host0');
    const notifier = sinon.spy(stdev(h).linkNotifier!);
    stdev(h).linkNotifier = notifier;
    sw.linkStateEvent(1);
    await w.runFor(msecs(1));
    expect(notifier.callCount).to.equal(1);
    sw.linkStateEvent(1);
    sw.linkStateEvent(0);
    await w.runFor(msecs(1));
    expect(notifier.callCount).to.be.within(2, 3); // two events may share one work run
  });

  it('unbinds cleanly: ntb_hw_switchtec first, then the management device and the class', async () => {
    const { w } = await world();
    const h = w.host('host0');
    const mark = h.printk.lines().length;
    await h.rmmod('ntb_hw_switchtec');
    await h.rmmod('switchtec');
    expect(linesSince(h, mark)).to.deep.equal(['switchtec switchtec0: ntb device unregistered', 'switchtec switchtec0: unregistered.', 'switchtec: unloaded.']);
    expect(h.exists('/sys/class/switchtec')).to.equal(false);
    expect(h.exists(`${NT_EP}/msi_irqs`)).to.equal(false);
  });
});

describe('Switchtec DMA-alias quirk', () => {
  it('aliases every proxy ID of the peer partition, and visits "partition 33" as Linux`s ep_map read does', async () => {
    const { w } = await world();
    const h = w.host('host1');
    const lines = h.printk.lines();
    const at = lines.indexOf('pci 0000:01:00.1: Setting Switchtec proxy ID aliases');
    expect(at).to.be.greaterThan(-1);
    const expected = Array.from({ length: 16 }, (_, i) => {
      const devfn = 0x08 + i;
      return `pci 0000:01:00.1: Enabling fixed DMA alias to ${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`;
    });
    expect(lines.slice(at + 1, at + 17)).to.deep.equal(expected);
    expect(lines[at + 17]).to.equal('pci 0000:01:00.1: Partition 33 table_sz 0');
    const pdev = h.kernel.pci.devices.find((d) => d.name === '0000:01:00.1')!;
    expect([...(pdev.dmaAliasMask ?? [])]).to.have.length(16);
  });

  it('is off with ntbsim.noquirk=quirk_switchtec_ntb_dma_alias: no aliases, no lines', async () => {
    const { w } = await world({ noAliasQuirk: true });
    for (const h of w.hosts) {
      expect(h.printk.lines().filter((l) => /proxy ID aliases|fixed DMA alias/.test(l))).to.deep.equal([]);
      const pdev = h.kernel.pci.devices.find((d) => d.name === '0000:01:00.1')!;
      expect(pdev.dmaAliasMask?.size ?? 0).to.equal(0);
    }
  });
});
