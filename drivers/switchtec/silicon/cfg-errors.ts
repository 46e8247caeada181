/**
 * Error codes the model writes to bar_error / lut_error / req_id_error after a failed CFG. The
 * real firmware codes are not known (§13); these are ntbsim's.
 */
export const NTB_CFG_ERR = {
  NONE: 0,
  /** DIR_WIN_EN or LUT_WIN_EN on a BAR that is not a VALID window BAR. */
  BAR_NOT_VALID: 0x1,
  /** Window size < 4 KiB, not 4 KiB granular, or larger than the BAR room left after the LUTs. */
  WIN_SIZE: 0x2,
  /** Translation address not aligned to the window size (2^floor(log2 size)). */
  XLATE_ALIGN: 0x3,
  /** Target partition does not exist / has no NT endpoint. */
  PARTITION: 0x4,
  /** LUT geometry (count/size) does not fit the BAR or the partition's LUT entries. */
  LUT_GEOMETRY: 0x5,
  /** An enabled LUT entry with an address not aligned to the LUT window size. */
  LUT_ALIGN: 0x6,
} as const;

