import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Commands that make a mounted world look like real hosts to a shell script:
 * - `<bin>/<host>/modprobe`, `rmmod`: kmod on that simulated host, through the mount's control
 *   socket (the same request `ntbsim modprobe/rmmod --mount DIR --host HOST` sends);
 * - `<bin>/<host>/ssh HOST CMD…`: runs CMD (its words joined by spaces, as ssh does) with bash in
 *   HOST's mount namespace (HostNamespaces: DIR/HOST over /sys), HOST's shims first in PATH.
 *   Exit status: CMD's, or 255 when HOST is unknown (as ssh's for a connection that fails).
 */

/** Quote one word for bash. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ShimOptions {
  /** The mount directory (DIR of `ntbsim mount DIR`). */
  mountDir: string;
  hosts: string[];
  /** The process holding each host's mount namespace (HostNamespaces.pids). */
  nsPids: Record<string, number>;
  /** Where the shims go: one directory per host. */
  binDir: string;
  /** Node and the control client script (dist/tools/fuse/ctl-main.js). */
  node?: string;
  ctl?: string;
}

/** Write the shims; returns the per-host directories to put first in PATH. */
export function writeShims(opts: ShimOptions): Record<string, string> {
  const node = opts.node ?? process.execPath;
  const ctl = opts.ctl ?? path.join(__dirname, 'ctl-main.js');
  const dirs: Record<string, string> = {};
  const hostCase = opts.hosts.map(shq).join('|');
  for (const host of opts.hosts) {
    const dir = path.join(opts.binDir, host);
    mkdirSync(dir, { recursive: true });
    dirs[host] = dir;
    for (const prog of ['modprobe', 'rmmod']) {
      write(
        path.join(dir, prog),
        `#!/bin/bash
# ntbsim: kmod's ${prog} on simulated host ${host} (the mount on ${opts.mountDir})
exec ${shq(node)} ${shq(ctl)} ${prog} ${shq(opts.mountDir)} ${shq(host)} "$@"
`,
      );
    }
    write(
      path.join(dir, 'ssh'),
      `#!/bin/bash
# ntbsim: ssh HOST CMD… runs CMD with bash on simulated host HOST (its view over /sys).
while [[ $# -gt 0 ]]; do
  case "$1" in
    --) shift; break ;;
    -[BbcDEeFIiJLlmOoPpQRSWw]) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
if [[ $# -eq 0 ]]; then
  echo "usage: ssh [options] destination [command [argument ...]]" >&2
  exit 255
fi
host="\${1#*@}"
shift
case "$host" in
  ${hostCase}) ;;
  *) echo "ssh: Could not resolve hostname $host: Name or service not known" >&2; exit 255 ;;
esac
pid=
case "$host" in
${opts.hosts.map((h) => `  ${shq(h)}) pid=${opts.nsPids[h]} ;;`).join('\n')}
esac
# The remote PATH: that host's shims first, no other host's.
IFS=: read -ra parts <<< "$PATH"
path=${shq(opts.binDir)}/"$host"
for p in "\${parts[@]}"; do [[ $p == ${shq(opts.binDir)}/* ]] || path+=":$p"; done
if [[ $# -eq 0 ]]; then
  exec nsenter --mount=/proc/$pid/ns/mnt --wd="\${HOME:-/}" -- env PATH="$path" bash -l
fi
exec nsenter --mount=/proc/$pid/ns/mnt --wd="\${HOME:-/}" -- env PATH="$path" bash -c "$*"
`,
    );
  }
  return dirs;
}

function write(file: string, text: string): void {
  writeFileSync(file, text);
  chmodSync(file, 0o755);
}
