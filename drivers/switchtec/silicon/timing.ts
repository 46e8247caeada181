import type { MmioTiming } from '../../../core/mm/physmem';

/**
 * The `switchtec-gen3` hardware timing profile: what a CPU access to the switch costs. Every value
 * is a physical quantity with its source; none is a throughput of any NTB client (those emerge
 * from how many accesses and bytes a client's code really makes). See docs/timing.md.
 */
export interface SwitchtecTimingProfile {
  /**
   * Non-posted read round trip from the CPU to a switch register or through a window to the
   * peer's memory. Assumption-grade (spec timing.md: 0.5–1 µs across a switch); the middle.
   */
  readRoundTripNs: number;
  /**
   * CPU issue cost of one uncached posted store (the write itself is posted and travels on). An
   * assumption: uncached stores retire one at a time into the write buffer, ~tens of ns.
   */
  postedWriteNs: number;
  /** Posted-write efficiency of the link for bulk stores (spec timing.md: ≈ 90 % with 3-DW headers). */
  postedWriteEfficiency: number;
  /** Bytes per non-posted read of uncached MMIO (x86 memcpy_fromio: 8-byte loads, each a round trip). */
  readBytesPerRoundTrip: number;
  /** The round trip a bulk read's loads each wait (the read-bandwidth side of memcpy_fromio). */
  bulkReadRoundTripNs: number;
}

/**
 * Register-access costs are 0 for now: with them, and with workqueues that run with no latency,
 * ntb_perf's scratchpad handshake loses a command to a race Linux also has (a doorbell that
 * arrives before the receiver's link check has run is cleared and its command never read), and
 * the handshake hangs. They come with the calibrated profile, together with interrupt-entry and
 * work-scheduling latencies (docs/timing.md). Bulk copies already cost their link time.
 */
export const SWITCHTEC_GEN3_TIMING: SwitchtecTimingProfile = {
  readRoundTripNs: 0,
  postedWriteNs: 0,
  postedWriteEfficiency: 0.9,
  readBytesPerRoundTrip: 8,
  // Assumption-grade (timing.md: 0.5–1 µs across a switch): the middle.
  bulkReadRoundTripNs: 800,
};

/** Usable bytes per second per lane and direction of PCIe generation 1..5 (line code applied). */
const LANE_BYTES_PER_SEC: Record<number, number> = {
  1: (2.5e9 * 8) / 10 / 8,
  2: (5e9 * 8) / 10 / 8,
  3: (8e9 * 128) / 130 / 8,
  4: (16e9 * 128) / 130 / 8,
  5: (32e9 * 128) / 130 / 8,
};

/** The raw link bandwidth of a PCIe link (bytes/s, one direction). */
export function pcieLinkBytesPerSec(gen: number, width: number): number {
  const lane = LANE_BYTES_PER_SEC[gen];
  if (lane === undefined) throw new Error(`switchtec: no PCIe generation ${gen}`);
  return lane * width;
}

/** CPU cost of accessing the NT endpoint's BARs over a link of that generation and width. */
export function ntEndpointMmioTiming(p: SwitchtecTimingProfile, gen: number, width: number): MmioTiming {
  return {
    readRoundTripNs: p.readRoundTripNs,
    postedWriteNs: p.postedWriteNs,
    writeBytesPerSec: pcieLinkBytesPerSec(gen, width) * p.postedWriteEfficiency,
    readBytesPerSec: (p.readBytesPerRoundTrip * 1e9) / p.bulkReadRoundTripNs,
  };
}
