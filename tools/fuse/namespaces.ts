import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { onPath } from './binding';

/**
 * One private mount namespace per simulated host, in which that host's view (DIR/<host>) is
 * mounted over /sys. Each namespace is held by an anchor process (`unshare --mount`, then
 * `mount --bind`, then `sleep`), started with a parent-death signal so that it never outlives
 * ntbsim; commands enter it with `nsenter --mount=/proc/<anchor>/ns/mnt`.
 */
export class HostNamespaces {
  private anchors = new Map<string, ChildProcess>();

  private constructor(readonly mountDir: string) {}

  /** Make the namespaces of `hosts` (views at mountDir/<host>). */
  static async create(mountDir: string, hosts: string[]): Promise<HostNamespaces> {
    for (const cmd of ['unshare', 'nsenter', 'setpriv']) {
      if (!onPath(cmd)) throw new Error(`${cmd} is not installed (Debian/Ubuntu: apt-get install util-linux)`);
    }
    const ns = new HostNamespaces(mountDir);
    try {
      for (const h of hosts) await ns.start(h);
    } catch (e) {
      await ns.close();
      throw e;
    }
    return ns;
  }

  private start(host: string): Promise<void> {
    const view = path.join(this.mountDir, host);
    const child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', 'unshare', '--mount', '--propagation', 'private', '--', 'bash', '-c', 'mount --bind "$1" /sys || exit 1; echo ready; exec sleep infinity', `ntbsim-ns:${host}`, view],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.anchors.set(host, child);
    return new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.stdout!.setEncoding('utf8').once('data', (d: string) => (d.startsWith('ready') ? resolve() : reject(new Error(`namespace of ${host}: ${d.trim()}`))));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`cannot make the mount namespace of ${host} (exit ${code}): ${err.trim().split('\n')[0] ?? ''}`)));
    });
  }

  /** The pid whose mount namespace is `host`'s. */
  pid(host: string): number {
    const a = this.anchors.get(host);
    if (!a?.pid) throw new Error(`no namespace for host ${host}`);
    return a.pid;
  }

  get pids(): Record<string, number> {
    return Object.fromEntries([...this.anchors.keys()].map((h) => [h, this.pid(h)]));
  }

  /** spawn() arguments running argv on `host` (in its namespace, working directory `cwd`). */
  command(host: string, argv: string[], cwd = process.cwd()): [string, string[]] {
    return ['nsenter', [`--mount=/proc/${this.pid(host)}/ns/mnt`, `--wd=${cwd}`, '--', ...argv]];
  }

  /** End the anchors; a namespace goes away with its last process. */
  async close(): Promise<void> {
    const waits: Array<Promise<void>> = [];
    for (const a of this.anchors.values()) {
      if (a.exitCode !== null || a.signalCode !== null) continue;
      waits.push(new Promise<void>((r) => a.once('exit', () => r())));
      a.kill('SIGKILL');
    }
    this.anchors.clear();
    await Promise.all(waits);
  }
}
