import { DmarUnit } from '../iommu/dmar-unit';
import { LocalApics } from '../irq/apic';
import { PhysicalMemory } from '../mm/physmem';
import { Scheduler } from '../time/scheduler';
import { PciFunctionModel, PciUpstream, RequesterId, requesterId } from './hw/function';
import * as R from './hw/regs';

export const MSI_ADDR_BASE = 0xfee00000;
export const MSI_ADDR_END = 0xfeefffff;

/** Virtual-time costs of the platform's own hops (the hardware timing profile fills these in). */
export interface PlatformTiming {
  /** From an accepted interrupt message to the CPU entering its handler. */
  interruptDeliveryNs: number;
}

export interface InboundStats {
  dmaWrites: number;
  dmaReads: number;
  interruptRequests: number;
  blocked: number;
}

/**
 * A host's PCIe root complex: routes configuration cycles down the bridge tree (bus numbers as
 * the kernel programmed them) and turns upstream memory transactions into DMA through the IOMMU
 * or, in 0xFEE00000–0xFEEFFFFF, into interrupt requests checked by interrupt remapping.
 */
export class RootComplex implements PciUpstream {
  readonly rootBus = new Map<number, PciFunctionModel>();
  readonly stats: InboundStats = { dmaWrites: 0, dmaReads: 0, interruptRequests: 0, blocked: 0 };

  constructor(
    private readonly sched: Scheduler,
    private readonly mem: PhysicalMemory,
    readonly dmar: DmarUnit | undefined,
    private readonly apics: LocalApics,
    readonly timing: PlatformTiming = { interruptDeliveryNs: 0 },
  ) {}

  attach(devfn: number, fn: PciFunctionModel): this {
    this.rootBus.set(devfn, fn);
    return this;
  }

  /** The function that answers configuration cycles for (bus, devfn), if any. */
  findFunction(bus: number, devfn: number): PciFunctionModel | undefined {
    return bus === 0 ? this.rootBus.get(devfn) : findBelow(this.rootBus, bus, devfn);
  }

  configRead(bus: number, devfn: number, offset: number, size: 1 | 2 | 4): number {
    const fn = this.findFunction(bus, devfn);
    if (!fn) return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    return fn.config.read(offset, size);
  }

  configWrite(bus: number, devfn: number, offset: number, size: 1 | 2 | 4, value: number): void {
    const fn = this.findFunction(bus, devfn);
    if (!fn) return;
    // A PCIe function captures its bus number from type 0 configuration writes.
    fn.connect(this, requesterId(bus, devfn));
    fn.config.write(offset, size, value);
  }

  // ---- upstream memory transactions ------------------------------------------------------------

  memWrite32(source: RequesterId, addr: number, value: number): void {
    if (addr >= MSI_ADDR_BASE && addr <= MSI_ADDR_END) return this.interruptRequest(source, addr, value);
    if (addr % 4096 > 4092) return this.memWrite(source, addr, dwordBytes(value));
    // Within one page: a single translation and a dword store, without a temporary array.
    this.stats.dmaWrites++;
    const phys = this.dmar ? this.dmar.translate(source, addr, true) : addr;
    if (phys === undefined) this.stats.blocked++;
    else this.mem.write(phys, 4, value >>> 0);
  }

  memWrite(source: RequesterId, addr: number, data: Uint8Array): void {
    if (addr >= MSI_ADDR_BASE && addr <= MSI_ADDR_END) {
      if (data.length === 4) return this.interruptRequest(source, addr, new DataView(data.buffer, data.byteOffset).getUint32(0, true));
      this.stats.blocked++;
      return;
    }
    this.stats.dmaWrites++;
    this.forEachPage(source, addr, data.length, true, (phys, off, n) => this.mem.writeBytes(phys, data.subarray(off, off + n)));
  }

  memRead(source: RequesterId, addr: number, length: number): Uint8Array {
    this.stats.dmaReads++;
    const out = new Uint8Array(length);
    this.forEachPage(source, addr, length, false, (phys, off, n) => out.set(this.mem.readBytes(phys, n), off), (off, n) => out.fill(0xff, off, off + n));
    return out;
  }

  private forEachPage(
    source: RequesterId,
    addr: number,
    length: number,
    write: boolean,
    ok: (phys: number, off: number, n: number) => void,
    blocked?: (off: number, n: number) => void,
  ): void {
    let off = 0;
    while (off < length) {
      const a = addr + off;
      const n = Math.min(4096 - (a % 4096), length - off);
      const phys = this.dmar ? this.dmar.translate(source, a, write) : a;
      if (phys === undefined) {
        this.stats.blocked++;
        blocked?.(off, n);
      } else ok(phys, off, n);
      off += n;
    }
  }

  private interruptRequest(source: RequesterId, addr: number, data: number): void {
    this.stats.interruptRequests++;
    const target = this.dmar
      ? this.dmar.remapInterrupt(source, addr, data)
      : { vector: data & 0xff, dest: ((addr % 2 ** 32) >>> 12) & 0xff };
    if (!target) {
      this.stats.blocked++;
      return;
    }
    // Capture the decoded destination now (not the object), as the message was when accepted.
    const { dest, vector } = target;
    this.sched.after(this.timing.interruptDeliveryNs, () => this.apics.deliver(dest, vector));
  }
}

function findBelow(bus: Map<number, PciFunctionModel>, target: number, devfn: number): PciFunctionModel | undefined {
  for (const fn of bus.values()) {
    if (!fn.secondary) continue;
    const sec = fn.config.bytes[R.PCI_SECONDARY_BUS];
    const sub = fn.config.bytes[R.PCI_SUBORDINATE_BUS];
    if (sec === 0 || target < sec || target > sub) continue;
    if (target === sec) return fn.secondary.get(devfn);
    return findBelow(fn.secondary, target, devfn);
  }
  return undefined;
}

function dwordBytes(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return b;
}
