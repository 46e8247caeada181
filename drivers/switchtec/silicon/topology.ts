import type { TopologySpec } from '../../../core/world';
import { DEFAULT_SWITCHTEC_PROFILE, SWITCHTEC_PROFILES, SwitchtecWorldProfile } from './profiles';

import { SWITCHTEC_ALIAS_QUIRK } from '../switchtec-regs';

export { SWITCHTEC_ALIAS_QUIRK };

export interface SwitchtecTopologyOptions {
  /** Partitions of the switch = hosts (host0, host1, …); default 2. */
  partitions?: number;
  seed?: number;
  /** Boot every host without the DMA-alias quirk (what happens on a kernel that lacks it). */
  noAliasQuirk?: boolean;
  /** The hardware timing profile, by name or given whole (default `switchtec-gen3`; docs/timing.md). */
  profile?: string | SwitchtecWorldProfile;
}

/** A profile by name; throws with the known names for an unknown one. */
export function switchtecProfile(p: string | SwitchtecWorldProfile = DEFAULT_SWITCHTEC_PROFILE): SwitchtecWorldProfile {
  if (typeof p !== 'string') return p;
  const found = SWITCHTEC_PROFILES[p];
  if (!found) throw new Error(`unknown timing profile '${p}' (known: ${Object.keys(SWITCHTEC_PROFILES).join(', ')})`);
  return found;
}

/**
 * The standard NTB world: one Switchtec switch, one host per partition. Each host loads the
 * `switchtec` management driver, as udev would for the NT endpoint; its probe requests
 * `ntb_hw_switchtec`, which registers the host's NTB device.
 */
export function switchtecTopology(opts: SwitchtecTopologyOptions = {}): TopologySpec {
  const partitions = opts.partitions ?? 2;
  const profile = switchtecProfile(opts.profile);
  const hosts = Array.from({ length: partitions }, (_, i) => ({
    name: `host${i}`,
    hz: profile.hz,
    timing: { ...profile.host },
    ...(opts.noAliasQuirk ? { cmdline: [`ntbsim.noquirk=${SWITCHTEC_ALIAS_QUIRK}`] } : {}),
  }));
  return {
    seed: opts.seed ?? 1,
    hosts,
    hardware: [{ type: 'switchtec', options: { partitions, timing: profile.switch } }],
    modules: Object.fromEntries(hosts.map((h) => [h.name, ['switchtec']])),
  };
}

/** `switchtec` or `switchtec:N` as a topology name; undefined for anything else (a file path). */
export function parseSwitchtecTopologyName(name: string): SwitchtecTopologyOptions | undefined {
  const m = /^switchtec(?::(\d+))?$/.exec(name);
  if (!m) return undefined;
  return { partitions: m[1] === undefined ? 2 : Number(m[1]) };
}
