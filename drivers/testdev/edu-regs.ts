/**
 * The driver's view of the edu register map (its "header"): drivers know the hardware from its
 * datasheet, never by importing the silicon model.
 */
export const EDU = {
  VENDOR: 0x1234,
  DEVICE: 0x11e8,
  IDENT: 0x00,
  IDENT_VALUE: 0x010000ed,
  IRQ_STATUS: 0x24,
  IRQ_ACK: 0x64,
  IRQ_RAISE_VECTOR: 0x68,
  DMA_SRC: 0x80,
  DMA_DST: 0x88,
  DMA_COUNT: 0x90,
  DMA_CMD: 0x98,
  DMA_CMD_START: 0x1,
  DMA_CMD_TO_RAM: 0x2,
  DMA_BUF: 0x40000,
  DMA_BUF_SIZE: 4096,
} as const;
