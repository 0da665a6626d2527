/**
 * The OSCORE option value: the compressed COSE header (RFC 8613 §6.1, Figure 10).
 *
 *      0 1 2 3 4 5 6 7
 *     +-+-+-+-+-+-+-+-+----------------+-------+---------------+-------------+
 *     |0 0 0|h|k|  n  | Partial IV (n) | s (1) | kid context(s)| kid (rest)  |
 *     +-+-+-+-+-+-+-+-+----------------+-------+---------------+-------------+
 *
 * The decoder checks every length before reading and rejects reserved bits, reserved
 * values of n and trailing bytes; it accepts a Partial IV with leading zero bytes (§5
 * forbids only sending one). It never allocates more than the input, and returns views into it.
 */

import { wireBuffer } from '../buffers.js';
import { MalformedOptionError } from '../errors.js';
import type { PartialIV } from '../types.js';

/** Fields of a compressed COSE object header. Absent fields are `undefined`. */
export interface OscoreOptionFields {
  /** 'Partial IV' (COSE label 6), 1 … 5 bytes. */
  readonly partialIV?: PartialIV | undefined;
  /** 'kid context' (COSE label 10), 0 … 255 bytes. */
  readonly kidContext?: Uint8Array | undefined;
  /** 'kid' (COSE label 4); may be the empty byte string. */
  readonly kid?: Uint8Array | undefined;
}

const FLAG_K = 0x08;
const FLAG_H = 0x10;
/** Bits 0–2 (MSB first, §13.7): reserved or unassigned; "if any of these bits are set to 1, the message is considered to be malformed". */
const RESERVED_BITS = 0xe0;
const N_MASK = 0x07;
/** The CoAP option length range of OSCORE (§2, Figure 3: 0–255). */
export const MAX_OSCORE_OPTION_LENGTH = 255;

/** Encodes the OSCORE option value; all-zero flags give the empty value (§2). */
export function encodeOscoreOption(fields: OscoreOptionFields): Uint8Array {
  const { partialIV, kidContext, kid } = fields;
  const n = partialIV?.length ?? 0;
  if (n > 5) throw new RangeError('a Partial IV has at most 5 bytes');
  if (kidContext !== undefined && kidContext.length > 255) throw new RangeError("a 'kid context' has at most 255 bytes");
  const flags = n | (kid !== undefined ? FLAG_K : 0) | (kidContext !== undefined ? FLAG_H : 0);
  // "If the OSCORE flag bits are all zero (0x00), the option value SHALL be empty." (§2)
  // An empty view of the public slab: fresh, as before, without `new Uint8Array(0)`, which
  // V8 11 makes through its runtime (~0.2 µs, on every response without a Partial IV).
  if (flags === 0) return wireBuffer(0);
  const length = 1 + n + (kidContext !== undefined ? 1 + kidContext.length : 0) + (kid?.length ?? 0);
  if (length > MAX_OSCORE_OPTION_LENGTH) throw new RangeError(`the OSCORE option value would be ${length} bytes; at most 255 fit`);
  // Public bytes, carved like a ciphertext (buffers.ts): cheap to hand to Buffer and sockets.
  const out = wireBuffer(length);
  out[0] = flags;
  let offset = 1;
  if (partialIV !== undefined) {
    out.set(partialIV, offset);
    offset += n;
  }
  if (kidContext !== undefined) {
    out[offset++] = kidContext.length;
    out.set(kidContext, offset);
    offset += kidContext.length;
  }
  if (kid !== undefined) out.set(kid, offset);
  return out;
}

/**
 * Decodes an OSCORE option value (§6.1).
 * @throws {MalformedOptionError} on any violation of §2 or §6.1.
 */
export function decodeOscoreOption(value: Uint8Array): OscoreOptionFields {
  if (value.length === 0) return {};
  if (value.length > MAX_OSCORE_OPTION_LENGTH) throw new MalformedOptionError(`it is ${value.length} bytes, more than 255`);
  const flags = value[0]!;
  if ((flags & RESERVED_BITS) !== 0) throw new MalformedOptionError('a reserved flag bit is set');
  // "If the OSCORE flag bits are all zero (0x00), the option value SHALL be empty." (§2)
  if (flags === 0) throw new MalformedOptionError('the flag byte is zero but the value is not empty');
  const n = flags & N_MASK;
  // "The values n = 6 and n = 7 are reserved."
  if (n > 5) throw new MalformedOptionError(`the Partial IV length n = ${n} is reserved`);
  let offset = 1;
  let partialIV: PartialIV | undefined;
  if (n > 0) {
    if (offset + n > value.length) throw new MalformedOptionError('the Partial IV is truncated');
    // "All leading bytes of value zero SHALL be removed when encoding the Partial IV" (§5)
    // binds the sender only: a receiver takes the bytes as they come. The nonce pads them to
    // 5 bytes (§5.2), the AAD carries them as received (§5.4, request_piv), and the replay
    // window sees their numeric value (§7.4), so 0x0005 and 0x05 are the same number.
    partialIV = value.subarray(offset, offset + n) as PartialIV;
    offset += n;
  }
  let kidContext: Uint8Array | undefined;
  if ((flags & FLAG_H) !== 0) {
    if (offset >= value.length) throw new MalformedOptionError("the 'kid context' length byte is missing");
    const s = value[offset++]!;
    if (offset + s > value.length) throw new MalformedOptionError("the 'kid context' is longer than the option value");
    kidContext = value.subarray(offset, offset + s);
    offset += s;
  }
  let kid: Uint8Array | undefined;
  if ((flags & FLAG_K) !== 0) {
    // "The remaining bytes encode the value of the 'kid'" — possibly none.
    kid = value.subarray(offset);
  } else if (offset !== value.length) {
    throw new MalformedOptionError('bytes follow the last field');
  }
  return { partialIV, kidContext, kid };
}
