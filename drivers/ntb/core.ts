/**
 * The NTB core (drivers/ntb/core.c plus the inline wrappers of include/linux/ntb.h): the `ntb`
 * bus, device and client registration, client context and event dispatch, the ntb_* wrappers
 * with Linux's defaults for missing ops, and the logical-port / resource-index helpers.
 *
 * Per-host state: the bus object and the client table belong to one kernel. They are created by
 * the `ntb` module's init and found through a WeakMap keyed by the Kernel, so several hosts in
 * one process each have their own `ntb` bus.
 */
import { Bus } from '../../core/base/bus';
import { Driver } from '../../core/base/driver';
import { Errno, KernelError } from '../../core/errno';
import { Kernel } from '../../core/kernel';
import { LogLevel, PrintkDevice } from '../../core/printk';
import { LoadedModule, ModuleDecl } from '../../core/module/module';
import {
  ENOTCONN,
  NtbClient,
  NtbCtxOps,
  NtbDev,
  NtbDevOps,
  NtbLinkInfo,
  NtbMsgSource,
  NtbMwAlign,
  NtbPeerDbAddr,
  NtbPeerMwAddr,
  NtbSpeed,
  NtbTopo,
  NtbWidth,
  NtbDefaultPort,
} from './ntb';

/** A client as the driver core sees it. */
interface NtbClientDriver extends Driver<NtbDev> {
  client: NtbClient;
}

/** What the `ntb` module holds in one kernel. */
export interface NtbCoreState {
  readonly kernel: Kernel;
  readonly bus: Bus<NtbDev>;
  readonly clients: Map<NtbClient, NtbClientDriver>;
  /** WARN_ON_ONCE-style state of the MSI library (once per load of the module). */
  readonly warnedOnce: Set<string>;
}

const coreStates = new WeakMap<Kernel, NtbCoreState>();

/** The `ntb` module's state in this kernel; ENODEV while it is not loaded. */
export function ntbCoreOf(k: Kernel): NtbCoreState {
  const st = coreStates.get(k);
  if (!st) throw new KernelError(Errno.ENODEV, 'ntb core (module ntb) is not loaded');
  return st;
}

/** The `ntb` bus of this kernel (undefined while the module is not loaded). */
export function ntbBus(k: Kernel): Bus<NtbDev> | undefined {
  return coreStates.get(k)?.bus;
}

function einval(what: string): KernelError {
  return new KernelError(Errno.EINVAL, what);
}

// ---- validation --------------------------------------------------------------------------------

/** ntb_client_ops_is_valid */
export function ntbClientOpsIsValid(client: NtbClient | null | undefined): boolean {
  return !!client && typeof client.probe === 'function' && typeof client.remove === 'function';
}

/** ntb_ctx_ops_is_valid: every callback is optional, so every table (even none) is valid. */
export function ntbCtxOpsIsValid(_ops: NtbCtxOps | null | undefined): boolean {
  return true;
}

/** ntb_dev_ops_is_valid: mandatory ops present and the all-or-none groups consistent. */
export function ntbDevOpsIsValid(ops: NtbDevOps | null | undefined): boolean {
  if (!ops) return false;
  const has = (name: keyof NtbDevOps) => typeof ops[name] === 'function';
  const allOrNone = (...names: Array<keyof NtbDevOps>) => {
    const n = names.filter(has).length;
    return n === 0 || n === names.length;
  };
  const all = (...names: Array<keyof NtbDevOps>) => names.every(has);
  return (
    allOrNone('portNumber', 'peerPortCount', 'peerPortNumber', 'peerPortIdx') &&
    all('linkIsUp', 'linkEnable', 'linkDisable') &&
    all('mwCount', 'mwGetAlign', 'peerMwCount', 'peerMwGetAddr') &&
    (has('mwSetTrans') || has('peerMwSetTrans')) &&
    all('dbValidMask', 'dbRead', 'dbClear', 'dbSetMask', 'dbClearMask', 'peerDbSet') &&
    allOrNone('dbVectorCount', 'dbVectorMask') &&
    allOrNone('spadCount', 'spadRead', 'spadWrite', 'peerSpadWrite') &&
    allOrNone('msgCount', 'msgInbits', 'msgOutbits', 'msgReadSts', 'msgClearSts', 'msgRead', 'peerMsgWrite')
  );
}

// ---- the bus, devices and clients ---------------------------------------------------------------

function createCoreState(k: Kernel): NtbCoreState {
  // No match function in Linux: every client matches every NTB device.
  const bus: Bus<NtbDev> = { name: 'ntb', match: () => true };
  return { kernel: k, bus, clients: new Map(), warnedOnce: new Set() };
}

/** ntb_register_device: validate, then device_add under the PCI device (may probe clients). */
export async function registerNtbDev(k: Kernel, ntb: NtbDev): Promise<void> {
  const st = ntbCoreOf(k);
  if (!ntb || !ntb.pdev || !ntb.ops) throw einval('ntb device without pdev or ops');
  if (!ntbDevOpsIsValid(ntb.ops)) throw einval(`${ntb.pdev.name}: invalid ntb_dev_ops`);
  ntb.bus = st.bus;
  ntb.ctx = null;
  ntb.ctxOps = null;
  ntb._pendingEvents.length = 0;
  ntb._inEvent = false;
  await k.driverCore.deviceAdd(ntb);
}

/** ntb_unregister_device: device_del; the bound client (if any) gets remove(). */
export async function unregisterNtbDev(k: Kernel, ntb: NtbDev): Promise<void> {
  await k.driverCore.deviceDel(ntb);
}

/**
 * ntb_register_client: the client becomes a driver on the ntb bus named after its module
 * (`owner`), and is offered every unbound NTB device at once.
 */
export async function ntbRegisterClient(k: Kernel, client: NtbClient, owner?: LoadedModule<any>): Promise<void> {
  const st = ntbCoreOf(k);
  if (!ntbClientOpsIsValid(client)) throw einval('ntb client without probe/remove');
  if (st.clients.has(client)) throw new KernelError(Errno.EBUSY, 'ntb client already registered');
  const name = client.name ?? owner?.name;
  if (!name) throw einval('ntb client needs a name or an owner module');
  const drv: NtbClientDriver = {
    name,
    bus: st.bus,
    owner,
    client,
    probe: (ntb) => client.probe(ntb),
    remove: (ntb) => client.remove(ntb),
  };
  await k.driverCore.driverRegister(drv);
  st.clients.set(client, drv);
}

/** ntb_unregister_client: remove() runs for every device the client is bound to. */
export async function ntbUnregisterClient(k: Kernel, client: NtbClient): Promise<void> {
  const st = ntbCoreOf(k);
  const drv = st.clients.get(client);
  if (!drv) return;
  st.clients.delete(client);
  await k.driverCore.driverUnregister(drv);
}

/** The client bound to `ntb`, if any. */
export function ntbBoundClient(ntb: NtbDev): NtbClient | undefined {
  return (ntb.driver as NtbClientDriver | undefined)?.client;
}

/**
 * module_ntb_client: a module whose init registers `client` and whose exit unregisters it.
 * Depends on `ntb` (plus `depends`).
 */
export function moduleNtbClient(
  name: string,
  client: NtbClient,
  extra: Partial<Pick<ModuleDecl, 'description' | 'version' | 'license' | 'depends'>> = {},
): ModuleDecl<Kernel, {}, NtbClient> {
  return {
    name,
    license: 'Dual BSD/GPL',
    ...extra,
    depends: ['ntb', ...(extra.depends ?? []).filter((d) => d !== 'ntb')],
    async init(k, _p, mod) {
      await ntbRegisterClient(k, client, mod);
      return client;
    },
    async exit(k) {
      await ntbUnregisterClient(k, client);
    },
  };
}

/**
 * Init of a client module with a debugfs directory (ntb_tool, ntb_perf, …): the directory first,
 * so probes can populate it; removed again if registration fails.
 */
export async function ntbRegisterClientWithDebugfs(k: Kernel, client: NtbClient, owner: LoadedModule<any> | undefined, debugfsDir: string): Promise<void> {
  k.debugfs.createDir(debugfsDir);
  try {
    await ntbRegisterClient(k, client, owner);
  } catch (e) {
    k.debugfs.remove(debugfsDir);
    throw e;
  }
}

/** The matching exit: unbind every device, then remove the directory recursively. */
export async function ntbUnregisterClientWithDebugfs(k: Kernel, client: NtbClient, debugfsDir: string): Promise<void> {
  await ntbUnregisterClient(k, client);
  k.debugfs.remove(debugfsDir);
}

/**
 * An NTB call whose status the kernel client ignores (teardown paths, optional ops): a
 * KernelError is noted at debug level on the device (the NTB device or a client's own); anything
 * else is a bug and propagates.
 */
export async function ntbIgnoreError(k: Kernel, dev: PrintkDevice, what: string, op: () => unknown): Promise<void> {
  try {
    await op();
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    k.printk.devLog(LogLevel.DEBUG, dev, `${what} failed: ${-e.errno}`);
  }
}

/** ntbIgnoreError for a synchronous call, usable in atomic context (event callbacks). */
export function ntbIgnoreErrorSync(k: Kernel, dev: PrintkDevice, what: string, op: () => void): void {
  try {
    op();
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    k.printk.devLog(LogLevel.DEBUG, dev, `${what} failed: ${-e.errno}`);
  }
}

// ---- context and events ------------------------------------------------------------------------

/** ntb_set_ctx: EINVAL when a client context is already installed. */
export function ntbSetCtx<C>(ntb: NtbDev, ctx: C, ctxOps: NtbCtxOps<C>): void {
  if (!ntbCtxOpsIsValid(ctxOps)) throw einval('invalid ctx ops');
  if (ntb.ctxOps) throw einval(`${ntb.name}: ntb context already set`);
  ntb.ctx = ctx;
  ntb.ctxOps = ctxOps;
}

/** ntb_clear_ctx: after it returns no callback of the old context runs. */
export function ntbClearCtx(ntb: NtbDev): void {
  ntb.ctxOps = null;
  ntb.ctx = null;
}

/**
 * Run one event under the emulated ctx_lock. An event raised from inside a callback (e.g. a
 * client calling ntbLinkEvent from its db callback) is queued and delivered after the running
 * callback returns, so callbacks of one device never nest; it sees the context current then.
 */
function dispatch(ntb: NtbDev, deliver: () => void): void {
  if (ntb._inEvent) {
    ntb._pendingEvents.push(deliver);
    return;
  }
  ntb._inEvent = true;
  try {
    deliver();
    while (ntb._pendingEvents.length > 0) ntb._pendingEvents.shift()!();
  } finally {
    ntb._pendingEvents.length = 0;
    ntb._inEvent = false;
  }
}

/** ntb_link_event: "the link state may have changed". */
export function ntbLinkEvent(ntb: NtbDev): void {
  dispatch(ntb, () => {
    const ops = ntb.ctxOps;
    ops?.linkEvent?.(ntb.ctx);
  });
}

/** ntb_db_event: doorbell vector `vector` (0 .. ntbDbVectorCount-1) fired. */
export function ntbDbEvent(ntb: NtbDev, vector: number): void {
  dispatch(ntb, () => {
    const ops = ntb.ctxOps;
    ops?.dbEvent?.(ntb.ctx, vector);
  });
}

/** ntb_msg_event: a message arrived, or an outbound message failed. */
export function ntbMsgEvent(ntb: NtbDev): void {
  dispatch(ntb, () => {
    const ops = ntb.ctxOps;
    ops?.msgEvent?.(ntb.ctx);
  });
}

// ---- default port numbering (mainline, after "Fix the default port and peer numbers") ---------

/** ntb_default_port_number */
export function ntbDefaultPortNumber(ntb: NtbDev): number {
  switch (ntb.topo) {
    case NtbTopo.PRI:
    case NtbTopo.B2B_USD:
      return NtbDefaultPort.PRI_USD;
    case NtbTopo.SEC:
    case NtbTopo.B2B_DSD:
      return NtbDefaultPort.SEC_DSD;
    default:
      return 0;
  }
}

/** ntb_default_peer_port_count */
export function ntbDefaultPeerPortCount(_ntb: NtbDev): number {
  return 1;
}

/** ntb_default_peer_port_number: EINVAL for pidx ≠ 0. */
export function ntbDefaultPeerPortNumber(ntb: NtbDev, pidx: number): number {
  if (pidx !== 0) throw einval(`peer index ${pidx} on a two-port device`);
  switch (ntb.topo) {
    case NtbTopo.PRI:
    case NtbTopo.B2B_USD:
      return NtbDefaultPort.SEC_DSD;
    case NtbTopo.SEC:
    case NtbTopo.B2B_DSD:
      return NtbDefaultPort.PRI_USD;
    default:
      return 0;
  }
}

/** ntb_default_peer_port_idx: 0 for the one peer's port, else EINVAL. */
export function ntbDefaultPeerPortIdx(ntb: NtbDev, port: number): number {
  const peer = ntbDefaultPeerPortNumber(ntb, 0);
  if (port !== peer) throw einval(`port ${port} is not a peer`);
  return 0;
}

// ---- wrappers: ports ---------------------------------------------------------------------------

export function ntbPortNumber(ntb: NtbDev): number {
  return ntb.ops.portNumber ? ntb.ops.portNumber(ntb) : ntbDefaultPortNumber(ntb);
}

export function ntbPeerPortCount(ntb: NtbDev): number {
  return ntb.ops.peerPortCount ? ntb.ops.peerPortCount(ntb) : ntbDefaultPeerPortCount(ntb);
}

export function ntbPeerPortNumber(ntb: NtbDev, pidx: number): number {
  return ntb.ops.peerPortNumber ? ntb.ops.peerPortNumber(ntb, pidx) : ntbDefaultPeerPortNumber(ntb, pidx);
}

export function ntbPeerPortIdx(ntb: NtbDev, port: number): number {
  return ntb.ops.peerPortIdx ? ntb.ops.peerPortIdx(ntb, port) : ntbDefaultPeerPortIdx(ntb, port);
}

// ---- logical ports and resource indices (the MSI series' helpers) ------------------------------

/**
 * ntb_logical_port_number: this port's rank among all ports, assuming peers are enumerated in
 * ascending port order. Note `<=`: with both ports 0 (legacy two-host case) the result is 0.
 */
export function ntbLogicalPortNumber(ntb: NtbDev): number {
  const port = ntbPortNumber(ntb);
  if (port < 0) return port;
  const count = ntbPeerPortCount(ntb);
  for (let i = 0; i < count; i++) {
    if (port <= ntbPeerPortNumber(ntb, i)) return i;
  }
  return count;
}

/** ntb_peer_logical_port_number: the rank of peer `pidx` among all ports (no range check). */
export function ntbPeerLogicalPortNumber(ntb: NtbDev, pidx: number): number {
  return ntbPeerPortNumber(ntb, pidx) < ntbPortNumber(ntb) ? pidx : pidx + 1;
}

/**
 * ntb_peer_resource_idx: the index peer `pidx` uses for this host (our rank among its peers),
 * i.e. the resource slot reserved for us on that peer. EINVAL when pidx ≥ peer count.
 */
export function ntbPeerResourceIdx(ntb: NtbDev, pidx: number): number {
  if (pidx >= ntbPeerPortCount(ntb)) throw einval(`peer index ${pidx} out of range`);
  const local = ntbLogicalPortNumber(ntb);
  const peer = ntbPeerLogicalPortNumber(ntb, pidx);
  return peer < local ? local - 1 : local;
}

/**
 * ntb_peer_highest_mw_idx: the same slot counted down from the last inbound MW of that peer.
 * As in Linux the result is -1 when mw_count is 0 (callers treat a negative value as failure).
 */
export function ntbPeerHighestMwIdx(ntb: NtbDev, pidx: number): number {
  const r = ntbPeerResourceIdx(ntb, pidx);
  if (r < 0) return r;
  return ntbMwCount(ntb, pidx) - r - 1;
}

// ---- wrappers: link ----------------------------------------------------------------------------

export function ntbLinkIsUp(ntb: NtbDev, out?: NtbLinkInfo): bigint {
  return ntb.ops.linkIsUp(ntb, out);
}

export function ntbLinkEnable(ntb: NtbDev, maxSpeed: NtbSpeed = NtbSpeed.AUTO, maxWidth: NtbWidth = NtbWidth.AUTO): void {
  ntb.ops.linkEnable(ntb, maxSpeed, maxWidth);
}

export function ntbLinkDisable(ntb: NtbDev): void {
  ntb.ops.linkDisable(ntb);
}

// ---- wrappers: memory windows ------------------------------------------------------------------

export function ntbMwCount(ntb: NtbDev, pidx: number): number {
  return ntb.ops.mwCount(ntb, pidx);
}

/** ntb_mw_get_align: ENOTCONN (without asking the hardware) while the link to `pidx` is down. */
export function ntbMwGetAlign(ntb: NtbDev, pidx: number, widx: number): NtbMwAlign {
  if (((ntbLinkIsUp(ntb) >> BigInt(pidx)) & 1n) === 0n) {
    throw new KernelError(ENOTCONN, `${ntb.name}: link to peer ${pidx} is down`);
  }
  return ntb.ops.mwGetAlign(ntb, pidx, widx);
}

/** ntb_mw_set_trans: a silent no-op on hardware without the op. May sleep (process context). */
export async function ntbMwSetTrans(ntb: NtbDev, pidx: number, widx: number, addr: number, size: number): Promise<void> {
  await ntb.ops.mwSetTrans?.(ntb, pidx, widx, addr, size);
}

/** ntb_mw_clear_trans: falls back to set_trans(…, 0, 0) as Linux does. May sleep. */
export async function ntbMwClearTrans(ntb: NtbDev, pidx: number, widx: number): Promise<void> {
  if (ntb.ops.mwClearTrans) await ntb.ops.mwClearTrans(ntb, pidx, widx);
  else await ntbMwSetTrans(ntb, pidx, widx, 0, 0);
}

export function ntbPeerMwCount(ntb: NtbDev): number {
  return ntb.ops.peerMwCount(ntb);
}

export function ntbPeerMwGetAddr(ntb: NtbDev, widx: number): NtbPeerMwAddr {
  return ntb.ops.peerMwGetAddr(ntb, widx);
}

/** ntb_peer_mw_set_trans: a silent no-op on hardware without the op. May sleep. */
export async function ntbPeerMwSetTrans(ntb: NtbDev, pidx: number, widx: number, addr: number, size: number): Promise<void> {
  await ntb.ops.peerMwSetTrans?.(ntb, pidx, widx, addr, size);
}

export async function ntbPeerMwClearTrans(ntb: NtbDev, pidx: number, widx: number): Promise<void> {
  if (ntb.ops.peerMwClearTrans) await ntb.ops.peerMwClearTrans(ntb, pidx, widx);
  else await ntbPeerMwSetTrans(ntb, pidx, widx, 0, 0);
}

// ---- wrappers: doorbells -----------------------------------------------------------------------

export function ntbDbIsUnsafe(ntb: NtbDev): boolean {
  return ntb.ops.dbIsUnsafe ? ntb.ops.dbIsUnsafe(ntb) : false;
}

export function ntbDbValidMask(ntb: NtbDev): bigint {
  return ntb.ops.dbValidMask(ntb);
}

export function ntbDbVectorCount(ntb: NtbDev): number {
  return ntb.ops.dbVectorCount ? ntb.ops.dbVectorCount(ntb) : 1;
}

export function ntbDbVectorMask(ntb: NtbDev, vector: number): bigint {
  return ntb.ops.dbVectorMask ? ntb.ops.dbVectorMask(ntb, vector) : ntbDbValidMask(ntb);
}

export function ntbDbRead(ntb: NtbDev): bigint {
  return ntb.ops.dbRead(ntb);
}

export function ntbDbSet(ntb: NtbDev, bits: bigint): void {
  if (!ntb.ops.dbSet) throw einval('db_set not supported');
  ntb.ops.dbSet(ntb, bits);
}

export function ntbDbClear(ntb: NtbDev, bits: bigint): void {
  ntb.ops.dbClear(ntb, bits);
}

export function ntbDbReadMask(ntb: NtbDev): bigint {
  return ntb.ops.dbReadMask ? ntb.ops.dbReadMask(ntb) : 0n;
}

export function ntbDbSetMask(ntb: NtbDev, bits: bigint): void {
  ntb.ops.dbSetMask(ntb, bits);
}

export function ntbDbClearMask(ntb: NtbDev, bits: bigint): void {
  ntb.ops.dbClearMask(ntb, bits);
}

/** ntb_peer_db_addr (current signature, with db_data and db_bit). */
export function ntbPeerDbAddr(ntb: NtbDev, dbBit = 0): NtbPeerDbAddr {
  if (!ntb.ops.peerDbAddr) throw einval('peer_db_addr not supported');
  return ntb.ops.peerDbAddr(ntb, dbBit);
}

export function ntbPeerDbRead(ntb: NtbDev): bigint {
  return ntb.ops.peerDbRead ? ntb.ops.peerDbRead(ntb) : 0n;
}

export function ntbPeerDbSet(ntb: NtbDev, bits: bigint): void {
  ntb.ops.peerDbSet(ntb, bits);
}

/*
 * Linux guards the next four wrappers with the *local* op (db_clear, db_read_mask, db_set_mask,
 * db_clear_mask) and then calls the peer op, which is a NULL call when the peer op is absent.
 * The simulation guards with the peer op itself instead: absent ⇒ EINVAL (0 for the read).
 */

export function ntbPeerDbClear(ntb: NtbDev, bits: bigint): void {
  if (!ntb.ops.peerDbClear) throw einval('peer_db_clear not supported');
  ntb.ops.peerDbClear(ntb, bits);
}

export function ntbPeerDbReadMask(ntb: NtbDev): bigint {
  return ntb.ops.peerDbReadMask ? ntb.ops.peerDbReadMask(ntb) : 0n;
}

export function ntbPeerDbSetMask(ntb: NtbDev, bits: bigint): void {
  if (!ntb.ops.peerDbSetMask) throw einval('peer_db_set_mask not supported');
  ntb.ops.peerDbSetMask(ntb, bits);
}

export function ntbPeerDbClearMask(ntb: NtbDev, bits: bigint): void {
  if (!ntb.ops.peerDbClearMask) throw einval('peer_db_clear_mask not supported');
  ntb.ops.peerDbClearMask(ntb, bits);
}

// ---- wrappers: scratchpads ---------------------------------------------------------------------

export function ntbSpadIsUnsafe(ntb: NtbDev): boolean {
  return ntb.ops.spadIsUnsafe ? ntb.ops.spadIsUnsafe(ntb) : false;
}

export function ntbSpadCount(ntb: NtbDev): number {
  return ntb.ops.spadCount ? ntb.ops.spadCount(ntb) : 0;
}

/** ntb_spad_read: all ones on hardware without scratchpads. */
export function ntbSpadRead(ntb: NtbDev, sidx: number): number {
  return ntb.ops.spadRead ? ntb.ops.spadRead(ntb, sidx) : 0xffffffff;
}

export function ntbSpadWrite(ntb: NtbDev, sidx: number, val: number): void {
  if (!ntb.ops.spadWrite) throw einval('spad_write not supported');
  ntb.ops.spadWrite(ntb, sidx, val >>> 0);
}

export function ntbPeerSpadAddr(ntb: NtbDev, pidx: number, sidx: number): number {
  if (!ntb.ops.peerSpadAddr) throw einval('peer_spad_addr not supported');
  return ntb.ops.peerSpadAddr(ntb, pidx, sidx);
}

export function ntbPeerSpadRead(ntb: NtbDev, pidx: number, sidx: number): number {
  return ntb.ops.peerSpadRead ? ntb.ops.peerSpadRead(ntb, pidx, sidx) : 0xffffffff;
}

export function ntbPeerSpadWrite(ntb: NtbDev, pidx: number, sidx: number, val: number): void {
  if (!ntb.ops.peerSpadWrite) throw einval('peer_spad_write not supported');
  ntb.ops.peerSpadWrite(ntb, pidx, sidx, val >>> 0);
}

// ---- wrappers: message registers ---------------------------------------------------------------

export function ntbMsgCount(ntb: NtbDev): number {
  return ntb.ops.msgCount ? ntb.ops.msgCount(ntb) : 0;
}

export function ntbMsgInbits(ntb: NtbDev): bigint {
  return ntb.ops.msgInbits ? ntb.ops.msgInbits(ntb) : 0n;
}

export function ntbMsgOutbits(ntb: NtbDev): bigint {
  return ntb.ops.msgOutbits ? ntb.ops.msgOutbits(ntb) : 0n;
}

export function ntbMsgReadSts(ntb: NtbDev): bigint {
  return ntb.ops.msgReadSts ? ntb.ops.msgReadSts(ntb) : 0n;
}

export function ntbMsgClearSts(ntb: NtbDev, bits: bigint): void {
  if (!ntb.ops.msgClearSts) throw einval('msg_clear_sts not supported');
  ntb.ops.msgClearSts(ntb, bits);
}

export function ntbMsgSetMask(ntb: NtbDev, bits: bigint): void {
  if (!ntb.ops.msgSetMask) throw einval('msg_set_mask not supported');
  ntb.ops.msgSetMask(ntb, bits);
}

export function ntbMsgClearMask(ntb: NtbDev, bits: bigint): void {
  if (!ntb.ops.msgClearMask) throw einval('msg_clear_mask not supported');
  ntb.ops.msgClearMask(ntb, bits);
}

/** ntb_msg_read: all ones (and `out.pidx` untouched) on hardware without message registers. */
export function ntbMsgRead(ntb: NtbDev, midx: number, out?: NtbMsgSource): number {
  return ntb.ops.msgRead ? ntb.ops.msgRead(ntb, midx, out) : 0xffffffff;
}

export function ntbPeerMsgWrite(ntb: NtbDev, pidx: number, midx: number, msg: number): void {
  if (!ntb.ops.peerMsgWrite) throw einval('peer_msg_write not supported');
  ntb.ops.peerMsgWrite(ntb, pidx, midx, msg >>> 0);
}

// ---- the module ----------------------------------------------------------------------------------

/** Module "ntb": registers the `ntb` bus of this kernel; its symbols are this file's functions. */
export const ntbModule: ModuleDecl<Kernel, {}, NtbCoreState> = {
  name: 'ntb',
  description: 'PCIe NTB Driver Framework',
  version: '1.0',
  license: 'Dual BSD/GPL',
  init(k) {
    if (coreStates.has(k)) throw new KernelError(Errno.EEXIST, 'ntb core already initialised');
    const st = createCoreState(k);
    k.driverCore.busRegister(st.bus);
    coreStates.set(k, st);
    return st;
  },
  exit(k, st) {
    k.driverCore.busUnregister(st.bus);
    coreStates.delete(k);
  },
};
