import { World } from '../../core/world';
import { builtinPlugins } from '../../plugins';
import { EDU } from '../../drivers/testdev/silicon/edu';
import { Benchmark, secondsSince } from './types';

const WRITES = 500_000;

/**
 * (c) Inbound MSI: the device-side memory write to 0xFEExxxxx, the root complex, the IOMMU's
 * interrupt-remapping check (IRTE lookup and source-ID validation), the local APIC, the kernel's
 * vector → irq dispatch and the edu driver's handler (which acks the interrupt with two MMIO
 * accesses).
 */
export const msiDelivery: Benchmark = {
  name: 'msi-delivery',
  title: 'Inbound MSI: memory write → IRTE check → APIC → driver handler',
  unit: 'MSIs/s',
  target: 1e6,
  rounds: 5,
  method:
    'A 1-host world with the edu device (IOMMU and interrupt remapping on) boots and loads edu; the benchmark takes ' +
    "vector 0's MSI message (dev.msiDescs[0].msg) and calls host.platform.rc.memWrite32(requesterId, address, data) " +
    `${WRITES.toLocaleString('en-US')} times, then runs the scheduler until all are delivered, and checks that the ` +
    "handler's count went up by exactly that many. Timed: the writes and the run. (The platform's interrupt delivery " +
    'latency is 0 by default, so every delivery is due at the same virtual time.)',
  async round({ scale }) {
    const n = Math.max(1, Math.round(WRITES * scale));
    const world = await World.create({ seed: 1, hosts: [{ name: 'host0' }], hardware: [{ type: 'edu' }], modules: { host0: ['edu'] } }, builtinPlugins());
    const host = world.hosts[0];
    const dev = host.kernel.pci.devices.find((d) => d.vendor === EDU.VENDOR && d.device === EDU.DEVICE);
    if (!dev || !dev.driver) throw new Error('msi-delivery: edu device not bound');
    if (!host.kernel.irqRemapping) throw new Error('msi-delivery: interrupt remapping is off');
    const desc = dev.msiDescs[0];
    const counts = (dev.drvdata as { counts: number[] }).counts;
    const rc = host.platform.rc;
    const rid = dev.requesterId;
    const addr = desc.address;
    const data = desc.msg.data;
    const before = counts[0];
    const irqBefore = host.kernel.irq.desc(desc.irq).counts.reduce((a, b) => a + b, 0);
    const blockedBefore = rc.stats.blocked;

    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) rc.memWrite32(rid, addr, data);
    await world.runFor(rc.timing.interruptDeliveryNs);
    const seconds = secondsSince(start);

    const handled = counts[0] - before;
    const irqCount = host.kernel.irq.desc(desc.irq).counts.reduce((a, b) => a + b, 0) - irqBefore;
    if (handled !== n || irqCount !== n) throw new Error(`msi-delivery: ${n} MSIs written, handler ran ${handled} times, /proc/interrupts counted ${irqCount}`);
    if (rc.stats.blocked !== blockedBefore) throw new Error('msi-delivery: interrupt remapping blocked some MSIs');
    if (host.kernel.bugs.length) throw new Error(`msi-delivery: kernel bug: ${host.kernel.bugs[0].where}`);
    return { ops: n, seconds };
  },
};
