import type { NetDevice } from './netdevice';
import { ETH_ALEN, ETH_HLEN, ETH_P_802_2, ETH_P_802_3, ETH_P_802_3_MIN, PacketType, SkBuff } from './skbuff';

/** "%pM": six lower-case hex octets separated by colons. */
export function formatMac(addr: Uint8Array): string {
  return Array.from(addr.subarray(0, ETH_ALEN), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function isMulticastEtherAddr(addr: Uint8Array): boolean {
  return (addr[0] & 0x01) !== 0;
}

export function isBroadcastEtherAddr(addr: Uint8Array): boolean {
  for (let i = 0; i < ETH_ALEN; i++) if (addr[i] !== 0xff) return false;
  return true;
}

export function isZeroEtherAddr(addr: Uint8Array): boolean {
  for (let i = 0; i < ETH_ALEN; i++) if (addr[i] !== 0) return false;
  return true;
}

/** is_valid_ether_addr: neither multicast nor all zeros. */
export function isValidEtherAddr(addr: Uint8Array): boolean {
  return !isMulticastEtherAddr(addr) && !isZeroEtherAddr(addr);
}

function sameAddr(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < ETH_ALEN; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * eth_type_trans: mark the MAC header, pull it off, classify the destination against the
 * device's address and return the protocol (an EtherType, or ETH_P_802_3 / ETH_P_802_2 for
 * length-field frames, raw IPX distinguished by its 0xFFFF checksum).
 */
export function ethTypeTrans(skb: SkBuff, dev: NetDevice): number {
  skb.dev = dev;
  skb.resetMacHeader();
  // The header as the buffer holds it; a frame shorter than a header is not pulled
  // (skb_pull_inline returns NULL) and goes up with whatever the buffer holds there.
  const hdr = skb.data.subarray(0, ETH_HLEN);
  if (skb.len >= ETH_HLEN) skb.pull(ETH_HLEN);
  const dest = hdr.subarray(0, ETH_ALEN);
  if (isMulticastEtherAddr(dest)) skb.pktType = isBroadcastEtherAddr(dest) ? PacketType.BROADCAST : PacketType.MULTICAST;
  else skb.pktType = sameAddr(dest, dev.devAddr) ? PacketType.HOST : PacketType.OTHERHOST;
  const type = (hdr[12] << 8) | hdr[13];
  if (type >= ETH_P_802_3_MIN) return type;
  const d = skb.bytes;
  if (d.length >= 2 && d[0] === 0xff && d[1] === 0xff) return ETH_P_802_3;
  return ETH_P_802_2;
}

/**
 * Build an Ethernet frame (a helper for traffic generators and tests): destination, source,
 * EtherType, payload; no padding to ETH_ZLEN and no FCS, as a driver sees it.
 */
export function ethFrame(dest: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + payload.length);
  f.set(dest.subarray(0, ETH_ALEN), 0);
  f.set(src.subarray(0, ETH_ALEN), ETH_ALEN);
  f[12] = (type >> 8) & 0xff;
  f[13] = type & 0xff;
  f.set(payload, ETH_HLEN);
  return f;
}
