/**
 * A small ntb_transport client for the tests (module `ntb_tt`, a plugin of its own): one client
 * device per NTB device, and a driver whose probe takes a queue, posts receive buffers and
 * declares the client ready. Everything it sees (frames, completions, link events) is recorded
 * per kernel in `ttState(k)`.
 */
import type { Device } from '../../../core/base/device';
import { Errno, KernelError } from '../../../core/errno';
import type { Host } from '../../../core/host';
import type { Kernel } from '../../../core/kernel';
import type { ModuleDecl } from '../../../core/module/module';
import { param } from '../../../core/module/params';
import type { NtbsimPlugin } from '../../../core/plugin';
import {
  NtbTransportClient,
  NtbTransportQp,
  ntbTransportCreateQueue,
  ntbTransportFreeQueue,
  ntbTransportLinkDown,
  ntbTransportLinkUp,
  ntbTransportMaxSize,
  ntbTransportRegisterClient,
  ntbTransportRegisterClientDev,
  ntbTransportRxEnqueue,
  ntbTransportRxRemove,
  ntbTransportTxEnqueue,
  ntbTransportUnregisterClient,
  ntbTransportUnregisterClientDev,
} from '../../../clients/transport';

export const TT = 'ntb_tt';

export interface RxRecord {
  cb: unknown;
  len: number;
  bytes: Uint8Array;
}

export interface TtState {
  k: Kernel;
  dev?: Device;
  qp: NtbTransportQp | null;
  rx: RxRecord[];
  tx: Array<{ cb: unknown; len: number }>;
  events: boolean[];
  /** Buffers posted at probe and their size (0 = ntb_transport_max_size). */
  post: number;
  bufLen: number;
  /** Re-post a buffer of the same size after each received frame (as ntb_netdev does). */
  repost: boolean;
  removed: Array<{ cb: unknown; len: number }>;
}

const states = new WeakMap<Kernel, TtState>();

export function ttState(h: Host | Kernel): TtState {
  const k = 'kernel' in h ? h.kernel : h;
  const st = states.get(k);
  if (!st) throw new Error('ntb_tt is not loaded');
  return st;
}

const params = {
  post: param.int(100, 0o644, 'receive buffers posted at probe'),
  buflen: param.uint(0, 0o644, 'receive buffer size (0: the queue maximum)'),
  repost: param.bool(true, 0o644, 'post a new buffer after each received frame'),
};

function post(st: TtState, n: number): void {
  const qp = st.qp!;
  const len = st.bufLen || ntbTransportMaxSize(qp);
  for (let i = 0; i < n; i++) {
    const buf = new Uint8Array(len);
    ntbTransportRxEnqueue(qp, buf, buf, len);
  }
}

function client(st: TtState): NtbTransportClient {
  return {
    name: TT,
    probe(dev) {
      const qp = ntbTransportCreateQueue(st, dev, {
        rxHandler: (_qp, _qpData, data, len) => {
          const buf = data as Uint8Array;
          st.rx.push({ cb: data, len, bytes: len > 0 ? buf.slice(0, len) : new Uint8Array(0) });
          if (st.repost) ntbTransportRxEnqueue(st.qp, buf, buf, buf.length);
        },
        txHandler: (_qp, _qpData, data, len) => {
          st.tx.push({ cb: data, len });
        },
        eventHandler: (data, up) => {
          if (data !== st) throw new Error('event for another cookie');
          st.events.push(up);
        },
      });
      if (!qp) throw new KernelError(Errno.EIO, `${dev.name}: no free queue`);
      st.dev = dev;
      st.qp = qp;
      post(st, st.post);
      ntbTransportLinkUp(qp);
    },
    async remove() {
      const qp = st.qp;
      await ntbTransportLinkDown(qp);
      for (let r = ntbTransportRxRemove(qp); r; r = ntbTransportRxRemove(qp)) st.removed.push(r);
      await ntbTransportFreeQueue(qp);
      st.qp = null;
    },
  };
}

export const ttModule: ModuleDecl<Kernel, typeof params, { drv: NtbTransportClient }> = {
  name: TT,
  description: 'ntb_transport test client',
  license: 'GPL',
  depends: ['ntb_transport'],
  params,
  async init(k, p, mod) {
    const st: TtState = { k, qp: null, rx: [], tx: [], events: [], post: p.post, bufLen: p.buflen, repost: p.repost, removed: [] };
    states.set(k, st);
    const drv = client(st);
    try {
      await ntbTransportRegisterClientDev(k, TT);
      await ntbTransportRegisterClient(k, drv, mod);
    } catch (e) {
      await ntbTransportUnregisterClientDev(k, TT);
      states.delete(k);
      throw e;
    }
    return { drv };
  },
  async exit(k, s) {
    await ntbTransportUnregisterClient(k, s.drv);
    await ntbTransportUnregisterClientDev(k, TT);
    states.delete(k);
  },
};

export const ttPlugin: NtbsimPlugin = { name: 'ntb-tt', modules: [ttModule] };

/** Frame `seq` of `len` bytes: the sequence number (LE) followed by a pattern derived from it. */
export function frame(seq: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seq * 31 + i * 7 + (i >> 8)) & 0xff;
  if (len >= 4) new DataView(b.buffer).setUint32(0, seq, true);
  return b;
}

export function seqOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
}

/**
 * Send frames `first` … `first + count - 1` of `len` bytes from this host's queue, as a task: a
 * full ring (EAGAIN) is retried after 1 µs of virtual time. Returns the number of EAGAINs seen.
 */
export function sendFrames(h: Host, first: number, count: number, len: number): Promise<number> {
  return h.run('ntb_tt send', async (k) => {
    const st = ttState(k);
    let again = 0;
    for (let seq = first; seq < first + count; ) {
      const data = frame(seq, len);
      try {
        ntbTransportTxEnqueue(st.qp, data, data, len);
        seq++;
      } catch (e) {
        if (!(e instanceof KernelError) || e.errno !== Errno.EAGAIN) throw e;
        again++;
        await k.sched.sleep(1000);
      }
    }
    return again;
  });
}
