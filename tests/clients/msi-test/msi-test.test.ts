import 'reflect-metadata';
import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { World } from '../../../core/world';
import { ntbBus, NtbDev, ntbSpadRead } from '../../../drivers/ntb';
import { switchtecTopology } from '../../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../../plugins';
import { expectErrno, linesSince, parseProcInterrupts } from '../../helpers/world';

const NTB_DEV = '0000:01:00.1';
const TOP = '/sys/kernel/debug/ntb_msi_test';
const DIR = `${TOP}/${NTB_DEV}`;
const f = (name: string) => `${DIR}/${name}`;

async function switchtecWorld(): Promise<World> {
  return World.create(switchtecTopology(), builtinPlugins());
}

/** The two-host Switchtec world with ntb_msi_test loaded on both hosts (`args` for both). */
async function loaded(args: string[] = []): Promise<{ world: World; h0: Host; h1: Host }> {
  const world = await switchtecWorld();
  const [h0, h1] = world.hosts;
  for (const h of world.hosts) await h.modprobe('ntb_msi_test', args);
  return { world, h0, h1 };
}

/** Both sides have the other's descriptors. */
async function ready(...hosts: Host[]): Promise<void> {
  for (const h of hosts) await h.write(f('peer0/ready'), '1\n');
}

async function occurrences(h: Host, n = 4): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Number(await h.read(f(`irq${i}_occurrences`))));
  return out;
}

/** /proc/interrupts rows named ntb_msi_test: irq → total count over all CPUs. */
async function msiTestIrqs(h: Host): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const [irq, row] of parseProcInterrupts(await h.read('/proc/interrupts'))) {
    if (/ ntb_msi_test$/.test(` ${row.rest}`)) out.set(irq, row.counts.reduce((a, b) => a + b, 0));
  }
  return out;
}

function ntbOf(h: Host): NtbDev {
  const bus = ntbBus(h.kernel)!;
  const devs = h.kernel.driverCore.devices(bus);
  expect(devs).to.have.length(1);
  return devs[0] as NtbDev;
}

function expectNoBugs(...hosts: Host[]): void {
  for (const h of hosts) expect(h.kernel.bugs, `kernel bugs on ${h.name}`).to.deep.equal([]);
}

describe('clients/msi-test: ntb_msi_test on the two-host Switchtec world', () => {
  it('module: parameter num_irqs (int, 0644, default 4), description, version, license, depends on ntb', async () => {
    const world = await switchtecWorld();
    const h = world.hosts[0];
    const mod = await h.modprobe('ntb_msi_test');
    expect(mod.decl.description).to.equal('Test for sending MSI interrupts over an NTB memory window');
    expect(mod.decl.version).to.equal('0.1');
    expect(mod.decl.license).to.equal('Dual BSD/GPL');
    expect(mod.decl.depends).to.deep.equal(['ntb']);
    expect(h.ls('/sys/module/ntb_msi_test/parameters')).to.deep.equal(['num_irqs']);
    expect(await h.read('/sys/module/ntb_msi_test/parameters/num_irqs')).to.equal('4\n');
    expect(h.kernel.fs.stat('/sys/module/ntb_msi_test/parameters/num_irqs').mode).to.equal(0o644);
  });

  it('debugfs tree: port, peer0/{trigger,port,count,ready}, irq<I>_occurrences with their modes and simple-attribute errors', async () => {
    const { h0, h1 } = await loaded();
    for (const h of [h0, h1]) {
      expect(h.ls(TOP)).to.deep.equal([NTB_DEV]);
      expect(h.ls(DIR)).to.deep.equal(['irq0_occurrences', 'irq1_occurrences', 'irq2_occurrences', 'irq3_occurrences', 'peer0', 'port']);
      expect(h.ls(f('peer0'))).to.deep.equal(['count', 'port', 'ready', 'trigger']);
      const mode = (p: string) => h.kernel.fs.stat(f(p)).mode;
      expect(mode('port')).to.equal(0o400);
      expect(mode('peer0/trigger')).to.equal(0o200);
      expect(mode('peer0/port')).to.equal(0o400);
      expect(mode('peer0/count')).to.equal(0o400);
      expect(mode('peer0/ready')).to.equal(0o600);
      for (let i = 0; i < 4; i++) expect(mode(`irq${i}_occurrences`)).to.equal(0o400);

      // Switchtec has no port ops: the defaults of a SWITCH topology, both ports 0.
      expect(await h.read(f('port'))).to.equal('0\n');
      expect(await h.read(f('peer0/port'))).to.equal('0\n');
      await expectErrno(h.read(f('peer0/trigger')), Errno.EACCES);
      for (const ro of ['port', 'peer0/port', 'peer0/count', 'irq0_occurrences']) await expectErrno(h.write(f(ro), '1\n'), Errno.EACCES);
      // ready parses like every simple attribute before it waits.
      await expectErrno(h.write(f('peer0/ready'), 'abc\n'), Errno.EINVAL);
    }
    expectNoBugs(h0, h1);
  });

  it('scratchpad protocol: spad 0 is 0xFFFFFFFF and count/ready stay 0 until the peer publishes, then 4 descriptors arrive', async () => {
    const world = await switchtecWorld();
    const [h0, h1] = world.hosts;
    await h0.modprobe('ntb_msi_test');
    await world.runFor(1e9);
    // The peer has no client: the link stays down, nothing is published on either side.
    expect(await h0.run('spad0', () => ntbSpadRead(ntbOf(h0), 0))).to.equal(0xffffffff);
    expect(await h0.read(f('peer0/ready'))).to.equal('0\n');
    expect(await h0.read(f('peer0/count'))).to.equal('0\n');
    expect(h0.printk.lines().some((l) => l.includes('Found'))).to.equal(false);

    const mark = h0.printk.lines().length;
    await h1.modprobe('ntb_msi_test');
    await ready(h0, h1);
    expect(await h0.read(f('peer0/ready'))).to.equal('1\n');
    expect(await h0.read(f('peer0/count'))).to.equal('4\n');
    expect(linesSince(h0, mark)).to.include(`ntb_msi_test ${NTB_DEV}: Found 4 interrupts on peer 0`);
    // Each side published its own four descriptors in its own scratchpads.
    for (const h of [h0, h1]) {
      const spads = await h.run('spads', () => Array.from({ length: 9 }, (_, i) => ntbSpadRead(ntbOf(h), i)));
      expect(spads[0]).to.equal(4);
      const offsets = [1, 3, 5, 7].map((i) => spads[i]);
      const datas = [2, 4, 6, 8].map((i) => spads[i]);
      for (const off of offsets) expect(off % 4 === 0 && off < 0x8000, `offset ${off}`).to.equal(true);
      expect(new Set(offsets.map((o, i) => `${o}/${datas[i]}`)).size).to.equal(4);
    }
    expectNoBugs(h0, h1);
  });

  it('echo 1 > peer0/ready blocks in virtual time until the peer has published, then returns its length', async () => {
    const world = await switchtecWorld();
    const [h0, h1] = world.hosts;
    await h0.modprobe('ntb_msi_test');
    await h1.modprobe('ntb_msi_test');
    const t0 = h0.kernel.now;
    expect(await h0.read(f('peer0/ready'))).to.equal('0\n');
    expect(await h0.write(f('peer0/ready'), '1\n')).to.equal(2);
    expect(h0.kernel.now).to.be.greaterThan(t0);
    expect(await h0.read(f('peer0/ready'))).to.equal('1\n');
    expect(await h0.read(f('peer0/count'))).to.equal('4\n');
    // Once completed it stays completed: a second write returns at once.
    const t1 = h0.kernel.now;
    expect(await h0.write(f('peer0/ready'), '0\n')).to.equal(2);
    expect(h0.kernel.now).to.equal(t1);
    expectNoBugs(h0, h1);
  });

  it('echo i > peer0/trigger raises exactly irq i on the peer, synchronously, in both directions, for every i < count', async () => {
    const { h0, h1 } = await loaded();
    await ready(h0, h1);
    for (const [tx, rx] of [
      [h0, h1],
      [h1, h0],
    ]) {
      const count = Number(await tx.read(f('peer0/count')));
      expect(count).to.equal(4);
      const irqs = [...(await msiTestIrqs(rx)).keys()].sort((a, b) => a - b);
      for (let i = 0; i < count; i++) {
        const before = await occurrences(rx);
        const txBefore = await occurrences(tx);
        const procBefore = await msiTestIrqs(rx);
        expect(await tx.write(f('peer0/trigger'), `${i}\n`)).to.equal(2);
        const after = await occurrences(rx);
        expect(after, `${tx.name} → ${rx.name} irq ${i}`).to.deep.equal(before.map((v, j) => (j === i ? v + 1 : v)));
        expect(await occurrences(tx)).to.deep.equal(txBefore);
        // /proc/interrupts counts it on exactly one of the peer's ntb_msi_test irqs (irq i).
        const procAfter = await msiTestIrqs(rx);
        const bumped = irqs.filter((irq) => procAfter.get(irq)! !== procBefore.get(irq)!);
        expect(bumped).to.deep.equal([irqs[i]]);
        expect(procAfter.get(irqs[i])).to.equal(procBefore.get(irqs[i])! + 1);
      }
    }
    // Hex and octal are accepted (kstrtoull, base 0).
    await h0.write(f('peer0/trigger'), '0x3');
    await h0.write(f('peer0/trigger'), '02\n');
    expect(await occurrences(h1)).to.deep.equal([1, 1, 2, 2]);
    expectNoBugs(h0, h1);
  });

  it('/proc/interrupts lists num_irqs ntb_msi_test irqs on each host besides the Switchtec ones', async () => {
    const { h0, h1 } = await loaded();
    await ready(h0, h1);
    for (const h of [h0, h1]) {
      const text = await h.read('/proc/interrupts');
      expect(text.match(/ ntb_msi_test$/gm) ?? []).to.have.length(4);
      expect(text).to.match(/ switchtec_ntb_doorbell$/m);
      // Requested vectors are not shared with the hardware driver's.
      const ours = await msiTestIrqs(h);
      expect(ours.size).to.equal(4);
    }
    expectNoBugs(h0, h1);
  });

  it('bad trigger input fails with EINVAL/ERANGE and delivers nothing', async () => {
    const { h0, h1 } = await loaded();
    await ready(h0, h1);
    const before0 = await occurrences(h0);
    const before1 = await occurrences(h1);
    const proc0 = await msiTestIrqs(h0);
    const proc1 = await msiTestIrqs(h1);
    const cases: Array<[string, Errno]> = [
      ['4\n', Errno.EINVAL], // idx ≥ count
      ['4', Errno.EINVAL],
      ['-1\n', Errno.EINVAL], // no sign for an unsigned attribute
      ['abc\n', Errno.EINVAL],
      ['', Errno.EINVAL],
      ['\n', Errno.EINVAL],
      ['0x\n', Errno.EINVAL],
      ['1x\n', Errno.EINVAL],
      ['18446744073709551615\n', Errno.EINVAL], // U64_MAX ≥ count
      ['18446744073709551616\n', Errno.ERANGE],
      ['99999999999999999999999\n', Errno.ERANGE],
    ];
    for (const [input, errno] of cases) {
      await expectErrno(h0.write(f('peer0/trigger'), input), errno);
      await expectErrno(h1.write(f('peer0/trigger'), input), errno);
    }
    expect(await occurrences(h0)).to.deep.equal(before0);
    expect(await occurrences(h1)).to.deep.equal(before1);
    expect(await msiTestIrqs(h0)).to.deep.equal(proc0);
    expect(await msiTestIrqs(h1)).to.deep.equal(proc1);
    expectNoBugs(h0, h1);
  });

  it('trigger before the peer published (count 0) fails with EINVAL', async () => {
    const world = await switchtecWorld();
    const [h0, h1] = world.hosts;
    await h0.modprobe('ntb_msi_test');
    expect(await h0.read(f('peer0/count'))).to.equal('0\n');
    await expectErrno(h0.write(f('peer0/trigger'), '0\n'), Errno.EINVAL);
    // Right after the peer loads, before its setup has run, it is still 0.
    await h1.modprobe('ntb_msi_test');
    await expectErrno(h0.write(f('peer0/trigger'), '0\n'), Errno.EINVAL);
    await ready(h0, h1);
    await h0.write(f('peer0/trigger'), '0\n');
    expect(await occurrences(h1)).to.deep.equal([1, 0, 0, 0]);
    expectNoBugs(h0, h1);
  });

  it('num_irqs=64 needs 129 > 128 scratchpads: the probe fails with -EFAULT, the module stays loaded without a device', async () => {
    const world = await switchtecWorld();
    const h = world.hosts[0];
    const mark = h.printk.lines().length;
    await h.modprobe('ntb_msi_test', ['num_irqs=64']);
    expect(linesSince(h, mark)).to.deep.equal([
      `ntb_msi_test ${NTB_DEV}: NTB MSI test requires at least 129 spads for 64 irqs`,
      `ntb_msi_test: probe of ${NTB_DEV} failed with error -14`,
    ]);
    expect(h.ls(TOP)).to.deep.equal([]);
    expect(await msiTestIrqs(h)).to.deep.equal(new Map());
    expectNoBugs(h);
  });

  it('num_irqs=2: two occurrence files, two irqs advertised; num_irqs=0: count 0, ready completes, trigger EINVAL', async () => {
    const { h0, h1 } = await loaded(['num_irqs=2']);
    await ready(h0, h1);
    expect(h0.ls(DIR)).to.deep.equal(['irq0_occurrences', 'irq1_occurrences', 'peer0', 'port']);
    expect(await h0.read(f('peer0/count'))).to.equal('2\n');
    expect((await msiTestIrqs(h1)).size).to.equal(2);
    await h0.write(f('peer0/trigger'), '1\n');
    expect(await occurrences(h1, 2)).to.deep.equal([0, 1]);
    await expectErrno(h0.write(f('peer0/trigger'), '2\n'), Errno.EINVAL);

    const z = await loaded(['num_irqs=0']);
    const mark = z.h0.printk.lines().length;
    await ready(z.h0, z.h1);
    expect(z.h0.ls(DIR)).to.deep.equal(['peer0', 'port']);
    expect(await z.h0.read(f('peer0/count'))).to.equal('0\n');
    expect(await z.h0.read(f('peer0/ready'))).to.equal('1\n');
    expect(linesSince(z.h0, mark)).to.include(`ntb_msi_test ${NTB_DEV}: Found 0 interrupts on peer 0`);
    await expectErrno(z.h0.write(f('peer0/trigger'), '0\n'), Errno.EINVAL);
    expectNoBugs(h0, h1, z.h0, z.h1);
  });

  it('a rewritten MSI message (affinity change, host without interrupt remapping) is republished and the peer follows it', async () => {
    const spec = switchtecTopology();
    spec.hosts[1] = { ...spec.hosts[1], intremap: false };
    const world = await World.create(spec, builtinPlugins());
    const [h0, h1] = world.hosts;
    for (const h of world.hosts) await h.modprobe('ntb_msi_test');
    await ready(h0, h1);
    const irqs = [...(await msiTestIrqs(h1)).keys()].sort((a, b) => a - b);
    const cpu = Number(await h1.read(`/proc/irq/${irqs[2]}/effective_affinity_list`));
    const target = (cpu + 1) % 4;
    const spads = () => h1.run('spads', () => Array.from({ length: 9 }, (_, i) => ntbSpadRead(ntbOf(h1), i)));
    const before = await spads();

    const mark = h0.printk.lines().length;
    await h1.write(`/proc/irq/${irqs[2]}/smp_affinity_list`, `${target}\n`);
    // Only irq 2's descriptor moved (x86 MSI address = 0xFEE00000 | APIC ID << 12); spad 0 is not rewritten.
    const after = await spads();
    expect(after[0]).to.equal(4);
    expect(after.filter((v, i) => v !== before[i]).length).to.be.greaterThan(0);
    expect([1, 2, 3, 4, 7, 8].every((i) => after[i] === before[i])).to.equal(true);
    expect(after[5]).to.equal(before[5] + (target - cpu) * 0x1000);
    expect(linesSince(h0, mark)).to.deep.equal([`ntb_msi_test ${NTB_DEV}: Found 4 interrupts on peer 0`]);

    await h0.write(f('peer0/trigger'), '2\n');
    expect(await occurrences(h1)).to.deep.equal([0, 0, 1, 0]);
    const row = parseProcInterrupts(await h1.read('/proc/interrupts')).get(irqs[2])!;
    expect(row.counts[target]).to.equal(1);
    expectNoBugs(h0, h1);
  });

  it('uses virtual vectors: 4 irqs on a 4-entry MSI-X table already serving three Switchtec irqs, and they all fire', async () => {
    const { h0, h1 } = await loaded();
    await ready(h0, h1);
    const pdev = h1.kernel.pci.devices.find((d) => d.name === NTB_DEV)!;
    const irqs = [...(await msiTestIrqs(h1)).keys()];
    const virtual = irqs.filter((irq) => pdev.msiDescs.find((d) => d.irq === irq)!.isVirtual);
    expect(virtual).to.have.length(3, 'table entry 3 is the only real one left');
    for (let i = 0; i < 4; i++) await h0.write(f('peer0/trigger'), `${i}\n`);
    expect(await occurrences(h1)).to.deep.equal([1, 1, 1, 1]);
  });

  it('without extra vectors (switchtec nirqs=4) only one irq is available: the peer finds 1 and says so', async () => {
    const spec = switchtecTopology();
    spec.modules = { host0: ['switchtec nirqs=4'], host1: ['switchtec nirqs=4'] };
    const world = await World.create(spec, builtinPlugins());
    const [h0, h1] = world.hosts;
    for (const h of world.hosts) await h.modprobe('ntb_msi_test');
    await ready(h0, h1);
    expect(await h0.read(f('peer0/count'))).to.equal('1\n');
    expect(h0.printk.lines()).to.include(`ntb_msi_test ${NTB_DEV}: Found 1 interrupts on peer 0`);
    await h0.write(f('peer0/trigger'), '0\n');
    expect(await occurrences(h1, 1)).to.deep.equal([1]);
    await expectErrno(h0.write(f('peer0/trigger'), '1\n'), Errno.EINVAL);
  });

  it('rmmod releases the irqs and removes the debugfs tree; the peer keeps what it had; reloading publishes again', async () => {
    const { world, h0, h1 } = await loaded();
    await ready(h0, h1);
    const irqs1 = [...(await msiTestIrqs(h1)).keys()];
    await h1.rmmod('ntb_msi_test');
    expect(await msiTestIrqs(h1)).to.deep.equal(new Map());
    expect(h1.exists(TOP)).to.equal(false);
    await world.runFor(1e9);
    // A link-down clears nothing on the other side.
    expect(await h0.read(f('peer0/count'))).to.equal('4\n');
    expect(await h0.read(f('peer0/ready'))).to.equal('1\n');

    const mark = h0.printk.lines().length;
    const irqs0 = await msiTestIrqs(h0);
    await h1.modprobe('ntb_msi_test');
    await ready(h1);
    await world.runFor(1e9);
    // The peer republished (its irqs are requested afresh); we re-ran setup and kept our irqs.
    expect(linesSince(h0, mark)).to.include(`ntb_msi_test ${NTB_DEV}: Found 4 interrupts on peer 0`);
    expect([...(await msiTestIrqs(h1)).keys()]).to.deep.equal(irqs1);
    expect([...(await msiTestIrqs(h0)).keys()]).to.deep.equal([...irqs0.keys()]);
    await h0.write(f('peer0/trigger'), '3\n');
    await h1.write(f('peer0/trigger'), '1\n');
    expect(await occurrences(h1)).to.deep.equal([0, 0, 0, 1]);
    expect(await occurrences(h0)).to.deep.equal([0, 1, 0, 0]);

    await h0.rmmod('ntb_msi_test');
    await h1.rmmod('ntb_msi_test');
    for (const h of [h0, h1]) {
      expect(await h.read('/proc/interrupts')).to.not.match(/ntb_msi_test/);
      expect(h.exists(TOP)).to.equal(false);
      expect(ntbOf(h).devres.names.filter((n) => /msi|irq/.test(n))).to.deep.equal([]);
    }
    expectNoBugs(h0, h1);
  });

  it('a ready write still blocked at rmmod fails with EINTR (the user interrupts the wait Linux would keep)', async () => {
    const world = await switchtecWorld();
    const h0 = world.hosts[0];
    await h0.modprobe('ntb_msi_test');
    await h0.run('echo 1 > ready & rmmod', async (k) => {
      const writer = k.sched.spawn('echo 1 > ready', () => k.fs.writeFile(f('peer0/ready'), '1\n'));
      await k.sched.sleep(1e6);
      expect(writer.done).to.equal(false);
      await k.rmmod('ntb_msi_test');
      await expectErrno(k.sched.join(writer), Errno.EINTR);
    });
    expect(h0.exists(TOP)).to.equal(false);
    expectNoBugs(h0);
  });
});

describe('clients/msi-test: simple attributes print C ints as u64', () => {
  it('a negative value reads as 2^64 − |v| ("%llu")', async () => {
    const world = await World.create({ hosts: [{ name: 'h' }] }, []);
    const h = world.host('h');
    h.kernel.debugfs.createAttribute('neg', 0o400, () => -22);
    h.kernel.debugfs.createAttribute('min', 0o400, () => -(2 ** 31));
    expect(await h.read('/sys/kernel/debug/neg')).to.equal('18446744073709551594\n');
    expect(await h.read('/sys/kernel/debug/min')).to.equal('18446744071562067968\n');
  });
});
