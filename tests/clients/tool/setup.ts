/** Worlds for the ntb_tool tests: one host with fake NTB hardware, or two hosts back to back. */
import { Host } from '../../../core/host';
import { HostConfig } from '../../../core/host-config';
import { Kernel } from '../../../core/kernel';
import { ModuleDecl } from '../../../core/module/module';
import { World } from '../../../core/world';
import { ntbCorePlugin } from '../../../drivers/ntb';
import { testdevPlugin } from '../../../drivers/testdev';
import { ntbToolModule } from '../../../clients/tool';
import { eduDevices, FakeHwOptions, FakeNtbHw, fakeHwPlugin, fakeNtbHwModule } from '../../drivers/ntb/fake-ntb-hw';
import { FakeNtbPair } from '../perf/fake-pair';

/** Every optional op group the fake offers: the whole ntb_tool tree is usable. */
export const FULL_HW: FakeHwOptions = { spads: 4, msgs: 4, mws: 2, fullDb: true, peerSpadRead: true, peerMwTrans: true };

export interface ToolSetup {
  world: World;
  host: Host;
  k: Kernel;
  hws: FakeNtbHw[];
  hw: FakeNtbHw;
  /** /sys/kernel/debug/ntb_tool/<dev> of the first device. */
  dir: string;
  /** `dir/name`. */
  p(name: string): string;
}

export function toolDir(k: Kernel, index = 0): string {
  return `/sys/kernel/debug/ntb_tool/${eduDevices(k)[index].name}`;
}

/** One host, `edus` edu functions turned into fake NTB devices, ntb_tool loaded. */
export async function bootTool(
  hw: FakeHwOptions = FULL_HW,
  opts: { edus?: number; host?: Partial<HostConfig>; topo?: number; load?: boolean } = {},
): Promise<ToolSetup> {
  const hws: FakeNtbHw[] = [];
  const modules: Array<ModuleDecl<Kernel, any, any>> = [fakeNtbHwModule(hw, hws), ntbToolModule];
  const world = await World.create(
    { hosts: [{ name: 'host0', ...opts.host }], hardware: Array.from({ length: opts.edus ?? 1 }, () => ({ type: 'edu' })) },
    [testdevPlugin, ntbCorePlugin, fakeHwPlugin(modules)],
  );
  const host = world.host('host0');
  const k = host.kernel;
  await host.modprobe('ntb_fake_hw', opts.topo === undefined ? [] : [`topo=${opts.topo}`]);
  if (opts.load !== false) await host.modprobe('ntb_tool');
  const dir = toolDir(k);
  return { world, host, k, hws, hw: hws[0], dir, p: (name) => `${dir}/${name}` };
}

export interface PairSetup {
  world: World;
  pair: FakeNtbPair;
  h0: Host;
  h1: Host;
  dir(h: Host): string;
}

/** Two hosts (no IOMMU: the fake pair's windows carry physical addresses) with ntb_tool on both. */
export async function bootToolPair(hw: FakeHwOptions = { spads: 4, msgs: 4, mws: 2 }): Promise<PairSetup> {
  const pair = new FakeNtbPair(hw);
  const world = await World.create(
    { hosts: [{ name: 'host0', iommu: false, intremap: false }, { name: 'host1', iommu: false, intremap: false }], hardware: [{ type: 'edu' }] },
    [testdevPlugin, ntbCorePlugin, pair.plugin([ntbToolModule])],
  );
  const [h0, h1] = world.hosts;
  for (const h of world.hosts) await h.modprobe('ntb_fake_pair');
  for (const h of world.hosts) await h.modprobe('ntb_tool');
  return { world, pair, h0, h1, dir: (h) => toolDir(h.kernel) };
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}
