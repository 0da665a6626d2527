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

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  ContextRegistry,
  createSecurityContext,
  fromHex,
  MemoryStateStore,
  OscoreError,
  type ReplayProtection,
  type StateStore,
  type SecurityContext,
  type SequenceNumberSource,
} from '@oscore-http/core';
import { openFileStateStore } from '@oscore-http/core/file-store';
import { ContextConfigError } from '../errors.js';

/** Where a secret comes from. */
export type SecretSource =
  | { readonly env: string; readonly encoding?: 'hex' | 'base64' }
  | { readonly file: string; readonly encoding?: 'hex' | 'base64' | 'raw' }
  | { readonly hex: string }
  | { readonly base64: string };

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
  /** Whether requests carry the ID Context as 'kid context'; default true when idContext is set. */
  readonly sendKidContext?: boolean;
  /** Replay window size; default 1024 ({@link DEFAULT_HTTP_REPLAY_WINDOW}). */
  readonly replayWindow?: number;
  /** AEAD usage limits (draft-ietf-core-oscore-key-limits); default the draft's for the algorithm. */
  readonly usageLimits?: { readonly q?: number; readonly v?: number };
}

/** A context file's content. */
export interface ContextFile {
  readonly format: 'oscore-http-contexts/1';
  readonly contexts: readonly ContextConfig[];
}

/** Options of {@link createContextSet} and {@link loadContextFile}. */
export interface ContextSetOptions {
  /** Environment to resolve `{ env }` secrets from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory `{ file }` secrets are relative to; default the current directory. */
  readonly baseDir?: string;
  /** Label of the source in error messages, e.g. the file path. */
  readonly source?: string;
  /**
   * Where sequence numbers, replay windows and usage counters live: a store, `'memory'`
   * (tests; nothing survives a restart), or `{ directory }` for the file store. Default:
   * the file store in `$OSCORE_STATE_DIR`, or `.oscore-state` in the working directory.
   */
  readonly store?: StateStore | 'memory' | { readonly directory: string };
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
  if ('directory' in option) return openFileStateStore(option.directory);
  return option;
}

/**
 * Default replay window of contexts configured for HTTP: 1024 sequence numbers (128 bytes
 * per context). Larger than RFC 8613's default of 32 because requests spread over a pool
 * of HTTP connections arrive reordered by up to the number in flight; the replay check
 * stays exact within the window (§7.4).
 */
export const DEFAULT_HTTP_REPLAY_WINDOW = 1024;

/** Normalises an origin the way URL does: lower-case scheme and host, default port omitted. */
export function normalizeOrigin(origin: string | URL): string {
  return (typeof origin === 'string' ? new URL(origin) : origin).origin;
}

/** A validated set of security contexts: the server's lookup and the client's per-origin map. */
export class ContextSet {
  /** Every context, in configuration order. */
  readonly contexts: readonly SecurityContext[];
  /** The store holding the contexts' state. */
  readonly store: StateStore;
  readonly #byOrigin: ReadonlyMap<string, SecurityContext>;
  #registry: ContextRegistry | undefined;

  constructor(contexts: readonly SecurityContext[], origins: ReadonlyMap<string, SecurityContext>, store: StateStore) {
    this.contexts = Object.freeze([...contexts]);
    this.#byOrigin = origins;
    this.store = store;
  }

  /** Closes the state store: with the file store, the replay windows are saved for a clean restart. */
  close(): Promise<void> {
    return this.store.close();
  }

  /**
   * Server side: lookup by kid and kid context. Built on first use, so a client whose
   * servers happen to share a Sender ID (its Recipient ID) is not refused.
   * @throws {ContextConfigError} if two contexts share a Recipient ID and ID Context.
   */
  get registry(): ContextRegistry {
    if (this.#registry === undefined) {
      try {
        this.#registry = new ContextRegistry(this.contexts);
      } catch (err) {
        if (err instanceof OscoreError) throw new ContextConfigError('contexts', err.message.replace(/\.$/, ''));
        throw err;
      }
    }
    return this.#registry;
  }

  /** Client side: the context for an origin, or `undefined`. */
  forOrigin(origin: string | URL): SecurityContext | undefined {
    try {
      return this.#byOrigin.get(normalizeOrigin(origin));
    } catch {
      return undefined;
    }
  }

  /** The configured origins. */
  get origins(): string[] {
    return [...this.#byOrigin.keys()];
  }
}

function fail(path: string, detail: string, options: ContextSetOptions): never {
  throw new ContextConfigError(path, detail, options.source);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function decodeText(text: string, encoding: string, path: string, options: ContextSetOptions): Uint8Array {
  const t = text.trim();
  if (encoding === 'hex') {
    if (!/^([0-9a-fA-F]{2})+$/.test(t)) fail(path, 'is not hex (an even number of 0-9a-f digits)', options);
    return fromHex(t);
  }
  if (encoding === 'base64') {
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) fail(path, 'is not base64', options);
    return new Uint8Array(Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64'));
  }
  return fail(path, `has unknown encoding "${encoding}" (use hex or base64)`, options);
}

/** Resolves a secret reference to bytes. */
export function resolveSecret(source: unknown, path: string, options: ContextSetOptions = {}): Uint8Array {
  if (source instanceof Uint8Array) return source;
  if (!isObject(source)) return fail(path, 'must be { "env": NAME }, { "file": PATH }, { "hex": … } or { "base64": … }', options);
  const keys = Object.keys(source).filter((k) => k !== 'encoding');
  if (keys.length !== 1) return fail(path, 'must name exactly one of env, file, hex, base64', options);
  const encoding = typeof source.encoding === 'string' ? source.encoding : 'hex';
  if ('env' in source) {
    const name = String(source.env);
    const value = (options.env ?? process.env)[name];
    if (value === undefined || value.trim() === '') return fail(path, `environment variable ${name} is not set; export it with the secret in ${encoding}`, options);
    return decodeText(value, encoding, `${path} (from $${name})`, options);
  }
  if ('file' in source) {
    const file = resolve(options.baseDir ?? '.', String(source.file));
    let content: Buffer;
    try {
      content = readFileSync(file);
    } catch (err) {
      return fail(path, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, options);
    }
    if (encoding === 'raw') return new Uint8Array(content);
    return decodeText(content.toString('utf8'), encoding, `${path} (from ${file})`, options);
  }
  if ('hex' in source) return decodeText(String(source.hex), 'hex', path, options);
  if ('base64' in source) return decodeText(String(source.base64), 'base64', path, options);
  return fail(path, 'must name exactly one of env, file, hex, base64', options);
}

function idBytes(value: unknown, path: string, options: ContextSetOptions): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value !== 'string') return fail(path, 'must be a hex string ("" for the empty ID)', options);
  return value === '' ? new Uint8Array(0) : decodeText(value, 'hex', path, options);
}

const KNOWN_KEYS = new Set(['name', 'peer', 'aeadAlgorithm', 'hkdfAlgorithm', 'masterSecret', 'masterSalt', 'senderId', 'recipientId', 'idContext', 'sendKidContext', 'replayWindow', 'usageLimits']);

/**
 * Validates context configurations and derives their security contexts.
 * @throws {ContextConfigError} naming the first problem and where it is.
 */
export function createContextSet(configs: readonly ContextConfig[], options: ContextSetOptions = {}): ContextSet {
  if (!Array.isArray(configs) || configs.length === 0) fail('contexts', 'must be a non-empty array', options);
  const store = storeOf(options.store);
  const contexts: SecurityContext[] = [];
  const origins = new Map<string, SecurityContext>();
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
    const state = options.state?.(config, i) ?? {};
    let ctx: SecurityContext;
    try {
      ctx = createSecurityContext({
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
        state: store,
        replayWindowSize: replayWindow,
        ...(state.replayProtection === undefined ? {} : { replayProtection: state.replayProtection }),
        ...(state.senderSequence === undefined ? {} : { senderSequence: state.senderSequence }),
      });
    } catch (err) {
      if (err instanceof ContextConfigError) throw err;
      if (err instanceof OscoreError) fail(at, err.message.replace(/\.$/, ''), options);
      throw err;
    }
    if (config.peer !== undefined) {
      let origin: string;
      try {
        origin = normalizeOrigin(String(config.peer));
      } catch {
        return fail(`${at}.peer`, `"${String(config.peer)}" is not an origin like http://billing.internal:8080`, options);
      }
      if (origins.has(origin)) fail(`${at}.peer`, `${origin} already has a context; one context per peer origin`, options);
      origins.set(origin, ctx);
    }
    contexts.push(ctx);
  });
  return new ContextSet(contexts, origins, store);
}

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
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const detail = err instanceof SyntaxError ? `is not valid JSON (${err.message})` : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    throw new ContextConfigError('(file)', detail, path);
  }
  const opts = { ...options, baseDir: dirname(resolve(path)), source: path };
  if (!isObject(data)) fail('(root)', 'must be an object with "format" and "contexts"', opts);
  if (data.format !== 'oscore-http-contexts/1') fail('format', 'must be "oscore-http-contexts/1"', opts);
  return createContextSet(data.contexts as ContextConfig[], opts);
}
