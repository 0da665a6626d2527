/**
 * @oscore-http/openssl — a crypto backend for the OSCORE engine that runs the AEAD in
 * OpenSSL with one cipher context per key, kept across messages.
 *
 * node:crypto needs a new cipher object per message (its nonce cannot be changed), and
 * creating one — OpenSSL's cipher lookup, context and key schedule, Node's stream-shaped
 * wrapper, and the garbage it leaves — costs more than encrypting a kilobyte. This
 * backend sets each key once, in a small native addon built against the OpenSSL that
 * Node.js itself links, and per message sets only the nonce. The AEAD, including the tag
 * comparison, is OpenSSL's; HKDF is node:crypto's. Every algorithm of the engine is
 * supported (AES-CCM-16-*, A128/192/256GCM, ChaCha20/Poly1305), and the backend runs the
 * same test vectors as the built-in ones.
 *
 * Installing the package compiles the addon (node-gyp: Python 3, make and a C compiler).
 *
 * @example
 * ```ts
 * import { loadContextFile } from '@oscore-http/http';
 * import { opensslBackend } from '@oscore-http/openssl';
 * await app.register(oscore, { contexts: loadContextFile('contexts.json', { backend: opensslBackend() }) });
 * ```
 *
 * @packageDocumentation
 */

import { createRequire } from 'node:module';
import { nodeBackend, OpaqueKey, OscoreError, type AeadAlgorithm, type AeadKey, type CryptoBackend } from '@oscore-http/core';

/** The addon's functions (native/aead.c). */
interface Addon {
  importKey(cipher: string, key: Uint8Array, nonceLength: number, tagLength: number): object;
  encrypt(key: object, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): number;
  decrypt(key: object, nonce: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): number;
}

/** The native addon of this package is missing or cannot be loaded. */
export class OpensslBackendUnavailableError extends OscoreError {
  readonly code = 'ERR_OSCORE_OPENSSL_UNAVAILABLE';
  readonly outcome = undefined;
  constructor(cause: unknown) {
    super('The OpenSSL backend is not built: run `npm rebuild @oscore-http/openssl` (it needs Python 3, make and a C compiler), or leave the backend unset to use node:crypto.', { cause });
  }
}

/** OpenSSL failed to encrypt (out of memory, or a cipher it no longer offers); nothing was sent. */
export class OpensslOperationError extends OscoreError {
  readonly code = 'ERR_OSCORE_OPENSSL_FAILED';
  readonly outcome = undefined;
  constructor() {
    super('OpenSSL failed to encrypt the message; it was not sent. Check the process memory and the OpenSSL configuration.');
  }
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

let addon: Addon | undefined;

function loadAddon(): Addon {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)('../build/Release/oscore_aead.node') as Addon;
    } catch (err) {
      throw new OpensslBackendUnavailableError(err);
    }
  }
  return addon;
}

let backend: CryptoBackend | undefined;

/**
 * The OpenSSL backend. Pass it as `backend` to `createSecurityContext`, or to
 * `createContextSet` / `loadContextFile` of `@oscore-http/http` for every context of a set.
 *
 * @throws {OpensslBackendUnavailableError} if the addon was not built (or this runtime has no node:crypto).
 */
export function opensslBackend(): CryptoBackend {
  if (backend !== undefined) return backend;
  const native = loadAddon();
  const node = nodeBackend();
  if (node === undefined) throw new OpensslBackendUnavailableError(new Error('node:crypto is not available'));
  const keys = (key: AeadKey): OpensslKey => {
    if (!(key instanceof OpensslKey)) throw new TypeError('the key was not imported by the OpenSSL backend');
    return key;
  };
  backend = {
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
      // Memory of its own (not a pool shared with other data): the ciphertext is public, and so is whatever its `.buffer` shows.
      const out = new Uint8Array(plaintext.length + k.algorithm.tagLength);
      if (native.encrypt(k.handle, nonce, aad, plaintext, out) !== out.length) throw new OpensslOperationError();
      return out;
    },
    decrypt(key, nonce, aad, ciphertext) {
      const k = keys(key);
      const bodyLength = ciphertext.length - k.algorithm.tagLength;
      // Nothing longer than the algorithm's bound can be authentic.
      if (bodyLength < 0 || bodyLength > k.algorithm.maxPlaintextLength || bodyLength > MAX_LENGTH) return undefined;
      const out = new Uint8Array(bodyLength);
      return native.decrypt(k.handle, nonce, aad, ciphertext, out) === bodyLength ? out : undefined;
    },
    hkdf(alg, ikm, salt, info, length) {
      return node.hkdf(alg, ikm, salt, info, length);
    },
  };
  return backend;
}
