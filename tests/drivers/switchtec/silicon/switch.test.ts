import { expect } from 'chai';
import type { Kernel } from '../../../../core/kernel';
import type { IoMem } from '../../../../core/mm/io';
import type { PciDev } from '../../../../core/pci/pci-dev';
import { PCI_IRQ_MSIX } from '../../../../core/pci/msi';
import { IrqReturn } from '../../../../core/irq/irqdesc';
import { NtbsimPlugin } from '../../../../core/plugin';
import type { PciFixup } from '../../../../core/pci/pci-core';
import { World } from '../../../../core/world';
import * as G from '../../../../drivers/switchtec/switchtec-regs';
import { NTB_CFG_ERR } from '../../../../drivers/switchtec/silicon/cfg-errors';
import { switchtecHardware } from '../../../../drivers/switchtec/silicon/factory';

const plugin: NtbsimPlugin = { name: 'switchtec-silicon-test', hardware: { switchtec: switchtecHardware } };
const NT_EP = '0000:01:00.1';
const USP = '0000:01:00.0';

/**
 * A stand-in for the DMA-alias quirk (the real one belongs to the driver work): a final fixup that
 * learns the other partitions' proxy devfns from the GAS registers only, before the IOMMU attaches.
 */
function aliasFixup(world: () => World): PciFixup {
  return {
    name: 'switchtec_alias_test',
    phase: 'final',
    vendor: 0x11f8,
    device: 0x8533,
    classCode: 0x0680,
    classShift: 8,
    hook: (dev) => {
      const k = world().hosts.find((h) => h.kernel.pci.devices.includes(dev))!.kernel;
      k.pci.enableDevice(dev);
      const gas = k.pci.iomap(dev, 0);
      const self = gas.ioread8(G.GAS_NTB_INFO + G.NTB_INFO_PARTITION_ID);
      const map = BigInt(gas.ioread32(G.GAS_NTB_INFO + G.NTB_INFO_EP_MAP)) & ~(1n << BigInt(self));
      for (let pp = 0; pp < 48; pp++) {
        if (!((map >> BigInt(pp)) & 1n)) continue;
        const sz = gas.ioread16(ctrl(pp, G.CTRL_REQ_ID_TABLE_SIZE));
        for (let te = 0; te < sz; te++) k.pci.addDmaAlias(dev, (gas.ioread32(ctrl(pp, G.CTRL_REQ_ID_TABLE + 4 * te)) >> 1) & 0xff);
      }
      k.pci.disableDevice(dev);
    },
  };
}

async function boot(opts: { iommuB?: boolean; quirk?: boolean; options?: Record<string, unknown> } = {}): Promise<World> {
  let world: World | undefined;
  const plugins: NtbsimPlugin[] = [plugin];
  if (opts.quirk) plugins.push({ name: 'switchtec-alias-test', fixups: [aliasFixup(() => world!)] });
  world = new World(
    {
      hosts: [{ name: 'a' }, { name: 'b', iommu: opts.iommuB ?? true, intremap: opts.iommuB ?? true }],
      hardware: [{ type: 'switchtec', options: opts.options }],
    },
    plugins,
  );
  await world.boot();
  return world;
}

interface Mapped {
  dev: PciDev;
  gas: IoMem;
  win: IoMem;
}

function mapNtEp(k: Kernel): Mapped {
  const dev = k.pci.byName(NT_EP)!;
  k.pci.pcimEnableDevice(dev);
  k.pci.setMaster(dev);
  return { dev, gas: k.pci.iomap(dev, 0), win: k.pci.iomap(dev, 2) };
}

const ctrl = (p: number, r: number) => G.ntbCtrlBase(p) + r;
const dbmsg = (p: number, r: number) => G.ntbDbmsgBase(p) + r;

/** switchtec_ntb_part_op: write op, poll every 50 ms while transitional; returns the final state. */
async function partOp(k: Kernel, gas: IoMem, p: number, op: number, wait: number): Promise<number> {
  gas.iowrite32(op, ctrl(p, G.CTRL_PARTITION_OP));
  let status = wait;
  for (let i = 0; i < 1000 && status === wait; i++) {
    await k.msleep(50);
    status = gas.ioread32(ctrl(p, G.CTRL_PARTITION_STATUS)) & 0xffff;
  }
  return status;
}
const lock = (k: Kernel, gas: IoMem, p: number) => partOp(k, gas, p, G.NTB_CTRL_PART_OP_LOCK, G.NTB_CTRL_PART_STATUS_LOCKING);
const cfg = (k: Kernel, gas: IoMem, p: number) => partOp(k, gas, p, G.NTB_CTRL_PART_OP_CFG, G.NTB_CTRL_PART_STATUS_CONFIGURING);

/** switchtec_ntb_init_req_id_table on the self CTRL: entry 0 = 00:00.0, entry 1 = NTB INFO.requester_id. */
async function programReqIds(k: Kernel, gas: IoMem, self: number): Promise<number[]> {
  const rid = gas.ioread16(G.GAS_NTB_INFO + G.NTB_INFO_REQUESTER_ID);
  expect(await lock(k, gas, self)).to.equal(G.NTB_CTRL_PART_STATUS_LOCKED);
  const proxies: number[] = [];
  [0, rid].forEach((id, i) => {
    gas.iowrite32(((id << 16) | G.NTB_CTRL_REQ_ID_EN) >>> 0, ctrl(self, G.CTRL_REQ_ID_TABLE + 4 * i));
    proxies.push((gas.ioread32(ctrl(self, G.CTRL_REQ_ID_TABLE + 4 * i)) >> 1) & 0xff);
  });
  expect(await cfg(k, gas, self)).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
  return proxies;
}

const LUT_CTL = G.NTB_CTRL_BAR_LUT_WIN_EN | (16 << G.NTB_CTRL_BAR_LUT_SIZE_SHIFT) | (31 << G.NTB_CTRL_BAR_LUT_COUNT_SHIFT);
const BAR2_CTL = ctrl(0, G.CTRL_BAR_ENTRY + 2 * G.CTRL_BAR_ENTRY_STRIDE) - G.ntbCtrlBase(0);

/**
 * mw_set_trans run by host B (partition `self`) on the peer's CTRL: direct window of BAR2 (after
 * 32 LUT windows of 64 KiB) → `addr` on B, plus LUT entry `lut` → `addr`. Returns the final state.
 */
async function setTrans(k: Kernel, gas: IoMem, peer: number, self: number, addr: number, size: number, lut = 1): Promise<number> {
  expect(await lock(k, gas, peer)).to.equal(G.NTB_CTRL_PART_STATUS_LOCKED);
  const base = ctrl(peer, BAR2_CTL);
  const ctl = gas.ioread32(base);
  gas.iowrite32((ctl & 0xff) | LUT_CTL | G.NTB_CTRL_BAR_DIR_WIN_EN, base);
  gas.iowrite32((Math.log2(size) | (size & 0xfffff000)) >>> 0, base + G.BAR_ENTRY_WIN_SIZE);
  gas.iowrite64(BigInt(addr) | BigInt(self), base + G.BAR_ENTRY_XLATE_ADDR);
  if (lut >= 0) gas.iowrite64(1n | (BigInt(self) << 1n) | BigInt(addr - (addr % G.LUT_SIZE)), ctrl(peer, G.CTRL_LUT_ENTRY + 8 * lut));
  return cfg(k, gas, peer);
}

describe('switchtec silicon', function () {
  this.timeout(60000);

  it('enumerates an upstream port and an NT endpoint with the Switchtec IDs on every host', async () => {
    const w = await boot();
    for (const h of w.hosts) {
      const ep = h.kernel.pci.byName(NT_EP)!;
      expect(ep, h.name).to.exist;
      expect(ep.vendor).to.equal(0x11f8);
      expect(ep.device).to.equal(0x8533);
      expect(ep.classCode).to.equal(0x068000);
      expect(h.kernel.pci.resourceLen(ep, 0)).to.equal(4 << 20);
      expect(h.kernel.pci.resourceLen(ep, 2)).to.equal(16 << 20);
      const usp = h.kernel.pci.byName(USP)!;
      expect(usp.classCode).to.equal(0x060400);
      expect(usp.vendor).to.equal(0x11f8);
      expect(h.kernel.pci.findCapability(ep, 0x05)).to.equal(0x40);
      expect(h.kernel.pci.findCapability(ep, 0x11)).to.equal(0x50);
      expect(h.kernel.pci.findCapability(ep, 0x10)).to.equal(0x64);
    }
  });

  it('shows each host its own partition in SYS_INFO / NTB INFO and the shared partition map', async () => {
    const w = await boot();
    for (const [i, h] of w.hosts.entries()) {
      await h.run('gas', (k) => {
        const { gas } = mapNtEp(k);
        expect(gas.ioread32(G.GAS_SYS_INFO + G.SYS_INFO_DEVICE_ID)).to.equal(0x8533);
        expect(gas.ioread8(G.GAS_SYS_INFO + G.SYS_INFO_PARTITION_ID)).to.equal(i);
        expect(gas.ioread8(G.GAS_NTB_INFO + G.NTB_INFO_PARTITION_COUNT)).to.equal(2);
        expect(gas.ioread8(G.GAS_NTB_INFO + G.NTB_INFO_PARTITION_ID)).to.equal(i);
        expect(gas.ioread64(G.GAS_NTB_INFO + G.NTB_INFO_EP_MAP)).to.equal(3n);
        expect(gas.ioread16(G.GAS_NTB_INFO + G.NTB_INFO_REQUESTER_ID)).to.equal(0x0008); // root port 00:01.0
        const ntp = (p: number, f: number) => G.GAS_NTB_INFO + G.NTB_INFO_NTP_INFO + G.NTB_INFO_NTP_STRIDE * p + f;
        expect(gas.ioread32(ntp(0, G.NTP_TARGET_PART_LOW))).to.equal(2);
        expect(gas.ioread32(ntp(1, G.NTP_TARGET_PART_LOW))).to.equal(1);
        expect(gas.ioread32(ntp(0, G.NTP_XLINK_ENABLED))).to.equal(0);
        // PART_CFG: vep vector dword = vep index only; PFF indices.
        expect(gas.ioread32(G.partCfgBase(i) + G.PART_CFG_VEP_VECTOR_NUMBER)).to.equal(0);
        expect(gas.ioread32(G.partCfgBase(i) + G.PART_CFG_VEP_PFF_INST_ID)).to.equal(2 * i + 1);
        // PFF scan stops after 4 functions; link status at +0x74.
        let pffs = 0;
        while (gas.ioread16(G.pffCsrBase(pffs) + G.PFF_VENDOR_ID) === 0x11f8) pffs++;
        expect(pffs).to.equal(4);
        const lnk = gas.ioread32(G.pffCsrBase(2 * i + 1) + G.PFF_LINK_CTL_STS);
        expect((lnk >> 16) & 0xf).to.equal(3);
        expect((lnk >> 20) & 0x3f).to.equal(8);
        // CTRL of every configured partition; unconfigured ones (the quirk's "partition 33") read 0.
        for (const p of [0, 1]) {
          expect(gas.ioread16(ctrl(p, G.CTRL_REQ_ID_TABLE_SIZE))).to.equal(16);
          expect(gas.ioread16(ctrl(p, G.CTRL_LUT_TABLE_ENTRIES))).to.equal(32);
          expect(gas.ioread32(ctrl(p, G.CTRL_PARTITION_STATUS))).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
          expect(gas.ioread32(ctrl(p, G.CTRL_BAR_ENTRY + 2 * 16)) & G.NTB_CTRL_BAR_VALID).to.equal(1);
          expect(gas.ioread32(ctrl(p, G.CTRL_BAR_ENTRY + 0 * 16)) & G.NTB_CTRL_BAR_VALID).to.equal(0);
          // Proxy devfns are visible before any programming, distinct, never 00.0/00.1.
          const proxies = Array.from({ length: 16 }, (_, e) => (gas.ioread32(ctrl(p, G.CTRL_REQ_ID_TABLE + 4 * e)) >> 1) & 0xff);
          expect(proxies[0]).to.equal(0x08 + 16 * p);
          expect(new Set(proxies).size).to.equal(16);
        }
        expect(gas.ioread16(ctrl(33, G.CTRL_REQ_ID_TABLE_SIZE))).to.equal(0);
        expect(gas.ioread32(0x14000 + 0x2000 * 60)).to.equal(0);
        // odb reads are side-effect free (the WC flush read).
        expect(gas.ioread32(dbmsg(0, G.DBMSG_ODB))).to.equal(0);
      });
    }
  });

  it('runs LOCK → CFG with transitional states, ignores unlocked writes, and serialises lockers (each sees its own transaction)', async () => {
    const w = await boot();
    const [a, b] = w.hosts;
    await Promise.all([
      a.run('lockA', async (k) => {
        const { gas } = mapNtEp(k);
        gas.iowrite32(0x12345601, ctrl(0, G.CTRL_LUT_ENTRY)); // unlocked: ignored
        expect(gas.ioread32(ctrl(0, G.CTRL_LUT_ENTRY))).to.equal(0);
        gas.iowrite32(G.NTB_CTRL_PART_OP_LOCK, ctrl(0, G.CTRL_PARTITION_OP));
        expect(gas.ioread32(ctrl(0, G.CTRL_PARTITION_STATUS))).to.equal(G.NTB_CTRL_PART_STATUS_LOCKING);
        await k.msleep(50);
        expect(gas.ioread32(ctrl(0, G.CTRL_PARTITION_STATUS))).to.equal(G.NTB_CTRL_PART_STATUS_LOCKED);
        await k.msleep(200); // hold the lock while B queues
        expect(await cfg(k, gas, 0)).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
      }),
      b.run('lockB', async (k) => {
        const { gas } = mapNtEp(k);
        await k.msleep(60);
        // A holds CTRL[0]: B's view of it is NORMAL (B's own last op, none, is complete).
        expect(gas.ioread32(ctrl(0, G.CTRL_PARTITION_STATUS))).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
        const t0 = k.now;
        expect(await lock(k, gas, 0)).to.equal(G.NTB_CTRL_PART_STATUS_LOCKED);
        expect(k.now - t0).to.be.greaterThan(150e6); // waited for A's CFG
        expect(await cfg(k, gas, 0)).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
      }),
    ]);
  });

  for (const iommuB of [true, false]) {
    it(`forwards window writes/reads to the peer's RAM under a proxy ID (B iommu ${iommuB ? 'on + aliases' : 'off'})`, async () => {
      const w = await boot({ iommuB, quirk: iommuB });
      const [a, b] = w.hosts;
      const aliases = await a.run('reqid', async (k) => programReqIds(k, mapNtEp(k).gas, 0));
      const SIZE = 0x10000;
      const buf = await b.run('mw', async (k) => {
        const { dev, gas } = mapNtEp(k);
        // core/host.ts enables IOMMU translation (attach) before the final fixups run, so the
        // quirk's aliases get no context entries; re-attach until the core orders boot as Linux
        // does (pci_iommu_init after pci_bus_add_devices).
        if (iommuB && !k.iommu!.unit.context.has((dev.busNumber << 8) | aliases[1])) k.iommu!.attach(dev);
        const buf = k.dma.allocCoherent(dev, SIZE);
        expect(buf.dmaAddr % SIZE).to.equal(0);
        expect(await setTrans(k, gas, 0, 1, buf.dmaAddr, SIZE)).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
        return buf;
      });
      if (iommuB) expect(b.dmesg()).to.contain(`Enabling fixed DMA alias to ${(aliases[1] >> 3).toString(16).padStart(2, '0')}.${aliases[1] & 7}`);
      await a.run('write', async (k) => {
        const { win } = mapNtEp(k);
        win.iowrite32(0xdeadbeef, (2 << 20) + 0x40); // direct window after 32 × 64 KiB LUTs
        win.iowrite32(0xcafef00d, G.LUT_SIZE * 1 + 0x80); // LUT window 1
        win.iowrite32(0x11111111, G.LUT_SIZE * 2); // LUT 2 not enabled: dropped
        expect(win.ioread32((2 << 20) + 0x40)).to.equal(0xdeadbeef);
        expect(win.ioread32(G.LUT_SIZE * 2)).to.equal(0xffffffff);
        expect(win.ioread32((2 << 20) + SIZE)).to.equal(0xffffffff); // beyond the window
      });
      expect(buf.cpu.read32(0x40)).to.equal(0xdeadbeef);
      expect(buf.cpu.read32(0x80)).to.equal(0xcafef00d);
      expect(b.dmesg()).not.to.contain('DMAR: [DMA');
    });
  }

  it('drops window writes with a DMAR fault on the peer when the proxy IDs are not aliased', async () => {
    const w = await boot();
    const [a, b] = w.hosts;
    await a.run('reqid', async (k) => programReqIds(k, mapNtEp(k).gas, 0));
    const buf = await b.run('mw', async (k) => {
      const { dev, gas } = mapNtEp(k);
      const buf = k.dma.allocCoherent(dev, 0x10000);
      expect(await setTrans(k, gas, 0, 1, buf.dmaAddr, 0x10000)).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
      return buf;
    });
    await a.run('write', async (k) => {
      const { win } = mapNtEp(k);
      win.iowrite32(0xdeadbeef, (2 << 20) + 0x40);
      await k.msleep(10);
    });
    await b.run('settle', (k) => k.msleep(10));
    expect(buf.cpu.read32(0x40)).to.equal(0);
    expect(b.dmesg()).to.match(/DMAR: \[DMA Write/);
    // The faulting requester is (B's NT bus, proxy devfn of A's entry 1 = 0x09 → 01.1).
    expect(b.dmesg()).to.contain('[01:01.1]');
  });

  it('drops writes from a requester that is not in the requester-ID table', async () => {
    const w = await boot({ iommuB: false });
    const [a, b] = w.hosts;
    const buf = await b.run('mw', async (k) => {
      const { dev, gas } = mapNtEp(k);
      const buf = k.dma.allocCoherent(dev, 0x10000);
      expect(await setTrans(k, gas, 0, 1, buf.dmaAddr, 0x10000)).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
      return buf;
    });
    await a.run('write', (k) => mapNtEp(k).win.iowrite32(0x1234, (2 << 20) + 0x40));
    expect(buf.cpu.read32(0x40)).to.equal(0);
  });

  it('refuses a misaligned translation at CFG (stays LOCKED, bar_error set) and recovers after a clear', async () => {
    const w = await boot({ iommuB: false });
    const b = w.hosts[1];
    await b.run('mw', async (k) => {
      const { dev, gas } = mapNtEp(k);
      const buf = k.dma.allocCoherent(dev, 0x20000);
      const addr = buf.dmaAddr - (buf.dmaAddr % 0x10000) + 0x1000; // 4 KiB but not 64 KiB aligned
      expect(await setTrans(k, gas, 0, 1, addr, 0x10000, -1)).to.equal(G.NTB_CTRL_PART_STATUS_LOCKED);
      expect(gas.ioread32(ctrl(0, G.CTRL_BAR_ERROR))).to.equal(NTB_CFG_ERR.XLATE_ALIGN);
      // Driver cleanup: clear the direct window, CFG again.
      const base = ctrl(0, BAR2_CTL);
      gas.iowrite32(gas.ioread32(base) & ~G.NTB_CTRL_BAR_DIR_WIN_EN, base);
      gas.iowrite32(0, base + G.BAR_ENTRY_WIN_SIZE);
      gas.iowrite64(1n, base + G.BAR_ENTRY_XLATE_ADDR);
      expect(await cfg(k, gas, 0)).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
      expect(gas.ioread32(ctrl(0, G.CTRL_BAR_ERROR))).to.equal(0);
      // Window larger than the BAR room: refused.
      expect(await setTrans(k, gas, 0, 1, 0, 16 << 20, -1)).to.equal(G.NTB_CTRL_PART_STATUS_LOCKED);
      expect(gas.ioread32(ctrl(0, G.CTRL_BAR_ERROR))).to.equal(NTB_CFG_ERR.WIN_SIZE);
      gas.iowrite32(G.NTB_CTRL_PART_OP_RESET, ctrl(0, G.CTRL_PARTITION_OP));
      await k.msleep(50);
      expect(gas.ioread32(ctrl(0, G.CTRL_PARTITION_STATUS))).to.equal(G.NTB_CTRL_PART_STATUS_NORMAL);
      expect(gas.ioread32(ctrl(0, BAR2_CTL)) & G.NTB_CTRL_BAR_DIR_WIN_EN).to.equal(0); // staged change discarded
    });
  });

  it('rings the peer doorbell and delivers messages through its MSI-X vectors', async () => {
    const w = await boot();
    const [a, b] = w.hosts;
    const counts = { db: 0, msg: 0 };
    await b.run('irqs', (k) => {
      const { dev, gas } = mapNtEp(k);
      expect(k.pciMsi.allocIrqVectors(dev, 1, 4, PCI_IRQ_MSIX)).to.equal(4);
      k.irq.requestIrq(k.pciMsi.irqVector(dev, 1), () => (counts.db++, IrqReturn.HANDLED), 0, 'switchtec_ntb_doorbell', counts);
      k.irq.requestIrq(k.pciMsi.irqVector(dev, 2), () => (counts.msg++, IrqReturn.HANDLED), 0, 'switchtec_ntb_message', dev);
      // Partition 1 > 0: my inbound doorbells are idb bits 32..59 (db_shift 32).
      for (let bit = 0; bit < 60; bit++) gas.iowrite8(1, dbmsg(1, G.DBMSG_IDB_VEC_MAP + bit));
      for (let bit = 60; bit < 64; bit++) gas.iowrite8(2, dbmsg(1, G.DBMSG_IDB_VEC_MAP + bit));
      gas.iowrite64(0xf000000100000000n, dbmsg(1, G.DBMSG_IDB_MASK)); // doorbell 32 + message bits
      // init_msgs: msg_map byte i = peer << 2 | i; STATUS|MASK to every imsg.
      gas.iowrite32(0x03020100, dbmsg(1, G.DBMSG_MSG_MAP));
      for (let i = 0; i < 4; i++) gas.iowrite64(G.NTB_DBMSG_IMSG_STATUS | G.NTB_DBMSG_IMSG_MASK, dbmsg(1, G.DBMSG_IMSG + 8 * i));
    });
    await a.run('ring', async (k) => {
      const { gas } = mapNtEp(k);
      gas.iowrite64(0x0fffffffn << 32n, dbmsg(0, G.DBMSG_ODB_MASK)); // db_peer_shift 32
      gas.iowrite64(1n << 32n, dbmsg(0, G.DBMSG_ODB)); // doorbell 0 of B → enabled
      gas.iowrite64(1n << 33n, dbmsg(0, G.DBMSG_ODB)); // doorbell 1 of B → pending, masked
      gas.iowrite64(1n, dbmsg(0, G.DBMSG_ODB)); // outside odb_mask → dropped
      gas.iowrite32(1 /* MSG_LINK_UP */, dbmsg(0, G.DBMSG_OMSG));
      await k.msleep(1);
    });
    await b.run('check', async (k) => {
      await k.msleep(1);
      const { gas } = mapNtEp(k);
      expect(counts.db).to.equal(1);
      expect(counts.msg).to.equal(1);
      expect(gas.ioread64(dbmsg(1, G.DBMSG_IDB))).to.equal((3n << 32n) | (1n << 60n));
      const m = gas.ioread64(dbmsg(1, G.DBMSG_IMSG));
      expect(Number(m & 0xffffffffn)).to.equal(1 /* MSG_LINK_UP */);
      expect(m & G.NTB_DBMSG_IMSG_STATUS).to.equal(G.NTB_DBMSG_IMSG_STATUS);
      expect(Number((m >> 48n) & 0xffn)).to.equal(0); // src partition 0
      // Message ISR: clear the status byte; idb bit 60 drops with it. db_clear: W1C.
      gas.iowrite8(1, dbmsg(1, G.DBMSG_IMSG + 4));
      gas.iowrite64(3n << 32n, dbmsg(1, G.DBMSG_IDB));
      expect(gas.ioread64(dbmsg(1, G.DBMSG_IDB))).to.equal(0n);
      // Unmasking doorbell 1 while it is pending raises the vector again.
      gas.iowrite64(0n, dbmsg(1, G.DBMSG_IDB_MASK));
    });
    await a.run('ring2', async (k) => {
      const { gas } = mapNtEp(k);
      gas.iowrite64(1n << 33n, dbmsg(0, G.DBMSG_ODB));
      await k.msleep(1);
    });
    await b.run('unmask', async (k) => {
      const { gas } = mapNtEp(k);
      expect(counts.db).to.equal(1);
      gas.iowrite64(1n << 33n, dbmsg(1, G.DBMSG_IDB_MASK));
      await k.msleep(1);
      expect(counts.db).to.equal(2);
    });
  });

  it('raises the event vector on a PFF link-state change when EN_IRQ is set', async () => {
    let sw: import('../../../../drivers/switchtec/silicon/switch').SwitchtecSwitch | undefined;
    const w = await World.create(
      { hosts: [{ name: 'a' }, { name: 'b' }], hardware: [{ type: 'switchtec', options: { onBuild: (s: unknown) => (sw = s as typeof sw) } }] },
      [plugin],
    );
    const a = w.hosts[0];
    let events = 0;
    await a.run('ev', (k) => {
      const { dev, gas } = mapNtEp(k);
      k.pciMsi.allocIrqVectors(dev, 1, 4, PCI_IRQ_MSIX);
      k.irq.requestIrq(k.pciMsi.irqVector(dev, 0), () => (events++, IrqReturn.HANDLED), 0, 'switchtec', dev);
      gas.iowrite32(G.SWITCHTEC_EVENT_CLEAR | G.SWITCHTEC_EVENT_EN_IRQ, G.pffCsrBase(3) + G.PFF_LINK_STATE_HDR);
    });
    sw!.linkStateEvent(3);
    await a.run('check', async (k) => {
      await k.msleep(1);
      const { gas } = mapNtEp(k);
      expect(events).to.equal(1);
      const h = gas.ioread32(G.pffCsrBase(3) + G.PFF_LINK_STATE_HDR);
      expect(h & G.SWITCHTEC_EVENT_OCCURRED).to.equal(1);
      expect((h >> 5) & 0xff).to.equal(1);
      gas.iowrite32(h, G.pffCsrBase(3) + G.PFF_LINK_STATE_HDR & ~0); // write back: clears OCCURRED
      expect(gas.ioread32(G.pffCsrBase(3) + G.PFF_LINK_STATE_HDR) & 1).to.equal(0);
    });
  });
});
