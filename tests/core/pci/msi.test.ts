import 'reflect-metadata';
import { expect } from 'chai';
import sinon from 'sinon';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import * as R from '../../../core/pci/hw/regs';
import { PCI_IRQ_MSI, PCI_IRQ_MSIX, PCI_IRQ_VIRTUAL } from '../../../core/pci/msi';
import { PciDev } from '../../../core/pci/pci-dev';
import { EDU } from '../../../drivers/testdev/silicon/edu';
import { vectorDriver } from '../../helpers/vector-driver';
import { eduDebugfs, eduDev, eduIrqCounts, eduSilicon, eduWorld, expectErrno, lines, TWO_HOSTS } from '../../helpers/world';

/** Read MSI-X table entry `i` back through MMIO at the table offset the capability names. */
function tableEntry(host: Host, dev: PciDev, i: number): { lo: number; hi: number; data: number; ctrl: number } {
  const k = host.kernel;
  const tbl = k.pci.cfgRead(dev, dev.msixCap + R.PCI_MSIX_TABLE, 4);
  const bar = k.pci.iomap(dev, tbl & R.PCI_MSIX_BIR);
  const off = (tbl & ~R.PCI_MSIX_BIR) + i * R.PCI_MSIX_ENTRY_SIZE;
  return {
    lo: bar.ioread32(off + R.PCI_MSIX_ENTRY_LOWER_ADDR),
    hi: bar.ioread32(off + R.PCI_MSIX_ENTRY_UPPER_ADDR),
    data: bar.ioread32(off + R.PCI_MSIX_ENTRY_DATA),
    ctrl: bar.ioread32(off + R.PCI_MSIX_ENTRY_VECTOR_CTRL),
  };
}

describe('core/pci/msi: MSI-X, virtual vectors and MSI', () => {
  describe('virtual MSI-X vectors (PCI_IRQ_VIRTUAL)', () => {
    it('grants 6 vectors on a 4-entry table with virtual=1, entries 4 and 5 virtual', async () => {
      const w = await eduWorld({ msixVectors: 4 });
      const h = w.host('host0');
      await h.modprobe('edu', ['nvec=6', 'virtual=1']);
      const dev = eduDev(h);
      expect(h.kernel.pciMsi.msixVecCount(dev)).to.equal(4);
      expect(lines(h)).to.include('edu 0000:01:00.0: edu device ready, ident 0x10000ed, 6 interrupt vectors');
      expect(dev.msiDescs.map((d) => d.isVirtual)).to.deep.equal([false, false, false, false, true, true]);
      expect(dev.msiDescs.map((d) => d.msiIndex)).to.deep.equal([0, 1, 2, 3, 4, 5]);
      expect(new Set(dev.msiDescs.map((d) => d.irq)).size).to.equal(6);
      expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 0, 0, 0, 0]);
    });

    it('caps the count at the table size without virtual=1', async () => {
      const w = await eduWorld({ msixVectors: 4 });
      const h = w.host('host0');
      await h.modprobe('edu', ['nvec=6']);
      const dev = eduDev(h);
      expect(dev.msiDescs).to.have.length(4);
      expect(dev.msiDescs.some((d) => d.isVirtual)).to.equal(false);
      expect(lines(h)).to.include('edu 0000:01:00.0: edu device ready, ident 0x10000ed, 4 interrupt vectors');
    });

    it('fails with ENOSPC when the minimum exceeds the table and MSI is not allowed', async () => {
      const w = await eduWorld({ msixVectors: 4 });
      const h = w.host('host0');
      const dev = eduDev(h);
      await expectErrno(h.run('alloc', (k) => k.pciMsi.allocIrqVectors(dev, 5, 8, PCI_IRQ_MSIX)), Errno.ENOSPC);
      expect(dev.msixEnabled).to.equal(false);
      await expectErrno(h.run('alloc', (k) => k.pciMsi.allocIrqVectors(dev, 2, 1, PCI_IRQ_MSIX | PCI_IRQ_VIRTUAL)), Errno.ERANGE);
    });

    for (const hostName of ['host0', 'host1']) {
      it(`writes messages only into table entries 0..3 and nothing beyond the table (${hostName})`, async () => {
        const w = await eduWorld({ msixVectors: 4, hosts: TWO_HOSTS });
        const h = w.host(hostName);
        const dev = eduDev(h);
        const tableStart = dev.resources[0]!.start + EDU.MSIX_TABLE;
        const spy = sinon.spy(h.platform.mem, 'write');
        try {
          await h.modprobe('edu', ['nvec=6', 'virtual=1']);
        } finally {
          spy.restore();
        }
        const offsets = spy.getCalls().map((c) => (c.args[0] as number) - tableStart).filter((o) => o >= 0 && o < EDU.MSIX_PBA - EDU.MSIX_TABLE);
        expect(offsets.length, 'table writes seen').to.be.above(0);
        expect(Math.max(...offsets)).to.be.below(4 * R.PCI_MSIX_ENTRY_SIZE);
        for (let i = 0; i < 4; i++) {
          const e = tableEntry(h, dev, i);
          const msg = dev.msiDescs[i].msg;
          expect(msg.addressLo >>> 20, `entry ${i} address`).to.equal(0xfee);
          expect({ lo: e.lo, hi: e.hi, data: e.data }, `entry ${i}`).to.deep.equal({ lo: msg.addressLo, hi: msg.addressHi, data: msg.data });
          expect(e.ctrl & R.PCI_MSIX_ENTRY_CTRL_MASKBIT, `entry ${i} unmasked`).to.equal(0);
        }
        // The virtual vectors have messages of their own that no table entry holds.
        const tableMsgs = [0, 1, 2, 3].map((i) => JSON.stringify(tableEntry(h, dev, i)));
        for (const d of dev.msiDescs.slice(4)) {
          expect(d.msg.addressLo >>> 20).to.equal(0xfee);
          expect(tableMsgs).to.not.include(JSON.stringify({ lo: d.msg.addressLo, hi: d.msg.addressHi, data: d.msg.data, ctrl: 0 }));
        }
      });

      it(`delivers a virtual vector when its message is written with the device's requester ID (${hostName})`, async () => {
        const w = await eduWorld({ msixVectors: 4, hosts: TWO_HOSTS });
        const h = w.host(hostName);
        await h.modprobe('edu', ['nvec=6', 'virtual=1']);
        const dev = eduDev(h);
        for (const i of [5, 4, 5]) {
          const d = dev.msiDescs[i];
          h.platform.rc.memWrite32(dev.requesterId, d.address, d.msg.data);
        }
        await w.runFor(1000);
        expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 0, 0, 1, 2]);
      });
    }

    it('the device itself cannot raise a virtual vector (it has no table slot)', async () => {
      const w = await eduWorld({ msixVectors: 4 });
      const h = w.host('host0');
      await h.modprobe('edu', ['nvec=6', 'virtual=1']);
      await h.write(eduDebugfs(h, 'raise'), '5\n');
      await h.write(eduDebugfs(h, 'raise'), '2\n');
      await w.runFor(1000);
      expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 1, 0, 0, 0]);
      expect(eduSilicon(h).msix.sent).to.deep.equal([0, 0, 1, 0]);
    });

    it('frees every vector at unbind and writes a zero message into the table', async () => {
      const w = await eduWorld({ msixVectors: 4 });
      const h = w.host('host0');
      await h.modprobe('edu', ['nvec=6', 'virtual=1']);
      const dev = eduDev(h);
      const descs = [...dev.msiDescs];
      await h.rmmod('edu');
      expect(dev.msiDescs).to.have.length(0);
      expect(descs.map((d) => d.irq)).to.deep.equal([0, 0, 0, 0, 0, 0]);
      h.kernel.pci.enableDevice(dev);
      expect(tableEntry(h, dev, 0)).to.include({ lo: 0, hi: 0, data: 0 });
      const ctrl = h.kernel.pci.cfgRead(dev, dev.msixCap + R.PCI_MSIX_FLAGS, 2);
      expect(ctrl & R.PCI_MSIX_FLAGS_ENABLE).to.equal(0);
      expect([...h.kernel.irq.descs.keys()]).to.deep.equal([]);
    });
  });

  describe('MSI-X masking', () => {
    it('holds a vector raised while masked in the PBA and sends it when the entry is unmasked', async () => {
      const w = await eduWorld({ msixVectors: 4 });
      const h = w.host('host0');
      await h.modprobe('edu');
      const dev = eduDev(h);
      const md = dev.msiDescs[1];
      h.kernel.msiDomain.mask(md, true);
      await h.write(eduDebugfs(h, 'raise'), '1\n');
      await w.runFor(1000);
      expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 0, 0]);
      const pba = h.kernel.pci.iomap(dev, 0).ioread32(EDU.MSIX_PBA);
      expect(pba).to.equal(0b10);
      h.kernel.msiDomain.mask(md, false);
      await w.runFor(1000);
      expect(await eduIrqCounts(h)).to.deep.equal([0, 1, 0, 0]);
      expect(h.kernel.pci.iomap(dev, 0).ioread32(EDU.MSIX_PBA)).to.equal(0);
    });

    it('sends nothing while the function is not a bus master', async () => {
      const w = await eduWorld({ msixVectors: 4 });
      const h = w.host('host0');
      await h.modprobe('edu');
      const dev = eduDev(h);
      h.kernel.pci.clearMaster(dev);
      await h.write(eduDebugfs(h, 'raise'), '0\n');
      await w.runFor(1000);
      expect(await eduIrqCounts(h)).to.deep.equal([0, 0, 0, 0]);
      h.kernel.pci.setMaster(dev);
      await h.write(eduDebugfs(h, 'raise'), '0\n');
      await w.runFor(1000);
      expect(await eduIrqCounts(h)).to.deep.equal([1, 0, 0, 0]);
    });
  });

  describe('MSI (no MSI-X)', () => {
    for (const hostName of ['host0', 'host1']) {
      it(`programs the MSI capability and delivers the device's MSI (${hostName})`, async () => {
        const drv = vectorDriver({ flags: PCI_IRQ_MSI, nvec: 4 });
        const w = await eduWorld({ hosts: TWO_HOSTS, plugins: [drv.plugin] });
        const h = w.host(hostName);
        await h.modprobe(drv.name);
        const dev = eduDev(h);
        expect(drv.state.got.get(dev)).to.equal(1);
        expect(dev.msiEnabled).to.equal(true);
        expect(dev.msixEnabled).to.equal(false);
        expect(dev.irq).to.equal(dev.msiDescs[0].irq);
        const k = h.kernel;
        const c = dev.msiCap;
        expect(k.pci.cfgRead(dev, c + R.PCI_MSI_FLAGS, 2) & R.PCI_MSI_FLAGS_ENABLE).to.equal(1);
        expect(k.pci.cfgRead(dev, c + R.PCI_MSI_ADDRESS_LO, 4)).to.equal(dev.msiDescs[0].msg.addressLo);
        expect(k.pci.cfgRead(dev, c + R.PCI_MSI_DATA_64, 2)).to.equal(dev.msiDescs[0].msg.data);
        expect(k.pci.cfgRead(dev, c + R.PCI_MSI_MASK_64, 4)).to.equal(0);
        expect(await h.read(`/sys/bus/pci/devices/${dev.name}/irq`)).to.equal(`${dev.irq}\n`);
        const regs = k.pci.iomap(dev, 0);
        regs.iowrite32(1, EDU.IRQ_RAISE);
        regs.iowrite32(1, EDU.IRQ_RAISE);
        await w.runFor(1000);
        expect(drv.state.counts.get(dev)).to.deep.equal([2]);
        expect(() => k.pciMsi.irqVector(dev, 1)).to.throw(/no MSI vector 1/);
      });
    }

    it('refuses MSI-X while MSI is enabled, logging the kernel\'s message', async () => {
      const drv = vectorDriver({ flags: PCI_IRQ_MSI, nvec: 1 });
      const w = await eduWorld({ plugins: [drv.plugin] });
      const h = w.host('host0');
      await h.modprobe(drv.name);
      const dev = eduDev(h);
      await expectErrno(h.run('x', (k) => k.pciMsi.allocIrqVectors(dev, 1, 1, PCI_IRQ_MSIX)), Errno.EINVAL);
      expect(lines(h)).to.include("vecprobe 0000:01:00.0: can't enable MSI-X (MSI already enabled)");
    });
  });
});
