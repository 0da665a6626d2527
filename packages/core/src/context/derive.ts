/**
 * Derivation of Sender Key, Recipient Key and Common IV (RFC 8613 §3.2.1):
 *
 *     output parameter = HKDF(salt = Master Salt, IKM = Master Secret, info, L)
 *     info = [ id : bstr, id_context : bstr / nil, alg_aead : int / tstr, type : tstr, L : uint ]
 */

import type { AeadAlgorithm, HkdfAlgorithm } from '../algorithms.js';
import type { CryptoBackend } from '../aead/backend.js';
import { EMPTY } from '../bytes.js';
import { encodeCbor } from '../cbor.js';

/** The serialised `info` array of RFC 8613 §3.2.1. */
export function hkdfInfo(
  id: Uint8Array,
  idContext: Uint8Array | undefined,
  alg: AeadAlgorithm,
  type: 'Key' | 'IV' | 'state',
  length: number,
): Uint8Array {
  // "id_context is the ID Context, or nil if ID Context is not provided."
  return encodeCbor([id, idContext ?? null, alg.id, type, length]);
}

/** Inputs of the derivation, named as RFC 8613 §3.2 names them. */
export interface DerivationInput {
  readonly masterSecret: Uint8Array;
  readonly masterSalt: Uint8Array;
  readonly senderId: Uint8Array;
  readonly recipientId: Uint8Array;
  readonly idContext: Uint8Array | undefined;
  readonly aead: AeadAlgorithm;
  readonly hkdf: HkdfAlgorithm;
}

/** The derived parameters of RFC 8613 §3.2.1. Secret: never log or serialise. */
export interface DerivedParameters {
  readonly senderKey: Uint8Array;
  readonly recipientKey: Uint8Array;
  readonly commonIV: Uint8Array;
}

/** Runs the three HKDF derivations of RFC 8613 §3.2.1. */
export function deriveParameters(input: DerivationInput, backend: CryptoBackend): DerivedParameters {
  const { masterSecret, masterSalt, idContext, aead, hkdf } = input;
  const derive = (id: Uint8Array, type: 'Key' | 'IV', length: number) =>
    backend.hkdf(hkdf, masterSecret, masterSalt, hkdfInfo(id, idContext, aead, type, length), length);
  return {
    senderKey: derive(input.senderId, 'Key', aead.keyLength),
    recipientKey: derive(input.recipientId, 'Key', aead.keyLength),
    // "id is ... the empty byte string when deriving the Common IV"; L is the nonce length.
    commonIV: derive(EMPTY, 'IV', aead.nonceLength),
  };
}
