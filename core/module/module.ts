import { ParamSpec, ParamValues } from './params';

/**
 * A loadable kernel module, the unit every driver and client of ntbsim (and of an outside plugin)
 * is packaged as. `K` is the kernel API handed to init/exit (core's Kernel).
 */
export interface ModuleDecl<K = unknown, P extends Record<string, ParamSpec> = Record<string, ParamSpec>, S = unknown> {
  name: string;
  description?: string;
  version?: string;
  license?: string;
  /** Modules whose symbols this one uses: loaded first, and pinned while this one is loaded. */
  depends?: string[];
  params?: P;
  /** module_init: may sleep; a thrown KernelError fails the load with its errno. Returns the module's state. */
  init(kernel: K, params: ParamValues<P>, mod: LoadedModule<S>): Promise<S> | S;
  /** module_exit. */
  exit?(kernel: K, state: S, mod: LoadedModule<S>): Promise<void> | void;
}

/** A module in the running kernel (struct module). */
export class LoadedModule<S = unknown> {
  /** try_module_get references (open files, bound users). */
  refcnt = 0;
  /** Modules that depend on this one. */
  readonly holders = new Set<LoadedModule>();
  readonly uses = new Set<LoadedModule>();
  state!: S;
  initstate: 'coming' | 'live' | 'going' = 'coming';

  constructor(
    readonly decl: ModuleDecl<any, any, S>,
    readonly params: Record<string, unknown>,
  ) {}

  get name(): string {
    return this.decl.name;
  }

  get inUse(): boolean {
    return this.refcnt > 0 || this.holders.size > 0;
  }
}
