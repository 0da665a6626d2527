/**
 * Context files: the security contexts a service has, as JSON (docs/context-file.md).
 *
 *     { "format": "oscore-http-contexts/1",
 *       "contexts": [ { "name": "billing", "peer": "http://billing:8080",
 *                       "masterSecret": { "env": "BILLING_SECRET" }, "masterSalt": { "hex": "9e7c…" },
 *                       "senderId": "01", "recipientId": "02" } ] }
 *
 * Secrets are referenced, not inlined: `{ "env": NAME }` or `{ "file": path }` (relative to
 * the context file), holding hex by default (`"encoding": "base64"`, or `"raw"` for files).
 * Inline `{ "hex": … }` / `{ "base64": … }` exist for tests and are flagged by `doctor`.
 * Everything is validated up front; each problem names its place, e.g. `contexts[1].senderId`.
 */

import { dirname, resolve } from 'node:path';
import { createSecurityContext, MemoryStateStore, OscoreError, SecurityContext, type CryptoBackend, type ReplayProtection, type SecurityContextParams, type SequenceNumberSource, type StateStore } from '@oscore-http/core';
import { openFileStateStore } from '@oscore-http/core/file-store';
import { ContextConfigError } from '../errors.js';
import { readFileBounded } from './bounded-read.js';
import { ContextSet, httpOriginOf, normalizeOrigin, type RecipientFamily, type SenderFamily } from './context-set.js';
import { jsonSyntaxDetail } from './json-syntax.js';
import { decodeText, fail, isObject, resolveSecret, type SecretOptions, type SecretSource } from './secrets.js';

/** One security context as configured (file entry or object in code). */
export interface ContextConfig {
  /** A label for logs and `request.oscore.peer`. Unique within a set. */
  readonly name?: string;
  /** Client side: the origin (`scheme://host:port`) this context protects requests to. */
  readonly peer?: string;
  /** AEAD algorithm, COSE number or name; default AES-CCM-16-64-128 (10). */
  readonly aeadAlgorithm?: number | string;
  /** HKDF algorithm; default HKDF-SHA-256. */
  readonly hkdfAlgorithm?: number | string;
  readonly masterSecret: SecretSource | Uint8Array;
  readonly masterSalt?: SecretSource | Uint8Array;
  /** Hex, or bytes. */
  readonly senderId: string | Uint8Array;
  readonly recipientId: string | Uint8Array;
  readonly idContext?: string | Uint8Array;
  /**
   * Client side, replicated senders: each instance start appends a fresh instance number of
   * this many bytes (1 or 2) to `senderId`, taken from the state store (docs/scaling.md).
   */
  readonly senderIdSuffix?: 1 | 2;
  /** Server side: accept `recipientId` followed by any instance number of this many bytes (1 or 2). */
  readonly recipientIdSuffix?: 1 | 2;
  /** Whether requests carry the ID Context as 'kid context'; default true when idContext is set. */
  readonly sendKidContext?: boolean;
  /** Replay window size; default 1024 ({@link DEFAULT_HTTP_REPLAY_WINDOW}). */
  readonly replayWindow?: number;
  /** AEAD usage limits (draft-ietf-core-oscore-key-limits); default the draft's for the algorithm. */
  readonly usageLimits?: { readonly q?: number; readonly v?: number; readonly l?: number };
  /**
   * Expiration time ('exp', draft-ietf-core-oscore-key-limits §2.2.1): an RFC 3339 date-time
   * with its offset (`2027-06-30T00:00:00Z`) or seconds since the epoch. From then on the
   * context protects and verifies nothing (`ERR_OSCORE_USAGE_LIMIT`, limit `exp`).
   */
  readonly exp?: string | number;
}

/** A context file's content. */
export interface ContextFile {
  readonly format: 'oscore-http-contexts/1';
  readonly contexts: readonly ContextConfig[];
}

/** Options of {@link createContextSet} and {@link loadContextFile}. */
export interface ContextSetOptions extends SecretOptions {
  /**
   * Where sequence numbers, replay windows and usage counters live: a store, `'memory'`
   * (tests; nothing survives a restart), or `{ directory }` for the file store. Default:
   * the file store in `$OSCORE_STATE_DIR`, or `.oscore-state` in the working directory.
   */
  readonly store?: StateStore | 'memory' | { readonly directory: string };
  /**
   * The crypto backend of every context of the set. Default: node:crypto. `opensslBackend()`
   * of `@oscore-http/openssl` keeps a cipher context per key and costs less per message.
   */
  readonly backend?: CryptoBackend;
  /** Per-context overrides of sequence numbers or replay protection (tests, special deployments). */
  readonly state?: (config: ContextConfig, index: number) => { senderSequence?: SequenceNumberSource; replayProtection?: ReplayProtection } | undefined;
}

/** The state store a context set uses when none is configured. */
export function defaultStateStore(): StateStore {
  return openFileStateStore(process.env.OSCORE_STATE_DIR ?? '.oscore-state');
}

function storeOf(option: ContextSetOptions['store']): StateStore {
  if (option === undefined) return defaultStateStore();
  if (option === 'memory') return new MemoryStateStore();
  // A store instance is used as given (a FileStateStore has a `directory` too).
  if (typeof (option as StateStore).reserve === 'function') return option as StateStore;
  return openFileStateStore((option as { directory: string }).directory);
}

/**
 * Default replay window of contexts configured for HTTP: 1024 sequence numbers (128 bytes
 * per context). Larger than RFC 8613's default of 32 because requests spread over a pool
 * of HTTP connections arrive reordered by up to the number in flight; the replay check
 * stays exact within the window (§7.4).
 */
export const DEFAULT_HTTP_REPLAY_WINDOW = 1024;

function idBytes(value: unknown, path: string, options: ContextSetOptions): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value !== 'string') return fail(path, 'must be a hex string ("" for the empty ID)', options);
  return value === '' ? new Uint8Array(0) : decodeText(value, 'hex', path, options);
}

/** RFC 3339 §5.6 date-time; the offset is required, so the instant does not depend on the host's zone. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `exp` of a configuration as a NumericDate (whole seconds; a fraction rounds down). */
function expOf(value: unknown, path: string, options: ContextSetOptions): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const ms = typeof value === 'string' && DATE_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms) || ms < 0) return fail(path, 'must be a date-time with its offset, like "2027-06-30T00:00:00Z", or seconds since 1970-01-01T00:00:00Z', options);
  return Math.floor(ms / 1000);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The settings a context configuration may have (docs/context-file.md); others are refused. */
export const CONTEXT_CONFIG_KEYS: readonly string[] = Object.freeze([
  'name',
  'peer',
  'aeadAlgorithm',
  'hkdfAlgorithm',
  'masterSecret',
  'masterSalt',
  'senderId',
  'recipientId',
  'idContext',
  'senderIdSuffix',
  'recipientIdSuffix',
  'sendKidContext',
  'replayWindow',
  'usageLimits',
  'exp',
]);
const KNOWN_KEYS = new Set(CONTEXT_CONFIG_KEYS);

/**
 * Validates context configurations and derives their security contexts.
 * @throws {ContextConfigError} naming the first problem and where it is.
 */
export function createContextSet(configs: readonly ContextConfig[], options: ContextSetOptions = {}): ContextSet {
  if (!Array.isArray(configs) || configs.length === 0) fail('contexts', 'must be a non-empty array', options);
  const store = storeOf(options.store);
  // A store given as an object may be shared (Redis; a MemoryStateStore several sets use in one process), except a file store.
  const sharedStore = typeof options.store === 'object' && typeof (options.store as StateStore).reserve === 'function' && typeof (options.store as { directory?: unknown }).directory !== 'string';
  const contexts: SecurityContext[] = [];
  const origins = new Map<string, SecurityContext | SenderFamily>();
  const families: RecipientFamily[] = [];
  const names = new Set<string>();
  configs.forEach((entry, i) => {
    const at = `contexts[${i}]`;
    if (!isObject(entry as unknown)) fail(at, 'must be an object', options);
    const config = entry;
    for (const key of Object.keys(config)) if (!KNOWN_KEYS.has(key)) fail(`${at}.${key}`, 'is not a known setting (check the spelling)', options);
    if (config.name !== undefined) {
      if (typeof config.name !== 'string' || config.name === '') fail(`${at}.name`, 'must be a non-empty string', options);
      if (names.has(config.name)) fail(`${at}.name`, `"${config.name}" is used twice`, options);
      names.add(config.name);
    }
    const replayWindow = config.replayWindow ?? DEFAULT_HTTP_REPLAY_WINDOW;
    if (!Number.isInteger(replayWindow) || replayWindow < 1 || replayWindow > 65_536) fail(`${at}.replayWindow`, 'must be an integer between 1 and 65536', options);
    for (const key of ['senderIdSuffix', 'recipientIdSuffix'] as const) {
      if (config[key] !== undefined && config[key] !== 1 && config[key] !== 2) fail(`${at}.${key}`, 'must be 1 or 2 (bytes)', options);
    }
    const state = options.state?.(config, i) ?? {};
    const base: SecurityContextParams = {
      ...(config.name === undefined ? {} : { name: config.name }),
      masterSecret: resolveSecret(config.masterSecret, `${at}.masterSecret`, options),
      ...(config.masterSalt === undefined ? {} : { masterSalt: resolveSecret(config.masterSalt, `${at}.masterSalt`, options) }),
      senderId: idBytes(config.senderId, `${at}.senderId`, options),
      recipientId: idBytes(config.recipientId, `${at}.recipientId`, options),
      ...(config.idContext === undefined ? {} : { idContext: idBytes(config.idContext, `${at}.idContext`, options) }),
      ...(config.aeadAlgorithm === undefined ? {} : { aeadAlgorithm: config.aeadAlgorithm }),
      ...(config.hkdfAlgorithm === undefined ? {} : { hkdfAlgorithm: config.hkdfAlgorithm }),
      ...(config.sendKidContext === undefined ? {} : { sendKidContext: config.sendKidContext }),
      ...(config.usageLimits === undefined ? {} : { usageLimits: config.usageLimits }),
      ...(config.exp === undefined ? {} : { exp: expOf(config.exp, `${at}.exp`, options) }),
      state: store,
      ...(options.backend === undefined ? {} : { backend: options.backend }),
      replayWindowSize: replayWindow,
      ...(state.replayProtection === undefined ? {} : { replayProtection: state.replayProtection }),
      ...(state.senderSequence === undefined ? {} : { senderSequence: state.senderSequence }),
    };
    const build = (ids: Partial<SecurityContextParams>): SecurityContext => {
      try {
        return createSecurityContext({ ...base, ...ids });
      } catch (err) {
        if (err instanceof OscoreError) fail(at, err.message.replace(/\.$/, ''), options);
        throw err;
      }
    };
    // A family member's replay window is taken from the store only once a request decrypted
    // under it: anyone can send kids of the family, and a window per forged kid would be
    // state allocated without authentication (the file store keeps every window it hands
    // out in its state file, for good). RFC 8613 §7.4: one window per Recipient Context.
    const member = (ids: Partial<SecurityContextParams> & { recipientId: Uint8Array }): SecurityContext => {
      if (state.replayProtection !== undefined) return build(ids);
      let window: ReplayProtection | undefined;
      const windowOf = () => (window ??= store.replayWindow(ctx.recipientStateId, replayWindow));
      const lazy: ReplayProtection = {
        checkAndUpdate: (seq) => windowOf().checkAndUpdate(seq),
        establish: (seq) => {
          const w = windowOf();
          return w.establish !== undefined ? w.establish(seq) : w.checkAndUpdate(seq);
        },
      };
      const ctx = build({ ...ids, replayProtection: lazy });
      return ctx;
    };
    // The full-length IDs must be valid: check with an all-zero suffix.
    const zeros = (n: number | undefined) => new Uint8Array(n ?? 0);
    const fullIds = { senderId: concat(base.senderId, zeros(config.senderIdSuffix)), recipientId: concat(base.recipientId, zeros(config.recipientIdSuffix)) };
    const ctx = config.recipientIdSuffix === undefined ? build(fullIds) : member(fullIds);
    let origin: string | undefined;
    if (config.peer !== undefined) {
      origin = httpOriginOf(String(config.peer));
      if (origin === undefined) return fail(`${at}.peer`, `"${String(config.peer)}" is not an origin: give only scheme (http or https), host and port, like http://billing.internal:8080`, options);
      if (origins.has(origin)) fail(`${at}.peer`, `${origin} already has a context; one context per peer origin`, options);
    }
    if (config.recipientIdSuffix !== undefined) {
      families.push({ prefix: base.recipientId, bytes: config.recipientIdSuffix, idContext: base.idContext, build: (recipientId) => member({ recipientId }) });
    }
    if (config.senderIdSuffix !== undefined) {
      if (origin === undefined) fail(`${at}.senderIdSuffix`, 'needs "peer": a replicated sender is a client', options);
      // Instance numbers come from the store. A store of this process alone (`'memory'`, the
      // file store, whose directory one process locks) would give every instance number 0:
      // one Sender ID for all, the same nonces under the same key (RFC 8613 §5.2, §7.2.1).
      if (!sharedStore) {
        fail(`${at}.senderIdSuffix`, 'needs a state store shared by every instance of this client (the Redis store, @oscore-http/redis): with a store of its own each instance would take the same Sender ID and reuse nonces', options);
      }
      // The counter is keyed by the pair (its zero-suffix state id), shared by all instances through the store.
      origins.set(origin, { counterKey: `${ctx.senderStateId}/instances`, bytes: config.senderIdSuffix, build: (suffix) => build({ senderId: concat(base.senderId, suffix) }) });
      return;
    }
    if (config.recipientIdSuffix !== undefined) return;
    if (origin !== undefined) origins.set(origin, ctx);
    contexts.push(ctx);
  });
  return new ContextSet(contexts, origins, store, families);
}

/** The largest context file read: far above any real one (an entry is well under 1 KiB). */
export const MAX_CONTEXT_FILE_SIZE = 16 * 1024 * 1024;

/**
 * Reads, validates and derives a context file.
 * @throws {ContextConfigError} for an unreadable file, invalid JSON, or any invalid entry.
 *
 * @example
 * ```ts
 * const contexts = loadContextFile('/etc/orders/oscore-contexts.json');
 * ```
 */
export function loadContextFile(path: string, options: Omit<ContextSetOptions, 'baseDir' | 'source'> = {}): ContextSet {
  let bytes: Uint8Array;
  try {
    bytes = readFileBounded(path, MAX_CONTEXT_FILE_SIZE);
  } catch (err) {
    throw new ContextConfigError('(file)', `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, path);
  }
  if (bytes.length > MAX_CONTEXT_FILE_SIZE) throw new ContextConfigError('(file)', `is larger than ${MAX_CONTEXT_FILE_SIZE} bytes; is this a context file?`, path);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    // Never the parser's own message: it quotes the text around the error, a secret perhaps.
    throw new ContextConfigError('(file)', `is not valid JSON (${jsonSyntaxDetail(text, err as Error)})`, path);
  }
  const opts = { ...options, baseDir: dirname(resolve(path)), source: path };
  if (!isObject(data)) fail('(root)', 'must be an object with "format" and "contexts"', opts);
  if (data.format !== 'oscore-http-contexts/1') fail('format', 'must be "oscore-http-contexts/1"', opts);
  return createContextSet(data.contexts as ContextConfig[], opts);
}

/**
 * The context set a framework adapter makes from its `contexts` option: from a context
 * file's path or a list of configurations, with `backend`. Anything else (a context set, a
 * lookup, contexts already made) gives `undefined`: they keep the backend they were made with.
 * @throws {ContextConfigError} for `backend` beside such contexts, where it would be ignored;
 *   and as {@link loadContextFile} and {@link createContextSet}.
 */
export function contextSetFromOption(option: unknown, backend: CryptoBackend | undefined): ContextSet | undefined {
  const options = backend === undefined ? {} : { backend };
  if (typeof option === 'string') return loadContextFile(option, options);
  // An array of contexts already made (the server's `Iterable<SecurityContext>`) is not configurations.
  if (Array.isArray(option) && !(option.length > 0 && option.every((entry) => entry instanceof SecurityContext))) return createContextSet(option as ContextConfig[], options);
  if (backend !== undefined) throw new ContextConfigError('backend', 'applies to contexts given as a file or as configurations; pass it to createContextSet for a context set');
  return undefined;
}
