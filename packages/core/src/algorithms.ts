/**
 * The COSE AEAD and HKDF algorithms OSCORE can use, keyed by their COSE identifiers
 * (RFC 9053 §4.1–4.3 and §5.1; RFC 8613 §3.2, §5).
 *
 * OSCORE needs an AEAD nonce of at least 7 bytes (RFC 8613 §5.2), which every entry
 * here has. The nonce length bounds the Sender ID (nonce length − 6 bytes, §3.3), and
 * for AES-CCM the 13-byte nonce leaves L = 2 length bytes, so one message carries at
 * most 2^16 − 1 = 65,535 bytes of plaintext (RFC 9053 §4.2).
 */

import { UnsupportedAlgorithmError } from './errors.js';

/** COSE identifiers of the AEAD algorithms supported. */
export type AeadAlgorithmId = 10 | 11 | 30 | 31 | 1 | 2 | 3 | 24;

/** Static properties of one AEAD algorithm. */
export interface AeadAlgorithm {
  /** COSE algorithm identifier (RFC 9053). */
  readonly id: AeadAlgorithmId;
  /** Name as registered in the IANA COSE Algorithms registry. */
  readonly name: string;
  /** Key length in bytes. */
  readonly keyLength: number;
  /** Nonce (and Common IV) length in bytes. */
  readonly nonceLength: number;
  /** Authentication tag length in bytes. */
  readonly tagLength: number;
  /** Largest plaintext in bytes one message may carry. */
  readonly maxPlaintextLength: number;
  /** Mode family, used by the crypto backends. */
  readonly mode: 'ccm' | 'gcm' | 'chacha20-poly1305';
}

// AES-CCM with a 13-byte nonce: L = 15 - 13 = 2, so at most 2^(8L) - 1 bytes (RFC 9053 §4.2).
const CCM_MAX = 2 ** 16 - 1;
// AES-GCM: 2^39 - 256 bits of plaintext per invocation (NIST SP 800-38D §5.2.1.1).
const GCM_MAX = 2 ** 36 - 32;
// ChaCha20/Poly1305: 2^38 - 64 bytes (RFC 8439 §2.8).
const CHACHA_MAX = 2 ** 38 - 64;

const TABLE: Record<AeadAlgorithmId, AeadAlgorithm> = {
  10: { id: 10, name: 'AES-CCM-16-64-128', keyLength: 16, nonceLength: 13, tagLength: 8, maxPlaintextLength: CCM_MAX, mode: 'ccm' },
  11: { id: 11, name: 'AES-CCM-16-64-256', keyLength: 32, nonceLength: 13, tagLength: 8, maxPlaintextLength: CCM_MAX, mode: 'ccm' },
  30: { id: 30, name: 'AES-CCM-16-128-128', keyLength: 16, nonceLength: 13, tagLength: 16, maxPlaintextLength: CCM_MAX, mode: 'ccm' },
  31: { id: 31, name: 'AES-CCM-16-128-256', keyLength: 32, nonceLength: 13, tagLength: 16, maxPlaintextLength: CCM_MAX, mode: 'ccm' },
  1: { id: 1, name: 'A128GCM', keyLength: 16, nonceLength: 12, tagLength: 16, maxPlaintextLength: GCM_MAX, mode: 'gcm' },
  2: { id: 2, name: 'A192GCM', keyLength: 24, nonceLength: 12, tagLength: 16, maxPlaintextLength: GCM_MAX, mode: 'gcm' },
  3: { id: 3, name: 'A256GCM', keyLength: 32, nonceLength: 12, tagLength: 16, maxPlaintextLength: GCM_MAX, mode: 'gcm' },
  24: { id: 24, name: 'ChaCha20/Poly1305', keyLength: 32, nonceLength: 12, tagLength: 16, maxPlaintextLength: CHACHA_MAX, mode: 'chacha20-poly1305' },
};
for (const alg of Object.values(TABLE)) Object.freeze(alg);

/** Every supported AEAD algorithm, in registry order of preference for OSCORE. */
export const AEAD_ALGORITHMS: readonly AeadAlgorithm[] = Object.freeze([10, 11, 30, 31, 1, 2, 3, 24].map((id) => TABLE[id as AeadAlgorithmId]));

/** The mandatory-to-implement default, AES-CCM-16-64-128 (RFC 8613 §3.2). */
export const DEFAULT_AEAD: AeadAlgorithm = TABLE[10];

/**
 * Looks up an AEAD algorithm by COSE identifier or registered name.
 * @throws {UnsupportedAlgorithmError} for anything not in the table.
 */
export function aeadAlgorithm(idOrName: number | string): AeadAlgorithm {
  if (typeof idOrName === 'number') {
    const alg = Object.hasOwn(TABLE, idOrName) ? TABLE[idOrName as AeadAlgorithmId] : undefined;
    if (alg !== undefined) return alg;
  } else {
    const alg = AEAD_ALGORITHMS.find((a) => a.name.toLowerCase() === idOrName.toLowerCase());
    if (alg !== undefined) return alg;
  }
  throw new UnsupportedAlgorithmError(String(idOrName));
}

/** The HMAC-based HKDF algorithms defined for COSE (RFC 9053 §5.1); SHA-256 is mandatory (RFC 8613 §3.2.1). */
export interface HkdfAlgorithm {
  /** COSE identifier as used by the OSCORE Security Context parameter registry (−10, −11). */
  readonly id: -10 | -11;
  readonly name: 'HKDF-SHA-256' | 'HKDF-SHA-512';
  /** Hash function name as node:crypto and @noble/hashes spell it. */
  readonly hash: 'sha256' | 'sha512';
}

const HKDF_TABLE: readonly HkdfAlgorithm[] = Object.freeze([
  Object.freeze({ id: -10, name: 'HKDF-SHA-256', hash: 'sha256' } as const),
  Object.freeze({ id: -11, name: 'HKDF-SHA-512', hash: 'sha512' } as const),
]);

/** The default HKDF, HKDF SHA-256 (RFC 8613 §3.2). */
export const DEFAULT_HKDF: HkdfAlgorithm = HKDF_TABLE[0]!;

/**
 * Looks up an HKDF algorithm by COSE identifier (−10, −11) or name (`HKDF-SHA-256`, `HKDF-SHA-512`).
 * @throws {UnsupportedAlgorithmError} for anything else.
 */
export function hkdfAlgorithm(idOrName: number | string): HkdfAlgorithm {
  const alg = HKDF_TABLE.find((a) => (typeof idOrName === 'number' ? a.id === idOrName : a.name.toLowerCase() === idOrName.toLowerCase()));
  if (alg === undefined) throw new UnsupportedAlgorithmError(String(idOrName));
  return alg;
}
