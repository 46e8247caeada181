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
  /** Physical RAM size in bytes (sparse: only touched pages cost memory). */
  ramBytes: number;
  /** Alignment the DMA allocator gives buffers when there is no IOMMU (dma-direct). */
  directDmaAlign: number;
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
  };
}
