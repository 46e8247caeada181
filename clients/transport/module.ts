/**
 * Module ntb_transport (drivers/ntb/ntb_transport.c, current mainline data path): an NTB client
 * that binds to every NTB device and builds a transport context on it, plus the `ntb_transport`
 * bus its own clients (ntb_netdev) register on. Spec: ../shared/spec/transport.md.
 */
import type { Bus } from '../../core/base/bus';
import type { Device } from '../../core/base/device';
import { Errno, KernelError } from '../../core/errno';
import type { Kernel } from '../../core/kernel';
import type { ModuleDecl } from '../../core/module/module';
import { NtbClient, ntbRegisterClient, ntbUnregisterClient } from '../../drivers/ntb';
import { TransportCtx } from './ctx';
import { NTB_TRANSPORT_DESC, NTB_TRANSPORT_NAME, NTB_TRANSPORT_VERSION, transportParams } from './defs';
import { setTransportState, TransportKernelState } from './state';

export const ntbTransportModule: ModuleDecl<Kernel, typeof transportParams, TransportKernelState> = {
  name: NTB_TRANSPORT_NAME,
  description: NTB_TRANSPORT_DESC,
  version: String(NTB_TRANSPORT_VERSION),
  license: 'Dual BSD/GPL',
  depends: ['ntb'],
  params: transportParams,
  async init(k, p, mod) {
    k.printk.info(`${NTB_TRANSPORT_DESC}, version ${NTB_TRANSPORT_VERSION}`);
    k.debugfs.createDir(NTB_TRANSPORT_NAME);
    // Client devices match a client driver when their name starts with the driver's name.
    const bus: Bus<Device> = { name: NTB_TRANSPORT_NAME, match: (dev, drv) => dev.name.startsWith(drv.name) };
    k.driverCore.busRegister(bus);
    const st: TransportKernelState = { k, params: p, bus, contexts: [], drivers: new Map(), warnedOnce: new Set() };
    setTransportState(k, st);
    const client: NtbClient = {
      probe: (ndev) => TransportCtx.probe(st, ndev),
      remove: async (ndev) => {
        const nt = ndev.ctx;
        if (!(nt instanceof TransportCtx)) throw new KernelError(Errno.EINVAL, `${ndev.name}: no transport context`);
        await nt.remove();
      },
    };
    try {
      await ntbRegisterClient(k, client, mod);
    } catch (e) {
      setTransportState(k, undefined);
      k.driverCore.busUnregister(bus);
      k.debugfs.remove(NTB_TRANSPORT_NAME);
      throw e;
    }
    st.client = client;
    return st;
  },
  async exit(k, st) {
    if (st.client) await ntbUnregisterClient(k, st.client);
    k.driverCore.busUnregister(st.bus);
    k.debugfs.remove(NTB_TRANSPORT_NAME);
    setTransportState(k, undefined);
  },
};
