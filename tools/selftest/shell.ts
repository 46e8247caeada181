/**
 * The few shell and coreutils behaviours ntb_test.sh depends on, acting on simulated hosts:
 * `cat`, `echo … >`, `[[ -e ]]`, `ls -1 dir/name* | wc -l`, `dd if=/dev/urandom`, `cmp -n`,
 * `modprobe` / `modprobe -r` (kmod), `ssh HOST …` to the remote host, bash arithmetic and the
 * `get_number` sed filter. Each command reports its exit status and prints what the real command
 * prints on stdout/stderr (see /work/shared/spec/ntb-test-sh.md §2 and §7).
 *
 * Every kernel access runs as one top-level task of the host (Host.run), so a blocking debugfs
 * write drives virtual time until it completes. A call that can never complete (the scheduler
 * finds nothing left that could wake it, or it is still blocked after the task time limit) ends
 * the script with a BlockedForever error instead of hanging.
 */
import { Errno, isKernelError, KernelError, strerror } from '../../core/errno';
import type { Host } from '../../core/host';
import type { Kernel } from '../../core/kernel';
import { Prng } from '../../core/time/prng';
import { DEFAULT_TASK_LIMIT } from '../../core/time/scheduler';
import { NSEC_PER_SEC } from '../../core/time/units';
import type { World } from '../../core/world';

export type Stream = 'stdout' | 'stderr';

/** One line the script printed, tagged with its stream. */
export interface OutputLine {
  stream: Stream;
  text: string;
}

/** `exit N`, or a command failing under `set -e`: the script ends with this status. */
export class ScriptExit extends Error {
  override readonly name = 'ScriptExit';
  constructor(
    readonly status: number,
    why = `exit ${status}`,
  ) {
    super(why);
  }
}

/**
 * A command that would never return on real Linux: the simulation has nothing left that could
 * complete it. The runner reports it on stderr and ends with status 1.
 */
export class BlockedForever extends ScriptExit {
  constructor(
    readonly command: string,
    readonly host: string,
    readonly reason: KernelError,
  ) {
    const why = reason.errno === Errno.ETIMEDOUT ? `still blocked after ${DEFAULT_TASK_LIMIT / NSEC_PER_SEC} s of virtual time` : 'nothing left in the simulation can complete it';
    super(1, `ntbsim: ntb_test.sh would block forever at: ${command} (on ${host}; ${why})`);
  }
}

/** The script's stdout and stderr, unbuffered as bash writes them, cut into tagged lines. */
export class Console {
  readonly lines: OutputLine[] = [];
  private partial: Record<Stream, string> = { stdout: '', stderr: '' };

  constructor(private readonly onLine?: (line: OutputLine) => void) {}

  write(stream: Stream, text: string): void {
    const parts = (this.partial[stream] + text).split('\n');
    this.partial[stream] = parts.pop()!;
    for (const t of parts) this.emit({ stream, text: t });
  }

  /** `echo TEXT` (>&2 for stderr). */
  echo(text: string, stream: Stream = 'stdout'): void {
    this.write(stream, text + '\n');
  }

  /** End of the script: an unterminated last line is still a line. */
  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') {
        const text = this.partial[stream];
        this.partial[stream] = '';
        this.emit({ stream, text });
      }
    }
  }

  /** Lines printed since `mark` (an earlier `lines.length`). */
  since(mark: number): OutputLine[] {
    return this.lines.slice(mark);
  }

  private emit(line: OutputLine): void {
    this.lines.push(line);
    this.onLine?.(line);
  }
}

// ---- bash arithmetic ---------------------------------------------------------------------------

/** An operand bash arithmetic cannot evaluate (bash prints an "arithmetic syntax error"). */
export class ArithError extends Error {
  override readonly name = 'ArithError';
}

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@_';

/**
 * The value of one operand in bash arithmetic (`[[ a -ne b ]]`, `$((a))`, `let`): a decimal,
 * `0x` hex, `0` octal or `BASE#digits` constant with an optional sign, as a 64-bit signed integer;
 * empty text and a variable name (unset in these contexts) are 0.
 */
export function bashArith(text: string): bigint {
  let t = text.trim();
  if (t === '') return 0n;
  let neg = false;
  while (t[0] === '+' || t[0] === '-') {
    if (t[0] === '-') neg = !neg;
    t = t.slice(1).trimStart();
  }
  let value: bigint;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) value = BigInt(t);
  else if (/^0[0-7]*$/.test(t)) value = t.length > 1 ? BigInt('0o' + t.slice(1)) : 0n;
  else if (/^[1-9][0-9]*$/.test(t)) value = BigInt(t);
  else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) value = 0n;
  else {
    const m = /^([0-9]+)#([0-9A-Za-z@_]+)$/.exec(t);
    const base = m ? Number(m[1]) : 0;
    if (!m || base < 2 || base > 64) throw new ArithError(`${text}: arithmetic syntax error: invalid arithmetic operator`);
    value = 0n;
    for (const ch of m[2]) {
      let d = DIGITS.indexOf(ch);
      if (base <= 36 && d >= 36 && d < 62) d -= 26;
      if (d < 0 || d >= base) throw new ArithError(`${text}: value too great for base (error token is "${m[2]}")`);
      value = value * BigInt(base) + BigInt(d);
    }
  }
  return BigInt.asIntN(64, neg ? -value : value);
}

/**
 * The script's `get_number KEY`: `sed -n "s/^\(KEY\)[ \t]*\(0x[0-9a-fA-F]*\)\(\[p\]\)\?$/\2/p"`
 * over `text` (one output line per matching input line).
 */
export function getNumber(text: string, key: string): string {
  const re = new RegExp(`^(${escapeRegExp(key)})[ \\t]*(0x[0-9a-fA-F]*)(\\[p\\])?$`);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) out.push(m[2]);
  }
  return out.join('\n');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `basename P` (trailing slashes ignored). */
export function basename(p: string): string {
  const t = p.replace(/\/+$/, '');
  return t.slice(t.lastIndexOf('/') + 1) || (p.startsWith('/') ? '/' : '');
}

/** `dirname P`. */
export function dirname(p: string): string {
  const t = p.replace(/\/+$/, '');
  const i = t.lastIndexOf('/');
  if (i < 0) return '.';
  return t.slice(0, i).replace(/\/+$/, '') || '/';
}

/** The script's `split_remote`: `host:/path` → remote "host"; anything else is local. */
export function splitRemote(p: string): { remote: string; vpath: string } {
  if (!p.includes(':/')) return { remote: '', vpath: p };
  const colon = p.indexOf(':');
  return { remote: p.slice(0, colon), vpath: p.slice(colon + 1) };
}

// ---- the shell ---------------------------------------------------------------------------------

/** The result of a system call made on a host: its value, or the errno it failed with. */
type SysResult<T> = { ok: true; value: T } | { ok: false; errno: Errno };

const latin1 = new TextDecoder('latin1');

/** Bytes a dd block holds (dd's default bs). */
const DD_BLOCK = 512;
/** dd stops (and the script is declared stuck) if a file accepts more than this many bytes. */
const DD_LIMIT = 1 << 30;

export interface ShellOptions {
  /** The script's $0, as bash prints it in its error messages. */
  scriptName: string;
  /** The script's $$, as it appears in the /tmp copies of remote windows. */
  pid: number;
  /** Seed of $RANDOM and /dev/urandom. */
  seed: number;
}

/**
 * The shell that runs ntb_test.sh on `local`, with `ssh NAME …` reaching the other hosts of the
 * world. Commands print what the real ones print and return their exit status.
 */
export class Shell {
  /** Files the script created locally: the /tmp copies of remote windows. */
  readonly tmp = new Map<string, Uint8Array>();
  private readonly random: Prng;
  private readonly urandom: Prng;

  constructor(
    readonly world: World,
    readonly local: Host,
    readonly out: Console,
    readonly opts: ShellOptions,
  ) {
    // Two generators, so the number of $RANDOM draws does not shift the window contents.
    this.random = new Prng(mixSeed(opts.seed, 0x52414e44));
    this.urandom = new Prng(mixSeed(opts.seed, 0x5552414e));
  }

  /** `$RANDOM`: 0..32767. */
  RANDOM(): number {
    return this.random.int(0, 32767);
  }

  /** `sleep SECONDS`: the whole world runs on. */
  async sleep(seconds: number): Promise<void> {
    await this.world.runFor(seconds * NSEC_PER_SEC);
  }

  /**
   * A command starting: the virtual time it takes before it touches the kernel (the script's
   * host's exec cost, plus an ssh session and the remote exec for another host), from the hosts'
   * timing profiles (HostTiming.execNs / sshNs). The world runs on meanwhile, as it does while a
   * real script forks and connects. Bash builtins (`[[ -e ]]`, arithmetic) are not commands.
   */
  private async startCommand(host: Host): Promise<void> {
    const t = this.local.config.timing;
    const ns = t.execNs + (host === this.local ? 0 : t.sshNs + host.config.timing.execNs);
    if (ns > 0) await this.world.runFor(ns);
  }

  /**
   * The host a `split_remote`d path lives on; for an unknown host ssh fails (status 255) and
   * prints why, unless its stderr goes to /dev/null (`quiet`).
   */
  private hostOf(remote: string, quiet = false): Host | undefined {
    if (remote === '') return this.local;
    const h = this.world.hosts.find((x) => x.name === remote);
    if (!h && !quiet) this.out.echo(`ssh: Could not resolve hostname ${remote}: Name or service not known`, 'stderr');
    return h;
  }

  /** A system call on `host`: kernel errors become an errno; a call that cannot finish ends the script. */
  async sys<T>(host: Host, command: string, fn: (k: Kernel) => Promise<T> | T): Promise<SysResult<T>> {
    try {
      return await host.run(`ntb_test.sh: ${command}`, async (k): Promise<SysResult<T>> => {
        try {
          return { ok: true, value: await fn(k) };
        } catch (e) {
          if (isKernelError(e)) return { ok: false, errno: e.errno };
          throw e;
        }
      });
    } catch (e) {
      // The task itself caught every kernel error, so a KernelError here is the scheduler's:
      // a deadlock (no event left that could wake it) or the task time limit.
      if (isKernelError(e)) throw new BlockedForever(command, host.name, e);
      throw e;
    }
  }

  /**
   * `cat P` (`ssh REMOTE cat VPATH` for a remote path): the file's bytes until EOF. Errors as
   * cat prints them, status 1; an unknown remote host is ssh's 255.
   */
  async cat(p: string): Promise<{ status: number; data: Uint8Array }> {
    const { remote, vpath } = splitRemote(p);
    const host = this.hostOf(remote);
    if (!host) return { status: 255, data: new Uint8Array(0) };
    await this.startCommand(host);
    const r = await this.sys(host, `cat ${vpath}`, (k) => k.fs.readFile(vpath));
    if (!r.ok) {
      this.out.echo(`cat: ${vpath}: ${strerror(r.errno)}`, 'stderr');
      return { status: 1, data: new Uint8Array(0) };
    }
    return { status: 0, data: r.value };
  }

  /** `$(read_file P)`: the text with trailing newlines removed, and cat's status. */
  async readFile(p: string): Promise<{ status: number; text: string }> {
    const r = await this.cat(p);
    return { status: r.status, text: latin1.decode(r.data).replace(/\n+$/, '') };
  }

  /**
   * `write_file VALUE P`: `echo "VALUE" > VPATH` locally, or `ssh REMOTE 'echo "VALUE" > "VPATH"'`.
   * The open fails for a missing file (debugfs cannot create files); a failing write prints
   * bash's `echo: write error`. `quiet` is the script's `2> /dev/null`.
   */
  async writeFile(value: string, p: string, quiet = false): Promise<number> {
    const { remote, vpath } = splitRemote(p);
    const host = this.hostOf(remote);
    if (!host) return 255;
    const where = remote === '' ? `${this.opts.scriptName}: line 117` : 'bash: line 1';
    const fail = (text: string): number => {
      if (!quiet) this.out.echo(`${where}: ${text}`, 'stderr');
      return 1;
    };
    const command = `echo "${value}" > ${vpath}`;
    await this.startCommand(host);
    const open = this.openForWrite(host, vpath);
    if (open !== undefined) return fail(`${vpath}: ${strerror(open)}`);
    const r = await this.sys(host, command, (k) => k.fs.writeFile(vpath, value + '\n', 0));
    return r.ok ? 0 : fail(`echo: write error: ${strerror(r.errno)}`);
  }

  /** open(O_WRONLY|O_CREAT|O_TRUNC): undefined if it succeeds, else its errno. */
  private openForWrite(host: Host, vpath: string): Errno | undefined {
    const fs = host.kernel.fs;
    try {
      const st = fs.stat(vpath);
      return st.type === 'dir' ? Errno.EISDIR : undefined;
    } catch (e) {
      if (!isKernelError(e)) throw e;
      if (e.errno !== Errno.ENOENT) return e.errno;
    }
    // Missing: O_CREAT in an existing debugfs/sysfs directory is refused (no ->create).
    try {
      return fs.stat(dirname(vpath)).type === 'dir' ? Errno.EACCES : Errno.ENOTDIR;
    } catch (e) {
      if (!isKernelError(e)) throw e;
      return e.errno;
    }
  }

  /** `check_file P`: `[[ -e VPATH ]]` (through ssh for a remote path). */
  checkFile(p: string): boolean {
    const { remote, vpath } = splitRemote(p);
    const host = this.hostOf(remote);
    return host !== undefined && host.exists(vpath);
  }

  /** `get_files_count NAME DIR`: `ls -1 DIR/NAME* | wc -l` (0 when nothing matches). */
  getFilesCount(name: string, p: string): number {
    const { remote, vpath } = splitRemote(p);
    const host = this.hostOf(remote, true);
    if (!host || !host.exists(vpath)) return 0;
    let entries: string[];
    try {
      entries = host.ls(vpath);
    } catch (e) {
      if (isKernelError(e)) return 0;
      throw e;
    }
    const matches = entries.filter((e) => e.startsWith(name) && !e.startsWith('.'));
    const dirs = matches.filter((m) => host.kernel.fs.stat(`${vpath}/${m}`).type === 'dir');
    const files = matches.length - dirs.length;
    if (matches.length === 1 && dirs.length === 1) return host.ls(`${vpath}/${dirs[0]}`).length;
    // ls -1 with several operands: the files, then per directory "DIR:" and its entries, the
    // sections separated by blank lines.
    const sections = (files > 0 ? 1 : 0) + dirs.length;
    let lines = files + Math.max(0, sections - 1);
    for (const d of dirs) lines += 1 + host.ls(`${vpath}/${d}`).length;
    return lines;
  }

  /**
   * `write_mw P`: `dd if=/dev/urandom of=VPATH 2>/dev/null || true` — 512-byte blocks of random
   * bytes at increasing offsets until a write returns 0 (ENOSPC) or fails.
   */
  async ddUrandom(p: string): Promise<void> {
    const { remote, vpath } = splitRemote(p);
    const host = this.hostOf(remote, true);
    if (!host) return;
    await this.startCommand(host);
    if (this.openForWrite(host, vpath) !== undefined) return;
    let offset = 0;
    for (;;) {
      const block = this.urandom.bytes(DD_BLOCK);
      const r = await this.sys(host, `dd if=/dev/urandom of=${vpath}`, (k) => k.fs.writeFile(vpath, block, offset));
      if (!r.ok || r.value <= 0) return;
      offset += r.value;
      if (offset > DD_LIMIT) {
        throw new BlockedForever(`dd if=/dev/urandom of=${vpath}`, host.name, new KernelError(Errno.ETIMEDOUT, `${vpath} accepted more than ${DD_LIMIT} bytes`));
      }
    }
  }

  /**
   * `ssh REMOTE cat VPATH > LOCALFILE`: the redirection creates the local file first, then the
   * remote cat fills it.
   */
  async copyToTmp(p: string, file: string): Promise<number> {
    this.tmp.set(file, new Uint8Array(0));
    const r = await this.cat(p);
    this.tmp.set(file, r.data);
    return r.status;
  }

  /** A local file as cmp reads it: a /tmp copy, or a file of the local host read until EOF. */
  private async readLocal(file: string): Promise<Uint8Array | Errno> {
    const copy = this.tmp.get(file);
    if (copy) return copy;
    const r = await this.sys(this.local, `cmp ${file}`, (k) => k.fs.readFile(file));
    return r.ok ? r.value : r.errno;
  }

  /**
   * GNU `cmp -n LIMIT A B` on local files: 0 if the first LIMIT bytes are equal; else 1 with
   * `A B differ: byte N, line M` on stdout, or `cmp: EOF on F …` on stderr when one file ends
   * first; 2 on trouble.
   */
  async cmp(limit: string, a: string, b: string): Promise<number> {
    await this.startCommand(this.local);
    const n = parseCmpBytes(limit);
    if (n === undefined) {
      this.out.echo(`cmp: invalid --bytes value '${limit}'`, 'stderr');
      return 2;
    }
    const da = await this.readLocal(a);
    if (typeof da === 'number') {
      this.out.echo(`cmp: ${a}: ${strerror(da)}`, 'stderr');
      return 2;
    }
    const db = await this.readLocal(b);
    if (typeof db === 'number') {
      this.out.echo(`cmp: ${b}: ${strerror(db)}`, 'stderr');
      return 2;
    }
    const la = Math.min(da.length, n);
    const lb = Math.min(db.length, n);
    const common = Math.min(la, lb);
    let line = 1;
    for (let i = 0; i < common; i++) {
      if (da[i] !== db[i]) {
        this.out.echo(`${a} ${b} differ: byte ${i + 1}, line ${line}`);
        return 1;
      }
      if (da[i] === 0x0a) line++;
    }
    if (la === lb) return 0;
    const shorter = la < lb ? a : b;
    if (common === 0) this.out.echo(`cmp: EOF on ${shorter} which is empty`, 'stderr');
    else {
      const lastLine = da[common - 1] === 0x0a ? line - 1 : line;
      this.out.echo(`cmp: EOF on ${shorter} after byte ${common}, line ${lastLine}`, 'stderr');
    }
    return 1;
  }

  /** kmod's `modprobe ARGS…` / `modprobe -r NAME` on `host`. */
  async modprobe(host: Host, args: string[], quiet = false): Promise<number> {
    const say = (text: string) => {
      if (!quiet) this.out.echo(text, 'stderr');
    };
    await this.startCommand(host);
    if (args[0] === '-r') {
      const name = args[1];
      const r = await this.sys(host, `modprobe -r ${name}`, (k) => k.modules.modprobeRemove(k, name));
      if (r.ok) return 0;
      if (r.errno === Errno.ENOENT) say(`modprobe: FATAL: Module ${name} is not in kernel.`);
      else if (r.errno === Errno.EBUSY) say(`modprobe: FATAL: Module ${name} is in use.`);
      else say(`modprobe: ERROR: could not remove '${name}': ${strerror(r.errno)}`);
      return 1;
    }
    const [name, ...params] = args;
    if (!this.world.plugins.findModule(name.replace(/-/g, '_'))) {
      say(`modprobe: FATAL: Module ${name} not found in directory /lib/modules/6.12.0-ntbsim`);
      return 1;
    }
    const r = await this.sys(host, `modprobe ${args.join(' ')}`, (k) => k.modprobe(name, params));
    if (r.ok) return 0;
    say(`modprobe: ERROR: could not insert '${name}': ${strerror(r.errno)}`);
    return 1;
  }
}

/** GNU cmp's -n operand (xstrtoumax, base 0, with the usual suffixes left out). */
function parseCmpBytes(s: string): number | undefined {
  const t = s.trim();
  if (!/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(t)) return undefined;
  const v = t.length > 1 && t[0] === '0' && !/[xX]/.test(t) ? parseInt(t.slice(1), 8) : Number(t);
  return Number.isFinite(v) ? v : undefined;
}

function mixSeed(seed: number, salt: number): number {
  let h = (seed ^ salt) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

