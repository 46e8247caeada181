import 'reflect-metadata';
import { expect } from 'chai';
import sinon from 'sinon';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { MsiMsg } from '../../../core/pci/msi-desc';
import * as R from '../../../core/pci/hw/regs';
import { World } from '../../../core/world';
import { EDU } from '../../../drivers/testdev/silicon/edu';
import { eduDebugfs, eduDev, eduIrqCounts, eduWorld, expectErrno, lines, linesSince, parseProcInterrupts, TWO_HOSTS } from '../../helpers/world';

async function loaded(hostName: string): Promise<{ w: World; h: Host }> {
  const w = await eduWorld({ hosts: TWO_HOSTS });
  const h = w.host(hostName);
  await h.modprobe('edu');
  return { w, h };
}

async function send(w: World, h: Host, msg: MsiMsg): Promise<void> {
  h.platform.rc.memWrite32(eduDev(h).requesterId, msg.addressHi * 2 ** 32 + msg.addressLo, msg.data);
  await w.runFor(1000);
}

async function cpuCounts(h: Host, irq: number): Promise<number[]> {
  const row = parseProcInterrupts(await h.read('/proc/interrupts')).get(irq);
  expect(row, `irq ${irq} in /proc/interrupts`).to.not.equal(undefined);
  return row!.counts;
}

function tableEntry0(h: Host): MsiMsg {
  const dev = eduDev(h);
  const bar = h.kernel.pci.iomap(dev, 0);
  return {
    addressLo: bar.ioread32(EDU.MSIX_TABLE + R.PCI_MSIX_ENTRY_LOWER_ADDR),
    addressHi: bar.ioread32(EDU.MSIX_TABLE + R.PCI_MSIX_ENTRY_UPPER_ADDR),
    data: bar.ioread32(EDU.MSIX_TABLE + R.PCI_MSIX_ENTRY_DATA),
  };
}

describe('core/irq: smp_affinity', () => {
  describe('without interrupt remapping', () => {
    it('moving a vector rewrites the MSI message and calls the descriptor\'s write_msi_msg', async () => {
      const { w, h } = await loaded('host1');
      const md = eduDev(h).msiDescs[0];
      const desc = h.kernel.irq.desc(md.irq);
      expect(desc.cpu).to.equal(0);
      const spy = sinon.spy();
      md.writeMsiMsg = spy;
      md.writeMsiMsgData = 'cookie';
      const oldMsg = { ...md.msg };
      expect(oldMsg).to.deep.equal({ addressLo: 0xfee00000, addressHi: 0, data: 0x4000 | desc.vector });
      await send(w, h, oldMsg);
      await h.write(`/proc/irq/${md.irq}/smp_affinity`, '2\n');
      expect(desc.cpu).to.equal(1);
      expect(md.msg).to.not.deep.equal(oldMsg);
      expect(md.msg).to.deep.equal({ addressLo: 0xfee01000, addressHi: 0, data: 0x4000 | desc.vector });
      expect(spy.calledOnce).to.equal(true);
      expect(spy.firstCall.args).to.deep.equal([md, 'cookie']);
      expect(tableEntry0(h)).to.deep.equal(md.msg);
      expect(await h.read(`/proc/irq/${md.irq}/smp_affinity`)).to.equal('2\n');
      expect(await h.read(`/proc/irq/${md.irq}/smp_affinity_list`)).to.equal('1\n');
      expect(await h.read(`/proc/irq/${md.irq}/effective_affinity_list`)).to.equal('1\n');
    });

    it('delivers the new message to the irq on its new CPU, and no longer the old one', async () => {
      const { w, h } = await loaded('host1');
      const md = eduDev(h).msiDescs[0];
      const oldMsg = { ...md.msg };
      const oldVector = h.kernel.irq.desc(md.irq).vector;
      await send(w, h, oldMsg);
      expect(await cpuCounts(h, md.irq)).to.deep.equal([1, 0, 0, 0]);
      await h.write(`/proc/irq/${md.irq}/smp_affinity`, '2\n');
      await send(w, h, md.msg);
      expect(await cpuCounts(h, md.irq)).to.deep.equal([1, 1, 0, 0]);
      const mark = lines(h).length;
      await send(w, h, oldMsg);
      expect(await cpuCounts(h, md.irq)).to.deep.equal([1, 1, 0, 0]);
      expect(await eduIrqCounts(h)).to.deep.equal([2, 0, 0, 0]);
      expect(linesSince(h, mark)).to.deep.equal([`do_IRQ: 0.${oldVector} No irq handler for vector`]);
      // The device itself now uses the rewritten table entry.
      await h.write(eduDebugfs(h, 'raise'), '0');
      await w.runFor(1000);
      expect(await cpuCounts(h, md.irq)).to.deep.equal([1, 2, 0, 0]);
    });

    it('leaves the vector alone when the new mask still contains its CPU', async () => {
      const { h } = await loaded('host1');
      const md = eduDev(h).msiDescs[1];
      const desc = h.kernel.irq.desc(md.irq);
      const spy = sinon.spy();
      md.writeMsiMsg = spy;
      const before = { cpu: desc.cpu, msg: { ...md.msg } };
      await h.write(`/proc/irq/${md.irq}/smp_affinity_list`, `${desc.cpu}-3\n`);
      expect({ cpu: desc.cpu, msg: md.msg }).to.deep.equal(before);
      expect(spy.called).to.equal(false);
      expect(await h.read(`/proc/irq/${md.irq}/smp_affinity_list`)).to.equal(`${desc.cpu}-3\n`);
    });
  });

  describe('with interrupt remapping', () => {
    it('keeps the MSI message, skips write_msi_msg, and re-routes the IRTE', async () => {
      const { w, h } = await loaded('host0');
      const md = eduDev(h).msiDescs[0];
      const desc = h.kernel.irq.desc(md.irq);
      const spy = sinon.spy();
      md.writeMsiMsg = spy;
      const oldMsg = { ...md.msg };
      await send(w, h, oldMsg);
      await h.write(`/proc/irq/${md.irq}/smp_affinity`, '4\n');
      expect(desc.cpu).to.equal(2);
      expect(md.msg).to.deep.equal(oldMsg);
      expect(tableEntry0(h)).to.deep.equal(oldMsg);
      expect(spy.called).to.equal(false);
      expect(h.kernel.irqRemapping!.irte(desc.irteIndex!)).to.include({ dest: 2, vector: desc.vector });
      await send(w, h, oldMsg);
      expect(await cpuCounts(h, md.irq)).to.deep.equal([1, 0, 1, 0]);
      expect(await eduIrqCounts(h)).to.deep.equal([2, 0, 0, 0]);
      expect(lines(h).some((l) => l.includes('No irq handler'))).to.equal(false);
    });
  });

  it('refuses a mask with no online CPU, or junk, with EINVAL', async () => {
    const { h } = await loaded('host1');
    const irq = eduDev(h).msiDescs[0].irq;
    await expectErrno(h.write(`/proc/irq/${irq}/smp_affinity`, '0\n'), Errno.EINVAL);
    await expectErrno(h.write(`/proc/irq/${irq}/smp_affinity`, '10\n'), Errno.EINVAL); // CPU 4 of 4
    await expectErrno(h.write(`/proc/irq/${irq}/smp_affinity`, 'zz\n'), Errno.EINVAL);
    await expectErrno(h.write(`/proc/irq/${irq}/smp_affinity_list`, '1-\n'), Errno.EINVAL);
    await expectErrno(h.write(`/proc/irq/${irq}/effective_affinity_list`, '1\n'), Errno.EACCES);
    expect(await h.read(`/proc/irq/${irq}/smp_affinity`)).to.equal('f\n');
  });
});
