import { Errno, KernelError } from '../errno';

export type FileContent = string | Uint8Array;

/**
 * What a kernel file does. `show` renders the whole file (seq_file / simple_read_from_buffer
 * style); `read` serves byte ranges of large or binary files; `write` receives the bytes written.
 */
export interface FileOps {
  show?(): FileContent | Promise<FileContent>;
  read?(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
  write?(data: Uint8Array, offset: number): number | void | Promise<number | void>;
  /** Reported st_size: debugfs and sysfs report 0 or PAGE_SIZE, never the content's length. */
  size?(): number;
  /** errno for a read/write the file has no method for (debugfs custom files: EINVAL; sysfs: EACCES). */
  noReadErrno?: Errno;
  noWriteErrno?: Errno;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toBytes(c: FileContent): Uint8Array {
  return typeof c === 'string' ? encoder.encode(c) : c;
}

export function toText(c: FileContent): string {
  return typeof c === 'string' ? c : decoder.decode(c);
}

export abstract class FsNode {
  parent?: FsDir;
  constructor(
    public name: string,
    public mode: number,
  ) {}

  get path(): string {
    if (!this.parent) return '/';
    const p = this.parent.path;
    return (p === '/' ? '' : p) + '/' + this.name;
  }
}

export class FsDir extends FsNode {
  readonly children = new Map<string, FsNode>();
  constructor(name: string, mode = 0o755) {
    super(name, mode);
  }
}

export class FsFile extends FsNode {
  constructor(
    name: string,
    mode: number,
    readonly ops: FileOps,
  ) {
    super(name, mode);
  }
}

export class FsSymlink extends FsNode {
  constructor(
    name: string,
    readonly target: string,
  ) {
    super(name, 0o777);
  }
}

export interface Stat {
  type: 'dir' | 'file' | 'symlink';
  mode: number;
  size: number;
}

const MAX_LINK_DEPTH = 40;

/**
 * An in-memory kernel filesystem tree (one per host: /sys with debugfs at /sys/kernel/debug, and
 * /proc). Files are backed by handlers; directories and links by the tree itself. Users of the
 * simulation cannot create or remove entries: only kernel code can.
 */
export class PseudoFs {
  readonly root = new FsDir('');

  // ---- kernel-side construction --------------------------------------------------------------

  mkdir(path: string, mode = 0o755): FsDir {
    let dir = this.root;
    for (const part of split(path)) {
      const next = dir.children.get(part);
      if (next instanceof FsDir) {
        dir = next;
        continue;
      }
      if (next) throw new KernelError(Errno.EEXIST, `${path}: a non-directory is in the way`);
      const created = new FsDir(part, mode);
      created.parent = dir;
      dir.children.set(part, created);
      dir = created;
    }
    return dir;
  }

  createFile(path: string, mode: number, ops: FileOps): FsFile {
    const { dir, name } = this.parentOf(path);
    if (dir.children.has(name)) throw new KernelError(Errno.EEXIST, path);
    const file = new FsFile(name, mode, ops);
    file.parent = dir;
    dir.children.set(name, file);
    return file;
  }

  symlink(path: string, target: string): FsSymlink {
    const { dir, name } = this.parentOf(path);
    if (dir.children.has(name)) throw new KernelError(Errno.EEXIST, path);
    const link = new FsSymlink(name, target);
    link.parent = dir;
    dir.children.set(name, link);
    return link;
  }

  /** Remove an entry and everything below it (debugfs_remove_recursive); missing is fine. */
  remove(path: string): void {
    const node = this.lookupNoFollow(path);
    if (node?.parent) {
      node.parent.children.delete(node.name);
      node.parent = undefined;
    }
  }

  exists(path: string): boolean {
    return this.tryLookup(path) !== undefined;
  }

  // ---- user-side access ----------------------------------------------------------------------

  lookup(path: string): FsNode {
    return this.resolve(path, true, 0);
  }

  tryLookup(path: string): FsNode | undefined {
    try {
      return this.lookup(path);
    } catch (e) {
      if (e instanceof KernelError && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR)) return undefined;
      throw e;
    }
  }

  lookupNoFollow(path: string): FsNode | undefined {
    try {
      return this.resolve(path, false, 0);
    } catch (e) {
      if (e instanceof KernelError && e.errno === Errno.ENOENT) return undefined;
      throw e;
    }
  }

  readdir(path: string): string[] {
    const node = this.lookup(path);
    if (!(node instanceof FsDir)) throw new KernelError(Errno.ENOTDIR, path);
    return [...node.children.keys()].sort();
  }

  readlink(path: string): string {
    const node = this.lookupNoFollow(path);
    if (!(node instanceof FsSymlink)) throw new KernelError(Errno.EINVAL, path);
    return node.target;
  }

  /** Absolute path a symlink points at (what realpath prints). */
  realpath(path: string): string {
    return this.lookup(path).path;
  }

  stat(path: string, follow = true): Stat {
    const node = follow ? this.lookup(path) : this.lookupNoFollow(path);
    if (!node) throw new KernelError(Errno.ENOENT, path);
    if (node instanceof FsDir) return { type: 'dir', mode: node.mode, size: 0 };
    if (node instanceof FsSymlink) return { type: 'symlink', mode: node.mode, size: node.target.length };
    return { type: 'file', mode: node.mode, size: (node as FsFile).ops.size?.() ?? 0 };
  }

  /** Read a whole file (what `cat` gets). May block in process context for blocking files. */
  async readFile(path: string): Promise<Uint8Array> {
    const file = this.file(path);
    const ops = file.ops;
    if (ops.show) return toBytes(await ops.show());
    if (ops.read) {
      const chunks: Uint8Array[] = [];
      let off = 0;
      for (;;) {
        const chunk = await ops.read(off, 65536);
        if (chunk.length === 0) break;
        chunks.push(chunk);
        off += chunk.length;
      }
      return concat(chunks);
    }
    throw new KernelError(ops.noReadErrno ?? Errno.EINVAL, `${path}: no read method`);
  }

  /** Read `length` bytes at `offset` (pread). */
  async readAt(path: string, offset: number, length: number): Promise<Uint8Array> {
    const ops = this.file(path).ops;
    if (ops.read) return ops.read(offset, length);
    if (ops.show) return toBytes(await ops.show()).subarray(offset, offset + length);
    throw new KernelError(ops.noReadErrno ?? Errno.EINVAL, `${path}: no read method`);
  }

  /** Write to a file (what `echo … >` does); returns the byte count the handler accepted. */
  async writeFile(path: string, data: FileContent, offset = 0): Promise<number> {
    const ops = this.file(path).ops;
    if (!ops.write) throw new KernelError(ops.noWriteErrno ?? Errno.EINVAL, `${path}: no write method`);
    const bytes = toBytes(data);
    const n = await ops.write(bytes, offset);
    return typeof n === 'number' ? n : bytes.length;
  }

  private file(path: string): FsFile {
    const node = this.lookup(path);
    if (node instanceof FsDir) throw new KernelError(Errno.EISDIR, path);
    return node as FsFile;
  }

  private parentOf(path: string): { dir: FsDir; name: string } {
    const parts = split(path);
    const name = parts.pop();
    if (!name) throw new KernelError(Errno.EINVAL, `bad path ${path}`);
    return { dir: this.mkdir('/' + parts.join('/')), name };
  }

  private resolve(path: string, followLast: boolean, depth: number): FsNode {
    if (depth > MAX_LINK_DEPTH) throw new KernelError(Errno.ELOOP, path);
    const parts = split(path);
    let node: FsNode = this.root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      if (!(node instanceof FsDir)) throw new KernelError(Errno.ENOTDIR, path);
      if (part === '.') continue;
      if (part === '..') {
        node = node.parent ?? node;
        continue;
      }
      const next: FsNode | undefined = node.children.get(part);
      if (!next) throw new KernelError(Errno.ENOENT, path);
      const last = i === parts.length - 1;
      if (next instanceof FsSymlink && (!last || followLast)) {
        const base = next.target.startsWith('/') ? '' : (node.path === '/' ? '' : node.path);
        const rest = parts.slice(i + 1).join('/');
        return this.resolve(`${base}/${next.target}${rest ? '/' + rest : ''}`, followLast, depth + 1);
      }
      node = next;
    }
    return node;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
