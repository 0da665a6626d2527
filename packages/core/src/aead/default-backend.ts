/**
 * Picks the crypto backend: node:crypto when the runtime has it (Node, Bun, Deno),
 * @noble/ciphers otherwise. `process.getBuiltinModule` (Node ≥ 20.16) loads
 * node:crypto without a static import, so this package also loads where it is absent.
 */

import type * as NodeCrypto from 'node:crypto';
import type { CryptoBackend } from './backend.js';
import { createNodeBackend } from './node-backend.js';
import { nobleBackend } from './noble-backend.js';

let cached: CryptoBackend | undefined;

/** The node:crypto backend, or `undefined` on runtimes without node:crypto. */
export function nodeBackend(): CryptoBackend | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const crypto = proc?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;
  return crypto === undefined ? undefined : createNodeBackend(crypto);
}

/** The backend used when a context does not name one. */
export function defaultBackend(): CryptoBackend {
  cached ??= nodeBackend() ?? nobleBackend;
  return cached;
}
