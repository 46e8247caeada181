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
   * CPU issue cost of one uncached posted store (the write itself is posted and travels on).
   * Assumption: a few ns, nothing beside the microsecond costs around it; 0.
   */
  postedWriteNs: number;
  /** Posted-write efficiency of the link for bulk stores (spec timing.md: ≈ 90 % with 3-DW headers). */
  postedWriteEfficiency: number;
  /** Bytes per non-posted read of uncached MMIO (x86 memcpy_fromio: 8-byte loads, each a round trip). */
  readBytesPerRoundTrip: number;
  /** The round trip a bulk read's loads each wait (the read-bandwidth side of memcpy_fromio). */
  bulkReadRoundTripNs: number;
  /**
   * Doorbell delivery: from an outbound doorbell write reaching the switch to the peer's inbound
   * doorbell bit being set and its vector raised. No public figure exists (the 2019 authors only
   * say "significant latency"): in `switchtec-gen3` it is the parameter fitted on the doorbell
   * figure (docs/timing.md).
   */
  doorbellLatencyNs: number;
}

/** Non-posted read round trip across the switch: spec timing.md's 0.5–1 µs, the middle (assumption). */
const READ_ROUND_TRIP_NS = 800;

/** The switch side of the `switchtec-gen3` profile (drivers/switchtec/silicon/profiles.ts adds the hosts'). */
export const SWITCHTEC_GEN3_TIMING: SwitchtecTimingProfile = {
  readRoundTripNs: READ_ROUND_TRIP_NS,
  postedWriteNs: 0,
  postedWriteEfficiency: 0.9,
  readBytesPerRoundTrip: 8,
  bulkReadRoundTripNs: READ_ROUND_TRIP_NS,
  doorbellLatencyNs: 0,
};

/** A switch whose accesses cost nothing but bulk copies' link time (device-model tests). */
export const SWITCHTEC_UNTIMED: SwitchtecTimingProfile = {
  ...SWITCHTEC_GEN3_TIMING,
  readRoundTripNs: 0,
  doorbellLatencyNs: 0,
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
