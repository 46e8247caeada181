import type { Kernel } from './kernel';
import type { ModuleDecl } from './module/module';
import type { PciFixup } from './pci/pci-core';
import type { HostPlatform } from './platform';
import type { Prng } from './time/prng';
import type { Scheduler } from './time/scheduler';

/** What a hardware factory gets to build silicon into: the world's clock and every host's platform. */
export interface HardwareContext {
  sched: Scheduler;
  prng: Prng;
  hosts: HostPlatform[];
  /** Options from the topology entry that named this hardware. */
  options: Record<string, unknown>;
}

/** Builds one piece of silicon (a test device, a switch spanning hosts) into a topology. */
export type HardwareFactory = (ctx: HardwareContext) => void;

/**
 * The one way to add hardware models, drivers and client modules to ntbsim: built-in backends use
 * it exactly as an outside package does.
 */
export interface NtbsimPlugin {
  name: string;
  /** Loadable modules (drivers, clients): what `modprobe NAME` finds. */
  modules?: Array<ModuleDecl<Kernel, any, any>>;
  /** PCI fixups (quirks) every host runs at enumeration. */
  fixups?: PciFixup[];
  /** Silicon a topology can place by name. */
  hardware?: Record<string, HardwareFactory>;
}

/** The world's catalogue of plugins ("/lib/modules" plus the hardware shop). */
export class PluginRegistry {
  private plugins: NtbsimPlugin[] = [];

  register(plugin: NtbsimPlugin): this {
    if (this.plugins.some((p) => p.name === plugin.name)) throw new Error(`plugin ${plugin.name} registered twice`);
    for (const m of plugin.modules ?? []) {
      if (this.findModule(m.name)) throw new Error(`module ${m.name} provided twice (plugin ${plugin.name})`);
    }
    this.plugins.push(plugin);
    return this;
  }

  get all(): readonly NtbsimPlugin[] {
    return this.plugins;
  }

  findModule(name: string): ModuleDecl<Kernel, any, any> | undefined {
    for (const p of this.plugins) {
      const m = p.modules?.find((d) => d.name === name);
      if (m) return m;
    }
    return undefined;
  }

  get fixups(): PciFixup[] {
    return this.plugins.flatMap((p) => p.fixups ?? []);
  }

  hardware(name: string): HardwareFactory | undefined {
    for (const p of this.plugins) if (p.hardware?.[name]) return p.hardware[name];
    return undefined;
  }

  get hardwareNames(): string[] {
    return this.plugins.flatMap((p) => Object.keys(p.hardware ?? {}));
  }

  get moduleNames(): string[] {
    return this.plugins.flatMap((p) => (p.modules ?? []).map((m) => m.name));
  }
}
