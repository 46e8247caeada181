import { HostTiming, ZERO_HOST_TIMING } from '../../../core/host-config';
import { SWITCHTEC_GEN3_TIMING, SWITCHTEC_UNTIMED, SwitchtecTimingProfile } from './timing';

/**
 * A hardware timing profile of a Switchtec world: the switch's costs and the hosts' (CPU, kernel,
 * network stack, HZ). Every value is a physical quantity; docs/timing.md gives the source or the
 * stated assumption of each, and marks the two that are fitted.
 */
export interface SwitchtecWorldProfile {
  /** The hosts' CONFIG_HZ. */
  hz: number;
  host: HostTiming;
  switch: SwitchtecTimingProfile;
}

/**
 * Fitted on the 2019 MSI figure (14.1 Gb/s): the network stack's work per frame on each side
 * (socket copy, TCP/IP), which ntbsim does not run. See docs/timing.md, "Calibration".
 */
const NET_FRAME_NS = 27_100;

/**
 * Fitted on the 2019 doorbell figure (3.88 Gb/s): any value above ~0.9 ms puts the doorbell stream
 * in the tick-bound regime, where it moves 26 frames per jiffy (3.41 Gb/s at HZ=250) whatever the
 * value; 1 ms is the round value in that range. See docs/timing.md, "Calibration".
 */
const DOORBELL_LATENCY_NS = 1_000_000;

export const SWITCHTEC_GEN3: SwitchtecWorldProfile = {
  // Ubuntu generic kernels before 24.04 (spec timing.md); the seed's HZ is unstated.
  hz: 250,
  host: {
    irqDeliveryNs: 500,
    irqEntryNs: 1_000,
    softirqLatencyNs: 1_000,
    workLatencyNs: 10_000,
    moduleLoadNs: 1_000_000,
    memcpyBytesPerSec: 10e9,
    netTxFrameNs: NET_FRAME_NS,
    netRxFrameNs: NET_FRAME_NS,
    // Userspace, for scripts such as ntb_test.sh (assumptions: a `$(cat …)` forks a subshell
    // that execs the command; an OpenSSH session with key authentication on a LAN).
    execNs: 2_000_000,
    sshNs: 30_000_000,
  },
  switch: { ...SWITCHTEC_GEN3_TIMING, doorbellLatencyNs: DOORBELL_LATENCY_NS },
};

/**
 * Only bulk copies through a window cost their link time; registers, interrupts, the kernel and the
 * network stack are free. Protocol logic runs as in `switchtec-gen3` but every notification is
 * immediate: what the tests of drivers and clients use, and the default of a Switchtec world.
 */
export const SWITCHTEC_IDEAL: SwitchtecWorldProfile = {
  hz: 250,
  host: { ...ZERO_HOST_TIMING },
  switch: SWITCHTEC_UNTIMED,
};

/** Profiles by name (`ntbsim iperf --profile`, `switchtecTopology({ profile })`). */
export const SWITCHTEC_PROFILES: Readonly<Record<string, SwitchtecWorldProfile>> = {
  'switchtec-gen3': SWITCHTEC_GEN3,
  ideal: SWITCHTEC_IDEAL,
};

/** The profile of a Switchtec world unless one is chosen. */
export const DEFAULT_SWITCHTEC_PROFILE = 'ideal';
/** The calibrated profile: the stream, the main job and the benchmarks use it. */
export const CALIBRATED_SWITCHTEC_PROFILE = 'switchtec-gen3';
