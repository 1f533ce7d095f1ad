/** Bounds every decoder keeps, so a hostile payload costs little (issue 12: oversize payloads refused). */
export const LIMITS = {
  /** Largest payload a decoder reads (a Block1/Block2 transfer is reassembled before decoding). */
  maxPayloadBytes: 1024 * 1024,
  /** Most values (TLV entries, SenML records, links) one payload may carry. */
  maxRecords: 10_000,
} as const;
