import { Command, CommandOptions } from 'commander';
import type { Host } from '../../../core/host';
import { hex4 } from '../../../core/lib/printf';
import { Printk } from '../../../core/printk';
import { World } from '../../../core/world';
import { builtinPlugins } from '../../../plugins';
import { globalOptions, noOperands, printJson, printText } from '../common';
import { addTopologyOptions, TopologyOptions, topologyFromOptions } from '../topology';

export interface PciEntry {
  name: string;
  vendor: string;
  device: string;
  class: string;
  driver: string | null;
}

export interface BootReport {
  seed: number;
  hosts: Array<{ name: string; dmesg: string[]; pci: PciEntry[]; ntbDevices: string[] }>;
}

/** `ntbsim boot`: boot a world and print each host's kernel log and PCI devices. */
export function bootCommand(parent: Command, opts: CommandOptions = {}): Command {
  const cmd = noOperands(parent.command('boot', opts).description('boot the hosts of a topology and print their dmesg and PCI devices'));
  return addTopologyOptions(cmd).action(async (opts: TopologyOptions, self: Command) => {
    const globals = globalOptions(self);
    const spec = topologyFromOptions(opts, globals, self);
    const world = await World.create(spec, builtinPlugins());
    const report: BootReport = { seed: spec.seed!, hosts: world.hosts.map(hostReport) };
    if (globals.json) printJson(report);
    else printText(world.hosts.flatMap((h, i) => [...(i ? [''] : []), ...textReport(h, report.hosts[i].dmesg)]));
  });
}

function hostReport(host: Host): BootReport['hosts'][number] {
  return {
    name: host.name,
    dmesg: host.printk.records.map(Printk.format),
    pci: host.kernel.pci.devices.map((d) => ({
      name: d.name,
      vendor: hex4(d.vendor),
      device: hex4(d.device),
      class: d.classCode.toString(16).padStart(6, '0'),
      driver: d.driver?.name ?? null,
    })),
    ntbDevices: ntbDevices(host),
  };
}

function textReport(host: Host, dmesg: string[]): string[] {
  const c = host.config;
  const header = `${host.name}: ${c.cpus} CPUs, IOMMU ${c.iommu ? 'on' : 'off'}, interrupt remapping ${c.iommu && c.intremap ? 'on' : 'off'}`;
  const ntb = host.exists(NTB_DEVICES) ? ['--- ls /sys/bus/ntb/devices ---', ...ntbDevices(host)] : [];
  return [`=== ${header} ===`, '--- dmesg ---', ...dmesg, '--- lspci ---', ...host.lspci(), ...ntb];
}

const NTB_DEVICES = '/sys/bus/ntb/devices';

/** What `ls /sys/bus/ntb/devices` shows (empty when the ntb bus is not loaded). */
function ntbDevices(host: Host): string[] {
  return host.exists(NTB_DEVICES) ? host.ls(NTB_DEVICES) : [];
}
