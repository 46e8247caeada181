import 'reflect-metadata';
import { expect } from 'chai';
import { Host } from '../../../core/host';
import type { Kernel } from '../../../core/kernel';
import type { IoMem } from '../../../core/mm/io';
import type { PciDev } from '../../../core/pci/pci-dev';
import { World } from '../../../core/world';
import { switchtecPlugin } from '../../../drivers/switchtec';
import * as G from '../../../drivers/switchtec/switchtec-regs';
import { SWITCHTEC_ALIAS_QUIRK } from '../../../drivers/switchtec/silicon/topology';

const NT_EP = '0000:01:00.1';
const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const slotFn = (devfn: number) => `${hex2(devfn >> 3)}.${devfn & 7}`;

/**
 * Two hosts on a two-partition switch, booted with debug messages on and no module loaded: only
 * the PCI core and its fixups have touched the NT endpoints.
 */
async function boot(opts: { noquirk?: boolean } = {}): Promise<World> {
  const cmdline = opts.noquirk ? [`ntbsim.noquirk=${SWITCHTEC_ALIAS_QUIRK}`] : [];
  const world = new World(
    { seed: 1, hosts: [{ name: 'host0', cmdline }, { name: 'host1', cmdline }], hardware: [{ type: 'switchtec', options: { partitions: 2 } }] },
    [switchtecPlugin],
  );
  for (const h of world.hosts) h.printk.debugEnabled = true;
  await world.boot();
  return world;
}

const ntEp = (h: Host): PciDev => h.kernel.pci.byName(NT_EP)!;

/** The requester IDs the IOMMU code treats as the NT endpoint (pci_for_each_dma_alias). */
function dmaAliases(h: Host): number[] {
  const ids: number[] = [];
  h.kernel.pci.forEachDmaAlias(ntEp(h), (_owner, rid) => (ids.push(rid), 0));
  return ids;
}

/** What the quirk prints for a host whose peer partition's 16 proxy devfns start at `first`. */
function expectedQuirkLines(peer: number, first: number): string[] {
  const p = `pci ${NT_EP}:`;
  const lines = [`${p} Setting Switchtec proxy ID aliases`, `${p} Processing partition ${peer}`];
  for (let devfn = first; devfn < first + 16; devfn++) {
    lines.push(`${p} Aliasing Partition ${peer} Proxy ID ${slotFn(devfn)}`, `${p} Enabling fixed DMA alias to ${slotFn(devfn)}`);
  }
  // ep_map's "high half" is read 32 bytes on (ntp_info[0].target_part_low = 1 << 1): bit 33.
  lines.push(`${p} Processing partition 33`, `${p} Partition 33 table_sz 0`);
  return lines;
}

// ---- raw programming of the switch, as ntb_hw_switchtec would do it ----------------------------

function mapNtEp(k: Kernel): { dev: PciDev; gas: IoMem; win: IoMem } {
  const dev = k.pci.byName(NT_EP)!;
  k.pci.pcimEnableDevice(dev);
  k.pci.setMaster(dev);
  return { dev, gas: k.pci.iomap(dev, 0), win: k.pci.iomap(dev, 2) };
}

const ctrl = (p: number, r: number) => G.ntbCtrlBase(p) + r;

/** One LOCK or CFG op on CTRL[p], polled every 50 ms while transitional; returns the final state. */
async function partOp(k: Kernel, gas: IoMem, p: number, op: number, transitional: number): Promise<number> {
  gas.iowrite32(op, ctrl(p, G.CTRL_PARTITION_OP));
  let status = transitional;
  for (let i = 0; i < 100 && status === transitional; i++) {
    await k.msleep(50);
    status = gas.ioread32(ctrl(p, G.CTRL_PARTITION_STATUS)) & 0xffff;
  }
  return status;
}

async function locked(k: Kernel, gas: IoMem, p: number, edit: () => void): Promise<void> {
  expect(await partOp(k, gas, p, G.NTB_CTRL_PART_OP_LOCK, G.NTB_CTRL_PART_STATUS_LOCKING)).to.equal(G.NTB_CTRL_PART_STATUS_LOCKED);
  edit();
  expect(await partOp(k, gas, p, G.NTB_CTRL_PART_OP_CFG, G.NTB_CTRL_PART_STATUS_CONFIGURING)).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
}

/**
 * host0 lets its CPU's requester IDs cross (requester table of its own CTRL), host1 points host0's
 * BAR2 direct window at a DMA buffer of its own; then host0 writes a marker through the window.
 */
async function writeAcross(world: World): Promise<{ buf: { cpu: { read32(off: number): number } }; faultsBefore: number }> {
  const [h0, h1] = world.hosts;
  await h0.run('req ids', async (k) => {
    const { gas } = mapNtEp(k);
    const rid = gas.ioread16(G.GAS_NTB_INFO + G.NTB_INFO_REQUESTER_ID);
    await locked(k, gas, 0, () => {
      [0, rid].forEach((id, i) => gas.iowrite32(((id << G.NTB_CTRL_REQ_ID_SHIFT) | G.NTB_CTRL_REQ_ID_EN) >>> 0, ctrl(0, G.CTRL_REQ_ID_TABLE + 4 * i)));
    });
  });
  const SIZE = 0x10000;
  const buf = await h1.run('window', async (k) => {
    const { dev, gas } = mapNtEp(k);
    const b = k.dma.allocCoherent(dev, SIZE);
    b.cpu.write32(0x40, 0x11111111);
    const entry = ctrl(0, G.CTRL_BAR_ENTRY + 2 * G.CTRL_BAR_ENTRY_STRIDE);
    await locked(k, gas, 0, () => {
      gas.iowrite32((gas.ioread32(entry) & 0xff) | G.NTB_CTRL_BAR_DIR_WIN_EN, entry + G.BAR_ENTRY_CTL);
      gas.iowrite32((Math.log2(SIZE) | (SIZE & 0xfffff000)) >>> 0, entry + G.BAR_ENTRY_WIN_SIZE);
      gas.iowrite64(BigInt(b.dmaAddr) | 1n /* partition 1 */, entry + G.BAR_ENTRY_XLATE_ADDR);
    });
    return b;
  });
  const faultsBefore = h1.printk.lines().filter((l) => l.includes('DMAR: [DMA Write')).length;
  await h0.run('write', async (k) => {
    mapNtEp(k).win.iowrite32(0xdeadbeef, 0x40);
    await k.msleep(1);
  });
  await h1.run('settle', (k) => k.msleep(1));
  return { buf, faultsBefore };
}

describe('quirk_switchtec_ntb_dma_alias', function () {
  this.timeout(60000);

  it('prints Linux`s lines on both hosts, aliasing the peer partition`s proxy IDs and visiting "partition 33"', async () => {
    const world = await boot();
    const [h0, h1] = world.hosts;
    const quirkLines = (h: Host) => h.printk.lines().filter((l) => /Switchtec|[Pp]artition|DMA alias/.test(l));
    // The switch numbers proxy devfns from 01.0, 16 per partition.
    expect(quirkLines(h0)).to.deep.equal(expectedQuirkLines(1, 0x18));
    expect(quirkLines(h1)).to.deep.equal(expectedQuirkLines(0, 0x08));
    const warn = h0.printk.records.find((r) => r.text.endsWith('Partition 33 table_sz 0'))!;
    expect(warn.level).to.equal(4 /* KERN_WARNING */);
    // It ran before the IOMMU came up and left the function as it found it.
    const lines = h0.printk.lines();
    expect(lines.indexOf(`pci ${NT_EP}: Partition 33 table_sz 0`)).to.be.lessThan(lines.indexOf('DMAR: Intel(R) Virtualization Technology for Directed I/O'));
    expect(ntEp(h0).enableCnt).to.equal(0);
  });

  it('makes the proxy IDs DMA aliases of the NT endpoint, with IOMMU context entries', async () => {
    const world = await boot();
    for (const [h, first] of [[world.hosts[0], 0x18], [world.hosts[1], 0x08]] as const) {
      const dev = ntEp(h);
      const proxies = Array.from({ length: 16 }, (_, i) => (dev.busNumber << 8) | (first + i));
      expect(dmaAliases(h)).to.deep.equal([dev.requesterId, ...proxies]);
      for (const rid of proxies) expect(h.kernel.iommu!.unit.context.has(rid), `context for ${rid.toString(16)}`).to.equal(true);
    }
  });

  it('lets a write from host0 through an NT window land in host1`s RAM', async () => {
    const world = await boot();
    const { buf, faultsBefore } = await writeAcross(world);
    expect(buf.cpu.read32(0x40)).to.equal(0xdeadbeef);
    expect(faultsBefore).to.equal(0);
    expect(world.hosts[1].printk.lines().filter((l) => l.includes('DMAR: ['))).to.deep.equal([]);
  });

  describe(`with ntbsim.noquirk=${SWITCHTEC_ALIAS_QUIRK}`, () => {
    it('prints none of its lines and adds no alias', async () => {
      const world = await boot({ noquirk: true });
      for (const h of world.hosts) {
        const lines = h.printk.lines();
        expect(lines.filter((l) => /Switchtec|[Pp]artition|DMA alias/.test(l))).to.deep.equal([]);
        expect(lines.filter((l) => l.startsWith('pci ') && l.includes(SWITCHTEC_ALIAS_QUIRK))).to.deep.equal([`pci ${NT_EP}: quirk ${SWITCHTEC_ALIAS_QUIRK} disabled on the command line`]);
        expect(dmaAliases(h)).to.deep.equal([ntEp(h).requesterId]);
      }
    });

    it('loses the same write to host1`s IOMMU, which logs the proxy requester ID', async () => {
      const world = await boot({ noquirk: true });
      const h1 = world.hosts[1];
      const mark = h1.printk.lines().length;
      const { buf } = await writeAcross(world);
      expect(buf.cpu.read32(0x40)).to.equal(0x11111111, 'host1 memory unchanged');
      const faults = h1.printk.lines().slice(mark).filter((l) => l.includes('DMAR: [DMA Write'));
      expect(faults).to.have.length.greaterThan(0);
      // host0's CPU writes carry its root port's ID, requester-table entry 1 of partition 0: proxy 01.1.
      expect(faults[0]).to.contain('[01:01.1]');
    });
  });
});
