/**
 * The Switchtec "datasheet": Global Address Space (GAS, BAR0 of every Switchtec function)
 * register offsets and bit definitions, as include/linux/switchtec.h lays them out (gen3).
 * Shared by the silicon model and the drivers, which know each other only through it.
 * Offsets are bytes from the start of the GAS unless a name says "within …".
 * Source of truth: /work/shared/spec/hw-switchtec.md §2–§9.
 */

export const SWITCHTEC_VENDOR_ID = 0x11f8;
/** Default device ID: PFX 48xG3 (gen3, 0x8533). Any ID of 0x8531–0x8576 may be configured. */
export const SWITCHTEC_DEFAULT_DEVICE_ID = 0x8533;
/** Gen3 device IDs (PFX, PSX, PAX, PFXL, PFXI × 24/32/48/64/80/96 lanes). */
export const SWITCHTEC_GEN3_DEVICE_IDS: readonly number[] = [0x853, 0x854, 0x855, 0x856, 0x857].flatMap((hi) =>
  [1, 2, 3, 4, 5, 6].map((lo) => (hi << 4) | lo),
);
export const PCI_CLASS_MANAGEMENT_EP = 0x058000;
export const PCI_CLASS_NT_EP = 0x068000;
export const PCI_CLASS_BRIDGE_PCI = 0x060400;

export const MAX_PARTITIONS = 48;
export const MAX_PFF = 255;

// ---- region bases (§2) -------------------------------------------------------------------------
export const GAS_MRPC = 0x000000;
export const GAS_TOP_CFG = 0x001000;
export const GAS_SW_EVENT = 0x001800;
export const GAS_SYS_INFO = 0x002000;
export const GAS_FLASH_INFO = 0x002200;
export const GAS_PART_CFG = 0x004000;
export const PART_CFG_STRIDE = 0x400;
export const GAS_NTB = 0x010000;
export const NTB_REG_INFO_OFFSET = 0x0;
export const NTB_REG_CTRL_OFFSET = 0x4000;
export const NTB_REG_DBMSG_OFFSET = 0x64000;
export const GAS_NTB_INFO = GAS_NTB + NTB_REG_INFO_OFFSET; // 0x10000
export const GAS_NTB_CTRL = GAS_NTB + NTB_REG_CTRL_OFFSET; // 0x14000
export const NTB_CTRL_STRIDE = 0x2000;
export const GAS_NTB_DBMSG = GAS_NTB + NTB_REG_DBMSG_OFFSET; // 0x74000
export const NTB_DBMSG_STRIDE = 0x4000;
export const GAS_PFF_CSR = 0x134000;
export const PFF_CSR_STRIDE = 0x1000;

export const partCfgBase = (p: number): number => GAS_PART_CFG + PART_CFG_STRIDE * p;
export const ntbCtrlBase = (p: number): number => GAS_NTB_CTRL + NTB_CTRL_STRIDE * p;
export const ntbDbmsgBase = (p: number): number => GAS_NTB_DBMSG + NTB_DBMSG_STRIDE * p;
export const pffCsrBase = (i: number): number => GAS_PFF_CSR + PFF_CSR_STRIDE * i;

// ---- MRPC (§2.1), within GAS_MRPC ----------------------------------------------------------------
export const MRPC_INPUT_DATA = 0x000;
export const MRPC_OUTPUT_DATA = 0x400;
export const MRPC_DATA_LEN = 1024;
export const MRPC_CMD = 0x800;
export const MRPC_STATUS = 0x804;
export const MRPC_RET_VALUE = 0x808;
export const MRPC_DMA_EN = 0x80c;
export const MRPC_DMA_ADDR = 0x810;
export const MRPC_DMA_VECTOR = 0x818;
export const MRPC_DMA_VER = 0x81c;
export const MRPC_END = 0x820;
export const SWITCHTEC_MRPC_STATUS_INPROGRESS = 1;
export const SWITCHTEC_MRPC_STATUS_DONE = 2;
export const SWITCHTEC_MRPC_STATUS_ERROR = 0xff;
export const SWITCHTEC_MRPC_STATUS_INTERRUPTED = 0x100;

// ---- SYS_INFO (§2.2), within GAS_SYS_INFO --------------------------------------------------------
export const SYS_INFO_DEVICE_ID = 0x00;
export const SYS_INFO_DEVICE_VERSION = 0x04;
export const SYS_INFO_FIRMWARE_VERSION = 0x08;
export const SYS_INFO_PARTITION_ID = 0x18;
export const SYS_INFO_CFG_RUNNING = 0x20;
export const SYS_INFO_IMG_RUNNING = 0x22;
export const SYS_INFO_VENDOR_ID = 0x108; // char[8]
export const SYS_INFO_PRODUCT_ID = 0x110; // char[16]
export const SYS_INFO_PRODUCT_REVISION = 0x120; // char[4]
export const SYS_INFO_COMPONENT_VENDOR = 0x124; // char[8]
export const SYS_INFO_COMPONENT_ID = 0x12c; // u16
export const SYS_INFO_COMPONENT_REVISION = 0x12e; // u8
export const SYS_INFO_SIZE = 0x200;

// ---- PART_CFG[p] (§2.3), within partCfgBase(p) -----------------------------------------------------
export const PART_CFG_STATUS = 0x000;
export const PART_CFG_STATE = 0x004;
export const PART_CFG_PORT_CNT = 0x008;
export const PART_CFG_USP_PORT_MODE = 0x00c;
export const PART_CFG_USP_PFF_INST_ID = 0x010;
export const PART_CFG_VEP_PFF_INST_ID = 0x014;
export const PART_CFG_DSP_PFF_INST_ID = 0x018; // u32[47]
export const PART_CFG_DSP_PFF_COUNT = 47;
export const PART_CFG_VEP_VECTOR_NUMBER = 0x100; // u16
export const PART_CFG_USP_VECTOR_NUMBER = 0x102; // u16
export const PART_CFG_PORT_EVENT_BITMAP = 0x104;
export const PART_CFG_PART_EVENT_SUMMARY = 0x114;
export const PART_CFG_PART_RESET_HDR = 0x124;
export const PART_CFG_MRPC_COMP_HDR = 0x13c;
export const PART_CFG_MRPC_COMP_ASYNC_HDR = 0x154;
export const PART_CFG_DYN_BINDING_HDR = 0x16c;
export const PART_CFG_INTERCOMM_NOTIFY_HDR = 0x184;
export const PART_CFG_EVENT_HDRS: readonly number[] = [
  PART_CFG_PART_RESET_HDR,
  PART_CFG_MRPC_COMP_HDR,
  PART_CFG_MRPC_COMP_ASYNC_HDR,
  PART_CFG_DYN_BINDING_HDR,
  PART_CFG_INTERCOMM_NOTIFY_HDR,
];

// ---- event header bits (§2.4) --------------------------------------------------------------------
export const SWITCHTEC_EVENT_OCCURRED = 1 << 0;
export const SWITCHTEC_EVENT_CLEAR = 1 << 0;
export const SWITCHTEC_EVENT_EN_LOG = 1 << 1;
export const SWITCHTEC_EVENT_EN_CLI = 1 << 2;
export const SWITCHTEC_EVENT_EN_IRQ = 1 << 3;
export const SWITCHTEC_EVENT_FATAL = 1 << 4;
export const SWITCHTEC_EVENT_COUNT_SHIFT = 5;
export const SWITCHTEC_EVENT_COUNT_MASK = 0xff << 5;
export const SWITCHTEC_EVENT_NOT_SUPP = 1 << 31;
/** Header bits software may set/clear (EN_LOG, EN_CLI, EN_IRQ, FATAL). */
export const SWITCHTEC_EVENT_WRITABLE = SWITCHTEC_EVENT_EN_LOG | SWITCHTEC_EVENT_EN_CLI | SWITCHTEC_EVENT_EN_IRQ | SWITCHTEC_EVENT_FATAL;

// ---- PFF_CSR[i] (§2.5), within pffCsrBase(i) -------------------------------------------------------
export const PFF_VENDOR_ID = 0x000;
export const PFF_DEVICE_ID = 0x002;
export const PFF_PCICMD = 0x004;
export const PFF_PCISTS = 0x006;
export const PFF_PCI_BAR = 0x010;
export const PFF_CAP_REGION = 0x040;
/** pci_cap_region[13]: PCIe Link Control (low 16) / Link Status (high 16). */
export const PFF_LINK_CTL_STS = 0x074;
export const PFF_PCIE_CAP_REGION = 0x100;
export const PFF_EVENT_SUMMARY = 0xc00;
export const PFF_EVENT_HDR_BASE = 0xc10;
export const PFF_EVENT_HDR_STRIDE = 0x18;
/** aer_in_p2p … link_state: 13 headers at 0xC10 + 0x18·k. */
export const PFF_EVENT_HDR_COUNT = 13;
export const PFF_LINK_STATE_HDR = 0xd30;
export const PFF_EVENT_END = PFF_EVENT_HDR_BASE + PFF_EVENT_HDR_STRIDE * PFF_EVENT_HDR_COUNT; // 0xD48
/** Link status fields as the driver decodes them from the PFF_LINK_CTL_STS dword. */
export const LINK_STS_SPEED_SHIFT = 16;
export const LINK_STS_WIDTH_SHIFT = 20;

// ---- NTB INFO (§3.1), within GAS_NTB_INFO ----------------------------------------------------------
export const NTB_INFO_PARTITION_COUNT = 0x000; // u8
export const NTB_INFO_PARTITION_ID = 0x001; // u8
export const NTB_INFO_EP_MAP = 0x004; // u64
export const NTB_INFO_REQUESTER_ID = 0x00c; // u16
export const NTB_INFO_NTP_INFO = 0x020; // 16 bytes per partition
export const NTB_INFO_NTP_STRIDE = 0x10;
export const NTP_XLINK_ENABLED = 0x0;
export const NTP_TARGET_PART_LOW = 0x4;
export const NTP_TARGET_PART_HIGH = 0x8;
export const NTB_INFO_SIZE = 0x320;

// ---- NTB CTRL[p] (§4), within ntbCtrlBase(p) --------------------------------------------------------
export const CTRL_PARTITION_STATUS = 0x000;
export const CTRL_PARTITION_OP = 0x004;
export const CTRL_PARTITION_CTRL = 0x008;
export const CTRL_BAR_SETUP = 0x00c;
export const CTRL_BAR_ERROR = 0x010;
export const CTRL_LUT_TABLE_ENTRIES = 0x014; // u16
export const CTRL_LUT_TABLE_OFFSET = 0x016; // u16
export const CTRL_LUT_ERROR = 0x018;
export const CTRL_REQ_ID_TABLE_SIZE = 0x01c; // u16
export const CTRL_REQ_ID_TABLE_OFFSET = 0x01e; // u16
export const CTRL_REQ_ID_ERROR = 0x020;
export const CTRL_BAR_ENTRY = 0x040; // 6 × 16 bytes
export const CTRL_BAR_ENTRY_STRIDE = 0x10;
export const BAR_ENTRY_CTL = 0x0;
export const BAR_ENTRY_WIN_SIZE = 0x4;
export const BAR_ENTRY_XLATE_ADDR = 0x8; // u64
export const CTRL_BAR_EXT_ENTRY = 0x0a0; // 6 × 16 bytes, +0 = win_size high 32 bits
export const CTRL_REQ_ID_TABLE = 0x400; // u32[512]
export const CTRL_LUT_ENTRY = 0x1000; // u64[512]
export const CTRL_MAX_REQ_ID_ENTRIES = 512;
export const CTRL_MAX_LUT_ENTRIES = 512;

export const NTB_CTRL_PART_OP_LOCK = 0x1;
export const NTB_CTRL_PART_OP_CFG = 0x2;
export const NTB_CTRL_PART_OP_RESET = 0x3;
export const NTB_CTRL_PART_STATUS_NORMAL = 0x1;
export const NTB_CTRL_PART_STATUS_LOCKED = 0x2;
export const NTB_CTRL_PART_STATUS_LOCKING = 0x3;
export const NTB_CTRL_PART_STATUS_CONFIGURING = 0x4;
export const NTB_CTRL_PART_STATUS_RESETTING = 0x5;
export const NTB_PART_CTRL_ID_PROT_DIS = 0x1;

/** bar_entry.ctl bits (§5.1). */
export const NTB_CTRL_BAR_VALID = 1 << 0;
export const NTB_CTRL_BAR_DIR_WIN_EN = 1 << 4;
export const NTB_CTRL_BAR_LUT_WIN_EN = 1 << 5;
export const NTB_CTRL_BAR_LUT_SIZE_SHIFT = 8;
export const NTB_CTRL_BAR_LUT_SIZE_MASK = 0x3f;
export const NTB_CTRL_BAR_LUT_COUNT_SHIFT = 14;

/** req_id_table entry bits (§6). */
export const NTB_CTRL_REQ_ID_EN = 1 << 0;
export const NTB_CTRL_REQ_ID_PROXY_SHIFT = 1;
export const NTB_CTRL_REQ_ID_PROXY_MASK = 0xff << 1;
export const NTB_CTRL_REQ_ID_SHIFT = 16;
/** lut_entry bits (§5.3). */
export const NTB_CTRL_LUT_EN = 1n;
export const NTB_CTRL_LUT_PART_SHIFT = 1n;
export const NTB_CTRL_LUT_PART_MASK = 0x3fn; // 6 bits: enough for 48 partitions
export const LUT_SIZE = 0x10000; // the driver always uses 64 KiB LUT windows
/** Partition field in the low bits of xlate_addr (§5.2, §5.4). */
export const XLATE_PART_MASK = 0xfff;

// ---- NTB DBMSG[p] (§9), within ntbDbmsgBase(p) ------------------------------------------------------
export const DBMSG_ODB = 0x1000; // u64
export const DBMSG_ODB_MASK = 0x1008; // u64
export const DBMSG_IDB = 0x1010; // u64
export const DBMSG_IDB_MASK = 0x1018; // u64
export const DBMSG_IDB_VEC_MAP = 0x1020; // u8[64]
export const DBMSG_MSG_MAP = 0x1060; // u32
export const DBMSG_OMSG = 0x1068; // 4 × {msg u32, status u32}
export const DBMSG_IMSG = 0x1088; // 4 × {msg u32, status u8, mask u8, src u8, rsvd u8}
export const DBMSG_MSG_STRIDE = 8;
export const DBMSG_NUM_MSGS = 4;
export const DBMSG_MSIX_TABLE = 0x2000;
export const DBMSG_PBA = 0x3000;
export const DBMSG_END = 0x10a8; // end of the live registers
/** Bits 60..63 of idb mirror the four inbound message registers. */
export const DBMSG_MSG_DB_SHIFT = 60;
export const DBMSG_DB_BITS_MASK = 0x0fffffffffffffffn;
/** imsg as a u64 (§9): STATUS = bit 32, MASK = bit 40. */
export const NTB_DBMSG_IMSG_STATUS = 1n << 32n;
export const NTB_DBMSG_IMSG_MASK = 1n << 40n;

/** The name of the Switchtec DMA-alias PCI fixup, as `ntbsim.noquirk=` on a host's cmdline takes it. */
export const SWITCHTEC_ALIAS_QUIRK = 'quirk_switchtec_ntb_dma_alias';
