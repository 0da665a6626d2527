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
import { nodeBackend, type CryptoBackend } from '@oscore-http/core';
import { createOpensslBackend, type Addon } from './backend.js';
import { OpensslBackendUnavailableError } from './errors.js';

export { OpensslBackendUnavailableError, OpensslOperationError } from './errors.js';

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
 * The first call checks the addon against node:crypto (a known-answer test per mode).
 *
 * @throws {OpensslBackendUnavailableError} if the addon was not built, does not match this
 * Node.js, or this runtime has no node:crypto.
 */
export function opensslBackend(): CryptoBackend {
  if (backend !== undefined) return backend;
  const native = loadAddon();
  const node = nodeBackend();
  if (node === undefined) throw new OpensslBackendUnavailableError(new Error('node:crypto is not available'));
  backend = createOpensslBackend(native, node);
  return backend;
}
