/**
 * The backend over the addon's functions, and the known-answer test it must pass before
 * it is handed out.
 */

import { AEAD_ALGORITHMS, createSlabAllocator, OpaqueKey, type AeadAlgorithm, type AeadKey, type CryptoBackend } from '@oscore-http/core';
import { OpensslBackendUnavailableError, OpensslOperationError } from './errors.js';

/** The addon's functions (native/aead.c). */
export interface Addon {
  importKey(cipher: string, key: Uint8Array, nonceLength: number, tagLength: number): object;
  encrypt(key: object, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): number;
  decrypt(key: object, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): number;
}

function cipherName(alg: AeadAlgorithm): string {
  switch (alg.mode) {
    case 'ccm':
      return `aes-${alg.keyLength * 8}-ccm`;
    case 'gcm':
      return `aes-${alg.keyLength * 8}-gcm`;
    case 'chacha20-poly1305':
      return 'chacha20-poly1305';
  }
}

/** Largest input the addon takes (OpenSSL's lengths are `int`). */
const MAX_LENGTH = 2 ** 31 - 1 - 16;

class OpensslKey extends OpaqueKey {
  readonly algorithm: AeadAlgorithm;
  /** The addon's handle; it holds the key schedule, never the key bytes in JavaScript. */
  readonly handle: object;
  constructor(algorithm: AeadAlgorithm, handle: object) {
    super();
    this.algorithm = algorithm;
    this.handle = handle;
  }
}

/**
 * The backend over `native`, with HKDF and the list of algorithms from `node` (the
 * node:crypto backend). It is first checked against `node` (see {@link selfTest}).
 *
 * @throws {OpensslBackendUnavailableError} if it does not agree with node:crypto.
 */
export function createOpensslBackend(native: Addon, node: CryptoBackend): CryptoBackend {
  const keys = (key: AeadKey): OpensslKey => {
    if (!(key instanceof OpensslKey)) throw new TypeError('the key was not imported by the OpenSSL backend');
    return key;
  };
  const ciphertexts = createSlabAllocator();
  const backend: CryptoBackend = {
    name: 'openssl (kept contexts)',
    supports(alg) {
      return node.supports(alg);
    },
    importKey(alg, key) {
      return new OpensslKey(alg, native.importKey(cipherName(alg), key, alg.nonceLength, alg.tagLength));
    },
    encrypt(key, nonce, aad, plaintext) {
      const k = keys(key);
      // As node:crypto (ERR_CRYPTO_INVALID_MESSAGELEN), a RangeError: over AES-CCM-16's 65,535 bytes OpenSSL cannot encrypt at all.
      if (plaintext.length > k.algorithm.maxPlaintextLength) throw new RangeError(`the plaintext is longer than ${k.algorithm.name} allows`);
      if (plaintext.length > MAX_LENGTH) throw new RangeError('the plaintext is too long for the OpenSSL backend');
      // Carved from slabs of this backend's ciphertexts only (not Node's Buffer pool, which
      // holds anyone's data): the ciphertext is public, and so is whatever its `.buffer`
      // shows. A new ArrayBuffer per message would cost several times the encryption.
      const out = ciphertexts(plaintext.length + k.algorithm.tagLength);
      if (native.encrypt(k.handle, nonce, aad, plaintext, out) !== out.length) throw new OpensslOperationError();
      return out;
    },
    decrypt(key, nonce, aad, ciphertext) {
      const k = keys(key);
      const bodyLength = ciphertext.length - k.algorithm.tagLength;
      // Nothing longer than the algorithm's bound can be authentic.
      if (bodyLength < 0 || bodyLength > k.algorithm.maxPlaintextLength || bodyLength > MAX_LENGTH) return undefined;
      // Memory of its own: the plaintext, and the views the application gets of it, show nothing else.
      const out = new Uint8Array(bodyLength);
      return native.decrypt(k.handle, nonce, aad, ciphertext, out) === bodyLength ? out : undefined;
    },
    hkdf(alg, ikm, salt, info, length) {
      return node.hkdf(alg, ikm, salt, info, length);
    },
  };
  selfTest(backend, node);
  return backend;
}

/** One algorithm of each mode: AES-CCM-16-64-128, A128GCM, ChaCha20/Poly1305. */
const TESTED: readonly AeadAlgorithm[] = AEAD_ALGORITHMS.filter((a) => a.id === 10 || a.id === 1 || a.id === 24);

/**
 * A known-answer test against node:crypto, once per process: an addon built against
 * another OpenSSL than the one this Node.js links (an image whose Node.js changed without
 * `npm rebuild`) must fail here, at start-up, not by protecting messages its peer cannot
 * read. Each mode must encrypt exactly as node:crypto does, decrypt its own output, and
 * refuse that output with one bit changed.
 */
function selfTest(backend: CryptoBackend, node: CryptoBackend): void {
  const bytes = (n: number, from: number) => Uint8Array.from({ length: n }, (_, i) => (from + i * 7) & 0xff);
  for (const alg of TESTED) {
    const key = bytes(alg.keyLength, 1);
    const nonce = bytes(alg.nonceLength, 2);
    const aad = bytes(21, 3);
    const plaintext = bytes(100, 4);
    let sealed: Uint8Array;
    try {
      sealed = backend.encrypt(backend.importKey(alg, key), nonce, aad, plaintext);
    } catch (err) {
      throw new OpensslBackendUnavailableError(err);
    }
    const expected = node.encrypt(node.importKey(alg, key), nonce, aad, plaintext);
    const opened = backend.decrypt(backend.importKey(alg, key), nonce, aad, sealed);
    const altered = Uint8Array.from(sealed);
    altered[altered.length - 1]! ^= 1;
    const forged = backend.decrypt(backend.importKey(alg, key), nonce, aad, altered);
    if (!equal(sealed, expected) || opened === undefined || !equal(opened, plaintext) || forged !== undefined) {
      throw new OpensslBackendUnavailableError(new Error(`the addon does not compute ${alg.name} as node:crypto does`));
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
