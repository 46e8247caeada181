/**
 * What the ntb_transport module holds in one kernel: its parameters, the `ntb_transport` client
 * bus, the list of transport contexts (one per bound NTB device, in probe order) and the
 * registered client drivers. Found through a WeakMap keyed by the Kernel, so every host of a
 * world has its own.
 */
import type { Bus } from '../../core/base/bus';
import type { Device } from '../../core/base/device';
import type { Driver } from '../../core/base/driver';
import type { Kernel } from '../../core/kernel';
import type { NtbClient } from '../../drivers/ntb';
import type { TransportCtx } from './ctx';
import type { NtbTransportClient, TransportParams } from './defs';

export interface TransportKernelState {
  readonly k: Kernel;
  readonly params: TransportParams;
  readonly bus: Bus<Device>;
  /** ntb_transport_list. */
  readonly contexts: TransportCtx[];
  readonly drivers: Map<NtbTransportClient, Driver<Device>>;
  /** The NTB client this module registered (set once init has registered it). */
  client?: NtbClient;
  /** dev_warn_once call sites already used since the module was loaded. */
  readonly warnedOnce: Set<string>;
}

const states = new WeakMap<object, TransportKernelState>();

export function transportStateOf(k: Kernel): TransportKernelState | undefined {
  return states.get(k);
}

export function setTransportState(k: Kernel, st: TransportKernelState | undefined): void {
  if (st) states.set(k, st);
  else states.delete(k);
}
