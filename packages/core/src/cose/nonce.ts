/**
 * AEAD nonce construction (RFC 8613 §5.2, Figure 8):
 *
 *  1. left-pad the Partial IV with zeroes to exactly 5 bytes,
 *  2. left-pad ID_PIV (the Sender ID of the endpoint that generated the Partial IV)
 *     with zeroes to exactly nonce length − 6 bytes,
 *  3. concatenate the size S of ID_PIV (one byte) with padded ID_PIV and padded PIV,
 *  4. XOR with the Common IV.
 */

import { newBuffer, type SlabAllocator } from '../buffers.js';

/**
 * Computes the AEAD nonce. `idPiv` is at most nonce length − 6 bytes and `partialIV`
 * at most 5 bytes; both are guaranteed by context validation and the option decoder.
 */
export function computeNonce(commonIV: Uint8Array, idPiv: Uint8Array, partialIV: Uint8Array): Uint8Array {
  return computeNonceInto(newBuffer, commonIV, idPiv, partialIV);
}

/** {@link computeNonce} into a buffer from `allocate` (engine-internal: buffers.ts). */
export function computeNonceInto(allocate: SlabAllocator, commonIV: Uint8Array, idPiv: Uint8Array, partialIV: Uint8Array): Uint8Array {
  const length = commonIV.length;
  const nonce = allocate(length);
  nonce[0] = idPiv.length;
  nonce.set(idPiv, length - 5 - idPiv.length);
  nonce.set(partialIV, length - partialIV.length);
  for (let i = 0; i < length; i++) nonce[i]! ^= commonIV[i]!;
  return nonce;
}
