/**
 * The @noble/ciphers backend: AES-GCM and ChaCha20-Poly1305 in audited pure
 * TypeScript, for runtimes without node:crypto. It has no AES-CCM (neither has
 * WebCrypto), so contexts using algorithms 10, 11, 30, 31 need the node:crypto backend.
 *
 * @example
 * ```ts
 * import { createSecurityContext } from '@oscore-http/core';
 * import { nobleBackend } from '@oscore-http/core/noble';
 * const ctx = createSecurityContext({ ...params, aeadAlgorithm: 1, backend: nobleBackend });
 * ```
 */

import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import type { AeadAlgorithm } from '../algorithms.js';
import { OpaqueKey, type AeadKey, type CryptoBackend } from './backend.js';

class NobleKey extends OpaqueKey {
  readonly algorithm: AeadAlgorithm;
  readonly #bytes: Uint8Array;
  constructor(algorithm: AeadAlgorithm, bytes: Uint8Array) {
    super();
    this.algorithm = algorithm;
    this.#bytes = Uint8Array.from(bytes);
  }
  cipher(nonce: Uint8Array, aad: Uint8Array) {
    return this.algorithm.mode === 'gcm' ? gcm(this.#bytes, nonce, aad) : chacha20poly1305(this.#bytes, nonce, aad);
  }
}

/** AES-GCM (1, 2, 3) and ChaCha20/Poly1305 (24) from @noble/ciphers; HKDF from @noble/hashes. */
export const nobleBackend: CryptoBackend = {
  name: '@noble/ciphers',
  supports(alg: AeadAlgorithm) {
    return alg.mode === 'gcm' || alg.mode === 'chacha20-poly1305';
  },
  importKey(alg: AeadAlgorithm, key: Uint8Array): AeadKey {
    return new NobleKey(alg, key);
  },
  encrypt(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) {
    return (key as NobleKey).cipher(nonce, aad).encrypt(plaintext);
  },
  decrypt(key: AeadKey, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array) {
    const bodyLength = ciphertext.length - key.algorithm.tagLength;
    if (bodyLength < 0 || bodyLength > key.algorithm.maxPlaintextLength) return undefined;
    try {
      return (key as NobleKey).cipher(nonce, aad).decrypt(ciphertext);
    } catch {
      // noble throws on a tag mismatch; the caller maps it to DecryptionFailedError.
      return undefined;
    }
  },
  hkdf(alg, ikm, salt, info, length) {
    return hkdf(alg.hash === 'sha256' ? sha256 : sha512, ikm, salt, info, length);
  },
};
Object.freeze(nobleBackend);
