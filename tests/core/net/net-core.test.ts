import 'reflect-metadata';
import { expect } from 'chai';
import { Device } from '../../../core/base/device';
import { Errno, KernelError } from '../../../core/errno';
import { Host } from '../../../core/host';
import {
  ETH_HLEN,
  ETH_P_802_3,
  ETH_P_IP,
  ethFrame,
  ethTypeTrans,
  formatMac,
  IFF_UP,
  isValidEtherAddr,
  NET_SKB_PAD,
  NET_XMIT_DROP,
  NetDevice,
  NetdevTx,
  NetRx,
  PacketType,
  SkBuff,
  skbTruesize,
} from '../../../core/net';
import { msecs, secs } from '../../../core/time/units';
import { World } from '../../../core/world';
import { expectErrno } from '../../helpers/world';

interface Dummy {
  sent: SkBuff[];
  opened: number;
  stopped: number;
  /** What the next ndo_start_xmit returns. */
  verdict: NetdevTx;
}

/** A dummy Ethernet driver: records what it is given and frees it. */
function dummy(host: Host, parent?: Device): NetDevice<Dummy> {
  const k = host.kernel;
  const dev = k.net.allocEtherdev<Dummy>({ sent: [], opened: 0, stopped: 0, verdict: NetdevTx.OK });
  dev.parent = parent;
  dev.devAddr.set([0x02, 0, 0, 0, 0, 1]);
  dev.ops = {
    ndoOpen: (d) => void (d.priv as Dummy).opened++,
    ndoStop: (d) => void (d.priv as Dummy).stopped++,
    ndoStartXmit: (skb, d) => {
      const p = d.priv as Dummy;
      if (p.verdict !== NetdevTx.OK) return p.verdict;
      p.sent.push(skb);
      k.net.consumeSkb(skb);
      return NetdevTx.OK;
    },
  };
  return dev;
}

async function world(): Promise<{ w: World; h: Host }> {
  const w = await World.create({ hosts: [{ name: 'h' }] }, []);
  return { w, h: w.host('h') };
}

function frame(dst: Uint8Array, payload: number[], type = ETH_P_IP): Uint8Array {
  return ethFrame(dst, new Uint8Array([0x02, 0, 0, 0, 0, 9]), type, new Uint8Array(payload));
}

function skbOf(h: Host, bytes: Uint8Array): SkBuff {
  const skb = h.kernel.net.netdevAllocSkb(undefined, bytes.length)!;
  skb.putData(bytes);
  return skb;
}

describe('core/net', () => {
  describe('sk_buff', () => {
    it('put, reserve, push and pull move data and tail inside a fixed buffer', () => {
      const skb = new SkBuff(100);
      skb.reserve(16);
      expect(skb.headroom).to.equal(16);
      expect(skb.tailroom).to.equal(84);
      skb.put(10).fill(7);
      expect(skb.len).to.equal(10);
      expect(skb.data.length).to.equal(84);
      skb.push(4).fill(1);
      expect(Array.from(skb.bytes.subarray(0, 5))).to.deep.equal([1, 1, 1, 1, 7]);
      skb.pull(4);
      expect(skb.len).to.equal(10);
      expect(() => skb.put(75)).to.throw(/skb_over_panic/);
      expect(() => skb.push(17)).to.throw(/skb_under_panic/);
      expect(() => skb.reserve(1)).to.throw(/skb_reserve/);
    });

    it('netdev_alloc_skb reserves NET_SKB_PAD and exactly the length asked for; a full-size ntb buffer costs ~128 KiB', async () => {
      const { h } = await world();
      const skb = h.kernel.net.netdevAllocSkb(undefined, 65524)!;
      expect(skb.headroom).to.equal(NET_SKB_PAD);
      expect(skb.tailroom).to.equal(65524);
      expect(skb.len).to.equal(0);
      expect(skbTruesize(65524 + NET_SKB_PAD)).to.equal(131072 - 320 + 256);
      expect(skbTruesize(1500)).to.be.below(4096);
    });

    it('counts allocations and frees, catches a double free, and can be made to fail', async () => {
      const { h } = await world();
      const net = h.kernel.net;
      const a = net.allocSkb(10)!;
      expect(net.skbsLive).to.equal(1);
      net.kfreeSkb(a);
      expect(net.skbsLive).to.equal(0);
      expect(() => net.kfreeSkb(a)).to.throw(/twice/);
      net.failSkbAllocs = 1;
      expect(net.netdevAllocSkb(undefined, 10)).to.equal(null);
      expect(net.netdevAllocSkb(undefined, 10)).to.not.equal(null);
    });

    it('eth_type_trans pulls the header, records the MAC header and classifies the destination', async () => {
      const { h } = await world();
      const dev = dummy(h);
      const cases: Array<[Uint8Array, PacketType]> = [
        [dev.devAddr, PacketType.HOST],
        [new Uint8Array(6).fill(0xff), PacketType.BROADCAST],
        [new Uint8Array([0x01, 0, 0x5e, 0, 0, 1]), PacketType.MULTICAST],
        [new Uint8Array([0x02, 0, 0, 0, 0, 2]), PacketType.OTHERHOST],
      ];
      for (const [dst, type] of cases) {
        const f = frame(dst, [1, 2, 3]);
        const skb = skbOf(h, f);
        expect(ethTypeTrans(skb, dev)).to.equal(ETH_P_IP);
        expect(skb.pktType).to.equal(type);
        expect(skb.len).to.equal(3);
        expect(Array.from(skb.mac())).to.deep.equal(Array.from(f));
      }
      const raw = skbOf(h, frame(dev.devAddr, [0xff, 0xff, 0], 40));
      expect(ethTypeTrans(raw, dev)).to.equal(ETH_P_802_3);
    });

    it('eth_type_trans of a frame shorter than a header (a garbage peer): nothing pulled, no BUG', async () => {
      const { h } = await world();
      const dev = dummy(h);
      const skb = skbOf(h, frame(dev.devAddr, [1, 2, 3]).subarray(0, 9));
      expect(skb.len).to.equal(9);
      expect(() => ethTypeTrans(skb, dev)).to.not.throw();
      expect(skb.len).to.equal(9);
    });

    it('eth_random_addr gives a locally administered unicast address', async () => {
      const { h } = await world();
      for (let i = 0; i < 20; i++) {
        const a = h.kernel.net.ethRandomAddr();
        expect(isValidEtherAddr(a)).to.equal(true);
        expect(a[0] & 0x03).to.equal(0x02);
      }
    });
  });

  describe('registration and sysfs', () => {
    it('names devices eth%d with the lowest free number, checks names, prints nothing', async () => {
      const { h } = await world();
      const net = h.kernel.net;
      const before = h.printk.lines().length;
      const [a, b] = [dummy(h), dummy(h)];
      await h.run('reg', async (k) => {
        await k.net.registerNetdev(a);
        await k.net.registerNetdev(b);
      });
      expect([a.name, b.name]).to.deep.equal(['eth0', 'eth1']);
      expect(b.ifindex).to.equal(a.ifindex + 1);
      await h.run('unreg', (k) => k.net.unregisterNetdev(a));
      const c = dummy(h);
      await h.run('reg', (k) => k.net.registerNetdev(c));
      expect(c.name).to.equal('eth0');
      expect(net.netdevs.map((d) => d.name)).to.deep.equal(['eth1', 'eth0']);
      const named = net.allocNetdev({}, 'ntb0');
      await h.run('reg', (k) => k.net.registerNetdev(named));
      expect(h.exists('/sys/class/net/ntb0')).to.equal(true);
      await expectErrno(h.run('dup', (k) => k.net.registerNetdev(net.allocNetdev({}, 'ntb0'))), Errno.EEXIST);
      for (const bad of ['a/b', 'a b', 'x:1', '', '.', 'a'.repeat(16), 'e%s', 'e%d%d']) {
        await expectErrno(h.run('bad', (k) => k.net.registerNetdev(net.allocNetdev({}, bad))), Errno.EINVAL);
      }
      expect(h.printk.lines().slice(before)).to.deep.equal([]);
    });

    it('publishes /sys/class/net/<name> with Linux formats, under the parent device when there is one', async () => {
      const { h } = await world();
      const parent = new Device('ntb_netdev0');
      await h.run('add', (k) => k.driverCore.deviceAdd(parent));
      const dev = dummy(h, parent);
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      const dir = '/sys/class/net/eth0';
      expect(h.kernel.fs.realpath(dir)).to.equal('/sys/devices/ntb_netdev0/net/eth0');
      expect(h.kernel.fs.realpath(`${dir}/device`)).to.equal('/sys/devices/ntb_netdev0');
      expect(await h.read(`${dir}/address`)).to.equal('02:00:00:00:00:01\n');
      expect(await h.read(`${dir}/broadcast`)).to.equal('ff:ff:ff:ff:ff:ff\n');
      expect(await h.read(`${dir}/mtu`)).to.equal('1500\n');
      expect(await h.read(`${dir}/flags`)).to.equal('0x1002\n');
      expect(await h.read(`${dir}/type`)).to.equal('1\n');
      expect(await h.read(`${dir}/addr_len`)).to.equal('6\n');
      expect(await h.read(`${dir}/operstate`)).to.equal('down\n');
      await expectErrno(h.read(`${dir}/carrier`), Errno.EINVAL);
      expect(h.ls(`${dir}/statistics`)).to.deep.equal([
        'collisions', 'multicast', 'rx_bytes', 'rx_compressed', 'rx_crc_errors', 'rx_dropped', 'rx_errors',
        'rx_fifo_errors', 'rx_frame_errors', 'rx_length_errors', 'rx_missed_errors', 'rx_nohandler',
        'rx_over_errors', 'rx_packets', 'tx_aborted_errors', 'tx_bytes', 'tx_carrier_errors', 'tx_compressed',
        'tx_dropped', 'tx_errors', 'tx_fifo_errors', 'tx_heartbeat_errors', 'tx_packets', 'tx_window_errors',
      ]);
      dev.stats.tx_packets = 7;
      expect(await h.read(`${dir}/statistics/tx_packets`)).to.equal('7\n');
      await expectErrno(h.write(`${dir}/address`, '0\n'), Errno.EACCES);

      await h.write(`${dir}/flags`, '0x1003\n');
      expect(dev.priv.opened).to.equal(1);
      expect(await h.read(`${dir}/flags`)).to.equal('0x1003\n');
      expect(await h.read(`${dir}/carrier`)).to.equal('1\n');
      // A driver that never touches its carrier keeps the operstate linkwatch_init_dev left: unknown.
      expect(await h.read(`${dir}/operstate`)).to.equal('unknown\n');
      await expectErrno(h.write(`${dir}/carrier`, '0\n'), Errno.EOPNOTSUPP);

      await h.run('unreg', (k) => k.net.unregisterNetdev(dev));
      expect(dev.priv.stopped, 'unregister closes a running device').to.equal(1);
      expect(h.exists(dir)).to.equal(false);
      expect(h.exists('/sys/devices/ntb_netdev0/net/eth0')).to.equal(false);
    });

    it('sets the MTU within [min, max] through sysfs, or through ndo_change_mtu when the driver has one', async () => {
      const { h } = await world();
      const dev = dummy(h);
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      const mtu = '/sys/class/net/eth0/mtu';
      await expectErrno(h.write(mtu, '1501\n'), Errno.EINVAL);
      await expectErrno(h.write(mtu, '67\n'), Errno.EINVAL);
      await expectErrno(h.write(mtu, 'x\n'), Errno.EINVAL);
      await h.write(mtu, '0x500\n');
      expect(await h.read(mtu)).to.equal('1280\n');
      const asked: number[] = [];
      dev.ops.ndoChangeMtu = (d, m) => {
        asked.push(m);
        d.mtu = m - 1;
      };
      await h.write(mtu, '1400');
      expect(asked).to.deep.equal([1400]);
      expect(dev.mtu).to.equal(1399);
    });

    it('a failing ndo_open leaves the interface down', async () => {
      const { h } = await world();
      const dev = dummy(h);
      dev.ops.ndoOpen = () => {
        throw new KernelError(Errno.ENOMEM, 'no buffers');
      };
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      await expectErrno(h.run('up', (k) => k.net.devOpen(dev)), Errno.ENOMEM);
      expect(dev.netifRunning()).to.equal(false);
      expect(dev.flags & IFF_UP).to.equal(0);
    });
  });

  describe('carrier and link watch', () => {
    it('operstate follows the carrier: carrier-on of a running device at once, carrier-off at most once a second', async () => {
      const { w, h } = await world();
      const dev = dummy(h);
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      await h.run('up', (k) => k.net.devOpen(dev));
      const op = () => h.read('/sys/class/net/eth0/operstate');
      const xmit = () => h.kernel.net.devQueueXmit(dev, skbOf(h, frame(dev.broadcast, [1])));

      dev.netifCarrierOff();
      expect(dev.netifCarrierOk()).to.equal(false);
      await w.sched.runFor(0);
      expect(await op()).to.equal('down\n');
      expect(xmit()).to.equal(NET_XMIT_DROP);

      dev.netifCarrierOn();
      await w.sched.runFor(0);
      expect(await op()).to.equal('up\n');
      expect(xmit()).to.equal(NetdevTx.OK);

      // Inside the one-second window a carrier loss is seen by the qdisc only later.
      const t0 = w.sched.now;
      dev.netifCarrierOff();
      expect(await h.read('/sys/class/net/eth0/carrier')).to.equal('0\n');
      await w.sched.runFor(msecs(500));
      expect(await op()).to.equal('up\n');
      expect(xmit(), 'the driver still gets packets until link watch runs').to.equal(NetdevTx.OK);
      await w.sched.runFor(secs(1));
      expect(await op()).to.equal('down\n');
      expect(xmit()).to.equal(NET_XMIT_DROP);
      expect(w.sched.now - t0).to.be.at.most(secs(1.5));
      expect(await h.read('/sys/class/net/eth0/carrier_changes')).to.equal('3\n');
      expect(await h.read('/sys/class/net/eth0/carrier_up_count')).to.equal('1\n');
      expect(dev.priv.sent).to.have.length(2);
    });

    it('a device opened without carrier passes no packets until the carrier comes', async () => {
      const { w, h } = await world();
      const dev = dummy(h);
      dev.ops.ndoOpen = (d) => d.netifCarrierOff();
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      await h.run('up', (k) => k.net.devOpen(dev));
      expect(h.kernel.net.devQueueXmit(dev, skbOf(h, frame(dev.broadcast, [1])))).to.equal(NET_XMIT_DROP);
      dev.netifCarrierOn();
      await w.sched.runFor(0);
      expect(h.kernel.net.devQueueXmit(dev, skbOf(h, frame(dev.broadcast, [1])))).to.equal(NetdevTx.OK);
    });
  });

  describe('transmit', () => {
    it('dev_queue_xmit honours a stopped queue (BUSY, driver not called) and reports the driver verdict', async () => {
      const { w, h } = await world();
      const net = h.kernel.net;
      const dev = dummy(h);
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      const skb = skbOf(h, frame(dev.broadcast, [1, 2]));
      expect(net.devQueueXmit(dev, skb), 'down').to.equal(NET_XMIT_DROP);
      expect(skb.freed).to.equal(true);
      await h.run('up', (k) => k.net.devOpen(dev));

      dev.netifStopQueue();
      const held = skbOf(h, frame(dev.broadcast, [3]));
      expect(net.devQueueXmit(dev, held)).to.equal(NetdevTx.BUSY);
      expect(held.freed).to.equal(false);
      expect(dev.priv.sent).to.have.length(0);

      let wokeAt = -1;
      const t0 = w.sched.now;
      w.sched.at(t0 + msecs(4), () => dev.netifWakeQueue());
      const verdict = await h.run('wait', async (k) => {
        await dev.waitTxQueue();
        wokeAt = k.now;
        return k.net.devQueueXmit(dev, held);
      });
      expect(verdict).to.equal(NetdevTx.OK);
      expect(wokeAt).to.equal(t0 + msecs(4));
      expect(dev.txq).to.deep.equal({ stops: 1, wakes: 1 });
      expect(dev.priv.sent).to.have.length(1);

      dev.priv.verdict = NetdevTx.BUSY;
      expect(net.devQueueXmit(dev, skbOf(h, frame(dev.broadcast, [4])))).to.equal(NetdevTx.BUSY);
      // netif_start_queue clears the stop without a wake-up.
      dev.netifStopQueue();
      dev.netifStartQueue();
      expect(dev.txq.wakes).to.equal(1);
    });
  });

  describe('receive', () => {
    it('netif_rx hands frames to the rx hook from the NET_RX softirq, in order, and never counts driver stats', async () => {
      const { w, h } = await world();
      const net = h.kernel.net;
      const dev = dummy(h);
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      await h.run('up', (k) => k.net.devOpen(dev));
      const got: Array<{ proto: number; frame: number[]; at: number }> = [];
      dev.rxHook = (skb) => got.push({ proto: skb.protocol, frame: Array.from(skb.mac()), at: w.sched.now });
      const frames = [frame(dev.devAddr, [1]), frame(dev.devAddr, [2, 2]), frame(dev.devAddr, [3, 3, 3])];
      for (const f of frames) {
        const skb = skbOf(h, f);
        skb.protocol = ethTypeTrans(skb, dev);
        expect(net.netifRx(skb)).to.equal(NetRx.SUCCESS);
      }
      expect(got, 'not synchronous').to.have.length(0);
      expect(net.backlogLength).to.equal(3);
      await w.sched.runFor(0);
      expect(got.map((g) => g.frame)).to.deep.equal(frames.map((f) => Array.from(f)));
      expect(got.every((g) => g.proto === ETH_P_IP)).to.equal(true);
      expect(net.skbsLive, 'the stack frees what it delivered').to.equal(0);
      expect(await h.read('/sys/class/net/eth0/statistics/rx_packets')).to.equal('0\n');
    });

    it('drops in the stack go to the core counters that sysfs adds: no handler, interface down, backlog full', async () => {
      const { w, h } = await world();
      const net = h.kernel.net;
      const dev = dummy(h);
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      const rx = () => {
        const skb = skbOf(h, frame(dev.devAddr, [1]));
        ethTypeTrans(skb, dev);
        return net.netifRx(skb);
      };
      expect(rx(), 'interface down').to.equal(NetRx.DROP);
      await h.run('up', (k) => k.net.devOpen(dev));
      expect(rx()).to.equal(NetRx.SUCCESS);
      await w.sched.runFor(0);
      expect(dev.coreStats.rx_dropped, 'no protocol handler').to.equal(2);
      dev.rxHook = () => {};
      const verdicts = Array.from({ length: 1001 }, rx);
      expect(verdicts.filter((v) => v === NetRx.SUCCESS)).to.have.length(1000);
      expect(verdicts[1000]).to.equal(NetRx.DROP);
      dev.stats.rx_dropped = 5;
      expect(await h.read('/sys/class/net/eth0/statistics/rx_dropped')).to.equal('8\n');
      expect(net.skbsLive).to.equal(0);
    });

    it('unregister flushes frames of the device still in the backlog', async () => {
      const { h } = await world();
      const net = h.kernel.net;
      const dev = dummy(h);
      let delivered = 0;
      dev.rxHook = () => delivered++;
      await h.run('reg', (k) => k.net.registerNetdev(dev));
      await h.run('up-and-gone', async (k) => {
        await k.net.devOpen(dev);
        const skb = skbOf(h, frame(dev.devAddr, [1]));
        ethTypeTrans(skb, dev);
        k.net.netifRx(skb);
        await k.net.unregisterNetdev(dev);
      });
      expect(delivered).to.equal(0);
      expect(net.skbsLive).to.equal(0);
      expect(ETH_HLEN).to.equal(14);
      expect(formatMac(new Uint8Array([0xa, 0xb, 0xc, 0xd, 0xe, 0xf]))).to.equal('0a:0b:0c:0d:0e:0f');
    });
  });
});
