/**
 * The crypto seam: one interface; this package implements it with node:crypto and with
 * @noble/ciphers, and `@oscore-http/openssl` with OpenSSL cipher contexts kept per key.
 *
 * The engine never implements an AEAD mode or a KDF itself; it asks a backend. Keys are
 * imported once per security context into the backend's own handle (a node:crypto
 * `KeyObject`, or a private copy) so that no per-message work repeats.
 */

import type { AeadAlgorithm, HkdfAlgorithm } from '../algorithms.js';

/** A key imported into a backend. Opaque to the engine. */
export interface AeadKey {
  readonly algorithm: AeadAlgorithm;
}

/** AEAD and HKDF primitives from a well-reviewed library. */
export interface CryptoBackend {
  /** Short name for diagnostics, e.g. `node:crypto`. */
  readonly name: string;
  /** Whether this backend implements `algorithm`. */
  supports(algorithm: AeadAlgorithm): boolean;
  /** Imports raw key bytes for repeated use with `algorithm`. */
  importKey(algorithm: AeadAlgorithm, key: Uint8Array): AeadKey;
  /**
   * AEAD encryption: returns ciphertext ‖ tag (RFC 5116 §2.1, as COSE expects) in memory
   * that holds nothing but public bytes: its own, or a view into slabs of ciphertexts
   * (`createSlabAllocator`). `nonce`, `aad` and `plaintext` are views into engine
   * memory, and the plaintext is wiped once the call returns: read them during the call,
   * never keep them.
   */
  encrypt(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * AEAD decryption of ciphertext ‖ tag; returns the plaintext in memory of its own (the
   * application may get views of it), or `undefined` when authentication fails. `nonce`
   * and `aad` as for `encrypt`.
   */
  decrypt(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined;
  /** HKDF-Extract then HKDF-Expand (RFC 5869 §2.2–2.3). */
  hkdf(algorithm: HkdfAlgorithm, ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

/**
 * A key object whose inspection never shows the key: the base of every backend's keys,
 * for backends outside this package too (`@oscore-http/openssl`).
 */
export abstract class OpaqueKey implements AeadKey {
  abstract readonly algorithm: AeadAlgorithm;
  toJSON(): string {
    return '[AeadKey]';
  }
  toString(): string {
    return '[AeadKey]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `AeadKey(${this.algorithm.name}, redacted)`;
  }
}
