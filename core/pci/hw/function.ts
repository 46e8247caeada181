import { MmioHandler } from '../../mm/physmem';
import { ConfigSpace } from './config-space';

/** A PCIe requester ID: bus << 8 | device << 3 | function. */
export type RequesterId = number;

export function requesterId(bus: number, devfn: number): RequesterId {
  return ((bus & 0xff) << 8) | (devfn & 0xff);
}

/**
 * The upstream side of a PCIe link as a function sees it: memory transactions toward the host,
 * tagged with a requester ID. The host's root complex decides what they become (DMA through the
 * IOMMU, or an interrupt request).
 */
export interface PciUpstream {
  memWrite(requester: RequesterId, addr: number, data: Uint8Array): void;
  memWrite32(requester: RequesterId, addr: number, value: number): void;
  /** A read completion: all-ones when the request was blocked (UR). */
  memRead(requester: RequesterId, addr: number, length: number): Uint8Array;
}

/**
 * What one PCI function of a silicon model presents to the platform: its configuration space, a
 * handler per memory BAR, and (for bridges) the functions behind it. The platform tells it where
 * its link goes and which requester ID it captured from configuration writes.
 */
export interface PciFunctionModel {
  readonly config: ConfigSpace;
  /** MMIO handler of BAR `index` (offsets relative to the BAR's base). */
  barHandler(index: number): MmioHandler | undefined;
  /** Called by the platform when the function's link is up and its requester ID is known/changes. */
  connect(upstream: PciUpstream, rid: RequesterId): void;
  /** For a bridge: the devices on its secondary bus, by devfn. */
  readonly secondary?: Map<number, PciFunctionModel>;
  /** Human label for listings ("Switchtec PFX 48xG3 NTB"). */
  readonly label?: string;
}
