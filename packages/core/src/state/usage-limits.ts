/**
 * AEAD key usage limits (draft-ietf-core-oscore-key-limits §2.1.1, §2.2, §2.3):
 * `count_q` counts encryptions with the Sender Key, `count_v` failed decryptions with
 * the Recipient Key; past `limit_q` / `limit_v` the key must not be used again and the
 * context has to be replaced.
 */

import type { AeadAlgorithm } from '../algorithms.js';

/** The limits of one context. */
export interface UsageLimits {
  /** Most messages protected with the Sender Key ('limit_q'). */
  readonly q: number;
  /** Most failed decryptions with the Recipient Key ('limit_v'). */
  readonly v: number;
}

/**
 * The draft's recommendation (§2.1.1): q = v = 2^20 with l = 2^10 blocks for
 * AEAD_AES_128_CCM, AES-GCM and ChaCha20-Poly1305, and (q, v, l) = (2^20, 2^14, 2^8)
 * for AEAD_AES_128_CCM_8 — AES-CCM-16-64-128 (10), OSCORE's default. AES-CCM-16-64-256
 * (11) also has an 8-byte tag and gets the same, conservative, v.
 */
export function defaultUsageLimits(alg: AeadAlgorithm): UsageLimits {
  const ccm8 = alg.mode === 'ccm' && alg.tagLength === 8;
  return { q: 2 ** 20, v: ccm8 ? 2 ** 14 : 2 ** 20 };
}
