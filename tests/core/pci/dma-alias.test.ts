import 'reflect-metadata';
import { expect } from 'chai';
import { Host } from '../../../core/host';
import { PciDev } from '../../../core/pci/pci-dev';
import { World } from '../../../core/world';
import { testdevPlugin } from '../../../drivers/testdev';
import { testHwPlugin } from '../../helpers/hw';
import { eduDev, eduWorld, lines } from '../../helpers/world';

function aliasesOf(host: Host, dev: PciDev): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  host.kernel.pci.forEachDmaAlias(dev, (owner, alias) => {
    out.push([owner.name, alias]);
    return 0;
  });
  return out;
}

describe('core/pci: DMA aliases', () => {
  it('pci_add_dma_alias logs "Enabling fixed DMA alias to 01.1"', async () => {
    const w = await eduWorld();
    const h = w.host('host0');
    const dev = eduDev(h);
    h.kernel.pci.addDmaAlias(dev, (1 << 3) | 1);
    expect(lines(h)).to.include('pci 0000:01:00.0: Enabling fixed DMA alias to 01.1');
    expect([...dev.dmaAliasMask!]).to.deep.equal([0x09]);
  });

  it('logs a devfn range for several aliases at once', async () => {
    const w = await eduWorld();
    const h = w.host('host0');
    const dev = eduDev(h);
    h.kernel.pci.addDmaAlias(dev, 0x08, 4);
    expect(lines(h)).to.include('pci 0000:01:00.0: Enabling fixed DMA alias for devfn range from 01.0 to 01.3');
    expect([...dev.dmaAliasMask!].sort((a, b) => a - b)).to.deep.equal([0x08, 0x09, 0x0a, 0x0b]);
  });

  it('walks the device\'s own ID first, then its aliases in ascending devfn order', async () => {
    const w = await eduWorld();
    const h = w.host('host0');
    const dev = eduDev(h);
    h.kernel.pci.addDmaAlias(dev, 0x1a);
    h.kernel.pci.addDmaAlias(dev, 0x03);
    h.kernel.pci.addDmaAlias(dev, 0x11);
    expect(aliasesOf(h, dev)).to.deep.equal([
      ['0000:01:00.0', 0x0100],
      ['0000:01:00.0', 0x0103],
      ['0000:01:00.0', 0x0111],
      ['0000:01:00.0', 0x011a],
    ]);
  });

  it('adds the ID a PCIe-to-PCI bridge substitutes (its secondary bus, devfn 0) after the device\'s own', async () => {
    const w = await World.create({ hosts: [{ name: 'legacy1' }], hardware: [{ type: 'pcie2pci' }] }, [testHwPlugin]);
    const h = w.host('legacy1');
    const dev = h.kernel.pci.byName('0000:02:02.0')!;
    expect(dev.isPcie).to.equal(false);
    h.kernel.pci.addDmaAlias(dev, 0x18);
    expect(aliasesOf(h, dev)).to.deep.equal([
      ['0000:02:02.0', 0x0210],
      ['0000:02:02.0', 0x0218],
      ['0000:01:00.0', 0x0200],
    ]);
  });

  it('stops walking at the first callback that returns non-zero, and returns that value', async () => {
    const w = await World.create({ hosts: [{ name: 'legacy2' }], hardware: [{ type: 'pcie2pci' }] }, [testHwPlugin]);
    const h = w.host('legacy2');
    const dev = h.kernel.pci.byName('0000:02:02.0')!;
    const seen: number[] = [];
    const r = h.kernel.pci.forEachDmaAlias(dev, (_o, alias) => {
      seen.push(alias);
      return alias === 0x0210 ? 99 : 0;
    });
    expect(r).to.equal(99);
    expect(seen).to.deep.equal([0x0210]);
  });

  it('treats two functions on one bus as DMA aliases when either lists the other', async () => {
    const w = await World.create({ hosts: [{ name: 'sw' }], hardware: [{ type: 'switch' }, { type: 'edu' }] }, [testHwPlugin, testdevPlugin]);
    const k = w.host('sw').kernel;
    const down0 = k.pci.byName('0000:02:00.0')!;
    const down1 = k.pci.byName('0000:02:01.0')!;
    const ep = k.pci.byName('0000:03:00.0')!;
    expect(k.pci.devsAreDmaAliases(down0, down1)).to.equal(false);
    k.pci.addDmaAlias(down1, down0.devfn);
    expect(k.pci.devsAreDmaAliases(down0, down1)).to.equal(true);
    expect(k.pci.devsAreDmaAliases(down1, down0)).to.equal(true);
    // Same devfn on another bus is not an alias.
    k.pci.addDmaAlias(ep, down0.devfn);
    expect(k.pci.devsAreDmaAliases(ep, down0)).to.equal(false);
  });
});
