/** One managed resource: released when the driver unbinds or its probe fails (drivers/base/devres.c). */
export interface DevresEntry {
  name: string;
  release: () => Promise<void> | void;
}

/** A device's managed resources, released last-in first-out. */
export class DevresList {
  private entries: DevresEntry[] = [];

  add(name: string, release: () => Promise<void> | void): DevresEntry {
    const e = { name, release };
    this.entries.push(e);
    return e;
  }

  /** devres_remove without running the release (for devm_*_free helpers that release themselves). */
  remove(entry: DevresEntry): boolean {
    const i = this.entries.indexOf(entry);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  /** devm_release_action: run one entry's release now and forget it. */
  async release(entry: DevresEntry): Promise<void> {
    if (this.remove(entry)) await entry.release();
  }

  /** What the device still holds (for leak checks). */
  get names(): string[] {
    return this.entries.map((e) => e.name);
  }

  async releaseAll(): Promise<void> {
    while (this.entries.length > 0) await this.entries.pop()!.release();
  }
}
