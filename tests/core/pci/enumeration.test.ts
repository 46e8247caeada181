import 'reflect-metadata';
import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import * as R from '../../../core/pci/hw/regs';
import { World } from '../../../core/world';
import { testdevPlugin } from '../../../drivers/testdev';
import { EDU } from '../../../drivers/testdev/silicon/edu';
import { MULTIBAR_BARS, placed, testHwPlugin } from '../../helpers/hw';
import { eduDev, eduWorld, expectErrno, lines } from '../../helpers/world';

async function world(hardware: string[], hostName = 'h'): Promise<World> {
  return World.create({ hosts: [{ name: hostName }], hardware: hardware.map((type) => ({ type })) }, [testdevPlugin, testHwPlugin]);
}

describe('core/pci: enumeration, BARs and config space', () => {
  describe('bus numbering', () => {
    it('numbers buses depth-first behind the root port and programs each bridge\'s bus registers', async () => {
      const w = await world(['switch'], 'sw1');
      const k = w.host('sw1').kernel;
      expect(k.pci.devices.map((d) => d.name)).to.deep.equal([
        '0000:00:00.0',
        '0000:00:01.0',
        '0000:01:00.0',
        '0000:02:00.0',
        '0000:03:00.0',
        '0000:02:01.0',
        '0000:04:00.0',
      ]);
      const busRegs = (name: string) => {
        const d = k.pci.byName(name)!;
        return [R.PCI_PRIMARY_BUS, R.PCI_SECONDARY_BUS, R.PCI_SUBORDINATE_BUS].map((o) => k.pci.cfgRead(d, o, 1));
      };
      expect(busRegs('0000:00:01.0')).to.deep.equal([0, 1, 4]);
      expect(busRegs('0000:01:00.0')).to.deep.equal([1, 2, 4]);
      expect(busRegs('0000:02:00.0')).to.deep.equal([2, 3, 3]);
      expect(busRegs('0000:02:01.0')).to.deep.equal([2, 4, 4]);
      const l = lines(w.host('sw1'));
      expect(l).to.include('pci 0000:02:00.0: PCI bridge to [bus 03]');
      expect(l).to.include('pci 0000:02:01.0: PCI bridge to [bus 04]');
      expect(l).to.include('pci 0000:01:00.0: PCI bridge to [bus 02-04]');
      expect(l).to.include('pci 0000:00:01.0: PCI bridge to [bus 01-04]');
      expect(l).to.include('pci 0000:01:00.0: [1b36:8000] type 01 class 0x060400 PCIe Switch Upstream Port');
      expect(l).to.include('pci 0000:02:01.0: [1b36:8001] type 01 class 0x060400 PCIe Switch Downstream Port');
    });

    it('lets each function capture its requester ID from configuration writes', async () => {
      const w = await world(['switch'], 'sw2');
      const eps = placed.get('sw2')!.switchEps!;
      expect(eps.map((e) => e.rid)).to.deep.equal([0x0300, 0x0400]);
      const k = w.host('sw2').kernel;
      expect(k.pci.byName('0000:04:00.0')!.requesterId).to.equal(0x0400);
    });

    it('places devices under their bridges in /sys/devices', async () => {
      const w = await world(['switch'], 'sw3');
      const h = w.host('sw3');
      expect(h.kernel.fs.realpath('/sys/bus/pci/devices/0000:04:00.0')).to.equal(
        '/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0/0000:04:00.0',
      );
      expect(h.ls('/sys/bus/pci/devices')).to.have.length(7);
    });

    it('gives each root port its own bus, in slot order', async () => {
      const w = await world(['multibar', 'edu'], 'two');
      const k = w.host('two').kernel;
      expect(k.pci.devices.map((d) => d.name)).to.deep.equal(['0000:00:00.0', '0000:00:01.0', '0000:01:00.0', '0000:00:02.0', '0000:02:00.0']);
      expect(eduDev(w.host('two')).busNumber).to.equal(2);
    });

    it('answers configuration reads of absent functions with all-ones', async () => {
      const w = await eduWorld();
      const rc = w.host('host0').platform.rc;
      expect(rc.configRead(0, 0x1f << 3, R.PCI_VENDOR_ID, 2)).to.equal(0xffff);
      expect(rc.configRead(7, 0, R.PCI_VENDOR_ID, 4)).to.equal(0xffffffff);
      expect(rc.configRead(1, 0, R.PCI_VENDOR_ID, 2)).to.equal(EDU.VENDOR);
    });
  });

  describe('BARs', () => {
    it('assigns every BAR an address aligned to its size, 64-bit prefetchable BARs above 4 GiB', async () => {
      const w = await world(['multibar'], 'mb1');
      const k = w.host('mb1').kernel;
      const dev = k.pci.byName('0000:01:00.0')!;
      for (const bar of MULTIBAR_BARS) {
        const res = dev.resources[bar.index]!;
        expect(res.size, `BAR${bar.index} size`).to.equal(bar.size);
        expect(res.start % bar.size, `BAR${bar.index} alignment`).to.equal(0);
        expect(res.is64).to.equal(bar.is64);
        expect(res.prefetchable).to.equal(bar.prefetchable);
      }
      expect(dev.resources[2]!.start).to.be.at.least(2 ** 32);
      // First fit: the 64 KiB BAR fills the aligned gap between BAR 0 and BAR 1.
      for (const i of [0, 1, 4]) expect(dev.resources[i]!.start + dev.resources[i]!.size).to.be.at.most(2 ** 32);
      expect(dev.resources[3]).to.equal(undefined);
      expect(dev.resources.map((r) => r?.start)).to.deep.equal([0xc0000000, 0xc0100000, 0x40_0000_0000, undefined, 0xc0010000, undefined]);
      const l = lines(w.host('mb1'));
      expect(l).to.include('pci 0000:01:00.0: BAR 0 [mem 0xc0000000-0xc0000fff]: assigned');
      expect(l).to.include('pci 0000:01:00.0: BAR 2 [mem 0x4000000000-0x40007fffff 64bit pref]: assigned');
      expect(l).to.include('pci 0000:01:00.0: BAR 4 [mem 0xc0010000-0xc001ffff 64bit]: assigned');
    });

    it('programs the assigned addresses into the BAR registers (both halves of a 64-bit BAR)', async () => {
      const w = await world(['multibar'], 'mb2');
      const k = w.host('mb2').kernel;
      const dev = k.pci.byName('0000:01:00.0')!;
      const bar = (i: number) => k.pci.cfgRead(dev, R.PCI_BASE_ADDRESS_0 + 4 * i, 4);
      expect(bar(0)).to.equal(0xc0000000);
      expect(bar(1)).to.equal(0xc0100000);
      expect(bar(2)).to.equal(0x0000000c); // 64-bit, prefetchable, low address bits 0
      expect(bar(3)).to.equal(0x40);
      expect(bar(4)).to.equal(0xc0010004);
      expect(bar(5)).to.equal(0);
    });

    it('shows the BARs in the sysfs resource file', async () => {
      const w = await world(['multibar'], 'mb3');
      const text = await w.host('mb3').read('/sys/bus/pci/devices/0000:01:00.0/resource');
      const rows = text.trimEnd().split('\n');
      expect(rows).to.have.length(6);
      expect(rows[0]).to.equal('0x00000000c0000000 0x00000000c0000fff 0x0000000000040200');
      expect(rows[1]).to.equal('0x00000000c0100000 0x00000000c01fffff 0x0000000000040200');
      const [start, end, flags] = rows[2].split(' ').map((x) => BigInt(x));
      expect([start, end]).to.deep.equal([0x40_0000_0000n, 0x40_007f_ffffn]);
      expect(flags & 0x100000n, 'IORESOURCE_MEM_64').to.equal(0x100000n);
      expect(flags & 0x2000n, 'IORESOURCE_PREFETCH').to.equal(0x2000n);
      expect(rows[3]).to.equal('0x0000000000000000 0x0000000000000000 0x0000000000000000');
    });

    it('sizes BARs through config space: all-ones reads back the size mask and the type bits', async () => {
      const w = await world(['multibar', 'edu'], 'mb4');
      const k = w.host('mb4').kernel;
      const mb = k.pci.byName('0000:01:00.0')!;
      const probe = (dev: typeof mb, off: number) => {
        const orig = k.pci.cfgRead(dev, off, 4);
        k.pci.cfgWrite(dev, off, 4, 0xffffffff);
        const v = k.pci.cfgRead(dev, off, 4);
        k.pci.cfgWrite(dev, off, 4, orig);
        expect(k.pci.cfgRead(dev, off, 4)).to.equal(orig);
        return v;
      };
      expect(probe(mb, R.PCI_BASE_ADDRESS_0)).to.equal(0xfffff000); // 4 KiB
      expect(probe(mb, R.PCI_BASE_ADDRESS_0 + 4)).to.equal(0xfff00000); // 1 MiB
      expect(probe(mb, R.PCI_BASE_ADDRESS_0 + 8)).to.equal(0xff80000c); // 8 MiB, 64-bit prefetchable
      expect(probe(mb, R.PCI_BASE_ADDRESS_0 + 12)).to.equal(0xffffffff); // upper half
      expect(probe(mb, R.PCI_BASE_ADDRESS_0 + 16)).to.equal(0xffff0004); // 64 KiB, 64-bit
      expect(probe(eduDev(w.host('mb4')), R.PCI_BASE_ADDRESS_0)).to.equal(0xfff00000); // edu's 1 MiB BAR 0
      expect(probe(eduDev(w.host('mb4')), R.PCI_BASE_ADDRESS_0 + 4)).to.equal(0); // edu has no BAR 1
    });

    it('routes MMIO to the function only while Memory Space Enable is set', async () => {
      const w = await world(['multibar'], 'mb5');
      const k = w.host('mb5').kernel;
      const fn = placed.get('mb5')!.multibar!;
      const dev = k.pci.byName('0000:01:00.0')!;
      const bar1 = k.pci.iomap(dev, 1);
      expect(bar1.ioread32(0x10)).to.equal(0xffffffff);
      bar1.iowrite32(0x1234, 0x10);
      expect(fn.accesses).to.deep.equal([]);
      k.pci.enableDevice(dev);
      bar1.iowrite32(0xabcd, 0x10);
      expect(bar1.ioread32(0x10)).to.equal(0xabcd);
      k.pci.iomap(dev, 2).iowrite32(7, 0x100);
      expect(fn.accesses).to.deep.equal([
        { bar: 1, op: 'w', off: 0x10, value: 0xabcd },
        { bar: 1, op: 'r', off: 0x10 },
        { bar: 2, op: 'w', off: 0x100, value: 7 },
      ]);
      expect(await w.host('mb5').read(`/sys/bus/pci/devices/${dev.name}/enable`)).to.equal('1\n');
      k.pci.disableDevice(dev);
      expect(bar1.ioread32(0x10)).to.equal(0xffffffff);
    });

    it('refuses MMIO beyond an ioremap\'s size (EFAULT) and an absent BAR (ENOMEM)', async () => {
      const w = await world(['multibar'], 'mb6');
      const k = w.host('mb6').kernel;
      const dev = k.pci.byName('0000:01:00.0')!;
      const bar0 = k.pci.iomap(dev, 0);
      expect(bar0.size).to.equal(4096);
      await expectErrno(() => bar0.ioread32(4096), Errno.EFAULT);
      await expectErrno(() => bar0.ioread32(4094), Errno.EFAULT);
      expect(k.pci.iomap(dev, 1, 256).size).to.equal(256);
      await expectErrno(() => k.pci.iomap(dev, 5), Errno.ENOMEM);
    });

    it('reads the edu ident register through pci_iomap once the device is enabled', async () => {
      const w = await eduWorld();
      const k = w.host('host0').kernel;
      const dev = eduDev(w.host('host0'));
      const regs = k.pci.iomap(dev, 0);
      expect(regs.phys).to.equal(dev.resources[0]!.start);
      expect(regs.ioread32(EDU.IDENT)).to.equal(0xffffffff);
      k.pci.enableDevice(dev);
      expect(regs.ioread32(EDU.IDENT)).to.equal(EDU.IDENT_VALUE);
      regs.iowrite32(0x0f0f0f0f, EDU.LIVENESS);
      expect(regs.ioread32(EDU.LIVENESS)).to.equal(0xf0f0f0f0);
    });
  });

  describe('identity and listings', () => {
    it('reads identity and capabilities from config space', async () => {
      const w = await eduWorld();
      const k = w.host('host0').kernel;
      const dev = eduDev(w.host('host0'));
      expect([dev.vendor, dev.device, dev.classCode, dev.revision]).to.deep.equal([0x1234, 0x11e8, 0x00ff00, 0x10]);
      expect(dev.isPcie).to.equal(true);
      expect(dev.pcieType).to.equal(R.PCI_EXP_TYPE_ENDPOINT);
      expect(dev.msixCap).to.equal(k.pci.findCapability(dev, R.PCI_CAP_ID_MSIX)).and.to.be.above(0x3f);
      expect(dev.msiCap).to.be.above(0x3f);
      expect(k.pci.findCapability(dev, R.PCI_CAP_ID_PM)).to.equal(0);
      expect(await w.host('host0').read(`/sys/bus/pci/devices/${dev.name}/class`)).to.equal('0x00ff00\n');
      expect(await w.host('host0').read(`/sys/bus/pci/devices/${dev.name}/revision`)).to.equal('0x10\n');
    });

    it('lists functions like lspci, with the bound driver once there is one', async () => {
      const w = await eduWorld();
      const h = w.host('host0');
      expect(h.lspci()).to.deep.equal([
        '00:00.0 [060000] Host bridge [8086:29c0]',
        '00:01.0 [060400] PCIe Root Port [8086:7a38]',
        '01:00.0 [00ff00] QEMU edu test device (ntbsim, MSI-X) [1234:11e8]',
      ]);
      await h.modprobe('edu');
      expect(h.lspci()[2]).to.equal('01:00.0 [00ff00] QEMU edu test device (ntbsim, MSI-X) [1234:11e8] (driver: edu)');
    });

    it('logs each function found during the scan', async () => {
      const w = await eduWorld();
      const l = lines(w.host('host0'));
      expect(l).to.include('PCI host bridge to bus 0000:00');
      expect(l).to.include('pci 0000:00:00.0: [8086:29c0] type 00 class 0x060000 conventional PCI endpoint');
      expect(l).to.include('pci 0000:00:01.0: [8086:7a38] type 01 class 0x060400 PCIe Root Port');
      expect(l).to.include('pci 0000:01:00.0: [1234:11e8] type 00 class 0x00ff00 PCIe Endpoint');
      expect(l).to.include('pci 0000:01:00.0: BAR 0 [mem 0xc0000000-0xc00fffff]: assigned');
    });
  });
});
