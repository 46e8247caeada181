import type { TopologySpec } from '../../core/world';

/** The name of the Switchtec DMA-alias PCI fixup, as `ntbsim.noquirk=` on a host's cmdline takes it. */
export const SWITCHTEC_ALIAS_QUIRK = 'quirk_switchtec_ntb_dma_alias';

export interface SwitchtecTopologyOptions {
  /** Partitions of the switch = hosts (host0, host1, …); default 2. */
  partitions?: number;
  seed?: number;
  /** Boot every host without the DMA-alias quirk (what happens on a kernel that lacks it). */
  noAliasQuirk?: boolean;
}

/**
 * The standard NTB world: one Switchtec switch, one host per partition. Each host loads the
 * `switchtec` management driver, as udev would for the NT endpoint; its probe requests
 * `ntb_hw_switchtec`, which registers the host's NTB device.
 */
export function switchtecTopology(opts: SwitchtecTopologyOptions = {}): TopologySpec {
  const partitions = opts.partitions ?? 2;
  const hosts = Array.from({ length: partitions }, (_, i) => ({
    name: `host${i}`,
    ...(opts.noAliasQuirk ? { cmdline: [`ntbsim.noquirk=${SWITCHTEC_ALIAS_QUIRK}`] } : {}),
  }));
  return {
    seed: opts.seed ?? 1,
    hosts,
    hardware: [{ type: 'switchtec', options: { partitions } }],
    modules: Object.fromEntries(hosts.map((h) => [h.name, ['switchtec']])),
  };
}

/** `switchtec` or `switchtec:N` as a topology name; undefined for anything else (a file path). */
export function parseSwitchtecTopologyName(name: string): SwitchtecTopologyOptions | undefined {
  const m = /^switchtec(?::(\d+))?$/.exec(name);
  if (!m) return undefined;
  return { partitions: m[1] === undefined ? 2 : Number(m[1]) };
}
