import { unlinkSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/**
 * The control channel of a running `ntbsim mount`: a unix socket `DIR/.ntbsim.sock` (mode 0600).
 * One request per connection, one JSON line each way. `ntbsim modprobe/rmmod --mount DIR`, the
 * modprobe/rmmod shims of `ntbsim kselftest` and `ntbsim umount DIR` talk to it.
 *
 * This file is loaded by the shims on every call: it imports nothing of the simulation.
 */

export const CONTROL_SOCKET = '.ntbsim.sock';

export type ControlRequest =
  | { op: 'hello' }
  | { op: 'modprobe' | 'rmmod'; host: string; argv: string[] }
  | { op: 'shutdown' };

export type ControlResponse =
  | { ok: true; pid: number; hosts: string[] }
  | { ok: true; status: number; stderr: string; stdout?: string }
  | { ok: false; error: string };

export function controlSocketPath(dir: string): string {
  return path.join(path.resolve(dir), CONTROL_SOCKET);
}

/** Unix socket paths are limited to 107 bytes (sun_path). */
export const MAX_SOCKET_PATH = 107;

/** No mount answers on DIR's control socket. */
export class NoMount extends Error {
  override readonly name = 'NoMount';
}

/** Send one request to the mount on `dir` and return its answer. */
export function request(dir: string, req: ControlRequest, timeoutMs = 0): Promise<ControlResponse> {
  const sock = controlSocketPath(dir);
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sock);
    let buf = '';
    let settled = false;
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      c.destroy();
      f();
    };
    if (timeoutMs > 0) c.setTimeout(timeoutMs, () => done(() => reject(new NoMount(`no answer from ${sock} within ${timeoutMs} ms`))));
    c.setEncoding('utf8');
    c.on('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        const line = buf.slice(0, nl);
        done(() => {
          try {
            resolve(JSON.parse(line) as ControlResponse);
          } catch {
            reject(new Error(`bad answer from ${sock}`));
          }
        });
      }
    });
    c.on('error', (e: NodeJS.ErrnoException) => {
      done(() => reject(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTDIR' ? new NoMount(`no ntbsim mount is running on ${path.resolve(dir)} (${e.code} on ${sock})`) : e));
    });
    c.on('end', () => done(() => reject(new Error(`${sock} closed the connection without an answer`))));
  });
}

/** Whether a mount answers on `dir` (and its pid). */
export async function probe(dir: string): Promise<{ pid: number; hosts: string[] } | undefined> {
  try {
    const r = await request(dir, { op: 'hello' }, 2000);
    if (r.ok && 'pid' in r) return { pid: r.pid, hosts: r.hosts };
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * `modprobe`/`rmmod` on host `host` of the mount on `dir`, as kmod would run there: prints kmod's
 * messages on stderr and resolves to its exit status. Problems with the mount itself throw.
 */
export async function kmodCommand(prog: 'modprobe' | 'rmmod', dir: string, host: string, argv: string[]): Promise<number> {
  const r = await request(dir, { op: prog, host, argv });
  if (!r.ok) throw new Error(r.error);
  if (!('status' in r)) throw new Error('unexpected answer from the mount');
  if (r.stdout) process.stdout.write(r.stdout);
  if (r.stderr) process.stderr.write(r.stderr);
  return r.status;
}

export interface ControlHandlers {
  hosts(): string[];
  kmod(prog: 'modprobe' | 'rmmod', host: string, argv: string[]): Promise<{ status: number; stderr: string; stdout?: string }>;
  shutdown(): void;
}

/** The mount's side of the channel. */
export class ControlServer {
  private server?: net.Server;
  private sockPath?: string;

  constructor(private readonly handlers: ControlHandlers) {}

  async listen(dir: string): Promise<string> {
    const sock = controlSocketPath(dir);
    if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) throw new Error(`the control socket path ${sock} is longer than ${MAX_SOCKET_PATH} bytes: mount on a shorter path`);
    const server = net.createServer((c) => this.serve(c));
    const old = process.umask(0o077);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    this.server = server;
    this.sockPath = sock;
    return sock;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    try {
      if (this.sockPath) unlinkSync(this.sockPath);
    } catch {
      // already gone
    }
  }

  private serve(c: net.Socket): void {
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', () => c.destroy());
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      c.pause();
      this.answer(line).then(
        (r) => c.end(JSON.stringify(r) + '\n'),
        (e) => c.end(JSON.stringify({ ok: false, error: (e as Error)?.message ?? String(e) }) + '\n'),
      );
    });
  }

  private async answer(line: string): Promise<ControlResponse> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
    } catch {
      return { ok: false, error: 'bad request' };
    }
    switch (req.op) {
      case 'hello':
        return { ok: true, pid: process.pid, hosts: this.handlers.hosts() };
      case 'modprobe':
      case 'rmmod': {
        if (!Array.isArray(req.argv) || !req.argv.every((a) => typeof a === 'string')) return { ok: false, error: 'bad request' };
        const hosts = this.handlers.hosts();
        if (!hosts.includes(req.host)) return { ok: false, error: `no host '${req.host}' in the mounted world (hosts: ${hosts.join(', ')})` };
        return { ok: true, ...(await this.handlers.kmod(req.op, req.host, req.argv)) };
      }
      case 'shutdown':
        setImmediate(() => this.handlers.shutdown());
        return { ok: true, status: 0, stderr: '' };
      default:
        return { ok: false, error: 'unknown request' };
    }
  }
}
