/**
 * Partial IV encoding (RFC 8613 §5): the Sender Sequence Number in network byte order,
 * "All leading bytes of value zero SHALL be removed when encoding the Partial IV,
 * except in the case of Partial IV value 0, which is encoded to the byte string 0x00."
 */

import { MAX_SEQUENCE_NUMBER, type PartialIV, type SequenceNumber } from '../types.js';

/** Encodes a sequence number as the shortest Partial IV (1 … 5 bytes). */
export function encodePartialIV(seq: SequenceNumber): PartialIV {
  let length = 1;
  while (length < 5 && seq >= 2 ** (8 * length)) length++;
  const out = new Uint8Array(length);
  let rest = seq as number;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return out as PartialIV;
}

/** Reads the sequence number of a 1 … 5 byte Partial IV (its bytes are checked by the option decoder). */
export function partialIVToSequenceNumber(piv: PartialIV): SequenceNumber {
  let value = 0;
  for (let i = 0; i < piv.length; i++) value = value * 256 + piv[i]!;
  if (value > MAX_SEQUENCE_NUMBER) throw new RangeError('a Partial IV has at most 5 bytes');
  return value as SequenceNumber;
}
