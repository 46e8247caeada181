/**
 * Test payloads for the traffic generator: every frame carries a 16-byte header (magic, sequence
 * number, data length, checksum) and then data that depends on the sequence number.
 *
 * The data of frame `seq` is a slice of a seeded random pattern at an offset derived from `seq`,
 * so building a frame is one native copy, and the checksum (the 32-bit sum of the header's first
 * three words and of the data taken as little-endian 32-bit words, the last one zero-padded) comes
 * from prefix sums of the pattern in O(1) instead of a pass over up to 64 KiB per frame.
 *
 * The receiver checks the header (magic, length), that the checksum in the frame is the checksum
 * of the data the sequence number stands for, and that the data bytes are exactly those (a
 * memcmp). Together these prove that the checksum of the bytes received equals the checksum sent,
 * and catch any change of any byte; `fullChecksum` additionally recomputes the sum over the
 * received words, the textbook way (a JavaScript loop over every word: slower).
 */

/** "iprf" as a little-endian u32. */
export const PAYLOAD_MAGIC = 0x66727069;
export const PAYLOAD_HEADER = 16;
/** Size of the random pattern the data is cut from (more than any transport frame). */
const PATTERN_BYTES = 1 << 20;
/** Offsets are multiples of 4 below this many words, so a slice never runs past the pattern. */
const MAX_DATA = 1 << 17;
const OFFSET_WORDS = (PATTERN_BYTES - MAX_DATA) / 4;

export type Verdict = 'ok' | 'corrupted';

/** The pattern, its prefix sums and the header/check logic for one direction of a stream. */
export class PayloadCodec {
  private readonly pattern: Buffer;
  private readonly words: Uint32Array;
  /** prefix[i] = (words[0] + … + words[i-1]) mod 2^32. */
  private readonly prefix: Uint32Array;

  constructor(seed: number) {
    this.pattern = Buffer.alloc(PATTERN_BYTES);
    this.words = new Uint32Array(this.pattern.buffer, this.pattern.byteOffset, PATTERN_BYTES / 4);
    // xorshift32, seeded (never 0).
    let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
    for (let i = 0; i < this.words.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      this.words[i] = x;
    }
    this.prefix = new Uint32Array(this.words.length + 1);
    for (let i = 0; i < this.words.length; i++) this.prefix[i + 1] = (this.prefix[i] + this.words[i]) >>> 0;
  }

  /** Byte offset in the pattern where the data of frame `seq` starts. */
  private offset(seq: number): number {
    return ((Math.imul(seq, 0x9e3779b1) >>> 0) % OFFSET_WORDS) * 4;
  }

  /** The checksum of frame `seq` with `dataLen` data bytes (O(1)). */
  checksum(seq: number, dataLen: number): number {
    const w0 = this.offset(seq) / 4;
    const whole = dataLen >>> 2;
    let sum = (this.prefix[w0 + whole] - this.prefix[w0]) >>> 0;
    const rest = dataLen & 3;
    if (rest) sum = (sum + (this.words[w0 + whole] & (2 ** (8 * rest) - 1))) >>> 0;
    return (sum + PAYLOAD_MAGIC + seq + dataLen) >>> 0;
  }

  /** Total payload length (header + data) must be at least PAYLOAD_HEADER and at most MAX_DATA + header. */
  static check(payloadLen: number): void {
    if (payloadLen < PAYLOAD_HEADER || payloadLen - PAYLOAD_HEADER > MAX_DATA) {
      throw new RangeError(`payload of ${payloadLen} bytes: must be ${PAYLOAD_HEADER} to ${MAX_DATA + PAYLOAD_HEADER}`);
    }
  }

  /** Write the payload of frame `seq` (header, then data) into `out` (exactly its length). */
  fill(out: Uint8Array, seq: number): void {
    const dataLen = out.length - PAYLOAD_HEADER;
    putU32(out, 0, PAYLOAD_MAGIC);
    putU32(out, 4, seq >>> 0);
    putU32(out, 8, dataLen);
    putU32(out, 12, this.checksum(seq, dataLen));
    const off = this.offset(seq);
    out.set(this.pattern.subarray(off, off + dataLen), PAYLOAD_HEADER);
  }

  /**
   * Check a received payload: its sequence number (undefined when the header itself is damaged)
   * and whether everything in it is what the sender wrote.
   */
  verify(p: Uint8Array, fullChecksum = false): { seq: number | undefined; verdict: Verdict } {
    if (p.length < PAYLOAD_HEADER) return { seq: undefined, verdict: 'corrupted' };
    const magic = getU32(p, 0);
    const seq = getU32(p, 4);
    const dataLen = getU32(p, 8);
    const sum = getU32(p, 12);
    if (magic !== PAYLOAD_MAGIC || dataLen !== p.length - PAYLOAD_HEADER) return { seq: undefined, verdict: 'corrupted' };
    if (sum !== this.checksum(seq, dataLen)) return { seq: undefined, verdict: 'corrupted' };
    if (fullChecksum) {
      if (sumOf(p.subarray(PAYLOAD_HEADER), seq) !== sum) return { seq, verdict: 'corrupted' };
    }
    // memcmp of the data against the pattern slice it stands for (no view or wrapper allocated).
    const off = this.offset(seq);
    if (this.pattern.compare(p, PAYLOAD_HEADER, p.length, off, off + dataLen) !== 0) return { seq, verdict: 'corrupted' };
    return { seq, verdict: 'ok' };
  }
}

/** Little-endian u32 at `at` of `b`. */
function getU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** The checksum computed from the received bytes themselves (one pass over every word). */
function sumOf(data: Uint8Array, seq: number): number {
  const whole = data.length >>> 2;
  let sum = 0;
  if ((data.byteOffset & 3) === 0) {
    const w = new Uint32Array(data.buffer, data.byteOffset, whole);
    for (let i = 0; i < whole; i++) sum = (sum + w[i]) | 0;
  } else {
    const dv = new DataView(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < whole; i++) sum = (sum + dv.getUint32(4 * i, true)) | 0;
  }
  let last = 0;
  for (let i = whole * 4, s = 0; i < data.length; i++, s += 8) last |= data[i] << s;
  return (sum + (last >>> 0) + PAYLOAD_MAGIC + seq + data.length) >>> 0;
}
