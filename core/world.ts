import 'reflect-metadata';
import { container as rootContainer, DependencyContainer } from 'tsyringe';
import { Host } from './host';
import { defaultHostConfig, HostConfig } from './host-config';
import { HostPlatform } from './platform';
import { NtbsimPlugin, PluginRegistry } from './plugin';
import { Prng } from './time/prng';
import { Scheduler } from './time/scheduler';
import { Nanoseconds, secs } from './time/units';

/** A topology: the hosts, and the hardware (by plugin name) placed among them. */
/** Longest the boot waits for queued work to settle (virtual time). */
export const BOOT_SETTLE_LIMIT: Nanoseconds = secs(10);

export interface TopologySpec {
  seed?: number;
  hosts: Array<Partial<HostConfig> & { name: string }>;
  hardware?: Array<{ type: string; options?: Record<string, unknown> }>;
  /** Modules each host loads after boot, as `modprobe` arguments ("name arg=val …"). */
  modules?: Record<string, string[]>;
}

/**
 * The world: one virtual clock and seeded random source shared by every host, the plugin
 * registry, the hosts (each a kernel in its own child container), and the hardware between them.
 */
export class World {
  readonly container: DependencyContainer;
  readonly sched = new Scheduler();
  readonly prng: Prng;
  readonly plugins: PluginRegistry;
  readonly hosts: Host[] = [];

  constructor(
    readonly topology: TopologySpec,
    plugins: NtbsimPlugin[],
  ) {
    this.prng = new Prng(topology.seed ?? 1);
    this.plugins = new PluginRegistry();
    for (const p of plugins) this.plugins.register(p);
    this.container = rootContainer.createChildContainer();
    this.container.register(Scheduler, { useValue: this.sched });
    this.container.register(Prng, { useValue: this.prng });
    this.container.register(PluginRegistry, { useValue: this.plugins });

    const platforms = topology.hosts.map((h, i) => new HostPlatform({ ...defaultHostConfig(h.name, i), ...h, index: i }, this.sched));
    for (const hw of topology.hardware ?? []) {
      const factory = this.plugins.hardware(hw.type);
      if (!factory) throw new Error(`unknown hardware '${hw.type}' (known: ${this.plugins.hardwareNames.join(', ') || 'none'})`);
      factory({ sched: this.sched, prng: this.prng, hosts: platforms, options: hw.options ?? {} });
    }
    for (const p of platforms) {
      const host = new Host(this.container.createChildContainer(), p);
      for (const f of this.plugins.fixups) host.kernel.pci.addFixup(f);
      this.hosts.push(host);
    }
  }

  /** Build and boot a world, then load each host's modules. */
  static async create(topology: TopologySpec, plugins: NtbsimPlugin[]): Promise<World> {
    const world = new World(topology, plugins);
    await world.boot();
    return world;
  }

  async boot(): Promise<void> {
    for (const h of this.hosts) await h.boot();
    for (const h of this.hosts) {
      for (const line of this.topology.modules?.[h.name] ?? []) {
        const [name, ...args] = line.split(/\s+/).filter(Boolean);
        await h.modprobe(name, args);
      }
    }
    // Like udev settling: what the probes queued (request_module, link checks) finishes before
    // the world is handed over. Bounded, since a loaded module may arm a periodic timer.
    await this.sched.runUntilIdle(BOOT_SETTLE_LIMIT);
  }

  host(name: string): Host {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host '${name}'`);
    return h;
  }

  get now(): Nanoseconds {
    return this.sched.now;
  }

  /** Let the whole world run for `ns` of virtual time. */
  runFor(ns: Nanoseconds): Promise<void> {
    return this.sched.runFor(ns);
  }
}
