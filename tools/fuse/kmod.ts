import { Errno, isKernelError, strerror } from '../../core/errno';
import type { Host } from '../../core/host';
import type { World } from '../../core/world';
import type { WorldDriver } from './driver';

/**
 * kmod's `modprobe` and `rmmod` against a mounted world's host: the same exit codes (0, or 1 on
 * any failure) and the same messages on stderr as kmod (tools/modprobe.c, tools/rmmod.c, log.c:
 * `<prog>: FATAL: …` ends the command at once, `<prog>: ERROR: …` is counted).
 */

/** `uname -r` of a simulated host (its boot banner says "Linux version 6.12.0-ntbsim"). */
export const KERNEL_RELEASE = '6.12.0-ntbsim';

/** A modprobe command line, already split by the client as kmod's getopt_long would. */
export interface ModprobeRequest {
  remove: boolean;
  quiet: boolean;
  firstTime: boolean;
  /** -a: every argument is a module name. */
  all: boolean;
  args: string[];
}

export interface KmodResult {
  status: number;
  stderr: string;
}

/** Module names treat '-' and '_' alike; kmod prints the normalized name. */
function normalize(name: string): string {
  return name.replace(/-/g, '_');
}

class Fatal extends Error {}

class Log {
  text = '';
  constructor(
    private readonly prog: string,
    private readonly quiet: boolean,
  ) {}
  /** LOG(): LOG_CRIT, printed as FATAL; kmod exits there with status 1. */
  fatal(msg: string): never {
    this.say('FATAL', msg);
    throw new Fatal(msg);
  }
  error(msg: string): void {
    this.say('ERROR', msg);
  }
  private say(prio: string, msg: string): void {
    if (!this.quiet) this.text += `${this.prog}: ${prio}: ${msg}\n`;
  }
}

export async function modprobe(world: World, driver: WorldDriver, host: Host, req: ModprobeRequest): Promise<KmodResult> {
  const log = new Log('modprobe', req.quiet);
  try {
    if (req.args.length === 0) {
      log.error('missing parameters. See -h.');
      return { status: 1, stderr: log.text };
    }
    let ok: boolean;
    if (req.remove) {
      ok = true;
      for (const alias of req.args) if (!(await remove(world, driver, host, alias, req, log))) ok = false;
    } else if (req.all) {
      ok = true;
      for (const alias of req.args) if (!(await insert(world, driver, host, alias, [], req, log))) ok = false;
    } else {
      ok = await insert(world, driver, host, req.args[0], req.args.slice(1), req, log);
    }
    return { status: ok ? 0 : 1, stderr: log.text };
  } catch (e) {
    if (e instanceof Fatal) return { status: 1, stderr: log.text };
    throw e;
  }
}

async function insert(world: World, driver: WorldDriver, host: Host, alias: string, params: string[], req: ModprobeRequest, log: Log): Promise<boolean> {
  const decl = world.plugins.findModule(normalize(alias));
  if (!decl) log.fatal(`Module ${alias} not found in directory /lib/modules/${KERNEL_RELEASE}`);
  const name = decl!.name;
  if (host.kernel.modules.isLoaded(name)) {
    if (!req.firstTime) return true;
    log.error(`could not insert '${name}': Module already in kernel`);
    return false;
  }
  try {
    await driver.submit(host, `modprobe ${[alias, ...params].join(' ')}`, (k) => k.modprobe(name, params));
    return true;
  } catch (e) {
    const errno = isKernelError(e) ? e.errno : Errno.EIO;
    if (errno === Errno.EEXIST) log.error(`could not insert '${name}': Module already in kernel`);
    else if (errno === Errno.ENOENT) log.error(`could not insert '${name}': Unknown symbol in module, or unknown parameter (see dmesg)`);
    else log.error(`could not insert '${name}': ${strerror(errno)}`);
    return false;
  }
}

async function remove(world: World, driver: WorldDriver, host: Host, alias: string, req: ModprobeRequest, log: Log): Promise<boolean> {
  const decl = world.plugins.findModule(normalize(alias));
  if (!decl) log.fatal(`Module ${alias} not found.`);
  const name = decl!.name;
  const mod = host.kernel.modules.get(name);
  if (!mod) {
    // Not loaded: nothing to do, unless --first-time asked for it to be there.
    if (req.firstTime) log.fatal(`Module ${name} is not in kernel.`);
    return true;
  }
  // The refcount the kernel reports includes the modules that use this one.
  if (mod.inUse) log.fatal(`Module ${name} is in use.`);
  try {
    await driver.submit(host, `modprobe -r ${name}`, (k) => k.modules.modprobeRemove(k, name));
    return true;
  } catch (e) {
    log.error(`could not remove '${name}': ${strerror(isKernelError(e) ? e.errno : Errno.EIO)}`);
    return false;
  }
}

/** `rmmod NAME…`: one module at a time, no dependencies; failures are counted, status 1 if any. */
export async function rmmod(driver: WorldDriver, host: Host, names: string[]): Promise<KmodResult> {
  const log = new Log('rmmod', false);
  if (names.length === 0) {
    log.error('missing module name.');
    return { status: 1, stderr: log.text };
  }
  let failed = 0;
  for (const arg of names) {
    const name = normalize(arg);
    const mod = host.kernel.modules.get(name);
    if (!mod) {
      log.error(`Module ${name} is not currently loaded`);
      failed++;
      continue;
    }
    if (mod.holders.size > 0) {
      // "Module X is in use by:" then " holder" for each, then a newline.
      log.error(`Module ${name} is in use by:${[...mod.holders].map((h) => ' ' + h.name).join('')}`);
      failed++;
      continue;
    }
    if (mod.refcnt !== 0) {
      log.error(`Module ${name} is in use`);
      failed++;
      continue;
    }
    try {
      await driver.submit(host, `rmmod ${name}`, (k) => k.rmmod(name));
    } catch (e) {
      log.error(`could not remove module ${arg}: ${strerror(isKernelError(e) ? e.errno : Errno.EIO)}`);
      failed++;
    }
  }
  return { status: failed ? 1 : 0, stderr: log.text };
}

/**
 * Split a modprobe command line as kmod's getopt_long does (options may follow the module name;
 * `--` ends them). Returns the request, or the message and status for a bad option or -h.
 */
export function parseModprobeArgs(argv: string[]): ModprobeRequest | KmodResult {
  const req: ModprobeRequest = { remove: false, quiet: false, firstTime: false, all: false, args: [] };
  const withArg = new Set(['C', 'd', 'S', 'w']);
  const longWithArg = new Set(['--config', '--dirname', '--set-version', '--wait']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      req.args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const [opt] = a.split('=', 1);
      switch (opt) {
        case '--remove':
          req.remove = true;
          break;
        case '--quiet':
          req.quiet = true;
          break;
        case '--first-time':
          req.firstTime = true;
          break;
        case '--all':
          req.all = true;
          break;
        case '--verbose':
        case '--use-blacklist':
        case '--force':
        case '--ignore-install':
        case '--ignore-remove':
        case '--syslog':
          break;
        case '--help':
          return { status: 0, stderr: '' };
        default:
          if (longWithArg.has(opt)) {
            if (!a.includes('=')) i++;
            break;
          }
          return { status: 1, stderr: `modprobe: unrecognized option '${a}'\n` };
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        if (withArg.has(c)) {
          if (j === a.length - 1) i++;
          break;
        }
        switch (c) {
          case 'r':
            req.remove = true;
            break;
          case 'q':
            req.quiet = true;
            break;
          case 'a':
            req.all = true;
            break;
          case 'v':
          case 'b':
          case 'f':
          case 'i':
          case 's':
          case 'n':
            break;
          case 'h':
            return { status: 0, stderr: '' };
          default:
            return { status: 1, stderr: `modprobe: invalid option -- '${c}'\n` };
        }
      }
      continue;
    }
    req.args.push(a);
  }
  return req;
}

/** rmmod's options (-f, -s, -v, -w are accepted and ignored; -f's check skip is not modelled). */
export function parseRmmodArgs(argv: string[]): string[] | KmodResult {
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      names.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      if (['--force', '--syslog', '--verbose', '--wait'].includes(a)) continue;
      if (a === '--help') return { status: 0, stderr: '' };
      return { status: 1, stderr: `rmmod: unrecognized option '${a}'\n` };
    }
    if (a.startsWith('-') && a.length > 1) {
      for (const c of a.slice(1)) {
        if ('fsvw'.includes(c)) continue;
        if (c === 'h') return { status: 0, stderr: '' };
        return { status: 1, stderr: `rmmod: invalid option -- '${c}'\n` };
      }
      continue;
    }
    names.push(a);
  }
  return names;
}
