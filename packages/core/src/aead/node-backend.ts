/**
 * The node:crypto (OpenSSL) backend: every supported algorithm, the fast path on Node.
 *
 * AES-CCM needs the plaintext length before the AAD (`setAAD(..., { plaintextLength })`)
 * and a single `update()` call (Node.js crypto docs, "CCM mode"); GCM and
 * ChaCha20-Poly1305 are used with an explicit tag length.
 */

import type * as NodeCrypto from 'node:crypto';
import type { AeadAlgorithm, HkdfAlgorithm } from '../algorithms.js';
import { wireBuffer } from '../buffers.js';
import { OpaqueKey, type AeadKey, type CryptoBackend } from './backend.js';

type CipherName = NodeCrypto.CipherCCMTypes | NodeCrypto.CipherGCMTypes | NodeCrypto.CipherChaCha20Poly1305Types;

function cipherName(alg: AeadAlgorithm): CipherName {
  const bits = alg.keyLength * 8;
  switch (alg.mode) {
    case 'ccm':
      return `aes-${bits}-ccm` as CipherName;
    case 'gcm':
      return `aes-${bits}-gcm` as CipherName;
    case 'chacha20-poly1305':
      return 'chacha20-poly1305';
  }
}

/**
 * A plain `Uint8Array` over `bytes`' memory. node:crypto returns `Buffer`s with their own
 * ArrayBuffer; the public API promises `Uint8Array`, whose `slice` copies (Buffer's aliases).
 */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

class NodeKey extends OpaqueKey {
  readonly algorithm: AeadAlgorithm;
  readonly cipher: CipherName;
  readonly object: NodeCrypto.KeyObject;
  readonly ccm: boolean;
  readonly options: { authTagLength: number };
  constructor(algorithm: AeadAlgorithm, object: NodeCrypto.KeyObject) {
    super();
    this.algorithm = algorithm;
    this.cipher = cipherName(algorithm);
    this.object = object;
    this.ccm = algorithm.mode === 'ccm';
    this.options = { authTagLength: algorithm.tagLength };
  }
}

/**
 * Creates the node:crypto backend from a `node:crypto` module object.
 * Most users never call this: {@link defaultBackend} does it when node:crypto exists.
 */
export function createNodeBackend(crypto: typeof NodeCrypto): CryptoBackend {
  const supported = new Set(crypto.getCiphers());
  return {
    name: 'node:crypto',
    supports(alg) {
      return supported.has(cipherName(alg));
    },
    importKey(alg, key): AeadKey {
      return new NodeKey(alg, crypto.createSecretKey(key));
    },
    encrypt(key, nonce, aad, plaintext) {
      const k = key as NodeKey;
      const cipher = crypto.createCipheriv(k.cipher as NodeCrypto.CipherCCMTypes, k.object, nonce, k.options);
      if (k.ccm) cipher.setAAD(aad, { plaintextLength: plaintext.length });
      else (cipher as unknown as NodeCrypto.CipherGCM).setAAD(aad);
      const body = cipher.update(plaintext);
      cipher.final();
      const tag = cipher.getAuthTag();
      // Public bytes from the wire pool (buffers.ts), never Node's shared Buffer pool.
      const out = wireBuffer(body.length + tag.length);
      out.set(body, 0);
      out.set(tag, body.length);
      return out;
    },
    decrypt(key, nonce, aad, ciphertext) {
      const k = key as NodeKey;
      const bodyLength = ciphertext.length - k.algorithm.tagLength;
      // Nothing longer than the algorithm's bound can be authentic (and OpenSSL's CCM throws on it).
      if (bodyLength < 0 || bodyLength > k.algorithm.maxPlaintextLength) return undefined;
      try {
        const decipher = crypto.createDecipheriv(k.cipher as NodeCrypto.CipherCCMTypes, k.object, nonce, k.options);
        decipher.setAuthTag(ciphertext.subarray(bodyLength));
        if (k.ccm) decipher.setAAD(aad, { plaintextLength: bodyLength });
        else (decipher as unknown as NodeCrypto.DecipherGCM).setAAD(aad);
        const plaintext = decipher.update(ciphertext.subarray(0, bodyLength));
        decipher.final();
        return plain(plaintext);
      } catch {
        // OpenSSL reports a tag mismatch by throwing; the caller maps it to DecryptionFailedError.
        return undefined;
      }
    },
    hkdf(alg: HkdfAlgorithm, ikm, salt, info, length) {
      return new Uint8Array(crypto.hkdfSync(alg.hash, ikm, salt, info, length));
    },
  };
}
