/**
 * AEAD key usage limits (draft-ietf-core-oscore-key-limits §2.1.1, §2.2, §2.3):
 * `count_q` counts encryptions with the Sender Key, `count_v` failed decryptions with
 * the Recipient Key; past `limit_q` / `limit_v` the key must not be used again and the
 * context has to be replaced.
 *
 * The limits hold for messages of at most `l` cipher blocks (§2.1.1), a message's size being
 * its COSE plaintext, tag and cipher padding (§2.3). Larger CoAP messages are split by
 * block-wise transfer (§2.3); an HTTP body has no such split, so a message of more than
 * `l` blocks counts as as many uses as messages of `l` blocks it would take:
 * the bounds of draft-irtf-cfrg-aead-limits grow with the blocks processed, and this keeps
 * them as the draft computed them — its own alternative of "reducing the value of 'q' and
 * 'v' considering the new value of 'l'" (§2.1.1), applied per message.
 */

import type { AeadAlgorithm } from '../algorithms.js';

/** The limits of one context. */
export interface UsageLimits {
  /** Most messages protected with the Sender Key ('limit_q'), counted in messages of at most `l` blocks. */
  readonly q: number;
  /** Most failed decryptions with the Recipient Key that still leave it in use ('limit_v', the highest 'count_v' allowed), counted likewise. */
  readonly v: number;
  /** Longest message, in cipher blocks, that counts as one use ('l'). */
  readonly l: number;
}

/**
 * The draft's recommendation (§2.1.1): q = v = 2^20 with l = 2^10 blocks for
 * AEAD_AES_128_CCM, AES-GCM and ChaCha20-Poly1305, and (q, v, l) = (2^20, 2^14, 2^8)
 * for AEAD_AES_128_CCM_8 — AES-CCM-16-64-128 (10), OSCORE's default. AES-CCM-16-64-256
 * (11) also has an 8-byte tag and gets the same, conservative, v and l.
 */
export function defaultUsageLimits(alg: AeadAlgorithm): UsageLimits {
  const ccm8 = alg.mode === 'ccm' && alg.tagLength === 8;
  return { q: 2 ** 20, v: ccm8 ? 2 ** 14 : 2 ** 20, l: ccm8 ? 2 ** 8 : 2 ** 10 };
}

/** Bytes in one cipher block: 16 for AES, 64 for ChaCha20 (the draft's Figure 2). */
export function cipherBlockBytes(alg: AeadAlgorithm): number {
  return alg.mode === 'chacha20-poly1305' ? 64 : 16;
}

/**
 * How many uses a message of `bytes` (COSE plaintext and tag) counts as. Padding to whole
 * blocks (§2.3) changes nothing here: `unitBytes` is a whole number of blocks.
 */
export function usesOf(bytes: number, unitBytes: number): number {
  return bytes <= unitBytes ? 1 : Math.ceil(bytes / unitBytes);
}
