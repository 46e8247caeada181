import { Errno, KernelError } from '../errno';
import { PseudoFs } from '../fs/pseudofs';
import { Printk } from '../printk';
import { LoadedModule, ModuleDecl } from './module';
import { formatParam, parseParam, splitArgs } from './params';

/** Where the loader finds modules by name (the world's plugin registry: "/lib/modules"). */
export interface ModuleCatalog {
  findModule(name: string): ModuleDecl<any, any, any> | undefined;
}

/**
 * insmod/modprobe/rmmod for one kernel: dependency order, typed parameters parsed as the kernel
 * parses them, refcounts (EBUSY while in use) and /sys/module/<name>.
 */
export class ModuleLoader {
  private loaded = new Map<string, LoadedModule<any>>();

  /** What loading a module's image costs before its init runs (the kernel sets a sleep). */
  loadDelay?: () => Promise<void>;

  constructor(
    private readonly catalog: ModuleCatalog,
    private readonly printk: Printk,
    private readonly sysfs: PseudoFs,
    /** modprobe.d `options`: per module, parameters put before the command line's. */
    private readonly options: Readonly<Record<string, string[]>> = {},
  ) {}

  get names(): string[] {
    return [...this.loaded.keys()];
  }

  get(name: string): LoadedModule<any> | undefined {
    return this.loaded.get(canonical(name));
  }

  isLoaded(name: string): boolean {
    return this.loaded.has(canonical(name));
  }

  /** modprobe NAME args…: loads dependencies first; loading a loaded module is a no-op. */
  async modprobe<K>(kernel: K, name: string, args: string[] = []): Promise<LoadedModule<any>> {
    const decl = this.catalog.findModule(canonical(name));
    if (!decl) throw new KernelError(Errno.ENOENT, `Module ${name} not found`);
    const existing = this.loaded.get(decl.name);
    if (existing) return existing;
    for (const dep of decl.depends ?? []) await this.modprobe(kernel, dep);
    // Loaded meanwhile (a driver's request_module while the dependencies loaded): kmod takes
    // finit_module's EEXIST as success.
    const raced = this.loaded.get(decl.name);
    if (raced) return raced;
    return this.insmod(kernel, decl, [...(this.options[decl.name] ?? []), ...args]);
  }

  /** insmod: load one module whose dependencies are already loaded. */
  async insmod<K>(kernel: K, decl: ModuleDecl<K, any, any>, args: string[] = []): Promise<LoadedModule<any>> {
    if (this.loaded.has(decl.name)) throw new KernelError(Errno.EEXIST, `${decl.name} already loaded`);
    const deps = (decl.depends ?? []).map((d) => {
      const m = this.loaded.get(canonical(d));
      if (!m) throw new KernelError(Errno.ENOENT, `${decl.name}: Unknown symbol (needs ${d})`);
      return m;
    });
    const params = this.parseArgs(decl, args);
    const mod = new LoadedModule(decl, params);
    for (const d of deps) {
      d.holders.add(mod);
      mod.uses.add(d);
    }
    this.loaded.set(decl.name, mod);
    try {
      await this.loadDelay?.();
      mod.state = await decl.init(kernel, params as any, mod);
    } catch (e) {
      this.unlink(mod);
      throw e;
    }
    mod.initstate = 'live';
    this.createSysfs(mod);
    return mod;
  }

  /** rmmod NAME: EBUSY while another module depends on it or something holds a reference. */
  async rmmod<K>(kernel: K, name: string): Promise<void> {
    const mod = this.loaded.get(canonical(name));
    if (!mod) throw new KernelError(Errno.ENOENT, `Module ${name} is not currently loaded`);
    if (mod.inUse) throw new KernelError(Errno.EBUSY, `Module ${mod.name} is in use`);
    mod.initstate = 'going';
    await mod.decl.exit?.(kernel, mod.state, mod);
    this.sysfs.remove(`/sys/module/${mod.name}`);
    this.unlink(mod);
  }

  /** modprobe -r NAME: remove it, then each dependency nothing else uses any more. */
  async modprobeRemove<K>(kernel: K, name: string): Promise<void> {
    const mod = this.loaded.get(canonical(name));
    if (!mod) throw new KernelError(Errno.ENOENT, `Module ${name} is not currently loaded`);
    const deps = [...mod.uses];
    await this.rmmod(kernel, mod.name);
    for (const dep of deps) {
      if (this.loaded.get(dep.name) === dep && !dep.inUse) await this.modprobeRemove(kernel, dep.name);
    }
  }

  /** try_module_get / module_put. */
  tryModuleGet(name: string): LoadedModule<any> {
    const mod = this.loaded.get(canonical(name));
    if (!mod || mod.initstate === 'going') throw new KernelError(Errno.ENODEV, `${name} not live`);
    mod.refcnt++;
    return mod;
  }

  modulePut(mod: LoadedModule<any>): void {
    if (mod.refcnt <= 0) throw new Error(`module_put: ${mod.name} refcount underflow`);
    mod.refcnt--;
  }

  private parseArgs(decl: ModuleDecl<any, any, any>, args: string[]): Record<string, unknown> {
    const specs = decl.params ?? {};
    const values: Record<string, unknown> = {};
    for (const [k, spec] of Object.entries(specs)) values[k] = (spec as { default: unknown }).default;
    for (const [key, value] of splitArgs(args)) {
      const spec = specs[key] as { type: import('./params').ParamType } | undefined;
      if (!spec) {
        this.printk.warn(`${decl.name}: unknown parameter '${key}' ignored`);
        continue;
      }
      try {
        values[key] = parseParam(spec.type, value);
      } catch (e) {
        this.printk.err(`${decl.name}: \`${value ?? ''}' invalid for parameter \`${key}'`);
        throw e;
      }
    }
    return values;
  }

  private createSysfs(mod: LoadedModule<any>): void {
    const base = `/sys/module/${mod.name}`;
    this.sysfs.mkdir(base);
    this.sysfs.createFile(`${base}/initstate`, 0o444, { show: () => `${mod.initstate}\n`, noWriteErrno: Errno.EACCES });
    this.sysfs.createFile(`${base}/refcnt`, 0o444, { show: () => `${mod.refcnt}\n`, noWriteErrno: Errno.EACCES });
    this.sysfs.mkdir(`${base}/holders`);
    for (const dep of mod.uses) this.sysfs.symlink(`/sys/module/${dep.name}/holders/${mod.name}`, `../../${mod.name}`);
    const specs = (mod.decl.params ?? {}) as Record<string, { type: import('./params').ParamType; perm: number }>;
    const visible = Object.entries(specs).filter(([, s]) => s.perm !== 0);
    if (visible.length === 0) return;
    this.sysfs.mkdir(`${base}/parameters`);
    for (const [key, spec] of visible) {
      const writable = (spec.perm & 0o222) !== 0;
      this.sysfs.createFile(`${base}/parameters/${key}`, spec.perm, {
        show: () => formatParam(spec.type, mod.params[key]),
        write: writable
          ? (data) => {
              mod.params[key] = parseParam(spec.type, new TextDecoder().decode(data).replace(/\n$/, ''));
            }
          : undefined,
        size: () => 4096,
        noWriteErrno: Errno.EACCES,
      });
    }
  }

  private unlink(mod: LoadedModule<any>): void {
    for (const d of mod.uses) {
      d.holders.delete(mod);
      this.sysfs.remove(`/sys/module/${d.name}/holders/${mod.name}`);
    }
    this.loaded.delete(mod.name);
  }
}

/** Module names treat '-' and '_' alike. */
function canonical(name: string): string {
  return name.replace(/-/g, '_');
}
