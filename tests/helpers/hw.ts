import { MmioHandler } from '../../core/mm/physmem';
import { PciBridgeModel } from '../../core/pci/hw/bridge';
import { BarDecl, ConfigSpace } from '../../core/pci/hw/config-space';
import { PciFunctionModel, PciUpstream, RequesterId } from '../../core/pci/hw/function';
import * as R from '../../core/pci/hw/regs';
import { HardwareContext, NtbsimPlugin } from '../../core/plugin';

export const TEST_VENDOR = 0x1b36;

/**
 * A plain test function: identity, the BARs it is given (each a little register file that records
 * accesses), and a PCIe endpoint capability unless `conventional`.
 */
export class TestFunction implements PciFunctionModel {
  readonly config: ConfigSpace;
  readonly regs = new Map<number, Map<number, number>>();
  readonly accesses: Array<{ bar: number; op: 'r' | 'w'; off: number; value?: number }> = [];
  rid = -1;
  upstream?: PciUpstream;

  constructor(
    readonly device: number,
    bars: BarDecl[],
    readonly label: string,
    opts: { conventional?: boolean; classCode?: number } = {},
  ) {
    this.config = new ConfigSpace({ vendor: TEST_VENDOR, device, classCode: opts.classCode ?? 0xff0000 });
    for (const b of bars) this.config.addBar(b);
    if (!opts.conventional) {
      const exp = this.config.addCapability(R.PCI_CAP_ID_EXP, 0x3c);
      this.config.set16(exp + R.PCI_EXP_FLAGS, 0x2 | (R.PCI_EXP_TYPE_ENDPOINT << 4));
    }
  }

  connect(upstream: PciUpstream, rid: RequesterId): void {
    this.upstream = upstream;
    this.rid = rid;
  }

  barHandler(index: number): MmioHandler | undefined {
    if (!this.config.bars.some((b) => b.index === index)) return undefined;
    const file = this.regs.get(index) ?? new Map<number, number>();
    this.regs.set(index, file);
    return {
      read: (off) => {
        this.accesses.push({ bar: index, op: 'r', off });
        return file.get(off) ?? 0;
      },
      write: (off, _size, value) => {
        this.accesses.push({ bar: index, op: 'w', off, value });
        file.set(off, value);
      },
    };
  }
}

const hostsOf = (ctx: HardwareContext) => {
  const names = (ctx.options.hosts as string[] | undefined) ?? ctx.hosts.map((h) => h.name);
  return ctx.hosts.filter((h) => names.includes(h.name));
};

/** Silicon the tests place: kept per host name so a test can reach the models. */
export const placed = new Map<string, { multibar?: TestFunction; switchEps?: TestFunction[]; legacy?: TestFunction; bridge?: PciBridgeModel }>();

export const MULTIBAR_BARS: BarDecl[] = [
  { index: 0, size: 4096, is64: false, prefetchable: false },
  { index: 1, size: 1 << 20, is64: false, prefetchable: false },
  { index: 2, size: 8 << 20, is64: true, prefetchable: true },
  { index: 4, size: 64 << 10, is64: true, prefetchable: false },
];

/**
 * Test hardware:
 *  - `multibar`: a root port with an endpoint carrying 32-bit, 64-bit prefetchable and 64-bit BARs;
 *  - `switch`: a root port, a switch upstream port, two downstream ports, one endpoint below each;
 *  - `pcie2pci`: a root port, a PCIe-to-PCI bridge, and a conventional PCI device at slot 2 behind it.
 */
export const testHwPlugin: NtbsimPlugin = {
  name: 'test-hw',
  hardware: {
    multibar: (ctx) => {
      for (const host of hostsOf(ctx)) {
        const fn = new TestFunction(0x0001, MULTIBAR_BARS, 'ntbsim test multi-BAR function');
        host.addRootPort().attach(0, fn);
        placed.set(host.name, { ...placed.get(host.name), multibar: fn });
      }
    },
    switch: (ctx) => {
      for (const host of hostsOf(ctx)) {
        const up = new PciBridgeModel('upstream', TEST_VENDOR, 0x8000, 'Switch Upstream Port');
        const eps: TestFunction[] = [];
        for (let i = 0; i < 2; i++) {
          const down = new PciBridgeModel('downstream', TEST_VENDOR, 0x8001, 'Switch Downstream Port');
          const ep = new TestFunction(0x0002, [{ index: 0, size: 16384, is64: false, prefetchable: false }], `switch endpoint ${i}`);
          down.attach(0, ep);
          up.attach(i << 3, down);
          eps.push(ep);
        }
        host.addRootPort().attach(0, up);
        placed.set(host.name, { ...placed.get(host.name), switchEps: eps });
      }
    },
    pcie2pci: (ctx) => {
      for (const host of hostsOf(ctx)) {
        const bridge = new PciBridgeModel('pcie-to-pci', TEST_VENDOR, 0x8002, 'PCIe to PCI bridge');
        const legacy = new TestFunction(0x0003, [{ index: 0, size: 4096, is64: false, prefetchable: false }], 'conventional PCI device', {
          conventional: true,
        });
        bridge.attach(2 << 3, legacy);
        host.addRootPort().attach(0, bridge);
        placed.set(host.name, { ...placed.get(host.name), legacy, bridge });
      }
    },
  },
};
