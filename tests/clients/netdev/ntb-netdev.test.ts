import 'reflect-metadata';
import { expect } from 'chai';
import { NTB_NETDEV_DEFAULT_TUNABLES, NTB_RXQ_SIZE, NtbNetdev, NtbNetdevState } from '../../../clients/netdev';
import { ntbTransportMaxSize, ntbTransportTxFreeEntry } from '../../../clients/transport';
import { Errno } from '../../../core/errno';
import { Host } from '../../../core/host';
import { ETH_HLEN, ethFrame, NET_XMIT_DROP, NetDevice, NetdevTx, SkBuff } from '../../../core/net';
import { msecs, secs, usecs } from '../../../core/time/units';
import { World } from '../../../core/world';
import { switchtecTopology } from '../../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../../plugins';
import { expectErrno } from '../../helpers/world';

type Ndev = NetDevice<NtbNetdev>;

/** A local experimental EtherType for test traffic. */
const ETH_P_TEST = 0x88b5;
const NET = '/sys/class/net/eth0';
/** The default Switchtec geometry: 2 MiB per QP, 64 KiB slots → 31 slots, 30 frames in flight. */
const RING_CAPACITY = 30;
const MAX_SIZE = 65536 - 12;
/** A timer wake-up lands on the jiffy boundary, plus whatever CPU time its handler is charged. */
const WAKE_SLACK = usecs(20);

interface Pair {
  world: World;
  a: Host;
  b: Host;
}

async function pair(transportArgs: string[] = []): Promise<Pair> {
  const world = await World.create(switchtecTopology(), builtinPlugins());
  const [a, b] = world.hosts;
  if (transportArgs.length) for (const h of world.hosts) await h.modprobe('ntb_transport', transportArgs);
  return { world, a, b };
}

function ndev(h: Host): Ndev {
  const dev = h.kernel.net.devGetByName('eth0');
  expect(dev, `eth0 on ${h.name}`).to.not.equal(undefined);
  return dev as Ndev;
}

const ipUp = (h: Host) => h.run('ip link set eth0 up', (k) => k.net.devOpen(ndev(h)));
const ipDown = (h: Host) => h.run('ip link set eth0 down', (k) => k.net.devClose(ndev(h)));
const stat = async (h: Host, name: string) => Number(await h.read(`${NET}/statistics/${name}`));
const carrier = async (h: Host) => (await h.read(`${NET}/carrier`)).trim();

/** Both hosts load ntb_netdev and bring eth0 up; returns once both carriers are on (after `settle`). */
async function linked(transportArgs: string[] = [], settle = secs(1)): Promise<Pair> {
  const p = await pair(transportArgs);
  for (const h of [p.a, p.b]) await h.modprobe('ntb_netdev');
  for (const h of [p.a, p.b]) await ipUp(h);
  await p.world.sched.runFor(settle);
  expect([await carrier(p.a), await carrier(p.b)]).to.deep.equal(['1', '1']);
  return p;
}

/** Test frames from `from` to `to`: distinct payloads, sizes cycling through `sizes`. */
function frames(from: Host, to: Host, count: number, sizes: number[] = [60, 1514, 9000, 65524]): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const len = sizes[i % sizes.length] - ETH_HLEN;
    const payload = new Uint8Array(len);
    for (let j = 0; j < len; j++) payload[j] = (i * 31 + j * 7) & 0xff;
    payload[0] = i & 0xff;
    payload[1] = (i >> 8) & 0xff;
    return ethFrame(ndev(to).devAddr, ndev(from).devAddr, ETH_P_TEST, payload);
  });
}

function skbOf(h: Host, f: Uint8Array): SkBuff {
  const skb = h.kernel.net.netdevAllocSkb(ndev(h), f.length)!;
  skb.putData(f);
  return skb;
}

interface SendLog {
  busy: number;
  /** Virtual times at which a stopped queue let the sender go again. */
  wakes: number[];
}

/** A traffic generator: send every frame, waiting for the TX queue whenever it is stopped. */
function send(h: Host, list: Uint8Array[]): Promise<SendLog> {
  return h.run('send', async (k) => {
    const dev = ndev(h);
    const log: SendLog = { busy: 0, wakes: [] };
    for (const f of list) {
      const skb = skbOf(h, f);
      for (;;) {
        const r = k.net.devQueueXmit(dev, skb);
        if (r === NetdevTx.OK) break;
        if (r === NET_XMIT_DROP) throw new Error(`frame dropped by the stack at ${k.now}`);
        log.busy++;
        if (dev.netifQueueStopped()) {
          await dev.waitTxQueue();
          log.wakes.push(k.now);
        } else await k.sched.sleep(k.jiffies.tickNs);
      }
    }
    return log;
  });
}

/** Collect what the stack hands up on `h`. */
function capture(h: Host): Uint8Array[] {
  const got: Uint8Array[] = [];
  ndev(h).rxHook = (skb) => got.push(skb.mac().slice());
  return got;
}

function state(h: Host): NtbNetdevState {
  return h.kernel.symbolsOf<NtbNetdevState>('ntb_netdev');
}

describe('clients/netdev: ntb_netdev on the two-host Switchtec world', function () {
  this.timeout(20_000);

  describe('module and interface', () => {
    it('modprobe loads ntb_transport first, creates eth0 under ntb_netdev0 and logs "<if> created" against the NTB PCI function', async () => {
      const { a } = await pair();
      await a.modprobe('ntb_netdev');
      const mod = a.kernel.modules.get('ntb_netdev')!;
      expect(a.kernel.modules.isLoaded('ntb_transport')).to.equal(true);
      expect([mod.decl.description, mod.decl.version, mod.decl.license]).to.deep.equal(['ntb_netdev', '0.7', 'Dual BSD/GPL']);
      expect(a.exists('/sys/module/ntb_netdev/parameters'), 'tx_time/tx_start/tx_stop are not module parameters').to.equal(false);
      expect(state(a).tunables).to.deep.equal({ txTime: 1, txStart: 10, txStop: 5 });
      expect(NTB_NETDEV_DEFAULT_TUNABLES).to.deep.equal({ txTime: 1, txStart: 10, txStop: 5 });

      const dev = ndev(a);
      const pdev = dev.priv.pdev;
      expect(pdev.name).to.equal('0000:01:00.1');
      expect(a.printk.lines()).to.include(`${pdev.printkPrefix()} 0000:01:00.1: eth0 created`);
      expect(a.kernel.fs.realpath(NET)).to.match(/\/0000:01:00\.1\/ntb_netdev0\/net\/eth0$/);
      expect(a.kernel.fs.realpath(`${NET}/device`)).to.match(/\/ntb_netdev0$/);
      const mac = (await a.read(`${NET}/address`)).trim();
      expect(mac).to.match(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(parseInt(mac.slice(0, 2), 16) & 3, 'locally administered unicast').to.equal(2);
      expect(Array.from(dev.permAddr)).to.deep.equal(Array.from(dev.devAddr));
      expect([dev.minMtu, dev.maxMtu]).to.deep.equal([0, 65535]);
      expect(dev.watchdogTimeo).to.equal(a.kernel.jiffies.msecsToJiffies(1000));
      expect(dev.ethtoolOps.getDrvinfo!(dev)).to.deep.equal({ driver: 'ntb_netdev', version: '0.7', busInfo: '0000:01:00.1' });
      expect(dev.ethtoolOps.getLinkKsettings!(dev)).to.include({ speed: -1, duplex: 'full', port: 'other', autoneg: true });
    });

    it('the MTU is the transport frame size minus ETH_HLEN (65510 with 64 KiB slots); change_mtu is bounded by it, not by 65535', async () => {
      const { a } = await pair();
      await a.modprobe('ntb_netdev');
      const dev = ndev(a);
      expect(ntbTransportMaxSize(dev.priv.qp)).to.equal(MAX_SIZE);
      expect(await a.read(`${NET}/mtu`)).to.equal(`${MAX_SIZE - ETH_HLEN}\n`);
      await expectErrno(a.write(`${NET}/mtu`, `${MAX_SIZE - ETH_HLEN + 1}\n`), Errno.EINVAL);
      await a.write(`${NET}/mtu`, '0\n');
      expect(dev.mtu, 'min MTU 0 is accepted').to.equal(0);
      await a.write(`${NET}/mtu`, '1500\n');
      expect(await a.read(`${NET}/mtu`)).to.equal('1500\n');
    });

    it('modprobe fails with ENODEV on a host without an NTB device', async () => {
      const world = await World.create({ hosts: [{ name: 'h' }] }, builtinPlugins());
      await expectErrno(world.host('h').modprobe('ntb_netdev'), Errno.ENODEV);
    });
  });

  describe('carrier', () => {
    it('is off from open until the peer has opened too; then on at both ends, operstate up', async () => {
      const { world, a, b } = await pair();
      await a.modprobe('ntb_netdev');
      await ipUp(a);
      expect(await carrier(a)).to.equal('0');
      await world.sched.runFor(secs(1));
      expect(await carrier(a), 'no peer').to.equal('0');
      expect(await a.read(`${NET}/operstate`)).to.equal('down\n');
      // A packet for a carrier-less interface never reaches the driver.
      expect(a.kernel.net.devQueueXmit(ndev(a), skbOf(a, frames(a, a, 1)[0]))).to.equal(NET_XMIT_DROP);

      await b.modprobe('ntb_netdev');
      await world.sched.runFor(secs(1));
      expect(await carrier(a), 'peer loaded but down').to.equal('0');
      await ipUp(b);
      await world.sched.runFor(msecs(200));
      expect([await carrier(a), await carrier(b)]).to.deep.equal(['1', '1']);
      expect([await a.read(`${NET}/operstate`), await b.read(`${NET}/operstate`)]).to.deep.equal(['up\n', 'up\n']);
      expect(a.kernel.bugs).to.deep.equal([]);
    });

    it('a peer going down turns the local carrier off (LINK_DOWN frame), its return brings it back', async () => {
      const { world, a, b } = await linked();
      const downs = Number(await a.read(`${NET}/carrier_down_count`));
      await ipDown(b);
      await world.sched.runFor(msecs(100));
      expect(await carrier(a)).to.equal('0');
      expect(Number(await a.read(`${NET}/carrier_down_count`))).to.equal(downs + 1);
      await ipUp(b);
      await world.sched.runFor(secs(1));
      expect(await carrier(a)).to.equal('1');
    });
  });

  describe('data path', () => {
    it('frames sent with dev_queue_xmit arrive intact and in order through netif_rx, counted once on each side', async () => {
      const { world, a, b } = await linked();
      const gotB = capture(b);
      const gotA = capture(a);
      const list = frames(a, b, 64);
      await send(a, list);
      await send(b, frames(b, a, 3));
      await world.sched.runFor(msecs(50));
      expect(gotB.length).to.equal(list.length);
      gotB.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(list[i])), `frame ${i}`).to.equal(true));
      expect(gotA).to.have.length(3);
      const bytes = list.reduce((s, f) => s + f.length, 0);
      expect([await stat(a, 'tx_packets'), await stat(a, 'tx_bytes')]).to.deep.equal([64, bytes]);
      expect([await stat(b, 'rx_packets'), await stat(b, 'rx_bytes')]).to.deep.equal([64, bytes]);
      for (const h of [a, b]) for (const s of ['rx_errors', 'rx_dropped', 'tx_errors', 'tx_dropped']) expect(await stat(h, s), `${h.name} ${s}`).to.equal(0);
      // Every TX skb was completed and freed; every received one handed up and replaced.
      expect([a.kernel.net.skbsLive, b.kernel.net.skbsLive]).to.deep.equal([NTB_RXQ_SIZE, NTB_RXQ_SIZE]);
      expect(a.kernel.bugs.concat(b.kernel.bugs)).to.deep.equal([]);
    });

    it('RX refill keeps 100 buffers posted across more than 100 frames; an allocation failure costs one buffer, not the frame', async () => {
      const { world, a, b } = await linked();
      const got = capture(b);
      await send(a, frames(a, b, 150, [1514]));
      await world.sched.runFor(msecs(20));
      expect(got).to.have.length(150);
      expect(b.kernel.net.skbsLive).to.equal(NTB_RXQ_SIZE);

      b.kernel.net.failSkbAllocs = 1;
      await send(a, frames(a, b, 1, [1514]));
      await world.sched.runFor(msecs(20));
      expect(got).to.have.length(151);
      expect(await stat(b, 'rx_packets')).to.equal(151);
      expect([await stat(b, 'rx_errors'), await stat(b, 'rx_frame_errors')]).to.deep.equal([1, 1]);
      expect(b.kernel.net.skbsLive, 'one posted buffer fewer').to.equal(NTB_RXQ_SIZE - 1);

      await send(a, frames(a, b, 120, [1514]));
      await world.sched.runFor(msecs(50));
      expect(got).to.have.length(271);
      // The next open posts a full set again.
      await ipDown(b);
      expect(b.kernel.net.skbsLive).to.equal(0);
      await ipUp(b);
      expect(b.kernel.net.skbsLive).to.equal(NTB_RXQ_SIZE);
    });
  });

  describe('RX drops in the stack', () => {
    it('a full backlog drops frames: counted by the driver (rx_errors, rx_dropped) and by the core, so sysfs shows rx_dropped twice', async () => {
      const { world, a, b } = await linked();
      const got = capture(b);
      // Each frame lands when its copy is done and is handed up before the next one lands, so the
      // backlog never holds two: with room for none, every frame finds it full.
      b.kernel.net.netdevMaxBacklog = 0;
      await a.run('burst', (k) => {
        for (const f of frames(a, b, 26, [1514])) expect(k.net.devQueueXmit(ndev(a), skbOf(a, f))).to.equal(NetdevTx.OK);
      });
      await world.sched.runFor(msecs(20));
      const dev = ndev(b);
      const drops = dev.stats.rx_dropped;
      expect(drops).to.be.above(0);
      expect(dev.stats.rx_packets + drops).to.equal(26);
      expect(got).to.have.length(dev.stats.rx_packets);
      expect(await stat(b, 'rx_errors')).to.equal(drops);
      expect(await stat(b, 'rx_dropped'), 'driver + core').to.equal(2 * drops);
      expect(b.kernel.net.skbsLive, 'dropped frames are freed and their buffers replaced').to.equal(NTB_RXQ_SIZE);
    });
  });

  describe('TX flow control', () => {
    it('a burst stops the queue when fewer than tx_stop slots are free; with CPU copies only the one-jiffy timer re-opens it', async () => {
      const { world, a, b } = await linked();
      capture(b);
      const dev = ndev(a);
      const qp = dev.priv.qp!;
      const tick = a.kernel.jiffies.tickNs;
      expect(ntbTransportTxFreeEntry(qp)).to.equal(RING_CAPACITY);
      const r = await a.run('burst', async (k) => {
        let accepted = 0;
        const list = frames(a, b, RING_CAPACITY + 5, [1514]);
        // No virtual time passes inside this loop: the peer cannot return any credit.
        while (k.net.devQueueXmit(dev, skbOf(a, list[accepted])) === NetdevTx.OK) accepted++;
        const stoppedAt = k.now;
        const jiffy = k.jiffies.now;
        const stopped = dev.netifQueueStopped();
        const timerArmed = dev.priv.txTimer.pending;
        const freeAtStop = ntbTransportTxFreeEntry(qp);
        await dev.waitTxQueue();
        return { accepted, stoppedAt, jiffy, stopped, timerArmed, freeAtStop, wokeAt: k.now };
      });
      expect(r.accepted, '30 slots − tx_stop 5 + 1').to.equal(RING_CAPACITY - 5 + 1);
      expect(r.freeAtStop).to.equal(4);
      expect(r.stopped).to.equal(true);
      expect(r.timerArmed).to.equal(true);
      // The wake comes from the timer at the next jiffy boundary, after the peer returned credit.
      expect(r.wokeAt - (r.jiffy + 1) * tick).to.be.within(0, WAKE_SLACK);
      expect(r.wokeAt - r.stoppedAt).to.be.above(0).and.at.most(tick);
      expect(dev.txq).to.deep.equal({ stops: 1, wakes: 1 });
      expect(ntbTransportTxFreeEntry(qp)).to.equal(RING_CAPACITY);
      expect(dev.priv.txTimer.pending).to.equal(false);
      expect(await stat(a, 'tx_packets')).to.equal(26);
      expect(await stat(a, 'tx_dropped'), 'BUSY from a stopped queue is not a driver drop').to.equal(0);
      await world.sched.runFor(msecs(10));
      expect(await stat(b, 'rx_packets')).to.equal(26);
    });

    it('under sustained traffic every stop costs a tick: all wake-ups fall on jiffy boundaries', async () => {
      const { world, a, b } = await linked();
      const got = capture(b);
      const log = await send(a, frames(a, b, 200, [9000]));
      await world.sched.runFor(msecs(20));
      expect(got).to.have.length(200);
      const tick = a.kernel.jiffies.tickNs;
      expect(log.wakes.length).to.be.above(0);
      expect(log.wakes.every((t) => t % tick <= WAKE_SLACK)).to.equal(true);
      expect(ndev(a).txq.wakes).to.equal(ndev(a).txq.stops);
    });

    it('with TX copies offloaded to a kernel thread, completions re-open the queue as soon as tx_start slots are free', async () => {
      const { world, a, b } = await linked(['tx_memcpy_offload=1']);
      const got = capture(b);
      const log = await send(a, frames(a, b, 200, [9000]));
      await world.sched.runFor(msecs(50));
      expect(got).to.have.length(200);
      const tick = a.kernel.jiffies.tickNs;
      expect(log.wakes.some((t) => t % tick > WAKE_SLACK), 'some wakes come from completions, between ticks').to.equal(true);
    });

    it('a 512 KiB window (6 frames in flight < tx_start) is re-opened only by the timer, about two frames per tick', async () => {
      const { world, a, b } = await linked(['max_mw_size=524288']);
      const got = capture(b);
      expect(ntbTransportTxFreeEntry(ndev(a).priv.qp!)).to.equal(6);
      const t0 = world.sched.now;
      const log = await send(a, frames(a, b, 40, [1514]));
      await world.sched.runFor(msecs(20));
      expect(got).to.have.length(40);
      const tick = a.kernel.jiffies.tickNs;
      expect(log.wakes.every((t) => t % tick <= WAKE_SLACK)).to.equal(true);
      // Stop at < 5 free: two frames per wake-up.
      expect(ndev(a).txq.stops).to.be.within(19, 20);
      expect(log.wakes[log.wakes.length - 1] - t0).to.be.at.least(18 * tick);
    });

    it('a 256 KiB window (2 frames in flight < tx_stop) stalls TX for good after the first frame: the timer re-arms forever', async () => {
      const { world, a, b } = await linked(['max_mw_size=262144']);
      const got = capture(b);
      const dev = ndev(a);
      expect(ntbTransportTxFreeEntry(dev.priv.qp!)).to.equal(2);
      const list = frames(a, b, 3, [1514]);
      const verdicts = await a.run('xmit', (k) => list.map((f) => k.net.devQueueXmit(dev, skbOf(a, f))));
      expect(verdicts).to.deep.equal([NetdevTx.OK, NetdevTx.BUSY, NetdevTx.BUSY]);
      await world.sched.runFor(secs(1));
      expect(got).to.have.length(1);
      expect(ntbTransportTxFreeEntry(dev.priv.qp!)).to.equal(2);
      expect(dev.netifQueueStopped()).to.equal(true);
      expect(dev.priv.txTimer.pending).to.equal(true);
      expect(dev.priv.txTimer.expires).to.equal(a.kernel.jiffies.now + 1);
      expect(dev.txq.wakes).to.equal(0);
      // Only a reset of the interface gets it going again (open starts the queue).
      await ipDown(a);
      await ipUp(a);
      expect(dev.netifQueueStopped()).to.equal(false);
    });
  });

  describe('MTU change and errors', () => {
    it('changing the MTU while up relinks the QP: the peer loses carrier, the local carrier stays; bigger buffers replace the posted ones', async () => {
      const { world, a, b } = await linked();
      const gotB = capture(b);
      const bDowns = Number(await b.read(`${NET}/carrier_down_count`));
      const aDowns = Number(await a.read(`${NET}/carrier_down_count`));
      await a.write(`${NET}/mtu`, '9000\n');
      await world.sched.runFor(msecs(50));
      expect(Number(await b.read(`${NET}/carrier_down_count`))).to.equal(bDowns + 1);
      await world.sched.runFor(secs(1));
      expect([await carrier(a), await carrier(b)]).to.deep.equal(['1', '1']);
      expect(Number(await a.read(`${NET}/carrier_down_count`))).to.equal(aDowns);
      expect(a.kernel.net.skbsLive, 'shrinking keeps the posted buffers').to.equal(NTB_RXQ_SIZE);

      await a.write(`${NET}/mtu`, '65510\n');
      await world.sched.runFor(secs(1));
      expect(a.kernel.net.skbsLive).to.equal(NTB_RXQ_SIZE);
      await send(a, frames(a, b, 4));
      await world.sched.runFor(msecs(20));
      expect(gotB).to.have.length(4);
    });

    it('a peer with a bigger MTU overflows the receive buffer: rx_length_errors, the buffer is re-posted', async () => {
      const { world, a, b } = await pair();
      for (const h of [a, b]) await h.modprobe('ntb_netdev');
      await b.write(`${NET}/mtu`, '1500\n');
      for (const h of [a, b]) await ipUp(h);
      await world.sched.runFor(secs(1));
      capture(b);
      await send(a, frames(a, b, 1, [4000]));
      await world.sched.runFor(msecs(20));
      expect([await stat(b, 'rx_errors'), await stat(b, 'rx_length_errors'), await stat(b, 'rx_packets')]).to.deep.equal([1, 1, 0]);
      expect(b.kernel.net.skbsLive).to.equal(NTB_RXQ_SIZE);
    });

    it('TX while the peer just went down: the skb goes to a down QP, is neither sent nor freed nor counted (carrier loss not yet seen by link watch)', async () => {
      // Link watch ran for the open's carrier-off less than a second ago: the next loss waits.
      const { world, a, b } = await linked([], msecs(200));
      await ipDown(b);
      await world.sched.runFor(msecs(50));
      const dev = ndev(a);
      expect(dev.netifCarrierOk()).to.equal(false);
      const live = a.kernel.net.skbsLive;
      const verdict = a.kernel.net.devQueueXmit(dev, skbOf(a, frames(a, b, 1, [1514])[0]));
      expect(verdict).to.equal(NetdevTx.OK);
      await world.sched.runFor(msecs(10));
      expect(a.kernel.net.skbsLive, 'orphaned').to.equal(live + 1);
      expect([await stat(a, 'tx_packets'), await stat(a, 'tx_errors'), await stat(a, 'tx_dropped')]).to.deep.equal([0, 0, 0]);
      await world.sched.runFor(secs(1));
      expect(a.kernel.net.devQueueXmit(dev, skbOf(a, frames(a, b, 1, [1514])[0])), 'link watch caught up').to.equal(NET_XMIT_DROP);
    });
  });

  describe('unload', () => {
    it('rmmod with the interface up closes it (the peer loses carrier), frees every buffer; ntb_transport stays until removed', async () => {
      const { world, a, b } = await linked();
      await expectErrno(a.rmmod('ntb_transport'), Errno.EBUSY);
      await a.rmmod('ntb_netdev');
      expect(a.exists(NET)).to.equal(false);
      expect(a.kernel.net.netdevs).to.have.length(0);
      expect(a.kernel.net.skbsLive).to.equal(0);
      expect(a.kernel.modules.isLoaded('ntb_transport')).to.equal(true);
      await world.sched.runFor(msecs(100));
      expect(await carrier(b)).to.equal('0');
      await a.rmmod('ntb_transport');
      await b.rmmod('ntb_netdev');
      await b.rmmod('ntb_transport');
      expect(b.kernel.net.skbsLive).to.equal(0);
      // And back again.
      await a.modprobe('ntb_netdev');
      await b.modprobe('ntb_netdev');
      for (const h of [a, b]) await ipUp(h);
      await world.sched.runFor(secs(1));
      expect([await carrier(a), await carrier(b)]).to.deep.equal(['1', '1']);
      expect(a.kernel.bugs.concat(b.kernel.bugs)).to.deep.equal([]);
    });
  });
});
