/**
 * The client API of include/linux/ntb_transport.h (transport.md §12, §13): client drivers and
 * devices on the `ntb_transport` bus, and the queue calls. Errors are thrown as KernelError with
 * the Linux errno; NULL-tolerant calls accept `null` as Linux accepts a NULL qp.
 */
import { Device } from '../../core/base/device';
import type { Driver } from '../../core/base/driver';
import { Errno, KernelError } from '../../core/errno';
import type { Kernel } from '../../core/kernel';
import type { LoadedModule } from '../../core/module/module';
import { NtbDev } from '../../drivers/ntb';
import { TransportCtx } from './ctx';
import type { NtbQueueHandlers, NtbTransportClient } from './defs';
import type { NtbTransportQp } from './qp';
import { transportStateOf } from './state';

function stateWithContexts(k: Kernel) {
  const st = transportStateOf(k);
  if (!st || st.contexts.length === 0) throw new KernelError(Errno.ENODEV, 'no NTB device has a transport context');
  return st;
}

function check(rc: number, what: string): void {
  if (rc) throw new KernelError(-rc as Errno, what);
}

/** ntb_transport_register_client: ENODEV while no NTB device has a transport context. */
export async function ntbTransportRegisterClient(k: Kernel, drv: NtbTransportClient, owner?: LoadedModule<any>): Promise<void> {
  const st = stateWithContexts(k);
  if (st.drivers.has(drv)) throw new KernelError(Errno.EBUSY, `ntb_transport client ${drv.name} already registered`);
  const driver: Driver<Device> = {
    name: drv.name,
    bus: st.bus,
    owner,
    probe: (dev) => drv.probe(dev),
    remove: (dev) => drv.remove(dev),
  };
  await k.driverCore.driverRegister(driver);
  st.drivers.set(drv, driver);
}

/** ntb_transport_unregister_client */
export async function ntbTransportUnregisterClient(k: Kernel, drv: NtbTransportClient): Promise<void> {
  const st = transportStateOf(k);
  const driver = st?.drivers.get(drv);
  if (!st || !driver) return;
  st.drivers.delete(drv);
  await k.driverCore.driverUnregister(driver);
}

/**
 * ntb_transport_register_client_dev: one device `<name><i>` per transport context (i = 0, 1, …
 * in list order), child of the NTB device. On any failure every device of that name goes.
 */
export async function ntbTransportRegisterClientDev(k: Kernel, name: string): Promise<void> {
  const st = stateWithContexts(k);
  let i = 0;
  for (const nt of [...st.contexts]) {
    const dev = new Device(`${name}${i}`, nt.ndev);
    dev.bus = st.bus;
    try {
      if (k.driverCore.devices(st.bus).some((d) => d.name === dev.name)) throw new KernelError(Errno.EEXIST, `${dev.name} already registered`);
      await k.driverCore.deviceAdd(dev);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      await ntbTransportUnregisterClientDev(k, name);
      throw e;
    }
    nt.clientDevs.push(dev);
    i++;
  }
}

/** ntb_transport_unregister_client_dev: every client device whose name starts with `name`. */
export async function ntbTransportUnregisterClientDev(k: Kernel, name: string): Promise<void> {
  const st = transportStateOf(k);
  if (!st) return;
  for (const nt of st.contexts) {
    for (const dev of [...nt.clientDevs]) {
      if (!dev.name.startsWith(name)) continue;
      nt.clientDevs.splice(nt.clientDevs.indexOf(dev), 1);
      await k.driverCore.deviceDel(dev);
    }
  }
}

/** ntb_transport_create_queue: the lowest free QP of the client device's NTB device, or null. */
export function ntbTransportCreateQueue(data: unknown, clientDev: Device, handlers: NtbQueueHandlers): NtbTransportQp | null {
  const ndev = clientDev.parent;
  if (!(ndev instanceof NtbDev)) return null;
  const nt = ndev.ctx;
  if (!(nt instanceof TransportCtx)) return null;
  return nt.createQueue(data, handlers);
}

/** ntb_transport_free_queue (NULL: no-op). */
export async function ntbTransportFreeQueue(qp: NtbTransportQp | null): Promise<void> {
  if (!qp) return;
  await qp.free();
}

/** ntb_transport_rx_enqueue: post a receive buffer of `len` bytes. EINVAL (NULL qp), ENOMEM. */
export function ntbTransportRxEnqueue(qp: NtbTransportQp | null, cb: unknown, data: Uint8Array, len: number): void {
  if (!qp) throw new KernelError(Errno.EINVAL, 'ntb_transport_rx_enqueue: NULL qp');
  check(qp.rxEnqueue(cb, data, len), `qp${qp.qpNum}: no free RX descriptor`);
}

/** ntb_transport_rx_remove: one posted, unused buffer back (only while the client is not ready). */
export function ntbTransportRxRemove(qp: NtbTransportQp | null): { cb: unknown; len: number } | null {
  if (!qp) return null;
  return qp.rxRemove();
}

/**
 * ntb_transport_tx_enqueue: EINVAL (NULL qp, len 0), EBUSY (no TX descriptor), EAGAIN (ring
 * full). On a QP whose link is down it returns without sending and without completing.
 */
export function ntbTransportTxEnqueue(qp: NtbTransportQp | null, cb: unknown, data: Uint8Array, len: number): void {
  if (!qp) throw new KernelError(Errno.EINVAL, 'ntb_transport_tx_enqueue: NULL qp');
  check(qp.txEnqueue(cb, data, len), `qp${qp.qpNum}: tx_enqueue`);
}

/** ntb_transport_link_up */
export function ntbTransportLinkUp(qp: NtbTransportQp | null): void {
  qp?.linkUp();
}

/** ntb_transport_link_down (may sleep up to about a second). */
export async function ntbTransportLinkDown(qp: NtbTransportQp | null): Promise<void> {
  if (!qp) return;
  await qp.linkDown();
}

export function ntbTransportLinkQuery(qp: NtbTransportQp | null): boolean {
  return qp ? qp.linkIsUp : false;
}

export function ntbTransportQpNum(qp: NtbTransportQp | null): number {
  return qp ? qp.qpNum : 0;
}

export function ntbTransportMaxSize(qp: NtbTransportQp | null): number {
  return qp ? qp.maxSize() : 0;
}

/** ntb_transport_tx_free_entry: free slots of the TX ring (no NULL check, as in Linux). */
export function ntbTransportTxFreeEntry(qp: NtbTransportQp): number {
  return qp.txFreeEntry();
}
