import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { Kernel } from '../../../core/kernel';
import { physAddr } from '../../../core/lib/printf';
import { ModuleDecl } from '../../../core/module/module';
import { msecs, secs, usecs } from '../../../core/time/units';
import { World } from '../../../core/world';
import { NtbDev, NtbTopo, ntbCorePlugin, registerNtbDev } from '../../../drivers/ntb';
import { testdevPlugin } from '../../../drivers/testdev';
import { ntbPerfModule } from '../../../clients/perf';
import { eduDevices, FakeHwOptions, FakeNtbHw, fakeHwPlugin, fakeNtbHwModule } from '../../drivers/ntb/fake-ntb-hw';
import { expectErrno } from '../../helpers/world';
import { FakeNtbPair, PAIR_WINDOW_BASE } from './fake-pair';

const INVAL = 0xffffffff;
const CMD = { SSIZE: 0, SXLAT: 2 };
/** What the fake driver reports for every outbound window (base of window 0, size). */
const FAKE_MW0 = 0x1_0000_0000;
const FAKE_MW_SIZE = 1 << 20;

interface Setup {
  world: World;
  host: Host;
  k: Kernel;
  hws: FakeNtbHw[];
  dir: string;
}

async function boot(hw: FakeHwOptions = { spads: 6 }): Promise<Setup> {
  const hws: FakeNtbHw[] = [];
  const modules: Array<ModuleDecl<Kernel, any, any>> = [fakeNtbHwModule(hw, hws), ntbPerfModule];
  const world = await World.create({ hosts: [{ name: 'host0', iommu: false, intremap: false }], hardware: [{ type: 'edu' }] }, [
    testdevPlugin,
    ntbCorePlugin,
    fakeHwPlugin(modules),
  ]);
  const host = world.host('host0');
  fakeWindows(host);
  return { world, host, k: host.kernel, hws, dir: `/sys/kernel/debug/ntb_perf/${eduDevices(host.kernel)[0].name}` };
}

/** Write bandwidth of the fake outbound windows (a round figure for the arithmetic of the tests). */
const FAKE_WINDOW_BYTES_PER_SEC = 1e9;

/**
 * The fake driver's outbound windows as a device region with a timing, as a real NTB's BAR has:
 * memory behind it, and a copy into it costs the CPU bytes / bandwidth.
 */
function fakeWindows(host: Host): void {
  const size = 8 * FAKE_MW_SIZE;
  const backing = new Uint8Array(size);
  host.platform.mem.addRegion(FAKE_MW0, size, 'fake outbound windows', {
    timing: { readRoundTripNs: 1000, postedWriteNs: 10, writeBytesPerSec: FAKE_WINDOW_BYTES_PER_SEC, readBytesPerSec: 8e6 },
    read: (off, sz) => {
      let v = 0;
      for (let i = sz - 1; i >= 0; i--) v = v * 256 + backing[off + i];
      return v >>> 0;
    },
    write: (off, sz, value) => {
      for (let i = 0; i < sz; i++) backing[off + i] = (value >>> (8 * i)) & 0xff;
    },
    readBytes: (off, length) => backing.slice(off, off + length),
    writeBytes: (off, data) => backing.set(data, off),
  });
}

async function load(s: Setup, args: string[] = []): Promise<FakeNtbHw> {
  await s.host.modprobe('ntb_fake_hw');
  await s.host.modprobe('ntb_perf', args);
  return s.hws[0];
}

/**
 * The test plays the peer on the scratchpad channel of the default B2B upstream device: we are
 * global index 0, the peer global index 1, so the peer's commands sit in our spads 3..5 and ring
 * our doorbell bit 0.
 */
function peerSpadCmd(hw: FakeNtbHw, cmd: number, data: number): void {
  hw.spad[3] = cmd;
  hw.spad[4] = data % 2 ** 32;
  hw.spad[5] = Math.floor(data / 2 ** 32);
  hw.peerRings(0x1n);
}

/** The command the client last left in the peer's slots 0..2 (our global index 0). */
function sentSpadCmd(hw: FakeNtbHw): { cmd: number; data: number } {
  return { cmd: hw.peerSpad[0], data: hw.peerSpad[1] + hw.peerSpad[2] * 2 ** 32 };
}

const PEER_XLAT = 0x2_0000_0000;

/** Link up and the whole handshake, with the test answering as the peer. Returns our inbuf's DMA address. */
async function handshake(s: Setup, hw: FakeNtbHw, peerSize = FAKE_MW_SIZE): Promise<number> {
  hw.setLink(true);
  await s.world.runFor(usecs(1));
  peerSpadCmd(hw, CMD.SSIZE, peerSize);
  await s.world.runFor(usecs(1));
  const sxlat = sentSpadCmd(hw);
  expect(sxlat.cmd, 'SXLAT sent').to.equal(CMD.SXLAT);
  peerSpadCmd(hw, CMD.SXLAT, PEER_XLAT);
  await s.world.runFor(usecs(1));
  return sxlat.data;
}

const RUN_LINE = /^(\d+): copied (\d+) bytes in (\d+) usecs, (\d+) MBytes\/s$/;

function parseRun(text: string): { header: string; lines: string[] } {
  const [header, ...lines] = text.replace(/\n$/, '').split('\n');
  return { header, lines };
}

describe('clients/perf: ntb_perf module parameters and debugfs tree', () => {
  it('shows max_mw_size, chunk_order, total_order, use_dma (0644) with the Linux defaults', async () => {
    const s = await boot();
    await load(s);
    const dir = '/sys/module/ntb_perf/parameters';
    expect(s.host.ls(dir)).to.deep.equal(['chunk_order', 'max_mw_size', 'total_order', 'use_dma']);
    expect(await s.host.read(`${dir}/max_mw_size`)).to.equal('0\n');
    expect(await s.host.read(`${dir}/chunk_order`)).to.equal('19\n');
    expect(await s.host.read(`${dir}/total_order`)).to.equal('30\n');
    expect(await s.host.read(`${dir}/use_dma`)).to.equal('N\n');
    for (const p of s.host.ls(dir)) expect(s.k.fs.stat(`${dir}/${p}`).mode, p).to.equal(0o644);
  });

  it('clamps chunk_order to 20 and raises total_order to chunk_order at init, logging both', async () => {
    const s = await boot();
    await load(s, ['chunk_order=25', 'total_order=3']);
    expect(s.host.printk.lines()).to.include.members(['Chunk order reduced to 20', 'Total data order reduced to 20']);
    expect(await s.host.read('/sys/module/ntb_perf/parameters/chunk_order')).to.equal('20\n');
    expect(await s.host.read(`${s.dir}/chunk_order`)).to.equal('20\n');
    expect(await s.host.read(`${s.dir}/total_order`)).to.equal('20\n');
  });

  it('fails to load with a non-numeric byte parameter (EINVAL)', async () => {
    const s = await boot();
    await s.host.modprobe('ntb_fake_hw');
    await expectErrno(s.host.modprobe('ntb_perf', ['chunk_order=big']), Errno.EINVAL);
    expect(s.host.exists('/sys/kernel/debug/ntb_perf')).to.equal(false);
  });

  it('creates info, run, threads_count (0600) and read-only chunk_order, total_order, use_dma (0500)', async () => {
    const s = await boot();
    await load(s);
    expect(s.host.ls(s.dir)).to.deep.equal(['chunk_order', 'info', 'run', 'threads_count', 'total_order', 'use_dma']);
    const modes = Object.fromEntries(s.host.ls(s.dir).map((f) => [f, s.k.fs.stat(`${s.dir}/${f}`).mode]));
    expect(modes).to.deep.equal({ chunk_order: 0o500, info: 0o600, run: 0o600, threads_count: 0o600, total_order: 0o500, use_dma: 0o500 });
    expect(await s.host.read(`${s.dir}/chunk_order`)).to.equal('19\n');
    expect(await s.host.read(`${s.dir}/total_order`)).to.equal('30\n');
    expect(await s.host.read(`${s.dir}/use_dma`)).to.equal('N\n');
    expect(await s.host.read(`${s.dir}/threads_count`)).to.equal('1\n');
    expect(await s.host.read(`${s.dir}/run`)).to.equal('    Peer 0 test statistics:\n');
  });

  it('chunk_order/total_order/use_dma follow later sysfs writes of the parameters', async () => {
    const s = await boot();
    await load(s);
    await s.host.write('/sys/module/ntb_perf/parameters/total_order', '12\n');
    await s.host.write('/sys/module/ntb_perf/parameters/use_dma', 'Y\n');
    expect(await s.host.read(`${s.dir}/total_order`)).to.equal('12\n');
    expect(await s.host.read(`${s.dir}/use_dma`)).to.equal('Y\n');
  });

  it('rejects writes to the read-only files: chunk_order/total_order EACCES, use_dma and info EINVAL', async () => {
    const s = await boot();
    await load(s);
    await expectErrno(s.host.write(`${s.dir}/chunk_order`, '5\n'), Errno.EACCES);
    await expectErrno(s.host.write(`${s.dir}/total_order`, '5\n'), Errno.EACCES);
    await expectErrno(s.host.write(`${s.dir}/use_dma`, 'Y\n'), Errno.EINVAL);
    await expectErrno(s.host.write(`${s.dir}/info`, '1\n'), Errno.EINVAL);
    expect(await s.host.read(`${s.dir}/chunk_order`)).to.equal('19\n');
  });

  it('threads_count: kstrtou8 base 0; 0 or > 32 EINVAL, > 255 ERANGE, junk EINVAL', async () => {
    const s = await boot();
    await load(s);
    const f = `${s.dir}/threads_count`;
    expect(await s.host.write(f, '4\n')).to.equal(2);
    expect(await s.host.read(f)).to.equal('4\n');
    await s.host.write(f, '0x20');
    expect(await s.host.read(f)).to.equal('32\n');
    for (const bad of ['0\n', '33\n', '255']) await expectErrno(s.host.write(f, bad), Errno.EINVAL);
    for (const bad of ['256\n', '0x100']) await expectErrno(s.host.write(f, bad), Errno.ERANGE);
    for (const bad of ['', '\n', 'two', '-1', '3 ', ' 3']) await expectErrno(s.host.write(f, bad), Errno.EINVAL);
    expect(await s.host.read(f)).to.equal('32\n');
  });

  it('run: kstrtoint base 0; a peer index out of range or junk EINVAL, int overflow ERANGE', async () => {
    const s = await boot();
    await load(s);
    const f = `${s.dir}/run`;
    for (const bad of ['1\n', '-1\n', '0x7fffffff', '', '\n', 'zero', '0 0']) await expectErrno(s.host.write(f, bad), Errno.EINVAL);
    for (const bad of ['2147483648\n', '-2147483649']) await expectErrno(s.host.write(f, bad), Errno.ERANGE);
    expect(await s.host.read(f)).to.equal('    Peer 0 test statistics:\n');
    expect(s.k.bugs).to.deep.equal([]);
  });

  it('info: ports, global indices, idle, link down, the mapped out-buffer and an unallocated in-buffer', async () => {
    const s = await boot();
    await load(s);
    const info = await s.host.read(`${s.dir}/info`);
    const lines = info.split('\n');
    expect(lines.slice(0, 5)).to.deep.equal([
      '    Performance measuring tool info:',
      '',
      'Local port 0, Global index 0',
      'Test status: idle',
      'Port 1 (0), Global index 1:',
    ]);
    expect(lines[5]).to.equal('\tLink status: down');
    expect(lines[6]).to.match(/^\tOut buffer addr 0x[0-9a-f]{16}$/);
    expect(lines.slice(7)).to.deep.equal([
      `\tOut buff phys addr ${physAddr(FAKE_MW0)}`,
      '\tOut buffer size 0x0000000000100000',
      '\tOut buffer xlat 0x0000000000000000[p]',
      '\tIn buffer addr: unallocated',
      '',
    ]);
  });

  it('max_mw_size caps the out-buffer with a warning', async () => {
    const s = await boot();
    await load(s, ['max_mw_size=0x80000']);
    const dev = eduDevices(s.k)[0].name;
    expect(s.host.printk.lines()).to.include(`ntb_perf ${dev}: Peer 0 outbuf reduced to 0x0000000000080000`);
    expect(await s.host.read(`${s.dir}/info`)).to.contain('\tOut buffer size 0x0000000000080000\n');
  });
});

describe('clients/perf: command channel choice and probe failures', () => {
  it('scratchpad channel: every local spad set to 0xffffffff, only BIT(own gidx) unmasked, link enabled', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s);
    expect(hw.spad).to.deep.equal(new Array(6).fill(INVAL));
    expect(hw.dbMask).to.equal(hw.dbValid & ~0x1n);
    expect(hw.linkEnabled).to.equal(true);
  });

  it('message channel when there are 3 message registers: unmasks only the lowest inbound bit', async () => {
    const s = await boot({ msgs: 3 });
    const hw = await load(s);
    expect(hw.msgMask).to.equal(0x6n);
    expect(hw.dbMask).to.equal(hw.dbValid);
  });

  it('refuses hardware with too few scratchpads and no messages ("Command services unsupported")', async () => {
    const s = await boot({ spads: 5 });
    const hw = await load(s);
    const dev = hw.ntb!.name;
    expect(hw.ntb!.driver).to.equal(undefined);
    expect(s.host.printk.lines()).to.include.members([`ntb_perf ${dev}: Command services unsupported`, `ntb_perf: probe of ${dev} failed with error -22`]);
    expect(s.host.exists(s.dir)).to.equal(false);
    expect(hw.ntb!.ctxOps).to.equal(null);
  });

  it('refuses hardware with fewer outbound windows than peers ("Not enough memory windows")', async () => {
    const s = await boot({ spads: 6, mws: 0 });
    const hw = await load(s);
    expect(hw.ntb!.driver).to.equal(undefined);
    expect(s.host.printk.lines()).to.include(`ntb_perf ${hw.ntb!.name}: Not enough memory windows`);
  });
});

describe('clients/perf: the handshake (fake hardware, test as the peer)', () => {
  it('scratchpads: SSIZE on link-up, RSIZE allocates and programs inbound window peer.gidx, SXLAT back, RXLAT completes', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s);
    hw.setLink(true);
    await s.world.runFor(usecs(1));
    // SSIZE with our out-buffer size, in our slots 0..2 of the peer, ringing the peer's bit BIT(1).
    expect(sentSpadCmd(hw)).to.deep.equal({ cmd: CMD.SSIZE, data: FAKE_MW_SIZE });
    expect(hw.peerDb).to.equal(0x2n);
    expect(await s.host.read(`${s.dir}/info`)).to.contain('\tLink status: up\n');

    peerSpadCmd(hw, CMD.SSIZE, 0x40000);
    expect(hw.spad[3], 'command slot handed back').to.equal(INVAL);
    await s.world.runFor(usecs(1));
    const trans = hw.inTrans.get('0/1');
    expect(trans?.size).to.equal(0x40000);
    expect(trans!.addr % 4096).to.equal(0);
    expect(sentSpadCmd(hw)).to.deep.equal({ cmd: CMD.SXLAT, data: trans!.addr });
    const info = await s.host.read(`${s.dir}/info`);
    expect(info).to.match(/\tIn buffer addr 0x[0-9a-f]{16}\n/);
    expect(info).to.contain(`\tIn buffer size 0x0000000000040000\n\tIn buffer xlat ${physAddr(trans!.addr)}[p]\n`);

    peerSpadCmd(hw, CMD.SXLAT, PEER_XLAT);
    await s.world.runFor(usecs(1));
    expect(await s.host.read(`${s.dir}/info`)).to.contain('\tOut buffer xlat 0x0000000200000000[p]\n');
    expect(s.k.bugs).to.deep.equal([]);
  });

  it('rounds the peer\'s size up to the size alignment and refuses one above size_max ("Too big inbuf size")', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s);
    hw.setLink(true);
    await s.world.runFor(usecs(1));
    peerSpadCmd(hw, CMD.SSIZE, 5000);
    await s.world.runFor(usecs(1));
    expect(hw.inTrans.get('0/1')?.size).to.equal(8192);

    peerSpadCmd(hw, CMD.SSIZE, (1 << 20) + 1);
    await s.world.runFor(usecs(1));
    const dev = hw.ntb!.name;
    expect(s.host.printk.lines()).to.include(`ntb_perf ${dev}: Too big inbuf size 0x0000000000100001 > 0x0000000000100000`);
  });

  it('logs "Recv invalid command" for an unknown command and keeps serving', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s);
    hw.setLink(true);
    await s.world.runFor(usecs(1));
    peerSpadCmd(hw, 7, 0);
    expect(s.host.printk.lines()).to.include(`ntb_perf ${hw.ntb!.name}: Recv invalid command`);
    await handshake(s, hw);
    expect(await s.host.read(`${s.dir}/info`)).to.contain('[p]\n\tIn buffer addr 0x');
  });

  it('messages: commands go out as LDATA, HDATA, then CMD; a peer command arrives as three messages', async () => {
    const s = await boot({ msgs: 3 });
    const hw = await load(s);
    hw.setLink(true);
    await s.world.runFor(usecs(1));
    expect(hw.sentMsgs).to.deep.equal([
      { pidx: 0, midx: 1, msg: FAKE_MW_SIZE },
      { pidx: 0, midx: 2, msg: 0 },
      { pidx: 0, midx: 0, msg: CMD.SSIZE },
    ]);
    hw.msgArrives(0, 1, 0x10000);
    hw.msgArrives(0, 2, 0);
    hw.msgArrives(0, 0, CMD.SSIZE);
    expect(hw.msgSts, 'inbound status cleared').to.equal(0n);
    await s.world.runFor(usecs(1));
    const trans = hw.inTrans.get('0/1')!;
    expect(trans.size).to.equal(0x10000);
    expect(hw.sentMsgs.slice(3)).to.deep.equal([
      { pidx: 0, midx: 1, msg: trans.addr % 2 ** 32 },
      { pidx: 0, midx: 2, msg: Math.floor(trans.addr / 2 ** 32) },
      { pidx: 0, midx: 0, msg: CMD.SXLAT },
    ]);
    hw.msgArrives(0, 1, 0);
    hw.msgArrives(0, 2, 2);
    hw.msgArrives(0, 0, CMD.SXLAT);
    await s.world.runFor(usecs(1));
    expect(await s.host.read(`${s.dir}/info`)).to.contain('\tOut buffer xlat 0x0000000200000000[p]\n');
    await s.host.write('/sys/module/ntb_perf/parameters/total_order', '19\n');
    await s.host.write(`${s.dir}/run`, '0\n');
    expect(parseRun(await s.host.read(`${s.dir}/run`)).lines[0]).to.match(/^0: copied 524288 bytes in \d+ usecs/);
    // Removal in message mode (no scratchpads to clear) is clean too.
    await s.host.rmmod('ntb_perf');
    expect(s.k.bugs).to.deep.equal([]);
  });

  it('scratchpads: while the peer has not freed our command slot, retries every second', async () => {
    const s = await boot({ spads: 6 });
    await s.host.modprobe('ntb_perf');
    const hw = new FakeNtbHw({ spads: 6 });
    let slotFreeAt = secs(2.5);
    const ntb = new NtbDev(eduDevices(s.k)[0], { ...hw.ops(), peerSpadRead: (_n, _p, sidx) => (s.world.now >= slotFreeAt ? INVAL : sidx) }, NtbTopo.B2B_USD);
    hw.ntb = ntb;
    await s.host.run('register', (k) => registerNtbDev(k, ntb));
    const t0 = s.world.now;
    hw.setLink(true);
    await s.world.runFor(secs(2.9));
    expect(hw.peerDb, 'nothing sent yet').to.equal(0n);
    expect(hw.peerSpad[1]).to.equal(0);
    await s.world.runFor(secs(0.2));
    expect(sentSpadCmd(hw)).to.deep.equal({ cmd: CMD.SSIZE, data: FAKE_MW_SIZE });
    expect(s.world.now - t0).to.be.at.least(secs(3));

    // A send that is still retrying gives up when the link goes down.
    hw.peerSpad.fill(0);
    hw.peerDb = 0n;
    slotFreeAt = Infinity;
    hw.setLink(false);
    await s.world.runFor(usecs(1));
    hw.setLink(true);
    await s.world.runFor(secs(1.5));
    hw.setLink(false);
    await s.world.runFor(secs(5));
    expect(hw.peerDb).to.equal(0n);
    expect(hw.peerSpad[1]).to.equal(0);
    expect(s.k.bugs).to.deep.equal([]);
  });

  it('run blocks until the handshake with that peer is done', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=16']);
    // The "peer" comes up and answers long after the write starts.
    s.k.sched.after(secs(3), () => hw.setLink(true));
    s.k.sched.after(secs(4), () => peerSpadCmd(hw, CMD.SSIZE, FAKE_MW_SIZE));
    s.k.sched.after(secs(5), () => peerSpadCmd(hw, CMD.SXLAT, PEER_XLAT));
    const t0 = s.world.now;
    expect(await s.host.write(`${s.dir}/run`, '0\n')).to.equal(2);
    expect(s.world.now - t0).to.be.at.least(secs(5));
    expect(parseRun(await s.host.read(`${s.dir}/run`)).lines).to.have.length(1);
  });
});

describe('clients/perf: running a test (fake hardware)', () => {
  it('copies 2^total_order bytes through the window; the figures come from the virtual time the copy took', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=22']);
    await handshake(s, hw);
    const t0 = s.world.now;
    await s.host.write(`${s.dir}/run`, '0\n');
    const elapsed = s.world.now - t0;
    const { header, lines } = parseRun(await s.host.read(`${s.dir}/run`));
    expect(header).to.equal('    Peer 0 test statistics:');
    expect(lines).to.have.length(1);
    const m = RUN_LINE.exec(lines[0])!;
    expect(m, lines[0]).to.not.equal(null);
    const [, tidx, copied, us, mbs] = m.map(Number);
    expect(tidx).to.equal(0);
    expect(copied).to.equal(1 << 22);
    // The copy cost is the only time spent: the window's write bandwidth, per byte really copied.
    const expectedNs = ((1 << 22) * 1e9) / FAKE_WINDOW_BYTES_PER_SEC;
    expect(Math.abs(elapsed - expectedNs)).to.be.below(usecs(1));
    expect(us).to.equal(Math.floor(elapsed / 1000));
    expect(mbs).to.equal(Math.floor(copied / us));
    // The bytes really went through the window (the fake maps window 0 onto host RAM at 4 GiB).
    const landed = s.host.platform.mem.readBytes(FAKE_MW0, FAKE_MW_SIZE);
    expect(landed.some((b) => b !== 0)).to.equal(true);
  });

  it('doubling total_order doubles the time and keeps the rate', async () => {
    const rates: number[] = [];
    const times: number[] = [];
    for (const order of [21, 22]) {
      const s = await boot({ spads: 6 });
      const hw = await load(s, [`total_order=${order}`]);
      await handshake(s, hw);
      await s.host.write(`${s.dir}/run`, '0\n');
      const m = RUN_LINE.exec(parseRun(await s.host.read(`${s.dir}/run`)).lines[0])!;
      times.push(Number(m[3]));
      rates.push(Number(m[4]));
    }
    expect(times[1]).to.be.within(2 * times[0] - 1, 2 * times[0] + 1);
    // Equal up to the truncation of the duration to whole microseconds.
    expect(Math.abs(rates[1] - rates[0]) / rates[0]).to.be.below(0.005);
  });

  it('wraps at the end of a smaller out-buffer, clamping the last chunk (max_mw_size not a multiple of the chunk)', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=21', 'chunk_order=19', 'max_mw_size=0xc0000']);
    await handshake(s, hw, 0xc0000);
    await s.host.write(`${s.dir}/run`, '0\n');
    const m = RUN_LINE.exec(parseRun(await s.host.read(`${s.dir}/run`)).lines[0])!;
    // 2 MiB in chunks 512K, 256K (clamped), 512K, 256K, 512K: the loop stops once 2 MiB are copied.
    expect(Number(m[2])).to.equal(1 << 21);
    // Nothing was written past the capped buffer (the rest of the 1 MiB window stays zero).
    const tail = s.host.platform.mem.readBytes(FAKE_MW0 + 0xc0000, FAKE_MW_SIZE - 0xc0000);
    expect(tail.every((b) => b === 0)).to.equal(true);
  });

  it('threads_count threads each report a line; records beyond tcnt stay hidden', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=20']);
    await handshake(s, hw);
    await s.host.write(`${s.dir}/threads_count`, '3\n');
    await s.host.write(`${s.dir}/run`, '0\n');
    const { lines } = parseRun(await s.host.read(`${s.dir}/run`));
    expect(lines.map((l) => RUN_LINE.exec(l)![1])).to.deep.equal(['0', '1', '2']);
    for (const l of lines) expect(RUN_LINE.exec(l)![2]).to.equal(String(1 << 20));
    // A later run with fewer threads resets every record.
    await s.host.write(`${s.dir}/threads_count`, '1\n');
    await s.host.write(`${s.dir}/run`, '0\n');
    expect(parseRun(await s.host.read(`${s.dir}/run`)).lines).to.have.length(1);
  });

  it('truncates the run report to its 1024-byte buffer with 32 threads', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=19']);
    await handshake(s, hw);
    await s.host.write(`${s.dir}/threads_count`, '32\n');
    await s.host.write(`${s.dir}/run`, '0\n');
    const text = await s.host.read(`${s.dir}/run`);
    expect(text.length).to.equal(1023);
    expect(text.startsWith('    Peer 0 test statistics:\n0: copied 524288 bytes in ')).to.equal(true);
  });

  it('use_dma=1: no DMA memcpy channel exists, so each thread fails with -ENODEV', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=19', 'use_dma=1']);
    await handshake(s, hw);
    expect(await s.host.write(`${s.dir}/run`, '0\n')).to.equal(2);
    expect(await s.host.read(`${s.dir}/run`)).to.equal('    Peer 0 test statistics:\n0: error status -19\n');
    expect(s.host.printk.lines()).to.include(`ntb_perf ${hw.ntb!.name}: 0: Failed to get DMA channel`);
  });

  it('while a test runs: run/threads_count reads or writes give EBUSY and info says on-fly', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=24']);
    await handshake(s, hw);
    const during: Record<string, Promise<unknown>> = {};
    s.k.sched.after(usecs(100), () => {
      during.readRun = s.k.fs.readFile(`${s.dir}/run`);
      during.writeTcnt = s.k.fs.writeFile(`${s.dir}/threads_count`, '2\n');
      during.writeRun = s.k.fs.writeFile(`${s.dir}/run`, '0\n');
      during.info = s.k.fs.readFile(`${s.dir}/info`);
    });
    await s.host.write(`${s.dir}/run`, '0\n');
    await expectErrno(during.readRun, Errno.EBUSY);
    await expectErrno(during.writeTcnt, Errno.EBUSY);
    await expectErrno(during.writeRun, Errno.EBUSY);
    expect(new TextDecoder().decode((await during.info) as Uint8Array)).to.contain('Test status: on-fly with port 1 (0)\n');
    expect(await s.host.read(`${s.dir}/info`)).to.contain('Test status: idle\n');
    expect(await s.host.read(`${s.dir}/threads_count`)).to.equal('1\n');
  });

  it('link down during a test: "Freeing while test on-fly", the thread stops with -EINTR, buffers freed', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=26']);
    await handshake(s, hw);
    s.k.sched.after(usecs(500), () => hw.setLink(false));
    expect(await s.host.write(`${s.dir}/run`, '0\n')).to.equal(2);
    // As in Linux, the writer is released at once; the thread notices after its current chunk.
    await s.world.runFor(msecs(1));
    const dev = hw.ntb!.name;
    expect(s.host.printk.lines()).to.include.members([`ntb_perf ${dev}: Freeing while test on-fly`, `ntb_perf ${dev}: 0: Got error -4 on test`]);
    expect(await s.host.read(`${s.dir}/run`)).to.equal('    Peer 0 test statistics:\n0: error status -4\n');
    const info = await s.host.read(`${s.dir}/info`);
    expect(info).to.contain('\tLink status: down\n');
    expect(info).to.contain('\tIn buffer addr: unallocated\n');
    expect(hw.inTrans.get('0/1')).to.deep.equal({ addr: 0, size: 0 });
    expect(s.k.bugs).to.deep.equal([]);
  });

  it('a new handshake after the link returns makes run work again (run waits for it)', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=19']);
    await handshake(s, hw);
    hw.setLink(false);
    await s.world.runFor(usecs(1));
    hw.spad.fill(INVAL);
    s.k.sched.after(msecs(10), () => hw.setLink(true));
    s.k.sched.after(msecs(20), () => peerSpadCmd(hw, CMD.SSIZE, FAKE_MW_SIZE));
    s.k.sched.after(msecs(30), () => peerSpadCmd(hw, CMD.SXLAT, PEER_XLAT));
    await s.host.write(`${s.dir}/run`, '0\n');
    expect(parseRun(await s.host.read(`${s.dir}/run`)).lines[0]).to.match(RUN_LINE);
  });

  it('rmmod: frees the inbound buffer, clears the command slots and doorbell, disables the link, removes debugfs', async () => {
    const s = await boot({ spads: 6 });
    const hw = await load(s, ['total_order=19']);
    await handshake(s, hw);
    const allocated = s.k.pages.allocatedBytes;
    await s.host.rmmod('ntb_perf');
    expect(s.host.exists('/sys/kernel/debug/ntb_perf')).to.equal(false);
    expect(hw.linkEnabled).to.equal(false);
    expect(hw.ntb!.ctxOps).to.equal(null);
    expect(hw.inTrans.get('0/1')).to.deep.equal({ addr: 0, size: 0 });
    expect(hw.spad[3], 'peer command slot zeroed').to.equal(0);
    expect(hw.dbMask & 0x1n).to.equal(0x1n);
    expect(s.k.pages.allocatedBytes).to.equal(allocated - FAKE_MW_SIZE);
    expect(s.k.bugs).to.deep.equal([]);
  });
});

describe('clients/perf: two hosts back to back (fake pair)', () => {
  for (const [what, opts] of [
    ['scratchpads', { spads: 6 }],
    ['messages', { msgs: 3 }],
  ] as const) {
    it(`${what}: run right after loading waits for the handshake, then the data lands in the peer's in-buffer`, async () => {
      const pair = new FakeNtbPair(opts);
      const world = await World.create(
        { hosts: [{ name: 'host0', iommu: false, intremap: false }, { name: 'host1', iommu: false, intremap: false }], hardware: [{ type: 'edu' }] },
        [testdevPlugin, ntbCorePlugin, pair.plugin([ntbPerfModule])],
      );
      const [h0, h1] = world.hosts;
      for (const h of world.hosts) await h.modprobe('ntb_fake_pair');
      for (const h of world.hosts) await h.modprobe('ntb_perf', ['total_order=22']);
      const dir = (h: Host) => `/sys/kernel/debug/ntb_perf/${eduDevices(h.kernel)[0].name}`;

      await h0.write(`${dir(h0)}/run`, '0\n');
      const m0 = RUN_LINE.exec(parseRun(await h0.read(`${dir(h0)}/run`)).lines[0]);
      expect(m0?.[2]).to.equal(String(1 << 22));

      // host0 is global index 0, host1 global index 1; each programs inbound window <peer gidx>
      // and points its outbound window <own gidx> at the other's buffer.
      const in1 = pair.side(1).hw.inTrans.get('0/0')!;
      const in0 = pair.side(0).hw.inTrans.get('0/1')!;
      expect(in1.size).to.equal(1 << 20);
      expect(in0.size).to.equal(1 << 20);
      const info0 = await h0.read(`${dir(h0)}/info`);
      const info1 = await h1.read(`${dir(h1)}/info`);
      expect(info0).to.contain(`\tOut buff phys addr ${physAddr(PAIR_WINDOW_BASE)}\n`);
      expect(info0).to.contain(`\tOut buffer xlat ${physAddr(in1.addr)}[p]\n`);
      expect(info1).to.contain(`\tOut buff phys addr ${physAddr(PAIR_WINDOW_BASE + (1 << 20))}\n`);
      expect(info1).to.contain(`\tOut buffer xlat ${physAddr(in0.addr)}[p]\n`);
      expect(info1).to.contain('Local port 1, Global index 1\n');

      // host0's random source bytes are now in host1's in-buffer; host0's own in-buffer is untouched.
      const got = h1.platform.mem.readBytes(in1.addr, in1.size);
      expect(got.some((b) => b !== 0)).to.equal(true);
      expect(h0.platform.mem.readBytes(in0.addr, in0.size).every((b) => b === 0)).to.equal(true);

      await h1.write(`${dir(h1)}/run`, '0\n');
      expect(RUN_LINE.exec(parseRun(await h1.read(`${dir(h1)}/run`)).lines[0])?.[2]).to.equal(String(1 << 22));
      expect(h0.platform.mem.readBytes(in0.addr, in0.size).some((b) => b !== 0)).to.equal(true);

      // Unloading one side tears the pairing down on both.
      await h1.rmmod('ntb_perf');
      await world.runFor(msecs(1));
      expect(await h0.read(`${dir(h0)}/info`)).to.contain('\tLink status: down\n');
      for (const h of world.hosts) expect(h.kernel.bugs, h.name).to.deep.equal([]);
    });
  }
});



