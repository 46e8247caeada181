import { MmioHandler } from '../../mm/physmem';
import { ConfigSpace } from './config-space';
import { PciUpstream, RequesterId } from './function';
import * as R from './regs';

/**
 * The MSI-X capability plus its table and PBA, as a device implements them. A silicon model
 * creates one, maps `tableHandler`/`pbaHandler` into a BAR, and calls `fire(n)` to raise vector n:
 * with MSI-X disabled nothing is sent; masked (function or entry) sets the pending bit and the
 * message goes out when unmasked; otherwise a 32-bit write of the entry's data to its address.
 */
export class MsixTable {
  readonly capOffset: number;
  private entries: Uint32Array;
  private pending: Uint8Array;
  private upstream?: PciUpstream;
  private rid = 0;
  /** Messages sent, by vector (what the device really emitted). */
  readonly sent: number[];

  constructor(
    private readonly config: ConfigSpace,
    readonly size: number,
    readonly bar: number,
    readonly tableOffset: number,
    readonly pbaOffset: number,
  ) {
    this.entries = new Uint32Array(size * 4);
    for (let i = 0; i < size; i++) this.entries[i * 4 + 3] = R.PCI_MSIX_ENTRY_CTRL_MASKBIT;
    this.pending = new Uint8Array(size);
    this.sent = new Array(size).fill(0);
    this.capOffset = config.addCapability(R.PCI_CAP_ID_MSIX, 12, [[R.PCI_MSIX_FLAGS, 2, R.PCI_MSIX_FLAGS_ENABLE | R.PCI_MSIX_FLAGS_MASKALL]]);
    config.set16(this.capOffset + R.PCI_MSIX_FLAGS, size - 1);
    config.set32(this.capOffset + R.PCI_MSIX_TABLE, tableOffset | bar);
    config.set32(this.capOffset + R.PCI_MSIX_PBA, pbaOffset | bar);
    const prev = config.onWrite;
    config.onWrite = (off, sz) => {
      prev?.(off, sz);
      if (off <= this.capOffset + R.PCI_MSIX_FLAGS + 1 && off + sz > this.capOffset + R.PCI_MSIX_FLAGS) this.flushPending();
    };
  }

  get tableBytes(): number {
    return this.size * R.PCI_MSIX_ENTRY_SIZE;
  }

  connect(upstream: PciUpstream, rid: RequesterId): void {
    this.upstream = upstream;
    this.rid = rid;
  }

  private get control(): number {
    return this.config.get16(this.capOffset + R.PCI_MSIX_FLAGS);
  }

  get enabled(): boolean {
    return (this.control & R.PCI_MSIX_FLAGS_ENABLE) !== 0;
  }

  private masked(n: number): boolean {
    return (this.control & R.PCI_MSIX_FLAGS_MASKALL) !== 0 || (this.entries[n * 4 + 3] & R.PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0;
  }

  /** Raise vector n. */
  fire(n: number): void {
    if (n < 0 || n >= this.size || !this.enabled) return;
    if (this.masked(n)) {
      this.pending[n] = 1;
      return;
    }
    this.send(n);
  }

  private send(n: number): void {
    // An MSI is a memory write: a function that is not a bus master cannot send it.
    if (!(this.config.command & R.PCI_COMMAND_MASTER)) return;
    const lo = this.entries[n * 4];
    const hi = this.entries[n * 4 + 1];
    const data = this.entries[n * 4 + 2];
    this.sent[n]++;
    this.upstream?.memWrite32(this.rid, hi * 2 ** 32 + lo, data);
  }

  private flushPending(): void {
    if (!this.enabled) return;
    for (let n = 0; n < this.size; n++) {
      if (this.pending[n] && !this.masked(n)) {
        this.pending[n] = 0;
        this.send(n);
      }
    }
  }

  readonly tableHandler: MmioHandler = {
    read: (off, size) => {
      const v = this.entries[off >> 2] ?? 0xffffffff;
      return size === 4 ? v : (v >>> (8 * (off & 3))) & (size === 2 ? 0xffff : 0xff);
    },
    write: (off, size, value) => {
      if (size !== 4 || off >= this.tableBytes) return;
      this.entries[off >> 2] = value >>> 0;
      if ((off & 0xf) === R.PCI_MSIX_ENTRY_VECTOR_CTRL) this.flushPending();
    },
  };

  readonly pbaHandler: MmioHandler = {
    read: (off) => {
      let v = 0;
      for (let i = 0; i < 32; i++) if (this.pending[off * 8 + i]) v |= 1 << i;
      return v >>> 0;
    },
    write: () => undefined,
  };
}
