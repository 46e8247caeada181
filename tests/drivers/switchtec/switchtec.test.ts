import 'reflect-metadata';
import { expect } from 'chai';
import { Host } from '../../../core/host';
import type { PciDev } from '../../../core/pci/pci-dev';
import { pciMatchId } from '../../../core/pci/pci-core';
import { NtbsimPlugin } from '../../../core/plugin';
import { msecs } from '../../../core/time/units';
import { TopologySpec, World } from '../../../core/world';
import { ntbCorePlugin } from '../../../drivers/ntb';
import { switchtecPlugin } from '../../../drivers/switchtec';
import type { SwitchtecDev, SwitchtecSymbols } from '../../../drivers/switchtec/switchtec-dev';
import { switchtecModule } from '../../../drivers/switchtec/switchtec-mgmt';
import type { SwitchtecSwitch } from '../../../drivers/switchtec/silicon/switch';
import * as G from '../../../drivers/switchtec/switchtec-regs';
import { builtinPlugins } from '../../../plugins';
import { linesSince, parseProcInterrupts } from '../../helpers/world';

const NT_EP = '0000:01:00.1';
const CLASS_DEV = '/sys/class/switchtec/switchtec0';

interface Opts {
  modules?: string[];
  hardware?: Record<string, unknown>;
  plugins?: NtbsimPlugin[];
  /** Called with the switch model before any host boots. */
  build?: (sw: SwitchtecSwitch) => void;
}

/** Two hosts on one two-partition switch, each loading `switchtec` (with `modules` args). */
async function boot(opts: Opts = {}): Promise<{ world: World; sw: SwitchtecSwitch }> {
  let sw: SwitchtecSwitch | undefined;
  const line = ['switchtec', ...(opts.modules ?? [])].join(' ');
  const spec: TopologySpec = {
    seed: 1,
    hosts: [{ name: 'host0' }, { name: 'host1' }],
    hardware: [{ type: 'switchtec', options: { partitions: 2, ...opts.hardware, onBuild: (s: SwitchtecSwitch) => ((sw = s), opts.build?.(s)) } }],
    modules: { host0: [line], host1: [line] },
  };
  const world = await World.create(spec, opts.plugins ?? builtinPlugins());
  await world.runFor(msecs(1000));
  return { world, sw: sw! };
}

/** The management driver alone: ntb_hw_switchtec is not installed (modprobe of it fails). */
const withoutNtbDriver: NtbsimPlugin[] = [ntbCorePlugin, { ...switchtecPlugin, name: 'switchtec-mgmt-only', modules: [switchtecModule] }];

const ntEp = (h: Host): PciDev => h.kernel.pci.byName(NT_EP)!;
const stdevOf = (h: Host): SwitchtecDev => h.kernel.symbolsOf<SwitchtecSymbols>('switchtec').switchtecClass.devices[0];

/** The /proc/interrupts rows named `name`: irq → total count. */
async function irqRows(h: Host, name: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const [irq, row] of parseProcInterrupts(await h.read('/proc/interrupts'))) {
    if (row.rest.split(' ').at(-1) === name) out.set(irq, row.counts.reduce((a, b) => a + b, 0));
  }
  return out;
}

describe('switchtec management driver: binding, resources and the class interface', function () {
  this.timeout(60000);

  it('binds each host`s NT endpoint, registers switchtec0 and prints the driver`s lines', async () => {
    const { world } = await boot();
    for (const h of world.hosts) {
      const lines = h.printk.lines();
      const reg = lines.indexOf('switchtec switchtec0: Management device registered.');
      expect(reg, h.name).to.be.greaterThan(-1);
      expect(lines.indexOf('switchtec: loaded.'), 'loaded after the boot-time probe').to.be.greaterThan(reg);
      expect(lines.filter((l) => l.includes('failed to init isr.'))).to.deep.equal([]);
      expect(ntEp(h).driver?.name).to.equal('switchtec');
      expect(h.ls('/sys/class/switchtec')).to.deep.equal(['switchtec0']);
      expect(h.ls('/sys/bus/pci/drivers/switchtec')).to.include(NT_EP);
      // The NT endpoint's probe asked for ntb_hw_switchtec, which attached through the class.
      expect(h.kernel.modules.isLoaded('ntb_hw_switchtec')).to.equal(true);
      expect(lines).to.include('switchtec switchtec0: NTB device registered');
    }
  });

  it('matches exactly the Microsemi management (0x058000) and NT (0x068000) classes of every gen3 ID', async () => {
    const { world } = await boot();
    const k = world.host('host0').kernel;
    const ids = (k.modules.get('switchtec')!.state as { driver: { idTable: Parameters<typeof pciMatchId>[0] } }).driver.idTable;
    const fake = (device: number, classCode: number, vendor = 0x11f8) => ({ vendor, device, classCode, subsystemVendor: 0, subsystemDevice: 0 }) as unknown as PciDev;
    for (const device of [0x8531, 0x8536, 0x8541, 0x8556, 0x8566, 0x8576]) {
      expect(pciMatchId(ids, fake(device, 0x058000)), device.toString(16)).to.not.equal(undefined);
      expect(pciMatchId(ids, fake(device, 0x068000)), device.toString(16)).to.not.equal(undefined);
    }
    expect(pciMatchId(ids, fake(0x8533, 0x068001))).to.equal(undefined);
    expect(pciMatchId(ids, fake(0x8533, 0x060400)), 'the upstream port').to.equal(undefined);
    expect(pciMatchId(ids, fake(0x8537, 0x068000))).to.equal(undefined);
    expect(pciMatchId(ids, fake(0x8533, 0x068000, 0x10b5))).to.equal(undefined);
    expect(world.host('host0').kernel.pci.byName('0000:01:00.0')!.driver).to.equal(undefined);
  });

  it('shows SYS_INFO and the partition in the class device`s attributes', async () => {
    const { world } = await boot();
    for (const [i, h] of world.hosts.entries()) {
      const attrs: Record<string, string> = {};
      for (const a of h.ls(CLASS_DEV)) attrs[a] = await h.read(`${CLASS_DEV}/${a}`);
      expect(attrs).to.deep.equal({
        device_version: '3\n',
        fw_version: '01080062\n',
        vendor_id: 'MICROSEM\n',
        product_id: 'PFX 8533 NTBSIM\n',
        product_revision: 'RevB\n',
        component_vendor: 'PMC-SIER\n',
        component_id: 'PM8533\n',
        component_revision: '15\n',
        partition: `${i}\n`,
        partition_count: '2\n',
      });
    }
  });

  it('exposes its parameters with Linux`s defaults and permissions', async () => {
    const { world } = await boot();
    const h = world.host('host0');
    const dir = '/sys/module/switchtec/parameters';
    expect(h.ls(dir)).to.deep.equal(['max_devices', 'nirqs', 'use_dma_mrpc']);
    expect(await h.read(`${dir}/max_devices`)).to.equal('16\n');
    expect(await h.read(`${dir}/use_dma_mrpc`)).to.equal('Y\n');
    expect(await h.read(`${dir}/nirqs`)).to.equal('32\n');
    for (const p of ['max_devices', 'nirqs', 'use_dma_mrpc']) expect(h.kernel.fs.stat(`${dir}/${p}`).mode & 0o777, p).to.equal(0o644);
  });

  it('allocates nirqs=32 vectors, 4 in the MSI-X table and 28 virtual, and names the event irq `switchtec`', async () => {
    const { world } = await boot();
    for (const h of world.hosts) {
      const dev = ntEp(h);
      expect(dev.msixEnabled).to.equal(true);
      expect(dev.msiDescs.map((d) => d.isVirtual)).to.deep.equal(Array.from({ length: 32 }, (_, i) => i >= 4));
      expect(h.ls(`/sys/bus/pci/devices/${NT_EP}/msi_irqs`).map(Number).sort((a, b) => a - b)).to.deep.equal(dev.msiDescs.map((d) => d.irq));
      // Only the 4 hardware entries are programmed; the table holds nothing for the virtual ones.
      expect(h.kernel.pciMsi.msixVecCount(dev)).to.equal(4);
      const event = await irqRows(h, 'switchtec');
      expect([...event.keys()], 'one event irq').to.deep.equal([h.kernel.pciMsi.irqVector(dev, 0)]);
    }
  });

  it('runs the link notifier once per link-state event, from a work item, and counts the event irq', async () => {
    const { world, sw } = await boot({ plugins: withoutNtbDriver });
    const calls: Array<[string, SwitchtecDev]> = [];
    for (const h of world.hosts) {
      // A missing ntb_hw_switchtec did not stop the probe.
      expect(h.kernel.modules.isLoaded('ntb_hw_switchtec')).to.equal(false);
      expect(h.printk.lines()).to.include('switchtec switchtec0: Management device registered.');
      const stdev = stdevOf(h);
      stdev.linkNotifier = (d) => calls.push([h.name, d]);
    }
    const before = await irqRows(world.host('host0'), 'switchtec');
    sw.linkStateEvent(3); // host1's NT endpoint PFF: its partition's cable moved
    await world.runFor(msecs(1));
    expect(calls.map(([n]) => n).sort()).to.deep.equal(['host0', 'host1']);
    expect(calls.every(([n, d]) => d === stdevOf(world.host(n)))).to.equal(true);
    const after = await irqRows(world.host('host0'), 'switchtec');
    const irq = [...before.keys()][0];
    expect(after.get(irq)! - before.get(irq)!).to.equal(1);

    // Nothing new: another interrupt-free interval calls nobody; a second event calls once more.
    await world.runFor(msecs(10));
    expect(calls).to.have.length(2);
    sw.linkStateEvent(0);
    await world.runFor(msecs(1));
    expect(calls).to.have.length(4);
  });

  it('fails the probe with `failed to init isr.` when the event vector is not among the allocated ones', async () => {
    const { world } = await boot({ hardware: { eventVector: 32 } });
    for (const h of world.hosts) {
      const lines = h.printk.lines();
      // Linux prints this with dev_err on the class device (switchtec switchtec0: …); the
      // driver currently prefixes the PCI function, so only the text is pinned here.
      expect(lines.filter((l) => /^switchtec \S+: failed to init isr\.$/.test(l))).to.have.length(1);
      expect(lines).to.include(`switchtec: probe of ${NT_EP} failed with error -14`);
      expect(lines).to.include('switchtec: loaded.');
      expect(lines.some((l) => l.includes('Management device registered.'))).to.equal(false);
      const dev = ntEp(h);
      expect(dev.driver).to.equal(undefined);
      expect(dev.msixEnabled, 'vectors released').to.equal(false);
      expect(dev.enableCnt).to.equal(0);
      expect(h.ls('/sys/class/switchtec')).to.deep.equal([]);
      expect((await irqRows(h, 'switchtec')).size).to.equal(0);
    }
  });

  describe('DMA MRPC', () => {
    const mrpcOf = (sw: SwitchtecSwitch, p: number) => new DataView((sw as unknown as { mrpc: Uint8Array[] }).mrpc[p].buffer);
    /** The switch model has no DMA MRPC firmware: make every partition report dma_ver 1, dma_vector 3. */
    const dmaFirmware = (sw: SwitchtecSwitch) => {
      for (let p = 0; p < 2; p++) {
        mrpcOf(sw, p).setUint32(G.MRPC_DMA_VER, 1, true);
        mrpcOf(sw, p).setUint32(G.MRPC_DMA_VECTOR, 3, true);
      }
    };

    it('programs dma_addr and dma_en at probe, requests the dma_vector irq, and turns it off at unbind', async () => {
      const { world, sw } = await boot({ plugins: withoutNtbDriver, build: dmaFirmware });
      for (const [i, h] of world.hosts.entries()) {
        const m = mrpcOf(sw, i);
        expect(m.getUint32(G.MRPC_DMA_EN, true), h.name).to.equal(1);
        expect(m.getBigUint64(G.MRPC_DMA_ADDR, true)).to.not.equal(0n);
        const rows = await irqRows(h, 'switchtec');
        expect([...rows.keys()]).to.deep.equal([0, 3].map((v) => h.kernel.pciMsi.irqVector(ntEp(h), v)));
      }
      const h1 = world.host('host1');
      await h1.write('/sys/bus/pci/drivers/switchtec/unbind', NT_EP);
      expect(mrpcOf(sw, 1).getUint32(G.MRPC_DMA_EN, true)).to.equal(0);
      expect(mrpcOf(sw, 1).getBigUint64(G.MRPC_DMA_ADDR, true)).to.equal(0n);
      expect(ntEp(h1).devres.names).to.deep.equal([]);
    });

    it('is left off with use_dma_mrpc=0, and when the firmware reports dma_ver 0', async () => {
      for (const opts of [{ modules: ['use_dma_mrpc=0'], build: dmaFirmware }, {}]) {
        const { world, sw } = await boot({ plugins: withoutNtbDriver, ...opts });
        for (const [i, h] of world.hosts.entries()) {
          expect(mrpcOf(sw, i).getUint32(G.MRPC_DMA_EN, true)).to.equal(0);
          expect((await irqRows(h, 'switchtec')).size).to.equal(1);
        }
      }
    });
  });

  it('takes ntb_hw_switchtec off the device before it unregisters, then releases everything', async () => {
    const { world } = await boot();
    const h = world.host('host1');
    const mark = h.printk.lines().length;
    await h.write('/sys/bus/pci/drivers/switchtec/unbind', NT_EP);
    expect(linesSince(h, mark)).to.deep.equal(['switchtec switchtec0: ntb device unregistered', 'switchtec switchtec0: unregistered.']);
    const dev = ntEp(h);
    expect(dev.driver).to.equal(undefined);
    expect(dev.msixEnabled).to.equal(false);
    expect(dev.isBusmaster).to.equal(false);
    expect(dev.enableCnt).to.equal(0);
    expect(dev.devres.names).to.deep.equal([]);
    expect(h.ls('/sys/class/switchtec')).to.deep.equal([]);
    expect((await irqRows(h, 'switchtec')).size).to.equal(0);

    // Bound again: the lowest free index, the same attributes, the NTB device back.
    await h.write('/sys/bus/pci/drivers/switchtec/bind', NT_EP);
    await world.runFor(msecs(500));
    expect(h.ls('/sys/class/switchtec')).to.deep.equal(['switchtec0']);
    expect(await h.read(`${CLASS_DEV}/partition`)).to.equal('1\n');
    expect(linesSince(h, mark)).to.include('switchtec switchtec0: NTB device registered');
  });

  it('prints `switchtec: unloaded.` after the device is gone on rmmod', async () => {
    const { world } = await boot({ plugins: withoutNtbDriver });
    const h = world.host('host0');
    const mark = h.printk.lines().length;
    await h.rmmod('switchtec');
    expect(linesSince(h, mark)).to.deep.equal(['switchtec switchtec0: unregistered.', 'switchtec: unloaded.']);
    expect(h.exists('/sys/class/switchtec')).to.equal(false);
    expect(h.exists('/sys/module/switchtec')).to.equal(false);
    expect(ntEp(h).msixEnabled).to.equal(false);
  });
});
