import 'reflect-metadata';
import { expect } from 'chai';
import { Errno, errnoName, KernelError } from '../../core/errno';
import { Host } from '../../core/host';
import { HostConfig } from '../../core/host-config';
import { PciDev } from '../../core/pci/pci-dev';
import { NtbsimPlugin } from '../../core/plugin';
import { TopologySpec, World } from '../../core/world';
import { testdevPlugin } from '../../drivers/testdev';
import { EDU, EduDevice } from '../../drivers/testdev/silicon/edu';

export type HostSpec = Partial<HostConfig> & { name: string };

/** A world with one edu device behind a root port of every host. */
export async function eduWorld(
  opts: { seed?: number; hosts?: HostSpec[]; msixVectors?: number; plugins?: NtbsimPlugin[]; modules?: TopologySpec['modules'] } = {},
): Promise<World> {
  return World.create(
    {
      seed: opts.seed ?? 1,
      hosts: opts.hosts ?? [{ name: 'host0' }],
      hardware: [{ type: 'edu', options: { msixVectors: opts.msixVectors ?? 4 } }],
      modules: opts.modules,
    },
    [testdevPlugin, ...(opts.plugins ?? [])],
  );
}

/** The two standard hosts of the brief: host0 with VT-d and interrupt remapping, host1 without any IOMMU. */
export const TWO_HOSTS: HostSpec[] = [{ name: 'host0' }, { name: 'host1', iommu: false, intremap: false }];

/** The kernel's pci_dev of the host's (only) edu function. */
export function eduDev(host: Host): PciDev {
  const devs = host.kernel.pci.find(EDU.VENDOR, EDU.DEVICE);
  expect(devs, 'edu devices on ' + host.name).to.have.length(1);
  return devs[0];
}

/** The edu silicon model behind that pci_dev. */
export function eduSilicon(host: Host): EduDevice {
  const dev = eduDev(host);
  const fn = host.platform.rc.findFunction(dev.busNumber, dev.devfn);
  expect(fn).to.be.instanceOf(EduDevice);
  return fn as EduDevice;
}

export function eduDebugfs(host: Host, file: string): string {
  return `/sys/kernel/debug/edu/${eduDev(host).name}/${file}`;
}

/** Per-vector counts from the edu driver's irq_counts debugfs file. */
export async function eduIrqCounts(host: Host): Promise<number[]> {
  const text = await host.read(eduDebugfs(host, 'irq_counts'));
  return text
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^(\d+): (\d+)$/.exec(l);
      expect(m, `irq_counts line ${JSON.stringify(l)}`).to.not.equal(null);
      return Number(m![2]);
    });
}

/** dmesg without timestamps. */
export function lines(host: Host): string[] {
  return host.printk.lines();
}

/** Lines logged after `mark` (an index from `lines(host).length`). */
export function linesSince(host: Host, mark: number): string[] {
  return host.printk.lines().slice(mark);
}

/** Await `what` (or call it) and assert it fails with a KernelError carrying `errno`. */
export async function expectErrno(what: Promise<unknown> | (() => unknown), errno: Errno): Promise<KernelError> {
  let caught: unknown;
  try {
    if (typeof what === 'function') await what();
    else await what;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${errnoName(errno)}`).to.be.instanceOf(KernelError);
  expect(errnoName((caught as KernelError).errno), String((caught as Error).message)).to.equal(errnoName(errno));
  return caught as KernelError;
}

/** Parse /proc/interrupts into irq → per-CPU counts. */
export function parseProcInterrupts(text: string): Map<number, { counts: number[]; rest: string }> {
  const out = new Map<number, { counts: number[]; rest: string }>();
  const [hdr, ...rows] = text.trimEnd().split('\n');
  const cpus = hdr.trim().split(/\s+/).length;
  for (const row of rows) {
    const m = /^\s*(\d+):(.*)$/.exec(row);
    if (!m) continue;
    const fields = m[2].trim().split(/\s+/);
    out.set(Number(m[1]), { counts: fields.slice(0, cpus).map(Number), rest: fields.slice(cpus).join(' ') });
  }
  return out;
}
