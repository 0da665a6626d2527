/**
 * Partial IV encoding (RFC 8613 §5): the Sender Sequence Number in network byte order,
 * "All leading bytes of value zero SHALL be removed when encoding the Partial IV,
 * except in the case of Partial IV value 0, which is encoded to the byte string 0x00."
 */

import { MAX_SEQUENCE_NUMBER, type PartialIV, type SequenceNumber } from '../types.js';

/** Encodes a sequence number as the shortest Partial IV (1 … 5 bytes). */
export function encodePartialIV(seq: SequenceNumber): PartialIV {
  const n = seq as number;
  if (n < 0x100) return Uint8Array.of(n) as PartialIV;
  if (n < 0x10000) return Uint8Array.of(n >>> 8, n & 0xff) as PartialIV;
  if (n < 0x1000000) return Uint8Array.of(n >>> 16, (n >>> 8) & 0xff, n & 0xff) as PartialIV;
  // Up to 2^40 − 1: beyond 32-bit integer arithmetic, so split off the top byte first.
  const high = Math.floor(n / 0x100000000);
  const low = n >>> 0;
  const bytes = [low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff];
  return Uint8Array.from(high > 0 ? [high, ...bytes] : bytes) as PartialIV;
}

/** Reads the sequence number of a 1 … 5 byte Partial IV (its bytes are checked by the option decoder). */
export function partialIVToSequenceNumber(piv: PartialIV): SequenceNumber {
  let value = 0;
  for (let i = 0; i < piv.length; i++) value = value * 256 + piv[i]!;
  if (value > MAX_SEQUENCE_NUMBER) throw new RangeError('a Partial IV has at most 5 bytes');
  return value as SequenceNumber;
}
