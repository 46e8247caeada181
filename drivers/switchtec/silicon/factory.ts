import type { HardwareFactory } from '../../../core/plugin';
import { requesterId } from '../../../core/pci/hw/function';
import { SwitchtecOptions, SwitchtecSwitch } from './switch';

/**
 * Builds one Switchtec switch spanning the world's hosts: `options.partitions ?? hosts.length`
 * partitions; partition i belongs to host i (hosts beyond the partition count get nothing,
 * partitions beyond the host count stay hostless). Each host gets a new root port with the
 * partition's upstream port at devfn 0 (multi-function) and its NT endpoint at devfn 1.
 *
 * Options (all optional): partitions, deviceId, gasSize, windowBars, msixVectors, lutEntries,
 * reqIdTableSize, targets, eventVector, opLatencyNs, mrpcLatencyNs, linkSpeed, linkWidth,
 * onBuild (callback receiving the SwitchtecSwitch, for tools and tests).
 *
 * Software learns the proxy IDs only from the requester-ID table registers (CTRL[p].req_id_table
 * bits 8:1), as the DMA-alias quirk does.
 */
export const switchtecHardware: HardwareFactory = ({ sched, hosts, options }) => {
  const opts = { ...(options as Partial<SwitchtecOptions>) };
  opts.partitions = (options.partitions as number | undefined) ?? hosts.length;
  const sw = new SwitchtecSwitch(sched, opts);
  for (const part of sw.partitions) {
    const host = hosts[part.index];
    if (!host) continue;
    const port = host.addRootPort();
    port.attach(0, part.usp).attach(1, part.ntEp);
    // CPU MMIO from this host reaches the switch through that root port: its ID (bus 0).
    const devfn = [...host.rc.rootBus].find(([, f]) => f === port)![0];
    part.hostRequesterId = requesterId(0, devfn);
    part.attached = true;
  }
  sw.options.onBuild?.(sw);
};
