import { expect } from 'chai';
import { Host } from '../../../core/host';
import { usecs } from '../../../core/time/units';
import { bootToolPair, PairSetup, text } from './setup';

/** The value of a window report line as ntb_test.sh's sed extracts it. */
function field(report: string, label: string): string {
  const m = new RegExp(`^${label}[ \\t]*(0x[0-9a-fA-F]+)(\\[p\\])?$`, 'm').exec(report);
  expect(m, `${label} in ${JSON.stringify(report)}`).to.not.equal(null);
  return m![1];
}

describe('clients/tool: two hosts back to back (fake pair), the ntb_test.sh flow', () => {
  let s: PairSetup;
  const f = (h: Host, name: string) => `${s.dir(h)}/${name}`;

  beforeEach(async () => {
    s = await bootToolPair();
  });

  it('ports identify the peers; link up/down through link and peer0/link_event on both sides', async () => {
    const { h0, h1 } = s;
    expect(await h0.read(f(h0, 'port'))).to.equal('0\n');
    expect(await h0.read(f(h0, 'peer0/port'))).to.equal('1\n');
    expect(await h1.read(f(h1, 'port'))).to.equal('1\n');
    expect(await h1.read(f(h1, 'peer0/port'))).to.equal('0\n');

    await h0.write(f(h0, 'link'), 'Y\n');
    await h1.write(f(h1, 'link'), 'Y\n');
    await h0.write(f(h0, 'peer0/link_event'), 'Y\n');
    await h1.write(f(h1, 'peer0/link_event'), 'Y\n');
    expect(await h0.read(f(h0, 'peer0/link'))).to.equal('Y\n');

    await h0.write(f(h0, 'link'), 'N\n');
    await h1.write(f(h1, 'peer0/link_event'), 'N\n');
    expect(await h1.read(f(h1, 'peer0/link'))).to.equal('N\n');
    await h0.write(f(h0, 'link'), 'Y\n');
    await h1.write(f(h1, 'peer0/link_event'), 'Y\n');
    await h0.write(f(h0, 'peer0/link_event'), 'Y\n');
  });

  it('doorbells, scratchpads and messages reach the other side', async () => {
    const { h0, h1 } = s;
    for (const h of [h0, h1]) await h.write(f(h, 'link'), 'Y\n');
    await h0.write(f(h0, 'peer0/link_event'), 'Y\n');

    const mask = BigInt(await h1.read(f(h1, 'db_valid_mask')));
    await h1.write(f(h1, 'db'), `c ${'0x' + mask.toString(16)}\n`);
    await h0.write(f(h0, 'peer_db'), 's 0x4\n');
    await h1.write(f(h1, 'db_event'), '0x4\n');
    expect(await h1.read(f(h1, 'db'))).to.equal('0x4\n');
    await h1.write(f(h1, 'db'), 'c 0x4\n');

    await h0.write(f(h0, 'peer0/spad2'), '0xdeadbeef\n');
    expect(await h1.read(f(h1, 'spad2'))).to.equal('0xdeadbeef\n');
    expect(await h0.read(f(h0, 'peer0/spad2'))).to.equal('0xdeadbeef\n');

    const inbits = (await h1.read(f(h1, 'msg_inbits'))).trim();
    await h1.write(f(h1, 'msg_sts'), `c ${inbits}\n`);
    await h0.write(f(h0, 'peer0/msg1'), '0x1234\n');
    await h1.write(f(h1, 'msg_event'), '2\n');
    const msg = await h1.read(f(h1, 'msg1'));
    expect(msg).to.equal('0x00001234<-0\n');
    expect(Number(msg.split('<-')[0])).to.equal(0x1234);
  });

  it('memory windows: a buffer written through mw<W> on one side reads back through peer_mw<W> on the other, and back', async () => {
    const { h0, h1 } = s;
    for (const h of [h0, h1]) await h.write(f(h, 'link'), 'Y\n');
    await h0.write(f(h0, 'peer0/link_event'), 'Y\n');
    await h1.write(f(h1, 'peer0/link_event'), 'Y\n');

    await h1.write(f(h1, 'peer0/mw_trans0'), '65536\n');
    const rep = await h1.read(f(h1, 'peer0/mw_trans0'));
    const size = Number(field(rep, 'Window Size'));
    const addr = field(rep, 'DMA Address');
    expect(size).to.equal(65536);
    await h0.write(f(h0, 'peer0/peer_mw_trans0'), `${addr}:${size}\n`);

    // dd if=/dev/urandom of=mw0: writes until the buffer end.
    const data = new Uint8Array(size + 100);
    let x = 12345;
    for (let i = 0; i < data.length; i++) data[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    let off = 0;
    for (;;) {
      const n = await h1.write(f(h1, 'peer0/mw0'), data.subarray(off, off + 4096), off);
      if (n === 0) break;
      off += n;
    }
    expect(off).to.equal(size);
    const seen = await h0.readBytes(f(h0, 'peer0/peer_mw0'));
    expect(seen.length).to.equal(size);
    expect(Buffer.compare(Buffer.from(seen), Buffer.from(data.subarray(0, size)))).to.equal(0);

    await h0.write(f(h0, 'peer0/peer_mw0'), 'olleH', 100);
    expect(text(await h1.readBytes(f(h1, 'peer0/mw0'), 100, 5))).to.equal('olleH');

    await h0.write(f(h0, 'peer0/peer_mw_trans0'), `${addr}:0\n`);
    await h1.write(f(h1, 'peer0/mw_trans0'), '0\n');
    expect(h0.exists(f(h0, 'peer0/peer_mw0'))).to.equal(false);
    expect(h1.exists(f(h1, 'peer0/mw0'))).to.equal(false);
    await s.world.runFor(usecs(10));
    expect(h0.kernel.bugs).to.deep.equal([]);
    expect(h1.kernel.bugs).to.deep.equal([]);
  });
});
