import 'reflect-metadata';
import { expect } from 'chai';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SkBuff } from '../../core/net';
import {
  ETH_P_IPERF,
  IperfOptionError,
  PAYLOAD_HEADER,
  PayloadCodec,
  procInterruptTotals,
  runStream,
  StreamReceiver,
  StreamResult,
  StreamWorld,
} from '../../tools/iperf';

const ROOT = path.resolve(__dirname, '../../..');
const MAIN = path.join(ROOT, 'dist/tools/cli/main.js');

function ntbsim(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: o.cwd ?? ROOT,
    env: { ...process.env, ...o.env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return r;
}

const stderrLines = (r: SpawnSyncReturns<string>) => r.stderr.split('\n').filter((l) => l.length > 0);

/** Everything but the wall-clock figures, which no seed fixes. */
function virtualOnly(r: StreamResult): Omit<StreamResult, 'wallSeconds' | 'virtualPerWall' | 'setupWallSeconds'> {
  const { wallSeconds: _w, virtualPerWall: _v, setupWallSeconds: _s, ...rest } = r;
  return rest;
}

/** A received skb as ntb_netdev hands it up: the MAC header pulled, the protocol set. */
function rxSkb(payload: Uint8Array, protocol = ETH_P_IPERF): SkBuff {
  const skb = new SkBuff(payload.length);
  skb.putData(payload);
  skb.protocol = protocol;
  return skb;
}

function payload(codec: PayloadCodec, seq: number, len = 1000): Uint8Array {
  const p = new Uint8Array(len);
  codec.fill(p, seq);
  return p;
}

describe('tools/iperf: traffic generator over ntb_netdev', function () {
  this.timeout(60_000);

  describe('payloads', () => {
    it('carry a sequence number and a checksum; any damaged byte is caught, with and without the full recomputation', () => {
      const codec = new PayloadCodec(7);
      for (const len of [PAYLOAD_HEADER, PAYLOAD_HEADER + 1, 1003, 65510]) {
        const p = payload(codec, 41, len);
        for (const full of [false, true]) expect(codec.verify(p, full), `len ${len}`).to.deep.equal({ seq: 41, verdict: 'ok' });
        for (const at of [0, 4, 8, 12, len - 1]) {
          const bad = p.slice();
          bad[at] ^= 0x10;
          for (const full of [false, true]) expect(codec.verify(bad, full).verdict, `len ${len}, byte ${at}`).to.equal('corrupted');
        }
      }
      // Frames of different sequence numbers differ, and a different seed gives a different stream.
      expect(Buffer.from(payload(codec, 1)).equals(Buffer.from(payload(codec, 2)))).to.equal(false);
      expect(Buffer.from(payload(codec, 1)).equals(Buffer.from(payload(new PayloadCodec(8), 1)))).to.equal(false);
      // The O(1) checksum is the sum over the data words.
      const p = payload(codec, 5, 999);
      const sum = new PayloadCodec(7).checksum(5, 999 - PAYLOAD_HEADER);
      expect(new DataView(p.buffer).getUint32(12, true)).to.equal(sum);
    });

    it('the receiver counts delivered, duplicated, corrupted, out-of-order and foreign frames; only frames within the window count toward the rate', () => {
      const codec = new PayloadCodec(1);
      let now = 0;
      const rx = new StreamReceiver(() => now, codec);
      rx.windowEnd = 10;
      const bad = payload(codec, 2);
      bad[500] ^= 1;
      for (const skb of [rxSkb(payload(codec, 0)), rxSkb(payload(codec, 1)), rxSkb(payload(codec, 1)), rxSkb(payload(codec, 3)), rxSkb(bad), rxSkb(payload(codec, 0), 0x0800)]) rx.hook(skb);
      now = 11;
      rx.hook(rxSkb(payload(codec, 2)));
      expect({ delivered: rx.delivered, frames: rx.frames, bytes: rx.bytes, duplicated: rx.duplicated, corrupted: rx.corrupted, outOfOrder: rx.outOfOrder, foreign: rx.foreign }).to.deep.equal({
        delivered: 4,
        frames: 3,
        bytes: 3000,
        duplicated: 1,
        corrupted: 1,
        outOfOrder: 1,
        foreign: 1,
      });
    });

    it('/proc/interrupts rows are totalled by action name', () => {
      const text = '           CPU0       CPU1\n 25:          3          4  IR-PCI-MSI 526337-edge      switchtec_ntb_doorbell\n 27:          1          0  IR-PCI-MSI 526339-edge      ntb_transport\n 28:          0          2  IR-PCI-MSI 526340-edge      ntb_transport\n';
      expect([...procInterruptTotals(text)]).to.deep.equal([
        ['switchtec_ntb_doorbell', 7],
        ['ntb_transport', 3],
      ]);
    });
  });

  describe('runStream', () => {
    it('doorbell mode: frames arrive with nothing lost, duplicated or corrupted; the receiver takes doorbell interrupts', async () => {
      const r = await runStream({ mode: 'doorbell', seconds: 0.005, profile: 'ideal' });
      expect(r.directions).to.have.length(1);
      expect(r.directions[0]).to.include({ from: 'host0', to: 'host1', notify: 'doorbell', lost: 0, duplicated: 0, corrupted: 0, outOfOrder: 0, stackDrops: 0 });
      expect(r.frames).to.be.above(100);
      expect(r.delivered).to.equal(r.sent);
      expect(r.gbps).to.be.above(0);
      expect(r.doorbells.host1).to.be.above(0);
      expect(r.interrupts.host1).to.be.at.least(r.doorbells.host1);
      expect(r.interruptsPerFrame).to.be.above(0);
      expect([r.frameSize, r.mtu, r.ringSlots, r.qpWindowBytes]).to.deep.equal([65524, 65510, 31, 2 << 20]);
      expect(r.virtualSeconds).to.equal(0.005);
      expect(r.wallSeconds).to.be.above(0);
    });

    it('MSI mode (use_msi=1, use_lut_mws=1): every frame is signalled by MSI, no doorbell interrupt; nothing lost, duplicated or corrupted', async () => {
      const r = await runStream({ mode: 'msi', seconds: 0.005, fullChecksum: true, profile: 'ideal' });
      expect(r.directions[0]).to.include({ notify: 'msi', lost: 0, duplicated: 0, corrupted: 0 });
      expect(r.frames).to.be.above(100);
      expect(r.doorbells).to.deep.equal({ host0: 0, host1: 0 });
      expect(r.interrupts.host1).to.be.above(0);
    });

    it('bidir streams both ways at once, each direction verified on its own', async () => {
      const r = await runStream({ mode: 'msi', seconds: 0.003, bidir: true, frameSize: 9014 });
      expect(r.directions.map((d) => `${d.from}>${d.to}`)).to.deep.equal(['host0>host1', 'host1>host0']);
      for (const d of r.directions) expect(d).to.include({ lost: 0, duplicated: 0, corrupted: 0 });
      for (const d of r.directions) expect(d.frames).to.be.above(50);
      expect(r.frames).to.equal(r.directions[0].frames + r.directions[1].frames);
      expect(r.interrupts.host0).to.be.above(0);
    });

    it('is deterministic: the same seed gives the same figures (all but wall-clock time)', async () => {
      const a = await runStream({ mode: 'doorbell', seconds: 0.003, frameSize: 4096, seed: 5 });
      const b = await runStream({ mode: 'doorbell', seconds: 0.003, frameSize: 4096, seed: 5 });
      expect(virtualOnly(b)).to.deep.equal(virtualOnly(a));
      expect(a.seed).to.equal(5);
    });

    it('a window below tx_start slots (max_mw_size 512 KiB: 6 in flight) is timer-bound: every wake-up is the tx timer, and HZ=1000 moves 4× the frames of HZ=250', async () => {
      const slow = await runStream({ mode: 'msi', seconds: 0.04, mwSize: 512 * 1024 });
      const fast = await runStream({ mode: 'msi', seconds: 0.04, mwSize: 512 * 1024, hz: 1000 });
      expect(slow.ringSlots).to.equal(7);
      expect([slow.hz, fast.hz]).to.deep.equal([250, 1000]);
      for (const r of [slow, fast]) {
        expect(r.queueStops).to.be.above(0);
        // Fewer than tx_start (10) slots: no TX completion ever re-opens the queue, only the timer.
        expect(r.timerWakes).to.equal(r.queueWakes);
        expect(r.lost + r.duplicated + r.corrupted).to.equal(0);
      }
      expect(fast.frames / slow.frames).to.be.within(3.5, 4.5);
    });

    it('timer-bound (doorbells, switchtec-gen3), the rate follows the window: each tick admits the ring capacity less tx_stop - 1 frames', async () => {
      const small = await runStream({ mode: 'doorbell', seconds: 0.1, mwSize: 1 << 20 });
      const big = await runStream({ mode: 'doorbell', seconds: 0.1 });
      expect([small.ringSlots, big.ringSlots]).to.deep.equal([15, 31]);
      for (const r of [small, big]) {
        expect(r.queueStops).to.be.within(24, 26);
        expect(r.frames / r.queueStops).to.be.within(r.ringSlots - 5 - 0.5, r.ringSlots - 5 + 0.5);
      }
      expect(big.frames / small.frames).to.be.within(2.4, 2.8);
    });

    it('a ring below tx_stop (256 KiB: 3 slots) stalls after the first frames: the timer re-arms and never wakes the queue', async () => {
      const r = await runStream({ mode: 'msi', seconds: 0.04, mwSize: 256 * 1024 });
      expect(r.ringSlots).to.equal(3);
      expect(r.frames).to.be.within(1, 2);
      expect(r.queueStops).to.equal(1);
      expect(r.queueWakes).to.equal(0);
    });

    it('switchtec-gen3: MSI streams ahead of doorbells, and each mode shows its own mechanism (docs/timing.md)', async () => {
      const db = await runStream({ mode: 'doorbell', seconds: 0.1 });
      const msi = await runStream({ mode: 'msi', seconds: 0.1 });
      const [d, m] = [db.directions[0], msi.directions[0]];
      for (const x of [d, m]) expect(x).to.include({ lost: 0, duplicated: 0, corrupted: 0, outOfOrder: 0 });
      expect(m.gbps / d.gbps).to.be.above(3);
      // MSI: the sender sets the pace; the ring never fills; one MSI per frame and, per batch, the
      // one doorbell-register read at its end.
      expect(m.queueStops).to.equal(0);
      expect(m.interruptsPerFrame).to.be.within(0.99, 1.01);
      expect(m.rxReadsPerFrame).to.be.below(2);
      // Doorbells: delivered late, so the ring fills, the queue stops and only the one-jiffy timer
      // re-opens it, once per tick (25 ticks in 0.1 s at HZ=250); each doorbell batch reads the
      // register about four times.
      expect(d.queueStops).to.be.within(24, 26);
      expect(d.timerWakes).to.equal(d.queueWakes);
      expect(d.frames / d.queueStops).to.be.within(25, 27);
      expect(d.rxReadsPerFrame).to.be.within(3.5, 4.5);
      // Both senders read the DONE flag back across the NTB once per frame (current mainline).
      for (const x of [d, m]) expect(x.txReadsPerFrame).to.be.within(0.99, 1.01);
    });

    it('frames lost in the receiving stack are counted as lost', async () => {
      const sw = await StreamWorld.open({ mode: 'doorbell' });
      sw.hosts[1].kernel.net.netdevMaxBacklog = 0;
      const r = await sw.stream({ seconds: 0.002 });
      expect(r.sent).to.be.above(0);
      expect([r.frames, r.delivered, r.lost]).to.deep.equal([0, 0, r.sent]);
    });

    it('rejects bad options with a one-line message', async () => {
      const cases: Array<[Parameters<typeof runStream>[0], RegExp]> = [
        [{ mode: 'msi', profile: 'switchtec-gen4' }, /unknown timing profile 'switchtec-gen4' \(known: switchtec-gen3, ideal\)/],
        [{ mode: 'msi', seconds: -1 }, /seconds must be a positive number/],
        [{ mode: 'msi', seconds: 0 }, /seconds must be a positive number/],
        [{ mode: 'msi', hz: 0 }, /hz must be an integer/],
        [{ mode: 'carrier-pigeon' as 'msi' }, /unknown mode/],
        [{ mode: 'doorbell', frameSize: 70000, seconds: 0.001 }, /frame size 70000 is larger than the interface allows/],
      ];
      for (const [o, re] of cases) {
        const err = await runStream(o).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, JSON.stringify(o)).to.be.instanceOf(IperfOptionError);
        expect((err as Error).message).to.match(re);
        expect((err as Error).message).to.not.include('\n');
      }
    });
  });

  describe('ntbsim iperf', () => {
    it('--json prints exactly one object {"runs": [...]} with a run per mode', () => {
      const r = ntbsim(['iperf', '--mode', 'both', '--seconds', '0.002', '--frame-size', '9014', '--json']);
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      const out = JSON.parse(r.stdout) as { runs: Array<Record<string, unknown>> };
      expect(Object.keys(out)).to.deep.equal(['runs']);
      expect(out.runs.map((x) => x.mode)).to.deep.equal(['doorbell', 'msi']);
      for (const run of out.runs) {
        for (const k of ['mode', 'gbps', 'frames', 'lost', 'duplicated', 'corrupted', 'virtualSeconds', 'wallSeconds', 'interrupts', 'doorbells', 'queueStops', 'timerWakes']) {
          expect(run, k).to.have.property(k);
        }
        expect(run).to.include({ lost: 0, duplicated: 0, corrupted: 0, virtualSeconds: 0.002, frameSize: 9014 });
        expect(run.gbps).to.be.a('number').and.above(0);
      }
    });

    it('prints a text table by default; --hz, --mw-size, --transport-mtu and --seed reach the world', () => {
      const r = ntbsim(['iperf', '--mode', 'msi', '--seconds', '0.002', '--hz', '1000', '--transport-mtu', '16384', '--mw-size', '1048576', '--seed', '3']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/HZ=1000, 16372-byte frames, 1048576 bytes of window per QP \(63 slots of 16384\), host0 → host1, seed 3/);
      expect(r.stdout).to.match(/^msi\s+host0→host1\s+msi\s+\d+\.\d\d\s+\d+\s+0\s+0\s+0\s/m);
    });

    for (const args of [
      ['iperf', '--profile', 'switchtec-gen4'],
      ['iperf', '--seconds', '-1'],
      ['iperf', '--seconds', '0'],
      ['iperf', '--mode', 'pigeon'],
      ['iperf', '--hz', '0'],
      ['iperf', '--mode', 'doorbell', '--seconds', '0.001', '--frame-size', '70000'],
    ]) {
      it(`fails with one line on stderr and a non-zero exit: ntbsim ${args.join(' ')}`, () => {
        const r = ntbsim(args);
        expect(r.status).to.not.equal(0);
        expect(r.stdout).to.equal('');
        const lines = stderrLines(r);
        expect(lines, r.stderr).to.have.length(1);
        expect(lines[0]).to.match(/^ntbsim: error: /);
      });
    }
  });

  describe('the main job (ntbsim compare, the default command)', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'ntbsim-main-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('runs both modes, prints the table with the published figures beside them and the wall-clock cost, and writes the SVG chart', () => {
      const out = path.join(dir, 'charts');
      const r = ntbsim(['compare', '--quick', '--out', out]);
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      expect(r.stdout).to.match(/^doorbell\s+doorbell\s+\d+\.\d\d\s+\d+\s+\d+\.\d\d\s.*\s3\.88 Gb\/s$/m);
      expect(r.stdout).to.match(/^msi\s+msi\s+\d+\.\d\d\s+\d+\s+\d+\.\d\d\s.*\s14\.1 Gb\/s$/m);
      expect(r.stdout).to.match(/^wall clock: \d+\.\d s for /m);
      const svg = path.join(out, 'throughput-vs-frame-size.svg');
      expect(r.stdout).to.include(`chart (throughput against frame size, both modes): ${svg}`);
      const text = readFileSync(svg, 'utf8');
      expect(text).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(text.trimEnd()).to.match(/<\/svg>$/);
      expect(text.match(/<polyline /g)).to.have.length(2);
      expect(text).to.include('published doorbell: 3.88 Gb/s');
    });

    it('with --json prints one object: the headline runs, the chart points and where the SVG went', () => {
      const r = ntbsim(['compare', '--quick', '--json', '--out', dir]);
      expect(r.status, r.stderr).to.equal(0);
      const rep = JSON.parse(r.stdout) as { runs: StreamResult[]; chart: Array<{ mode: string; frameSize: number; gbps: number }>; published: Record<string, number>; svg: string };
      expect(rep.runs.map((x) => x.mode)).to.deep.equal(['doorbell', 'msi']);
      expect(rep.published).to.deep.equal({ doorbell: 3.88, msi: 14.1 });
      expect(rep.chart.map((p) => `${p.mode} ${p.frameSize}`)).to.deep.equal(['doorbell 9014', 'doorbell 65524', 'msi 9014', 'msi 65524']);
      expect(existsSync(rep.svg)).to.equal(true);
    });
  });
});
