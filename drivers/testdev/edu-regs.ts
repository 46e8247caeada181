/**
 * The edu register map, its "datasheet": shared by the silicon model and the driver, which know
 * each other only through it (the driver never imports the model).
 */
export const EDU = {
  VENDOR: 0x1234,
  DEVICE: 0x11e8,
  BAR0_SIZE: 1 << 20,
  IDENT: 0x00,
  IDENT_VALUE: 0x010000ed,
  LIVENESS: 0x04,
  IRQ_STATUS: 0x24,
  IRQ_RAISE: 0x60,
  IRQ_ACK: 0x64,
  /** ntbsim extension: write n to raise MSI-X vector n. */
  IRQ_RAISE_VECTOR: 0x68,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
  DMA_CMD_START: 0x1,
  DMA_CMD_TO_RAM: 0x2,
  DMA_CMD_IRQ: 0x4,
  /** The device's internal buffer as seen by its DMA engine. */
  DMA_BUF: 0x40000,
  DMA_BUF_SIZE: 4096,
  MSIX_TABLE: 0x10000,
  MSIX_PBA: 0x11000,
} as const;
