import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { HostConfig } from '../../core/host-config';
import type { TopologySpec } from '../../core/world';
import { DEFAULT_SWITCHTEC_PROFILE, SWITCHTEC_PROFILES } from '../../drivers/switchtec/silicon/profiles';
import { parseSwitchtecTopologyName, switchtecTopology } from '../../drivers/switchtec/silicon/topology';
import { CliError, GlobalOptions, intArg, UsageError } from './common';

export const MAX_HOSTS = 256;

/** The options that describe a world, shared by every subcommand that builds one. */
export interface TopologyOptions {
  hosts: number;
  topology?: string;
  profile?: string;
  cpus?: number;
  iommu?: 'on' | 'off';
  intremap: boolean;
  cmdline?: string;
  modprobe?: string[];
}

export function addTopologyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--hosts <n>', 'number of hosts (host0, host1, …)').argParser(intArg(1, MAX_HOSTS)).default(2))
    .option('--topology <name|file>', 'switchtec (2 hosts on one Switchtec switch), switchtec:N, or a topology JSON file (a TopologySpec)')
    .addOption(
      new Option('--profile <name>', `hardware timing profile of a switchtec topology (docs/timing.md; default ${DEFAULT_SWITCHTEC_PROFILE})`).choices(Object.keys(SWITCHTEC_PROFILES)),
    )
    .addOption(new Option('--cpus <n>', 'CPUs per host').argParser(intArg(1, 64)))
    .addOption(new Option('--iommu <state>', 'DMA remapping (intel_iommu=on|off)').choices(['on', 'off']))
    .option('--no-intremap', 'boot with interrupt remapping off (intremap=off)')
    .option('--cmdline <args>', 'extra kernel command line for every host, e.g. "pci=nomsi"')
    .option('--modprobe <args>', 'load a module on every host after boot, e.g. "edu nvec=2" (repeatable)', collect);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * The topology a command line asks for: a file (--topology) or N default hosts with an edu test
 * device each; the per-host options override what the file says, --seed overrides its seed.
 */
export function topologyFromOptions(opts: TopologyOptions, globals: GlobalOptions, cmd: Command): TopologySpec {
  let spec: TopologySpec;
  if (opts.topology !== undefined) {
    if (cmd.getOptionValueSource('hosts') === 'cli') throw new UsageError('--hosts and --topology cannot be used together');
    const named = parseSwitchtecTopologyName(opts.topology);
    if (named && (named.partitions! < 1 || named.partitions! > 48)) throw new UsageError(`${opts.topology}: a Switchtec switch has 1 to 48 partitions`);
    if (!named && opts.profile !== undefined) throw new UsageError('--profile applies to a switchtec topology, not to a topology file');
    spec = named ? switchtecTopology({ ...named, profile: opts.profile }) : readTopology(opts.topology);
  } else {
    if (opts.profile !== undefined) throw new UsageError('--profile applies to a switchtec topology: add --topology switchtec');
    spec = {
      hosts: Array.from({ length: opts.hosts }, (_, i) => ({ name: `host${i}` })),
      hardware: [{ type: 'edu' }],
    };
  }
  const overrides: Partial<HostConfig> = {};
  if (opts.cpus !== undefined) overrides.cpus = opts.cpus;
  if (opts.iommu !== undefined) overrides.iommu = opts.iommu === 'on';
  if (!opts.intremap) overrides.intremap = false;
  const extraCmdline = (opts.cmdline ?? '').split(/\s+/).filter(Boolean);
  spec.hosts = spec.hosts.map((h) => ({ ...h, ...overrides, ...(extraCmdline.length ? { cmdline: [...(h.cmdline ?? []), ...extraCmdline] } : {}) }));
  const modprobe = opts.modprobe ?? [];
  if (modprobe.length) {
    const modules = { ...(spec.modules ?? {}) };
    for (const h of spec.hosts) modules[h.name] = [...(modules[h.name] ?? []), ...modprobe];
    spec.modules = modules;
  }
  spec.seed = globals.seed ?? spec.seed ?? 1;
  return spec;
}

const HOST_FIELDS: Record<string, 'string' | 'number' | 'boolean' | 'string[]'> = {
  name: 'string',
  hz: 'number',
  cpus: 'number',
  iommu: 'boolean',
  intremap: 'boolean',
  intremapNoSid: 'boolean',
  cmdline: 'string[]',
  ramBytes: 'number',
  directDmaAlign: 'number',
};

/** Read and check a TopologySpec JSON file (shape only: the world checks the rest). */
export function readTopology(file: string): TopologySpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read topology ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CliError(`topology ${file} is not valid JSON: ${(e as Error).message}`);
  }
  const bad = (what: string): never => {
    throw new CliError(`topology ${file}: ${what}`);
  };
  if (!isObject(raw)) return bad('expected a JSON object');
  for (const key of Object.keys(raw)) if (!['seed', 'hosts', 'hardware', 'modules'].includes(key)) bad(`unknown key "${key}"`);
  if (raw.seed !== undefined && !(Number.isSafeInteger(raw.seed) && (raw.seed as number) >= 0)) bad('"seed" must be a non-negative integer');
  if (!Array.isArray(raw.hosts) || raw.hosts.length === 0) return bad('"hosts" must be a non-empty array');
  const names = new Set<string>();
  raw.hosts.forEach((h, i) => {
    if (!isObject(h)) return bad(`hosts[${i}] must be an object`);
    for (const [key, value] of Object.entries(h)) {
      const type = HOST_FIELDS[key];
      if (!type) bad(`hosts[${i}]: unknown field "${key}" (known: ${Object.keys(HOST_FIELDS).join(', ')})`);
      const ok = type === 'string[]' ? Array.isArray(value) && value.every((v) => typeof v === 'string') : typeof value === type;
      if (!ok) bad(`hosts[${i}].${key} must be ${type === 'string[]' ? 'an array of strings' : `a ${type}`}`);
    }
    if (typeof h.name !== 'string' || h.name === '') bad(`hosts[${i}] needs a "name"`);
    if (names.has(h.name as string)) bad(`host name "${h.name}" used twice`);
    names.add(h.name as string);
  });
  if (raw.hardware !== undefined) {
    if (!Array.isArray(raw.hardware)) bad('"hardware" must be an array');
    (raw.hardware as unknown[]).forEach((hw, i) => {
      if (!isObject(hw) || typeof hw.type !== 'string') bad(`hardware[${i}] needs a "type" string`);
      if ((hw as Record<string, unknown>).options !== undefined && !isObject((hw as Record<string, unknown>).options)) bad(`hardware[${i}].options must be an object`);
    });
  }
  if (raw.modules !== undefined) {
    if (!isObject(raw.modules)) bad('"modules" must be an object of host name → ["module arg=val", …]');
    for (const [host, list] of Object.entries(raw.modules as Record<string, unknown>)) {
      if (!names.has(host)) bad(`modules: no host "${host}"`);
      if (!Array.isArray(list) || !list.every((l) => typeof l === 'string')) bad(`modules.${host} must be an array of strings`);
    }
  }
  return raw as unknown as TopologySpec;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
