/**
 * What the host's CPU and kernel charge in virtual time (a hardware timing profile fills these in;
 * docs/timing.md gives each value's source). All zero: the kernel's own work costs nothing.
 */
export interface HostTiming {
  /** MSI delivery: from an accepted interrupt message at the root complex to the CPU taking it. */
  irqDeliveryNs: number;
  /** Interrupt entry and exit: CPU time charged to every hard-irq handler run. */
  irqEntryNs: number;
  /** tasklet_schedule (raise_softirq) to the tasklet running. */
  softirqLatencyNs: number;
  /** queue_work to the worker thread starting the item (a kworker wake-up). */
  workLatencyNs: number;
  /** finit_module: reading and linking a module before its init runs. */
  moduleLoadNs: number;
  /** CPU memcpy between RAM buffers, bytes per second (0: free). */
  memcpyBytesPerSec: number;
  /** Network stack above the driver, per frame: the sender's (socket write, protocol, dev_queue_xmit)… */
  netTxFrameNs: number;
  /** …and the receiver's (netif_rx, protocol, socket read). */
  netRxFrameNs: number;
  /** A short userspace command from a shell script (fork, exec, exit of cat or echo). */
  execNs: number;
  /** An `ssh HOST command` session from this host: connection, authentication, remote shell. */
  sshNs: number;
}

export const ZERO_HOST_TIMING: Readonly<HostTiming> = {
  irqDeliveryNs: 0,
  irqEntryNs: 0,
  softirqLatencyNs: 0,
  workLatencyNs: 0,
  moduleLoadNs: 0,
  memcpyBytesPerSec: 0,
  netTxFrameNs: 0,
  netRxFrameNs: 0,
  execNs: 0,
  sshNs: 0,
};

/** Per-host settings a topology gives a kernel: its name, tick, CPUs and boot options. */
export interface HostConfig {
  /** Hostname, also the prefix of trace records. */
  name: string;
  /** Index of the host in its world (0, 1, …). */
  index: number;
  /** CONFIG_HZ. */
  hz: number;
  /** Number of CPUs (APIC IDs 0..cpus-1). */
  cpus: number;
  /**
   * The platform has VT-d and the kernel uses it for DMA remapping. `intel_iommu=off` on the
   * command line keeps the hardware (interrupt remapping still works) but turns DMA remapping off.
   */
  iommu: boolean;
  /** Interrupt remapping (off with intremap=off, or when the IOMMU is off). */
  intremap: boolean;
  /** intremap=nosid: no source-ID validation of MSIs. */
  intremapNoSid: boolean;
  /**
   * Kernel command line (the parts ntbsim reads): e.g. "intel_iommu=on",
   * "ntbsim.noquirk=<fixup name>[,…]" to switch named PCI fixups off.
   */
  cmdline: string[];
  /**
   * /etc/modprobe.d `options` lines: parameters modprobe adds whenever it loads the module,
   * also when a driver requests it (request_module). E.g. { ntb_hw_switchtec: ['use_lut_mws=1'] }.
   */
  modprobeOptions?: Record<string, string[]>;
  /** Physical RAM size in bytes (sparse: only touched pages cost memory). */
  ramBytes: number;
  /** Alignment the DMA allocator gives buffers when there is no IOMMU (dma-direct). */
  directDmaAlign: number;
  /** Virtual-time costs of the host's CPU and kernel (see HostTiming). */
  timing: HostTiming;
}

export const HOST_CONFIG = Symbol('HostConfig');

export function defaultHostConfig(name: string, index: number): HostConfig {
  return {
    name,
    index,
    hz: 250,
    cpus: 4,
    iommu: true,
    intremap: true,
    intremapNoSid: false,
    cmdline: [],
    ramBytes: 16 * 1024 ** 3,
    directDmaAlign: 4096,
    timing: { ...ZERO_HOST_TIMING },
  };
}
