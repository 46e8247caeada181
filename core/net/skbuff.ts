import type { NetDevice } from './netdevice';

/** Ethernet constants (include/uapi/linux/if_ether.h). */
export const ETH_ALEN = 6;
export const ETH_HLEN = 14;
export const ETH_ZLEN = 60;
export const ETH_DATA_LEN = 1500;
export const ETH_MIN_MTU = 68;
export const ETH_MAX_MTU = 0xffff;

/** EtherType values eth_type_trans may report. */
export const ETH_P_802_3 = 0x0001;
export const ETH_P_802_2 = 0x0004;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
/** Lowest value of the type/length field that is an EtherType rather than a length. */
export const ETH_P_802_3_MIN = 0x0600;

/** Headroom netdev_alloc_skb reserves (NET_SKB_PAD: one 64-byte cache line on x86). */
export const NET_SKB_PAD = 64;

/** skb->pkt_type. */
export enum PacketType {
  HOST = 0,
  BROADCAST = 1,
  MULTICAST = 2,
  OTHERHOST = 3,
  OUTGOING = 4,
}

/** skb->ip_summed. */
export enum ChecksumState {
  NONE = 0,
  UNNECESSARY = 1,
  COMPLETE = 2,
  PARTIAL = 3,
}

/** Cache-line alignment used by SKB_DATA_ALIGN. */
const SMP_CACHE_BYTES = 64;
/** sizeof(struct sk_buff) and sizeof(struct skb_shared_info) on x86-64, cache aligned. */
const SKB_STRUCT_SIZE = 256;
const SKB_SHINFO_SIZE = 320;

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * skb->truesize of a linear buffer of `size` bytes: kmalloc rounds the data area plus the shared
 * info up to a power of two (above a page), and the sk_buff itself is charged too. This is what
 * makes every ntb_netdev receive buffer cost about 128 KiB of socket budget.
 */
export function skbTruesize(size: number): number {
  const need = align(size, SMP_CACHE_BYTES) + SKB_SHINFO_SIZE;
  const kmalloc = need <= 4096 ? align(need, SMP_CACHE_BYTES) : 2 ** Math.ceil(Math.log2(need));
  return kmalloc - SKB_SHINFO_SIZE + SKB_STRUCT_SIZE;
}

/**
 * struct sk_buff, linear only (no fragments: nothing in ntbsim negotiates scatter-gather). The
 * buffer `head` is fixed at allocation; `data` is a view from skb->data to the end of the buffer
 * (the C pointer, including tailroom: what a driver posts as a receive buffer), and `len` bytes of
 * it are valid (`bytes`). Allocate with NetCore.allocSkb / netdevAllocSkb, release with
 * NetCore.kfreeSkb / consumeSkb.
 */
export class SkBuff {
  readonly head: Uint8Array;
  private dataOff = 0;
  /** skb->len: bytes from data to tail. */
  len = 0;
  dev?: NetDevice;
  /** skb->protocol (host order). */
  protocol = 0;
  pktType = PacketType.HOST;
  ipSummed = ChecksumState.NONE;
  /** Offset of the MAC header in `head` (skb_reset_mac_header), -1 when unset. */
  macHeader = -1;
  readonly truesize: number;
  /** @internal set once freed, so a double free is caught. */
  freed = false;

  constructor(size: number, head?: Uint8Array) {
    this.head = head ?? new Uint8Array(size);
    this.truesize = skbTruesize(size);
  }

  /** The view at skb->data: valid bytes first, then the tailroom. */
  get data(): Uint8Array {
    return this.head.subarray(this.dataOff);
  }

  /** The `len` valid bytes. */
  get bytes(): Uint8Array {
    return this.head.subarray(this.dataOff, this.dataOff + this.len);
  }

  get headroom(): number {
    return this.dataOff;
  }

  get tailroom(): number {
    return this.head.length - this.dataOff - this.len;
  }

  /** skb_reserve: move data and tail forward on an empty buffer. */
  reserve(n: number): void {
    if (this.len !== 0 || n > this.tailroom) throw new Error(`BUG: skb_reserve(${n}) on an skb with len ${this.len}, tailroom ${this.tailroom}`);
    this.dataOff += n;
  }

  /** skb_put: extend the valid area by `n` bytes at the tail; returns the new area. */
  put(n: number): Uint8Array {
    if (n < 0 || n > this.tailroom) throw new Error(`BUG: skb_over_panic: put ${n} with tailroom ${this.tailroom}`);
    const start = this.dataOff + this.len;
    this.len += n;
    return this.head.subarray(start, start + n);
  }

  /** skb_put_data: append a copy of `bytes`. */
  putData(bytes: Uint8Array): Uint8Array {
    const area = this.put(bytes.length);
    area.set(bytes);
    return area;
  }

  /** skb_push: prepend `n` bytes of headroom to the valid area. */
  push(n: number): Uint8Array {
    if (n < 0 || n > this.dataOff) throw new Error(`BUG: skb_under_panic: push ${n} with headroom ${this.dataOff}`);
    this.dataOff -= n;
    this.len += n;
    return this.head.subarray(this.dataOff, this.dataOff + n);
  }

  /** skb_pull: drop `n` bytes from the front of the valid area; returns the new data view. */
  pull(n: number): Uint8Array {
    if (n < 0 || n > this.len) throw new Error(`BUG: skb_pull(${n}) beyond len ${this.len}`);
    this.dataOff += n;
    this.len -= n;
    return this.data;
  }

  resetMacHeader(): void {
    this.macHeader = this.dataOff;
  }

  /** The frame from the MAC header to the tail (what a packet socket would see on receive). */
  mac(): Uint8Array {
    const from = this.macHeader >= 0 ? this.macHeader : this.dataOff;
    return this.head.subarray(from, this.dataOff + this.len);
  }
}
