/**
 * Types of the NTB subsystem (include/linux/ntb.h): topologies, link speed/width, the operation
 * table a hardware driver provides (`NtbDevOps`), client and context callbacks, and `NtbDev`.
 *
 * Conventions of the TypeScript rendering:
 * - every C op that returns "0 or a negative errno" returns void and throws `KernelError(errno)`;
 * - C out-parameters become either a returned object (when the C return is only a status:
 *   mw_get_align, peer_mw_get_addr, peer_db_addr, peer_spad_addr) or an optional `out` object the
 *   op fills (when the C return is a value: link_is_up, msg_read);
 * - u64 registers and masks (doorbells, link bits, message status bits) are `bigint`; u32 values,
 *   counts, indices, addresses and sizes are `number`;
 * - the ntb device is passed as the first argument of every op, as in C.
 */
import { Device } from '../../core/base/device';
import { Errno } from '../../core/errno';
import { PciDev } from '../../core/pci/pci-dev';

/** ntb_mw_get_align's errno while the link to the peer is down. */
export const ENOTCONN = Errno.ENOTCONN;

export enum NtbTopo {
  NONE = -1,
  PRI = 0,
  SEC = 1,
  B2B_USD = 2,
  B2B_DSD = 3,
  SWITCH = 4,
  CROSSLINK = 5,
}

/** ntb_topo_string */
export function ntbTopoString(topo: number): string {
  switch (topo) {
    case NtbTopo.NONE:
      return 'NTB_TOPO_NONE';
    case NtbTopo.PRI:
      return 'NTB_TOPO_PRI';
    case NtbTopo.SEC:
      return 'NTB_TOPO_SEC';
    case NtbTopo.B2B_USD:
      return 'NTB_TOPO_B2B_USD';
    case NtbTopo.B2B_DSD:
      return 'NTB_TOPO_B2B_DSD';
    case NtbTopo.SWITCH:
      return 'NTB_TOPO_SWITCH';
    case NtbTopo.CROSSLINK:
      return 'NTB_TOPO_CROSSLINK';
    default:
      return 'NTB_TOPO_INVALID';
  }
}

/** ntb_topo_is_b2b */
export function ntbTopoIsB2b(topo: number): boolean {
  return topo === NtbTopo.B2B_USD || topo === NtbTopo.B2B_DSD;
}

export enum NtbSpeed {
  AUTO = -1,
  NONE = 0,
  GEN1 = 1,
  GEN2 = 2,
  GEN3 = 3,
  GEN4 = 4,
}

export enum NtbWidth {
  AUTO = -1,
  NONE = 0,
  W1 = 1,
  W2 = 2,
  W4 = 4,
  W8 = 8,
  W12 = 12,
  W16 = 16,
  W32 = 32,
}

/** enum ntb_default_port */
export enum NtbDefaultPort {
  PRI_USD = 0,
  SEC_DSD = 1,
}

export const NTB_DEF_PEER_CNT = 1;
export const NTB_DEF_PEER_IDX = 0;

/** Out-parameters of link_is_up (either may be left unset by the hardware). */
export interface NtbLinkInfo {
  speed?: NtbSpeed;
  width?: NtbWidth;
}

/** Result of mw_get_align. Alignments are powers of two. */
export interface NtbMwAlign {
  addrAlign: number;
  sizeAlign: number;
  sizeMax: number;
}

/** Result of peer_mw_get_addr: the outbound window's physical base and size. */
export interface NtbPeerMwAddr {
  base: number;
  size: number;
}

/** Result of peer_db_addr. */
export interface NtbPeerDbAddr {
  dbAddr: number;
  dbSize: number;
  dbData: bigint;
}

/** Out-parameter of msg_read: the peer index the message came from. */
export interface NtbMsgSource {
  pidx?: number;
}

/**
 * struct ntb_dev_ops. Optional members are optional here; `ntbDevOpsIsValid` checks the
 * all-or-none groups (ports, db vectors, spads, messages) and the mandatory ones.
 */
export interface NtbDevOps {
  // ports (all or none)
  portNumber?(ntb: NtbDev): number;
  peerPortCount?(ntb: NtbDev): number;
  peerPortNumber?(ntb: NtbDev, pidx: number): number;
  peerPortIdx?(ntb: NtbDev, port: number): number;

  // link
  /** Bit `pidx` set ⇔ the link to that peer is up. */
  linkIsUp(ntb: NtbDev, out?: NtbLinkInfo): bigint;
  linkEnable(ntb: NtbDev, maxSpeed: NtbSpeed, maxWidth: NtbWidth): void;
  linkDisable(ntb: NtbDev): void;

  // memory windows (translation setup may sleep: real hardware polls a firmware handshake)
  mwCount(ntb: NtbDev, pidx: number): number;
  mwGetAlign(ntb: NtbDev, pidx: number, widx: number): NtbMwAlign;
  mwSetTrans?(ntb: NtbDev, pidx: number, widx: number, addr: number, size: number): void | Promise<void>;
  mwClearTrans?(ntb: NtbDev, pidx: number, widx: number): void | Promise<void>;
  peerMwCount(ntb: NtbDev): number;
  peerMwGetAddr(ntb: NtbDev, widx: number): NtbPeerMwAddr;
  peerMwSetTrans?(ntb: NtbDev, pidx: number, widx: number, addr: number, size: number): void | Promise<void>;
  peerMwClearTrans?(ntb: NtbDev, pidx: number, widx: number): void | Promise<void>;

  // doorbells
  dbIsUnsafe?(ntb: NtbDev): boolean;
  dbValidMask(ntb: NtbDev): bigint;
  dbVectorCount?(ntb: NtbDev): number;
  dbVectorMask?(ntb: NtbDev, vector: number): bigint;
  dbRead(ntb: NtbDev): bigint;
  dbSet?(ntb: NtbDev, bits: bigint): void;
  dbClear(ntb: NtbDev, bits: bigint): void;
  dbReadMask?(ntb: NtbDev): bigint;
  dbSetMask(ntb: NtbDev, bits: bigint): void;
  /** Must cause ntbDbEvent when it unmasks a bit that is already set. */
  dbClearMask(ntb: NtbDev, bits: bigint): void;
  peerDbAddr?(ntb: NtbDev, dbBit: number): NtbPeerDbAddr;
  peerDbRead?(ntb: NtbDev): bigint;
  peerDbSet(ntb: NtbDev, bits: bigint): void;
  peerDbClear?(ntb: NtbDev, bits: bigint): void;
  peerDbReadMask?(ntb: NtbDev): bigint;
  peerDbSetMask?(ntb: NtbDev, bits: bigint): void;
  peerDbClearMask?(ntb: NtbDev, bits: bigint): void;

  // scratchpads (spadCount, spadRead, spadWrite, peerSpadWrite: all or none)
  spadIsUnsafe?(ntb: NtbDev): boolean;
  spadCount?(ntb: NtbDev): number;
  spadRead?(ntb: NtbDev, sidx: number): number;
  spadWrite?(ntb: NtbDev, sidx: number, val: number): void;
  peerSpadAddr?(ntb: NtbDev, pidx: number, sidx: number): number;
  peerSpadRead?(ntb: NtbDev, pidx: number, sidx: number): number;
  peerSpadWrite?(ntb: NtbDev, pidx: number, sidx: number, val: number): void;

  // message registers (msgCount … peerMsgWrite: all or none)
  msgCount?(ntb: NtbDev): number;
  msgInbits?(ntb: NtbDev): bigint;
  msgOutbits?(ntb: NtbDev): bigint;
  msgReadSts?(ntb: NtbDev): bigint;
  msgClearSts?(ntb: NtbDev, bits: bigint): void;
  msgSetMask?(ntb: NtbDev, bits: bigint): void;
  msgClearMask?(ntb: NtbDev, bits: bigint): void;
  /** Returns the value of inbound register `midx`; stores the source peer index in `out.pidx`. */
  msgRead?(ntb: NtbDev, midx: number, out?: NtbMsgSource): number;
  peerMsgWrite?(ntb: NtbDev, pidx: number, midx: number, msg: number): void;
}

/** struct ntb_ctx_ops: every callback optional. They run with the device's ctx lock held. */
export interface NtbCtxOps<C = any> {
  linkEvent?(ctx: C): void;
  dbEvent?(ctx: C, vector: number): void;
  msgEvent?(ctx: C): void;
}

/**
 * struct ntb_client: probe (accept the device, or throw a KernelError to decline) and remove.
 * `name` overrides the driver name, which is otherwise the owning module's name.
 */
export interface NtbClient {
  name?: string;
  probe(ntb: NtbDev): Promise<void> | void;
  remove(ntb: NtbDev): Promise<void> | void;
}

type PendingEvent = () => void;

/** struct ntb_dev: one side of a non-transparent bridge, a device on the `ntb` bus. */
export class NtbDev extends Device {
  ctx: unknown = null;
  ctxOps: NtbCtxOps | null = null;
  /** State of the MSI library (ntb_msi_init); undefined until then. */
  msi: unknown = undefined;

  /** @internal ctx_lock emulation: an event dispatch is running on this device. */
  _inEvent = false;
  /** @internal events raised while a callback ran, delivered when it returns. */
  readonly _pendingEvents: PendingEvent[] = [];

  constructor(
    readonly pdev: PciDev,
    readonly ops: NtbDevOps,
    public topo: NtbTopo = NtbTopo.NONE,
  ) {
    super(pdev?.name, pdev);
  }
}
