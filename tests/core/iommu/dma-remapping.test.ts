import 'reflect-metadata';
import { expect } from 'chai';
import { DmaDirection, DmaBuffer } from '../../../core/dma/mapping';
import { Host } from '../../../core/host';
import { PciFixup } from '../../../core/pci/pci-core';
import { World } from '../../../core/world';
import { testdevPlugin } from '../../../drivers/testdev';
import { EDU } from '../../../drivers/testdev/silicon/edu';
import { msecs, secs } from '../../../core/time/units';
import { eduDebugfs, eduDev, eduSilicon, eduWorld, lines, linesSince, TWO_HOSTS } from '../../helpers/world';

const dmaBufOf = (h: Host): DmaBuffer => (eduDev(h).drvdata as { dmaBuf: DmaBuffer }).dmaBuf;
const bytes = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function loaded(hostName = 'host0'): Promise<{ w: World; h: Host }> {
  const w = await eduWorld({ hosts: TWO_HOSTS });
  const h = w.host(hostName);
  await h.modprobe('edu');
  return { w, h };
}

describe('core/iommu: DMA remapping', () => {
  for (const hostName of ['host0', 'host1']) {
    it(`round-trips the coherent buffer through the edu DMA engine (${hostName === 'host0' ? 'VT-d' : 'no IOMMU'})`, async () => {
      const { h } = await loaded(hostName);
      const buf = dmaBufOf(h);
      if (hostName === 'host0') {
        expect(buf.dmaAddr, 'an IOVA, not the physical address').to.not.equal(buf.cpu.phys);
        expect(buf.dmaAddr).to.equal(0xfffff000); // top-down below 4 GiB
      } else expect(buf.dmaAddr).to.equal(buf.cpu.phys);
      const pattern = bytes('0123456789abcdef');
      await h.write(eduDebugfs(h, 'dma_buf'), pattern);
      await h.write(eduDebugfs(h, 'dma'), 'from_ram\n');
      expect(hex(eduSilicon(h).buffer.subarray(0, 16))).to.equal(hex(pattern));
      await h.write(eduDebugfs(h, 'dma_buf'), new Uint8Array(16));
      expect(hex(await h.readBytes(eduDebugfs(h, 'dma_buf')))).to.equal('00'.repeat(16));
      await h.write(eduDebugfs(h, 'dma'), 'to_ram\n');
      expect(hex(await h.readBytes(eduDebugfs(h, 'dma_buf')))).to.equal(hex(pattern));
      expect(lines(h).some((l) => l.startsWith('DMAR: DRHD'))).to.equal(false);
      expect(h.platform.rc.stats).to.include({ dmaReads: 1, dmaWrites: 1, blocked: 0 });
    });
  }

  it('drops a DMA write to an unmapped IOVA and logs the DMAR fault', async () => {
    const { h } = await loaded();
    await h.write(eduDebugfs(h, 'dma_buf'), bytes('must not land'));
    await h.write(eduDebugfs(h, 'dma'), 'from_ram');
    const mark = lines(h).length;
    await h.write(eduDebugfs(h, 'dma'), 'to_ram 0x2000\n');
    expect(linesSince(h, mark)).to.deep.equal([
      'DMAR: DRHD: handling fault status reg 2',
      'DMAR: [DMA Write NO_PASID] Request device [01:00.0] fault addr 0x2000 [fault reason 0x05] PTE Write access is not set',
    ]);
    expect(hex(h.platform.mem.readBytes(0x2000, 13))).to.equal('00'.repeat(13));
    expect(h.kernel.iommu!.faults).to.deep.equal([{ kind: 'dma', source: 0x0100, addr: 0x2000, write: true, reason: 5 }]);
    expect(h.platform.rc.stats.blocked).to.equal(1);
  });

  it('lets the same write land in RAM at that bus address on a host without an IOMMU', async () => {
    const { h } = await loaded('host1');
    await h.write(eduDebugfs(h, 'dma_buf'), bytes('lands'));
    await h.write(eduDebugfs(h, 'dma'), 'from_ram');
    await h.write(eduDebugfs(h, 'dma'), 'to_ram 0x2000\n');
    expect(new TextDecoder().decode(h.platform.mem.readBytes(0x2000, 5))).to.equal('lands');
    expect(lines(h).some((l) => l.startsWith('DMAR:') && l.includes('fault'))).to.equal(false);
  });

  it('reports the page of a faulting address', async () => {
    const { h } = await loaded();
    await h.write(eduDebugfs(h, 'dma'), 'to_ram 0x12345');
    expect(lines(h)).to.include('DMAR: [DMA Write NO_PASID] Request device [01:00.0] fault addr 0x12000 [fault reason 0x05] PTE Write access is not set');
  });

  it('returns all-ones for a DMA read through a fault', async () => {
    const { h } = await loaded();
    const mark = lines(h).length;
    await h.write(eduDebugfs(h, 'dma'), 'from_ram 0x3000');
    expect(hex(eduSilicon(h).buffer.subarray(0, EDU.DMA_BUF_SIZE))).to.equal('ff'.repeat(EDU.DMA_BUF_SIZE));
    expect(linesSince(h, mark)).to.include(
      'DMAR: [DMA Read NO_PASID] Request device [01:00.0] fault addr 0x3000 [fault reason 0x06] PTE Read access is not set',
    );
    await h.write(eduDebugfs(h, 'dma'), 'to_ram');
    expect(hex(await h.readBytes(eduDebugfs(h, 'dma_buf')))).to.equal('ff'.repeat(16));
  });

  it('faults a requester ID with no context entry with reason 0x02', async () => {
    const { w, h } = await loaded();
    const buf = dmaBufOf(h);
    const mark = lines(h).length;
    h.platform.rc.memWrite(0x0500, buf.dmaAddr, bytes('intruder'));
    const got = h.platform.rc.memRead(0x0500, buf.dmaAddr, 4);
    await w.runFor(0);
    expect(hex(got)).to.equal('ffffffff');
    expect(hex(buf.cpu.read(0, 8))).to.equal('00'.repeat(8));
    const l = linesSince(h, mark);
    expect(l).to.include(
      `DMAR: [DMA Write NO_PASID] Request device [05:00.0] fault addr 0x${buf.dmaAddr.toString(16)} [fault reason 0x02] Present bit in context entry is clear`,
    );
    expect(l).to.include(
      `DMAR: [DMA Read NO_PASID] Request device [05:00.0] fault addr 0x${buf.dmaAddr.toString(16)} [fault reason 0x02] Present bit in context entry is clear`,
    );
  });

  it('translates a DMA from the device\'s own requester ID into its coherent buffer', async () => {
    const { w, h } = await loaded();
    const buf = dmaBufOf(h);
    h.platform.rc.memWrite(eduDev(h).requesterId, buf.dmaAddr + 8, bytes('hello'));
    await w.runFor(0);
    expect(new TextDecoder().decode(buf.cpu.read(8, 5))).to.equal('hello');
  });

  it('maps dma_map_single(TO_DEVICE) read-only: the device can read it but a write faults', async () => {
    const { w, h } = await loaded();
    const dev = eduDev(h);
    const k = h.kernel;
    const kbuf = k.pages.kzalloc(4096);
    kbuf.write(0, bytes('readme'));
    const addr = k.dma.mapSingle(dev, kbuf, 0, 4096, DmaDirection.TO_DEVICE);
    expect(new TextDecoder().decode(h.platform.rc.memRead(dev.requesterId, addr, 6))).to.equal('readme');
    h.platform.rc.memWrite(dev.requesterId, addr, bytes('XX'));
    await w.runFor(0);
    expect(new TextDecoder().decode(kbuf.read(0, 6))).to.equal('readme');
    expect(lines(h).at(-1)).to.match(/\[fault reason 0x05\] PTE Write access is not set$/);
    k.dma.unmapSingle(dev, addr, 4096);
    expect(hex(h.platform.rc.memRead(dev.requesterId, addr, 2))).to.equal('ffff');
  });

  it('allocates IOVAs as power-of-two, size-aligned ranges, top-down below 4 GiB even for 64-bit masks', async () => {
    const { h } = await loaded();
    const dev = eduDev(h);
    const k = h.kernel;
    k.dma.setMask(dev, 64);
    const a = k.dma.allocCoherent(dev, 3 * 4096);
    const b = k.dma.allocCoherent(dev, 4096);
    expect(a.dmaAddr % 16384).to.equal(0);
    expect(a.dmaAddr + 16384).to.be.at.most(2 ** 32);
    expect(b.dmaAddr + 4096).to.be.at.most(2 ** 32);
    expect(b.dmaAddr + 4096 <= a.dmaAddr || a.dmaAddr + 16384 <= b.dmaAddr, 'no overlap').to.equal(true);
    expect(b.dmaAddr + 4096 <= dmaBufOf(h).dmaAddr, 'below the driver\'s buffer').to.equal(true);
  });

  it('rate-limits fault messages and reports how many were suppressed', async () => {
    const { w, h } = await loaded();
    const dev = eduDev(h);
    const mark = lines(h).length;
    for (let i = 0; i < 20; i++) {
      h.platform.rc.memWrite(dev.requesterId, 0x1000 * (i + 1), bytes('x'));
      await w.runFor(msecs(1));
    }
    const printed = linesSince(h, mark);
    expect(printed.filter((l) => l.includes('fault reason'))).to.have.length(5);
    expect(h.kernel.iommu!.faults).to.have.length(20);
    await w.runFor(secs(5));
    h.platform.rc.memWrite(dev.requesterId, 0x100000000, bytes('x'));
    await w.runFor(0);
    expect(linesSince(h, mark)).to.include('dmar_fault: 15 callbacks suppressed');
    expect(lines(h).at(-1)).to.match(/fault addr 0x100000000 /);
  });

  it('gives a DMA alias added by a final PCI fixup a context entry in the device\'s domain', async () => {
    let world: World | undefined;
    const fixup: PciFixup = {
      name: 'edu_alias_test',
      phase: 'final',
      vendor: EDU.VENDOR,
      device: EDU.DEVICE,
      hook: (dev, pci) => pci.addDmaAlias(dev, 0x05),
    };
    world = new World({ hosts: [{ name: 'host0' }], hardware: [{ type: 'edu' }] }, [testdevPlugin, { name: 'alias-fixup', fixups: [fixup] }]);
    await world.boot();
    const h = world.host('host0');
    await h.modprobe('edu');
    const buf = dmaBufOf(h);
    h.platform.rc.memWrite(0x0105, buf.dmaAddr, bytes('via alias'));
    await world.runFor(0);
    expect(lines(h).filter((l) => l.includes('fault reason'))).to.deep.equal([]);
    expect(new TextDecoder().decode(buf.cpu.read(0, 9))).to.equal('via alias');
  });
});
