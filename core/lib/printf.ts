/** The kernel's printf conversions that appear in kernel-visible text. */

/** %#llx / %#x: "0x" + lowercase hex; zero prints as "0x0". */
export function hexAlt(v: number | bigint): string {
  return '0x' + BigInt(v).toString(16);
}

/** %0Nx (N = digits): lowercase hex, zero-padded, no prefix. */
export function hexZeroPad(v: number | bigint, digits: number): string {
  return BigInt.asUintN(64, BigInt(v)).toString(16).padStart(digits, '0');
}

/** 0x%0Nx. */
export function hexPad(v: number | bigint, digits: number): string {
  return '0x' + hexZeroPad(v, digits);
}

/** %pa / %pad on a 64-bit kernel. */
export function physAddr(v: number | bigint): string {
  return hexPad(v, 16);
}

/** %02x:%02x.%d */
export function bdf(bus: number, devfn: number): string {
  return `${hex2(bus)}:${hex2(devfn >> 3)}.${devfn & 7}`;
}

export function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}

export function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}
