import { expect } from 'chai';
import { Errno } from '../../../core/errno';
import { msecs, usecs } from '../../../core/time/units';
import { NtbTopo, ntbDbClearMask } from '../../../drivers/ntb';
import { ksscanf } from '../../../clients/tool';
import { eduDevices } from '../../drivers/ntb/fake-ntb-hw';
import { expectErrno } from '../../helpers/world';
import { bootTool, FULL_HW, text, toolDir, ToolSetup } from './setup';

const range = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** The labels of a window report and their values, in order. */
function report(t: string): Array<[string, string]> {
  expect(t.endsWith('\n'), JSON.stringify(t)).to.equal(true);
  return t
    .slice(0, -1)
    .split('\n')
    .map((l) => {
      const tab = l.indexOf('\t');
      expect(tab, JSON.stringify(l)).to.be.greaterThan(0);
      return [l.slice(0, tab), l.slice(tab + 1)];
    });
}

/** Errno of a failing write, or 'ok' with the returned count. */
async function writeResult(s: ToolSetup, path: string, data: string): Promise<string> {
  try {
    return `ok ${await s.host.write(path, data)}`;
  } catch (e) {
    const err = e as { errno?: number };
    if (err.errno === undefined) throw e;
    return Errno[err.errno];
  }
}

describe('clients/tool: ntb_tool tree, formats and writes', () => {
  it('creates ntb_tool/<dev>/ with every file of the spec, modes 0600 (peer link files 0200)', async () => {
    const s = await bootTool();
    expect(s.host.ls('/sys/kernel/debug/ntb_tool')).to.deep.equal([eduDevices(s.k)[0].name]);
    expect(s.host.ls(s.dir)).to.deep.equal(
      [
        'port', 'link', 'db', 'db_valid_mask', 'db_mask', 'db_event', 'peer_db', 'peer_db_mask',
        ...range(4, 'spad'), ...range(4, 'msg'), 'msg_sts', 'msg_inbits', 'msg_outbits', 'msg_mask', 'msg_event', 'peer0',
      ].sort(),
    );
    expect(s.host.ls(s.p('peer0'))).to.deep.equal(
      ['port', 'link', 'link_event', ...range(2, 'mw_trans'), ...range(2, 'peer_mw_trans'), ...range(4, 'spad'), ...range(4, 'msg')].sort(),
    );
    for (const f of s.host.ls(s.dir).filter((f) => f !== 'peer0')) expect(s.k.fs.stat(s.p(f)).mode, f).to.equal(0o600);
    for (const f of s.host.ls(s.p('peer0'))) {
      expect(s.k.fs.stat(s.p(`peer0/${f}`)).mode, f).to.equal(f === 'link' || f === 'link_event' ? 0o200 : 0o600);
      expect(s.k.fs.stat(s.p(`peer0/${f}`)).size, f).to.equal(0);
    }
  });

  it('has no spad/msg files without scratchpads or messages, one peer dir per peer, no mw_trans when mw_count is 0 at probe', async () => {
    const s = await bootTool({ ports: { port: 2, peers: [0, 1, 5] }, mwCountNeedsLink: true, mws: 3 });
    expect(s.host.ls(s.dir)).to.deep.equal(['db', 'db_event', 'db_mask', 'db_valid_mask', 'link', 'peer0', 'peer1', 'peer2', 'peer_db', 'peer_db_mask', 'port']);
    expect(s.host.ls(s.p('peer2'))).to.deep.equal(['link', 'link_event', 'peer_mw_trans0', 'peer_mw_trans1', 'peer_mw_trans2', 'port']);
    expect(await s.host.read(s.p('port'))).to.equal('2\n');
    expect(await Promise.all([0, 1, 2].map((i) => s.host.read(s.p(`peer${i}/port`))))).to.deep.equal(['0\n', '1\n', '5\n']);
    // Counted once at probe: the link coming up later adds no file.
    s.hw.setLink(true);
    expect(s.host.ls(s.p('peer0')).filter((f) => f.startsWith('mw_trans'))).to.deep.equal([]);
  });

  it('prints registers as %#llx (0x0 for zero), spads as %#x, messages as 0x%08x<-pidx, ports as %d', async () => {
    const s = await bootTool(FULL_HW, { topo: NtbTopo.B2B_DSD });
    expect(await s.host.read(s.p('port'))).to.equal('1\n');
    expect(await s.host.read(s.p('peer0/port'))).to.equal('0\n');
    expect(await s.host.read(s.p('db'))).to.equal('0x0\n');
    expect(await s.host.read(s.p('db_valid_mask'))).to.equal('0xffff\n');
    expect(await s.host.read(s.p('db_mask'))).to.equal('0x0\n');
    expect(await s.host.read(s.p('peer_db'))).to.equal('0x0\n');
    expect(await s.host.read(s.p('peer_db_mask'))).to.equal('0x0\n');
    s.hw.peerRings(0x7fffn);
    s.hw.dbMask = 0xf0n;
    s.hw.peerDb = 0x3n;
    s.hw.peerDbMask = 0x100n;
    expect(await s.host.read(s.p('db'))).to.equal('0x7fff\n');
    expect(await s.host.read(s.p('db_mask'))).to.equal('0xf0\n');
    expect(await s.host.read(s.p('peer_db'))).to.equal('0x3\n');
    expect(await s.host.read(s.p('peer_db_mask'))).to.equal('0x100\n');

    expect(await s.host.read(s.p('spad0'))).to.equal('0x0\n');
    s.hw.spad[3] = 0xdeadbeef;
    expect(await s.host.read(s.p('spad3'))).to.equal('0xdeadbeef\n');
    s.hw.peerSpad[1] = 0x2a;
    expect(await s.host.read(s.p('peer0/spad1'))).to.equal('0x2a\n');

    expect(await s.host.read(s.p('msg0'))).to.equal('0x00000000<-0\n');
    s.hw.msgArrives(0, 2, 0xabc);
    expect(await s.host.read(s.p('msg2'))).to.equal('0x00000abc<-0\n');
    expect(await s.host.read(s.p('msg_sts'))).to.equal('0x4\n');
    expect(await s.host.read(s.p('msg_inbits'))).to.equal('0xf\n');
    expect(await s.host.read(s.p('msg_outbits'))).to.equal('0x0\n');

    expect(await s.host.read(s.p('peer0/link'))).to.equal('N\n');
    s.hw.setLink(true);
    expect(await s.host.read(s.p('peer0/link'))).to.equal('Y\n');
  });

  it('serves reads by offset from a freshly formatted buffer: short reads are truncated to count-1 bytes, EOF past the end', async () => {
    const s = await bootTool();
    s.hw.peerRings(0x7fffn);
    expect(text(await s.host.readBytes(s.p('db'), 0, 3))).to.equal('0x');
    expect(text(await s.host.readBytes(s.p('db'), 0, 1))).to.equal('');
    expect(text(await s.host.readBytes(s.p('db'), 2, 100))).to.equal('7fff\n');
    expect(text(await s.host.readBytes(s.p('db'), 7, 100))).to.equal('');
    // Fixed-buffer files (port, spads, messages) do not depend on the count.
    expect(text(await s.host.readBytes(s.p('msg0'), 0, 4))).to.equal('0x00');
    expect(text(await s.host.readBytes(s.p('msg0'), 10, 100))).to.equal('<-0\n');
    expect(text(await s.host.readBytes(s.p('peer0/link'), 1, 10))).to.equal('\n');
    expect(text(await s.host.readBytes(s.p('peer0/link'), 2, 10))).to.equal('');
  });

  it('rejects reads of write-only files and writes of read-only files with EINVAL', async () => {
    const s = await bootTool();
    for (const f of ['link', 'db_event', 'msg_mask', 'msg_event', 'peer0/link_event', 'peer0/msg0']) {
      await expectErrno(s.host.read(s.p(f)), Errno.EINVAL);
    }
    for (const f of ['port', 'db_valid_mask', 'msg0', 'msg_inbits', 'msg_outbits', 'peer0/port', 'peer0/link']) {
      await expectErrno(s.host.write(s.p(f), '1\n'), Errno.EINVAL);
    }
  });

  it('s/c syntax: set and clear through the right ops, auto base, -1 = all bits, no space needed, junk after the number ignored', async () => {
    const s = await bootTool();
    expect(await s.host.write(s.p('db'), 's 0x5\n')).to.equal(6);
    expect(s.hw.db).to.equal(0x5n);
    await s.host.write(s.p('db'), 'c 1\n');
    expect(s.hw.db).to.equal(0x4n);
    await s.host.write(s.p('db_mask'), 's1');
    await s.host.write(s.p('db_mask'), 's 010 and more');
    expect(s.hw.dbMask).to.equal(0x9n);
    await s.host.write(s.p('db_mask'), 'c\t\n 8');
    expect(s.hw.dbMask).to.equal(0x1n);
    await s.host.write(s.p('peer_db'), 's 0x3\n');
    expect(s.hw.peerDb).to.equal(0x3n);
    await s.host.write(s.p('peer_db'), 'c 0xffff\n');
    expect(s.hw.peerDb).to.equal(0n);
    await s.host.write(s.p('peer_db_mask'), 's -1\n');
    expect(s.hw.peerDbMask).to.equal((1n << 64n) - 1n);
    await s.host.write(s.p('peer_db_mask'), 'c -0x2\n');
    expect(s.hw.peerDbMask).to.equal(1n);
    await s.host.write(s.p('msg_mask'), 's 0x6\n');
    expect(s.hw.msgMask).to.equal(0x6n);
    await s.host.write(s.p('msg_mask'), 'c 2\n');
    expect(s.hw.msgMask).to.equal(0x4n);
    s.hw.msgArrives(0, 0, 1);
    s.hw.msgArrives(0, 1, 2);
    await s.host.write(s.p('msg_sts'), 'c 0x1\n');
    expect(s.hw.msgSts).to.equal(0x2n);
    // `s 0` succeeds and changes nothing; `s 0x` scans the 0 (kernel sscanf).
    await s.host.write(s.p('peer_db'), 's 0\n');
    await s.host.write(s.p('peer_db'), 's 0x\n');
    expect(s.hw.peerDb).to.equal(0n);
    // A number beyond 64 bits wraps (simple_strtoull does not detect overflow).
    await s.host.write(s.p('peer_db_mask'), 'c -1');
    await s.host.write(s.p('peer_db_mask'), 's 99999999999999999999999\n');
    expect(s.hw.peerDbMask).to.equal(99999999999999999999999n % (1n << 64n));
  });

  it('s/c syntax: a write at a non-zero offset returns 0 and does nothing', async () => {
    const s = await bootTool();
    expect(await s.host.write(s.p('db'), 's 1\n', 4)).to.equal(0);
    expect(s.hw.db).to.equal(0n);
  });

  it('s/c syntax: a missing set/clear op, msg_sts set and unknown letters are EINVAL; missing read ops too', async () => {
    const s = await bootTool({ spads: 1, msgs: 1 });
    await expectErrno(s.host.write(s.p('db'), 's 1\n'), Errno.EINVAL); // no db_set
    await s.host.write(s.p('db'), 'c 1\n');
    await expectErrno(s.host.write(s.p('peer_db'), 'c 1\n'), Errno.EINVAL);
    await s.host.write(s.p('peer_db'), 's 1\n');
    expect(s.hw.peerDb).to.equal(1n);
    await expectErrno(s.host.write(s.p('peer_db_mask'), 's 1\n'), Errno.EINVAL);
    await expectErrno(s.host.write(s.p('msg_sts'), 's 1\n'), Errno.EINVAL);
    await expectErrno(s.host.write(s.p('db_mask'), 'x 1\n'), Errno.EINVAL);
    await expectErrno(s.host.write(s.p('db_mask'), 'S 1\n'), Errno.EINVAL);
    for (const f of ['db_mask', 'peer_db', 'peer_db_mask']) await expectErrno(s.host.read(s.p(f)), Errno.EINVAL);
    await expectErrno(s.host.read(s.p('peer0/spad0')), Errno.EINVAL); // no peer_spad_read
    await s.host.write(s.p('peer0/spad0'), '7\n');
    expect(s.hw.peerSpad[0]).to.equal(7);
  });

  it('link: kstrtobool on the first bytes enables (NTB_SPEED_AUTO) or disables the link', async () => {
    const s = await bootTool();
    expect(s.hw.linkEnabled).to.equal(false); // not enabled at probe
    for (const [v, on] of [['Y\n', true], ['n', false], ['on', true], ['off', false], ['1', true], ['0\n', false], ['t', true], ['F', false], ['yes please', true]] as const) {
      expect(await s.host.write(s.p('link'), v)).to.equal(v.length);
      expect(s.hw.linkEnabled, v).to.equal(on);
    }
  });

  it('spad, peer spad and peer message writes take a u32 in any base', async () => {
    const s = await bootTool();
    expect(await s.host.write(s.p('spad0'), '0x01020304\n')).to.equal(11);
    expect(s.hw.spad[0]).to.equal(0x01020304);
    await s.host.write(s.p('spad1'), '4294967295');
    expect(await s.host.read(s.p('spad1'))).to.equal('0xffffffff\n');
    await s.host.write(s.p('peer0/spad3'), '0777\n');
    expect(s.hw.peerSpad[3]).to.equal(0o777);
    expect(await s.host.read(s.p('peer0/spad3'))).to.equal('0x1ff\n');
    await s.host.write(s.p('peer0/msg2'), '+0x1234\n');
    expect(s.hw.sentMsgs).to.deep.equal([{ pidx: 0, midx: 2, msg: 0x1234 }]);
  });

  it('passes NTB op errors through unchanged', async () => {
    const s = await bootTool();
    s.hw.faults.set('linkEnable', Errno.EIO);
    await expectErrno(s.host.write(s.p('link'), 'Y\n'), Errno.EIO);
    s.hw.faults.set('dbClear', Errno.EBUSY);
    await expectErrno(s.host.write(s.p('db'), 'c 1\n'), Errno.EBUSY);
    s.hw.faults.set('spadWrite', Errno.EIO);
    await expectErrno(s.host.write(s.p('spad0'), '1\n'), Errno.EIO);
    s.hw.faults.set('peerMsgWrite', Errno.EAGAIN);
    await expectErrno(s.host.write(s.p('peer0/msg0'), '1\n'), Errno.EAGAIN);
    s.hw.faults.set('peerMwGetAddr', Errno.EIO);
    await expectErrno(s.host.read(s.p('peer0/peer_mw_trans0')), Errno.EIO);
    await expectErrno(s.host.write(s.p('peer0/peer_mw_trans0'), '0x1000:4096\n'), Errno.EIO);
    expect(s.host.exists(s.p('peer0/peer_mw0'))).to.equal(false);
    s.hw.faults.clear();
    await s.host.write(s.p('link'), 'Y\n');
    expect(s.hw.linkEnabled).to.equal(true);
  });

  it('feeds every writable file bad strings: EINVAL or ERANGE as kstrto*/sscanf say, nothing changes, the host keeps working', async () => {
    const s = await bootTool();
    s.hw.setLink(true);
    const bits = ['db', 'db_mask', 'peer_db', 'peer_db_mask', 'msg_sts', 'msg_mask'];
    const u32 = ['spad0', 'spad3', 'peer0/spad0', 'peer0/msg1', 'peer0/mw_trans0', 'peer0/mw_trans1'];
    const u64 = ['db_event', 'msg_event'];
    const bools = ['link', 'peer0/link_event'];
    const common = ['', '\n', '\n\n', 'abc', '0x', '1 2', ' 1', '\t1', 'x', '\0'];
    const expected = new Map<string, Map<string, string>>();
    const expect1 = (files: string[], input: string, errno: string) => {
      for (const f of files) {
        if (!expected.has(f)) expected.set(f, new Map());
        expected.get(f)!.set(input, errno);
      }
    };
    for (const bad of common) expect1([...bits, ...u32, ...u64], bad, 'EINVAL');
    for (const bad of ['-1', '1\n\n', '1x', '0x1g', '0b1', '09', '1.5', '++1', '- 1', 'nul\0l']) expect1([...u32, ...u64], bad, 'EINVAL');
    for (const huge of ['4294967296', '0x100000000', '99999999999999999999999']) expect1(u32, huge, 'ERANGE');
    for (const huge of ['18446744073709551616', '0x10000000000000000', '99999999999999999999999']) expect1(u64, huge, 'ERANGE');
    // s/c: one literal character, then a number; anything else is EINVAL.
    for (const bad of ['-1', '1', 's', 's\n', 'c ', ' s 1', 's +1', 's x', 's -', 'S 1', 'r 1', '99999999999999999999999', 'sc 1']) expect1(bits, bad, 'EINVAL');
    expect1(['msg_sts'], 's 1', 'EINVAL');
    for (const bad of ['', '\n', 'abc', 'x', '2', '-1', 'o', 'oo\n', 'e', 'd', ' y', '\0y']) expect1(bools, bad, 'EINVAL');
    const peerMw = ['peer0/peer_mw_trans0', 'peer0/peer_mw_trans1'];
    for (const bad of ['', '\n', 'abc', '0x', '-1', '99999999999999999999999', '1 2', '0x1000', '0x1000:', '0x1000:\n', ':4096', '0x1000 :4096', '0x1000:x', '+1:1', '1:+1', 'x1000:1'])
      expect1(peerMw, bad, 'EINVAL');

    const writable = [...bits, ...u32, ...u64, ...bools, ...peerMw];
    const filesWritten = writable.filter((f) => expected.has(f));
    expect(filesWritten.sort()).to.deep.equal([...writable].sort());
    const before = JSON.stringify({ db: String(s.hw.db), mask: String(s.hw.dbMask), spad: s.hw.spad, peerSpad: s.hw.peerSpad, sent: s.hw.sentMsgs, en: s.hw.linkEnabled });
    const pagesBefore = s.k.pages.allocatedBytes;
    const mismatches: string[] = [];
    for (const [file, cases] of expected) {
      for (const [input, errno] of cases) {
        const got = await writeResult(s, s.p(file), input);
        if (got !== errno) mismatches.push(`${file} ← ${JSON.stringify(input)}: ${got}, expected ${errno}`);
      }
    }
    expect(mismatches).to.deep.equal([]);
    expect(JSON.stringify({ db: String(s.hw.db), mask: String(s.hw.dbMask), spad: s.hw.spad, peerSpad: s.hw.peerSpad, sent: s.hw.sentMsgs, en: s.hw.linkEnabled })).to.equal(before);
    expect(s.k.pages.allocatedBytes).to.equal(pagesBefore);
    expect(s.host.ls(s.p('peer0')).filter((f) => /^(peer_)?mw\d/.test(f))).to.deep.equal([]);
    expect(s.k.bugs).to.deep.equal([]);

    // Still working.
    await s.host.write(s.p('db'), 's 0x2\n');
    expect(await s.host.read(s.p('db'))).to.equal('0x2\n');
    await s.host.write(s.p('spad0'), '5\n');
    expect(await s.host.read(s.p('spad0'))).to.equal('0x5\n');
    await s.host.write(s.p('peer0/mw_trans0'), '4096\n');
    expect(s.host.exists(s.p('peer0/mw0'))).to.equal(true);
  });

  it('number files parse only the first 34 (u32) / 66 (u64) / 3 (bool) bytes; peer_mw_trans the first 31', async () => {
    const s = await bootTool();
    await s.host.write(s.p('spad0'), '0'.repeat(33) + '7' + 'junk');
    expect(s.hw.spad[0]).to.equal(7);
    await expectErrno(s.host.write(s.p('spad0'), '0'.repeat(33) + 'x'), Errno.EINVAL);
    expect(await s.host.write(s.p('db_event'), '0'.repeat(66) + '5')).to.equal(67); // "0…0" = 0 = db
    await s.host.write(s.p('link'), 'yesyesyes');
    expect(s.hw.linkEnabled).to.equal(true);
    await s.host.write(s.p('peer0/peer_mw_trans0'), `0x1000:${'0'.repeat(23)}1111`);
    expect(await s.host.read(s.p('peer0/peer_mw_trans0'))).to.contain('Window Size         \t0x0000000000000001\n');
  });

  it('ksscanf follows the kernel: %c takes white space literally, %lli auto-detects the base, stops at the first mismatch', () => {
    expect(ksscanf('s 0x10', '%c %lli')).to.deep.equal(['s', 0x10n]);
    expect(ksscanf(' s 1', '%c %lli')).to.deep.equal([' ']);
    expect(ksscanf('c-010', '%c %lli')).to.deep.equal(['c', (1n << 64n) - 8n]);
    expect(ksscanf('0x812340000:65536', '%lli:%zi')).to.deep.equal([0x812340000n, 65536n]);
    expect(ksscanf('0x812340000:-1', '%lli:%zi')).to.deep.equal([0x812340000n, (1n << 64n) - 1n]);
    expect(ksscanf('0x812340000:65536', '%llu:%zu')).to.deep.equal([0n]);
    expect(ksscanf('12 34', '%d %d')).to.deep.equal([12n, 34n]);
    expect(ksscanf('7\0 8', '%d %d')).to.deep.equal([7n]);
  });
});

describe('clients/tool: blocking event files', () => {
  it('db_event returns at once when db already equals the value, else when a db event makes it equal', async () => {
    const s = await bootTool();
    const t0 = s.k.now;
    await s.host.write(s.p('db_event'), '0\n');
    expect(s.k.now).to.equal(t0);
    s.k.sched.after(msecs(5), () => s.hw.peerRings(0x1n));
    s.k.sched.after(msecs(7), () => s.hw.peerRings(0x2n));
    expect(await s.host.write(s.p('db_event'), '0x3\n')).to.equal(4);
    expect(s.k.now).to.equal(t0 + msecs(7));
  });

  it('db_event sleeps through masked doorbells (no event) until an unmask raises one', async () => {
    const s = await bootTool();
    await s.host.write(s.p('db_mask'), 's 0xffff\n');
    const t0 = s.k.now;
    s.k.sched.after(msecs(1), () => s.hw.peerRings(0x1n));
    s.k.sched.after(msecs(4), () => ntbDbClearMask(s.hw.ntb!, 0x1n));
    await s.host.write(s.p('db_event'), '1\n');
    expect(s.k.now).to.equal(t0 + msecs(4));
  });

  it('a db_event writer is woken by a local "s" on db from another task (the doorbell raises a db event)', async () => {
    const s = await bootTool();
    const t0 = s.k.now;
    s.k.sched.after(usecs(300), () => void s.k.kthreadRun('ring', async () => void (await s.k.fs.writeFile(s.p('db'), 's 0x10\n'))));
    expect(await s.host.write(s.p('db_event'), '0x10\n')).to.equal(5);
    expect(s.k.now).to.equal(t0 + usecs(300));
  });

  it('peer<N>/link_event blocks until the link bit of that peer matches', async () => {
    const s = await bootTool({ ports: { port: 0, peers: [1, 2] } });
    const t0 = s.k.now;
    await s.host.write(s.p('peer1/link_event'), 'N\n');
    expect(s.k.now).to.equal(t0);
    s.k.sched.after(msecs(2), () => {
      s.hw.linkBits = 0b01n; // peer 0 only: no wake-up condition for peer 1
      s.hw.setLink(true);
    });
    s.k.sched.after(msecs(3), () => {
      s.hw.linkBits = 0b11n;
      s.hw.setLink(true);
    });
    await s.host.write(s.p('peer1/link_event'), 'Y\n');
    expect(s.k.now).to.equal(t0 + msecs(3));
    expect(await s.host.read(s.p('peer1/link'))).to.equal('Y\n');
    s.k.sched.after(msecs(1), () => {
      s.hw.linkBits = 0n;
      s.hw.setLink(false);
    });
    await s.host.write(s.p('peer0/link_event'), '0\n');
    expect(s.k.now).to.equal(t0 + msecs(4));
  });

  it('msg_event blocks until msg_sts equals the value', async () => {
    const s = await bootTool();
    const t0 = s.k.now;
    s.k.sched.after(msecs(1), () => s.hw.msgArrives(0, 1, 0x55));
    await s.host.write(s.p('msg_event'), '2\n');
    expect(s.k.now).to.equal(t0 + msecs(1));
    expect(await s.host.read(s.p('msg1'))).to.equal('0x00000055<-0\n');
  });

  it('a waiter still blocked when ntb_tool unbinds is woken and fails with EIO', async () => {
    const s = await bootTool();
    s.k.sched.after(msecs(1), () => void s.k.kthreadRun('rmmod', () => s.k.rmmod('ntb_tool')));
    await expectErrno(s.host.write(s.p('db_event'), '0x8000\n'), Errno.EIO);
    expect(s.k.modules.isLoaded('ntb_tool')).to.equal(false);
    expect(s.host.exists('/sys/kernel/debug/ntb_tool')).to.equal(false);
    expect(s.k.bugs).to.deep.equal([]);
  });

  it('logs events at debug level', async () => {
    const s = await bootTool();
    s.k.printk.debugEnabled = true;
    s.hw.peerRings(0x1n);
    s.hw.setLink(true);
    s.hw.msgArrives(0, 0, 9);
    const lines = s.host.printk.lines();
    expect(lines.some((l) => l.endsWith(`${s.hw.ntb!.name}: doorbell vec 0 mask 0xffff bits 0x1`))).to.equal(true);
    expect(lines.some((l) => l.endsWith(`${s.hw.ntb!.name}: link is up speed 3 width 4`))).to.equal(true);
    expect(lines.some((l) => l.endsWith(`${s.hw.ntb!.name}: message bits 0x1`))).to.equal(true);
  });
});

describe('clients/tool: memory windows', () => {
  const INBOUND_EMPTY = [
    ['Inbound MW     ', '0'],
    ['Port           ', '1 (0)'],
    ['Window Address ', '0x0000000000000000'],
    ['DMA Address    ', '0x0000000000000000'],
    ['Window Size    ', '0x0000000000000000'],
    ['Alignment      ', '0x0000000000001000'],
    ['Size Alignment ', '0x0000000000001000'],
    ['Size Max       ', '0x0000000000100000'],
  ];

  it('mw_trans: ENOTCONN while the peer link is down (read and write), the 8-line report once up', async () => {
    const s = await bootTool();
    await expectErrno(s.host.read(s.p('peer0/mw_trans0')), Errno.ENOTCONN);
    await expectErrno(s.host.write(s.p('peer0/mw_trans0'), '65536\n'), Errno.ENOTCONN);
    expect(s.host.exists(s.p('peer0/mw0'))).to.equal(false);
    s.hw.setLink(true);
    expect(report(await s.host.read(s.p('peer0/mw_trans0')))).to.deep.equal(INBOUND_EMPTY);
  });

  it('mw_trans write allocates a DMA buffer, programs the translation and creates mw<W>; 0 frees it', async () => {
    const s = await bootTool();
    s.hw.setLink(true);
    const pages = s.k.pages.allocatedBytes;
    expect(await s.host.write(s.p('peer0/mw_trans1'), '65536\n')).to.equal(6);
    const trans = s.hw.inTrans.get('0/1')!;
    expect(trans.size).to.equal(65536);
    expect(trans.addr % 4096).to.equal(0);
    expect(s.k.fs.stat(s.p('peer0/mw1')).mode).to.equal(0o600);
    const r = report(await s.host.read(s.p('peer0/mw_trans1')));
    expect(r[0]).to.deep.equal(['Inbound MW     ', '1']);
    expect(r[2][1]).to.match(/^0x[0-9a-f]{16}$/);
    expect(r[2][1]).to.not.equal('0x0000000000000000');
    expect(r[3][1]).to.equal('0x' + trans.addr.toString(16).padStart(16, '0'));
    expect(r[4][1]).to.equal('0x0000000000010000');

    // The selftest's sed expression finds the values.
    const t = await s.host.read(s.p('peer0/mw_trans1'));
    expect(/^Window Size[ \t]*0x([0-9a-fA-F]+)(\[p\])?$/m.exec(t)![1]).to.equal('0000000000010000');

    await s.host.write(s.p('peer0/mw_trans1'), '0\n');
    expect(s.host.exists(s.p('peer0/mw1'))).to.equal(false);
    expect(s.hw.inTrans.get('0/1')).to.deep.equal({ addr: 0, size: 0 });
    expect(report(await s.host.read(s.p('peer0/mw_trans1'))).slice(2, 5)).to.deep.equal(INBOUND_EMPTY.slice(2, 5));
    expect(s.k.pages.allocatedBytes).to.equal(pages);
  });

  it('mw_trans rounds the size: capped at size_max, rounded up to the alignments; a rewrite replaces the buffer', async () => {
    const s = await bootTool({ ...FULL_HW, mwAlign: { addrAlign: 0x1000, sizeAlign: 0x4000, sizeMax: 0x40000 } });
    s.hw.setLink(true);
    await s.host.write(s.p('peer0/mw_trans0'), '100\n');
    expect(s.hw.inTrans.get('0/0')!.size).to.equal(0x4000);
    await s.host.write(s.p('peer0/mw_trans0'), '0x1000000\n');
    expect(s.hw.inTrans.get('0/0')!.size).to.equal(0x40000);
    expect(report(await s.host.read(s.p('peer0/mw_trans0')))[4][1]).to.equal('0x0000000000040000');
  });

  it('mw<W> is a file of Window Size bytes: clamped transfers, write at the end returns 0, EOF past it', async () => {
    const s = await bootTool();
    s.hw.setLink(true);
    await s.host.write(s.p('peer0/mw_trans0'), '4096\n');
    const mw = s.p('peer0/mw0');
    expect(await s.host.write(mw, 'Hello')).to.equal(5);
    expect(text(await s.host.readBytes(mw, 0, 7))).to.equal('Hello\0\0');
    expect(await s.host.write(mw, 'abcdef', 4093)).to.equal(3);
    expect(await s.host.write(mw, 'z', 4096)).to.equal(0);
    expect(text(await s.host.readBytes(mw, 4090, 100))).to.equal('\0\0\0abc');
    expect(await s.host.readBytes(mw, 4096, 10)).to.have.length(0);
    expect(await s.host.readBytes(mw)).to.have.length(4096);
    // Freed and reallocated: the new buffer starts out zeroed.
    await s.host.write(s.p('peer0/mw_trans0'), '4096\n');
    expect(text(await s.host.readBytes(mw, 0, 5))).to.equal('\0\0\0\0\0');
  });

  it('mw_trans: allocation and alignment failures are ENOMEM, a set_trans error is returned; no buffer and no mw file remain', async () => {
    const s = await bootTool({ ...FULL_HW, mws: 3 }, { host: { iommu: false, intremap: false } });
    s.hw.setLink(true);
    const pages = s.k.pages.allocatedBytes;
    s.hw.faults.set('mwSetTrans', Errno.EIO);
    await expectErrno(s.host.write(s.p('peer0/mw_trans0'), '65536\n'), Errno.EIO);
    s.hw.faults.clear();
    expect(s.k.pages.allocatedBytes).to.equal(pages);

    const big = await bootTool({ ...FULL_HW, mwAlign: { addrAlign: 2 ** 40, sizeMax: 2 ** 41 } }, { host: { iommu: false, intremap: false } });
    big.hw.setLink(true);
    await expectErrno(big.host.write(big.p('peer0/mw_trans0'), '65536\n'), Errno.ENOMEM);

    // 8 MiB alignment: dma-direct hands out 4 KiB-aligned memory, so the first buffer is misaligned.
    const odd = await bootTool({ ...FULL_HW, mwAlign: { addrAlign: 8 << 20, sizeMax: 1 << 20 } }, { host: { iommu: false, intremap: false } });
    odd.hw.setLink(true);
    const oddPages = odd.k.pages.allocatedBytes;
    odd.k.pages.allocPhys(4096); // make sure the next free address is not 8 MiB aligned
    const misaligned = await expectErrno(odd.host.write(odd.p('peer0/mw_trans0'), '65536\n'), Errno.ENOMEM);
    expect(misaligned.message).to.contain('is not 0x800000-aligned');
    expect(odd.k.pages.allocatedBytes).to.equal(oddPages + 4096);

    for (const x of [s, big, odd]) {
      expect(x.host.exists(x.p('peer0/mw0'))).to.equal(false);
      expect(report(await x.host.read(x.p('peer0/mw_trans0')))[4][1]).to.equal('0x0000000000000000');
    }
  });

  const OUTBOUND_EMPTY = [
    ['Outbound MW:        ', '0'],
    ['Port attached       ', '-1 (-1)'],
    ['Virtual address     ', '0x0000000000000000'],
    ['Phys Address        ', '0x0000000100000000'],
    ['Mapping Size        ', '0x0000000000100000'],
    ['Translation Address ', '0x0000000000000000'],
    ['Window Size         ', '0x0000000000000000'],
  ];

  it('peer_mw_trans: the 7-line report; "addr:size" programs and maps the window, creating peer_mw<W>; ":0" unmaps', async () => {
    const s = await bootTool();
    expect(report(await s.host.read(s.p('peer0/peer_mw_trans0')))).to.deep.equal(OUTBOUND_EMPTY);
    expect(await s.host.write(s.p('peer0/peer_mw_trans0'), '0x812340000:65536\n')).to.equal(18);
    expect(s.hw.outTrans.get('0/0')).to.deep.equal({ addr: 0x812340000, size: 65536 });
    expect(s.k.fs.stat(s.p('peer0/peer_mw0')).mode).to.equal(0o600);
    const r = report(await s.host.read(s.p('peer0/peer_mw_trans0')));
    expect(r[1]).to.deep.equal(['Port attached       ', '1 (0)']);
    expect(r[2][1]).to.match(/^0x[0-9a-f]{16}$/);
    expect(r[2][1]).to.not.equal('0x0000000000000000');
    expect(r.slice(3)).to.deep.equal([
      ['Phys Address        ', '0x0000000100000000'],
      ['Mapping Size        ', '0x0000000000100000'],
      ['Translation Address ', '0x0000000812340000'],
      ['Window Size         ', '0x0000000000010000'],
    ]);
    await s.host.write(s.p('peer0/peer_mw_trans0'), '0x812340000:0\n');
    expect(s.host.exists(s.p('peer0/peer_mw0'))).to.equal(false);
    expect(s.hw.outTrans.has('0/0')).to.equal(false);
    expect(report(await s.host.read(s.p('peer0/peer_mw_trans0')))).to.deep.equal(OUTBOUND_EMPTY);
  });

  it('peer_mw_trans: octal/decimal/negative fields (-1 size = SIZE_MAX), data still bounded by the mapping', async () => {
    const s = await bootTool();
    await s.host.write(s.p('peer0/peer_mw_trans1'), '010: 0x20\n');
    expect(s.hw.outTrans.get('0/1')).to.deep.equal({ addr: 8, size: 32 });
    await s.host.write(s.p('peer0/peer_mw_trans1'), '-4096:-1');
    const r = report(await s.host.read(s.p('peer0/peer_mw_trans1')));
    expect(r[5][1]).to.equal('0xfffffffffffff000');
    expect(r[6][1]).to.equal('0xffffffffffffffff');
    expect(await s.host.readBytes(s.p('peer0/peer_mw1'), (1 << 20) - 2, 100)).to.have.length(2);
    expect(await s.host.write(s.p('peer0/peer_mw1'), 'x', 1 << 20)).to.equal(0);
  });

  it('peer_mw<W>: Window Size bytes through the mapping, clamped; the outbound window moves between peer dirs', async () => {
    const s = await bootTool({ ...FULL_HW, ports: { port: 0, peers: [1, 2] } });
    await s.host.write(s.p('peer0/peer_mw_trans0'), '0x1000:16\n');
    const data = s.p('peer0/peer_mw0');
    expect(await s.host.write(data, 'ABCDEFGHIJKLMNOPQRST')).to.equal(16);
    expect(text(await s.host.readBytes(data))).to.equal('ABCDEFGHIJKLMNOP');
    expect(text(await s.host.readBytes(data, 14, 10))).to.equal('OP');
    expect(await s.host.readBytes(data, 16, 10)).to.have.length(0);
    expect(await s.host.readBytes(data, 0, 0)).to.have.length(0);
    // What was written went to the window's physical address.
    expect(text(s.k.platform.mem.readBytes(0x1_0000_0000, 4))).to.equal('ABCD');

    await s.host.write(s.p('peer1/peer_mw_trans0'), '0x2000:4096\n');
    expect(s.host.exists(data)).to.equal(false);
    expect(s.host.exists(s.p('peer1/peer_mw0'))).to.equal(true);
    expect(s.hw.outTrans.has('0/0')).to.equal(false);
    expect(s.hw.outTrans.get('1/0')).to.deep.equal({ addr: 0x2000, size: 4096 });
    // Every peer dir shows the same record.
    expect(report(await s.host.read(s.p('peer0/peer_mw_trans0')))[1][1]).to.equal('2 (1)');
    // A failed write (syntax) leaves the mapping alone; a failed setup leaves it unmapped.
    await expectErrno(s.host.write(s.p('peer0/peer_mw_trans0'), 'junk\n'), Errno.EINVAL);
    expect(s.host.exists(s.p('peer1/peer_mw0'))).to.equal(true);
    s.hw.faults.set('peerMwSetTrans', Errno.EINVAL);
    await expectErrno(s.host.write(s.p('peer0/peer_mw_trans0'), '0x3000:4096\n'), Errno.EINVAL);
    expect(s.host.exists(s.p('peer1/peer_mw0'))).to.equal(false);
    expect(s.host.exists(s.p('peer0/peer_mw0'))).to.equal(false);
    expect(report(await s.host.read(s.p('peer0/peer_mw_trans0')))[1][1]).to.equal('-1 (-1)');
  });
});

describe('clients/tool: module load, unbind and rebind', () => {
  it('rmmod removes the tree, disables the link and frees every window; modprobe recreates a clean tree', async () => {
    const s = await bootTool();
    const pages = s.k.pages.allocatedBytes;
    await s.host.write(s.p('link'), 'Y\n');
    s.hw.setLink(true);
    await s.host.write(s.p('peer0/mw_trans0'), '65536\n');
    await s.host.write(s.p('peer0/peer_mw_trans1'), '0x4000:4096\n');
    expect(s.k.pages.allocatedBytes).to.be.greaterThan(pages);

    await s.host.rmmod('ntb_tool');
    expect(s.host.exists('/sys/kernel/debug/ntb_tool')).to.equal(false);
    expect(s.hw.linkEnabled).to.equal(false);
    expect(s.hw.inTrans.get('0/0')).to.deep.equal({ addr: 0, size: 0 });
    expect(s.hw.outTrans.size).to.equal(0);
    expect(s.k.pages.allocatedBytes).to.equal(pages);
    expect(s.hw.ntb!.ctxOps).to.equal(null);

    await s.host.modprobe('ntb_tool');
    expect(s.host.ls(s.p('peer0'))).to.not.include('mw0');
    expect(s.host.ls(s.p('peer0'))).to.not.include('peer_mw1');
    expect(report(await s.host.read(s.p('peer0/mw_trans0')))[4][1]).to.equal('0x0000000000000000');
    expect(await s.host.read(s.p('port'))).to.equal('0\n');
  });

  it('binds every NTB device; unloading the hardware driver removes only the device dirs', async () => {
    const s = await bootTool(FULL_HW, { edus: 2 });
    expect(s.host.ls('/sys/kernel/debug/ntb_tool')).to.deep.equal([eduDevices(s.k)[0].name, eduDevices(s.k)[1].name].sort());
    expect(s.host.exists(`/sys/bus/ntb/drivers/ntb_tool/${eduDevices(s.k)[1].name}`)).to.equal(true);
    await s.host.rmmod('ntb_fake_hw');
    expect(s.host.ls('/sys/kernel/debug/ntb_tool')).to.deep.equal([]);
    await s.host.modprobe('ntb_fake_hw');
    expect(s.host.ls(toolDir(s.k, 1))).to.include('peer0');
    const mod = s.k.modules.get('ntb_tool')!;
    expect(mod.decl.version).to.equal('2.0');
    expect(mod.decl.description).to.equal('PCIe NTB Debugging Tool');
  });
});
