/**
 * Additional Authenticated Data (RFC 8613 §5.4):
 *
 *     aad_array = [ oscore_version : uint, algorithms : [ alg_aead ], request_kid : bstr,
 *                   request_piv : bstr, options : bstr ]
 *     external_aad = bstr .cbor aad_array
 *     AAD = Enc_structure = [ "Encrypt0", h'', external_aad ]      (RFC 9052 §5.3)
 *
 * The same format serves requests and responses: the response AAD carries the kid and
 * Partial IV of the request it answers, which is what binds it to that request (§7.1).
 */

import type { AeadAlgorithm } from '../algorithms.js';
import { newBuffer, type SlabAllocator } from '../buffers.js';
import { EMPTY } from '../bytes.js';
import { encodeCbor, headLength, MAJOR_BSTR, writeHead } from '../cbor.js';

/** "Implementations of this specification MUST set this field to 1." (§5.4) */
const OSCORE_VERSION = 1;

/** The fixed 11-byte start of every OSCORE AAD: array(3), "Encrypt0", h'' (§5.4). */
const ENC_STRUCTURE_PREFIX = encodeCbor(['Encrypt0', EMPTY]).subarray(1);

/**
 * The CBOR `aad_array`. There are no Class I options defined (§4.1.2), so `options`
 * is always the empty byte string.
 */
export function encodeAadArray(alg: AeadAlgorithm, requestKid: Uint8Array, requestPiv: Uint8Array): Uint8Array {
  return encodeCbor([OSCORE_VERSION, [alg.id], requestKid, requestPiv, EMPTY]);
}

/** The AEAD associated data, `Enc_structure` with `aad_array` wrapped in a byte string. */
export function encodeAad(alg: AeadAlgorithm, requestKid: Uint8Array, requestPiv: Uint8Array): Uint8Array {
  return encodeAadInto(newBuffer, alg, requestKid, requestPiv);
}

/** {@link encodeAad} into a buffer from `allocate` (engine-internal: buffers.ts). */
export function encodeAadInto(allocate: SlabAllocator, alg: AeadAlgorithm, requestKid: Uint8Array, requestPiv: Uint8Array): Uint8Array {
  // aad_array = [1, [alg], request_kid, request_piv, h''] written in place (hot path):
  // the same bytes encodeAadArray produces, without the general encoder's allocations.
  const algLength = headLength(alg.id);
  const arrayLength = 3 + algLength + headLength(requestKid.length) + requestKid.length + headLength(requestPiv.length) + requestPiv.length + 1;
  const out = allocate(1 + ENC_STRUCTURE_PREFIX.length + headLength(arrayLength) + arrayLength);
  out[0] = 0x83; // array of 3 items
  out.set(ENC_STRUCTURE_PREFIX, 1);
  let offset = writeHead(out, 1 + ENC_STRUCTURE_PREFIX.length, MAJOR_BSTR, arrayLength);
  out[offset++] = 0x85; // array of 5 items
  out[offset++] = OSCORE_VERSION;
  out[offset++] = 0x81; // array of 1 item
  offset = writeHead(out, offset, 0, alg.id); // all supported ids are unsigned
  offset = writeHead(out, offset, MAJOR_BSTR, requestKid.length);
  out.set(requestKid, offset);
  offset = writeHead(out, offset + requestKid.length, MAJOR_BSTR, requestPiv.length);
  out.set(requestPiv, offset);
  out[offset + requestPiv.length] = 0x40; // options: h''
  return out;
}
