import { readFileSync } from 'node:fs';

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Unescape mountinfo's octal escapes (\040 for a space, …). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function mounts(): MountEntry[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [left, right] = line.split(' - ');
    if (!right) continue;
    const f = left.split(' ');
    const r = right.split(' ');
    out.push({ mountPoint: unescape(f[4]), fsType: r[0], source: unescape(r[1] ?? '') });
  }
  return out;
}

/** Mounts at or below `dir` (an absolute, resolved path), deepest first. */
export function mountsUnder(dir: string): MountEntry[] {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return mounts()
    .filter((m) => m.mountPoint.startsWith(prefix))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
}

export function isMountPoint(p: string): boolean {
  return mounts().some((m) => m.mountPoint === p);
}
