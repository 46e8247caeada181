/**
 * ntb_transport's protocol constants, module parameters and the client-facing types
 * (include/linux/ntb_transport.h). Spec: ../shared/spec/transport.md §2, §4, §5, §12.
 */
import type { Device } from '../../core/base/device';
import { param, ParamValues } from '../../core/module/params';
import type { NtbTransportQp } from './qp';

export const NTB_TRANSPORT_NAME = 'ntb_transport';
/** Protocol version, written to and compared in scratchpad VERSION; also MODULE_VERSION. */
export const NTB_TRANSPORT_VERSION = 4;
export const NTB_TRANSPORT_DESC = 'Software Queue-Pair Transport over NTB';

/** Scratchpad map (§5). MW i's size sits at MW0_SZ_HIGH + 2i / MW0_SZ_LOW + 2i. */
export enum Spad {
  VERSION = 0,
  QP_LINKS = 1,
  NUM_QPS = 2,
  NUM_MWS = 3,
  MW0_SZ_HIGH = 4,
  MW0_SZ_LOW = 5,
}
/** Fewer scratchpads than this and the probe fails. */
export const NTB_TRANSPORT_MIN_SPADS = Spad.MW0_SZ_HIGH + 2;

/** RX descriptors allocated per QP at queue creation. */
export const NTB_QP_DEF_NUM_ENTRIES = 100;
/** ms between handshake / QP-link polls; also the number of 100 ms retries of a link-down frame. */
export const NTB_LINK_DOWN_TIMEOUT = 10;

/** The 12-byte trailer of every slot: ver, len, flags (u32 each, in that memory order). */
export const HDR_SIZE = 12;
export const HDR_VER = 0;
export const HDR_LEN = 4;
export const HDR_FLAGS = 8;
/** struct ntb_rx_info: the one u32 credit word at the end of each region. */
export const RX_INFO_SIZE = 4;

export const DESC_DONE_FLAG = 0x1;
export const LINK_DOWN_FLAG = 0x2;

/** QP numbers are u8 and the bitmaps u64. */
export const MAX_QPS = 64;

/** Module parameters: Linux names, types, defaults, 0644 and modinfo strings (§2). */
export const transportParams = {
  max_mw_size: param.ulong(0, 0o644, 'Limit size of large memory windows'),
  transport_mtu: param.uint(0x10000, 0o644, 'Maximum size of NTB transport packets'),
  max_num_clients: param.byte(0, 0o644, 'Maximum number of NTB transport clients'),
  copy_bytes: param.uint(1024, 0o644, 'Threshold under which NTB will use the CPU to copy instead of DMA'),
  use_dma: param.bool(false, 0o644, 'Use DMA engine to perform large data copy'),
  use_msi: param.bool(false, 0o644, 'Use MSI interrupts instead of doorbells'),
  tx_memcpy_offload: param.bool(false, 0o644, 'Offload TX memcpy_toio() to a kernel thread'),
};
/** The live parameter values (sysfs writes land here; each is read where Linux reads it). */
export type TransportParams = ParamValues<typeof transportParams>;

/**
 * struct ntb_queue_handlers. `data` is the client's per-buffer cookie; `len` < 0 is an error
 * (-EIO): an RX buffer too small, or (TX, with `data` null) a frame larger than a slot.
 */
export interface NtbQueueHandlers {
  rxHandler?(qp: NtbTransportQp, qpData: unknown, data: unknown, len: number): void;
  txHandler?(qp: NtbTransportQp, qpData: unknown, data: unknown, len: number): void;
  eventHandler?(data: unknown, linkIsUp: boolean): void;
}

/** struct ntb_transport_client: a driver on the `ntb_transport` bus (matches devices by name prefix). */
export interface NtbTransportClient {
  name: string;
  probe(dev: Device): Promise<void> | void;
  remove(dev: Device): Promise<void> | void;
}

export const U32 = 2 ** 32;

/** BIT(n) as it survives a u32 scratchpad: bits 32 and up are lost. */
export function spadBit(n: number): number {
  return n < 32 ? 2 ** n : 0;
}
