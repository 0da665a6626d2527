/**
 * A validated set of security contexts: the server's lookup by kid (and kid context),
 * the client's lookup by origin, and the state store they share.
 *
 * Replicated senders (docs/scaling.md): N instances of one client service may send under
 * one configured pair. Each instance start takes a never-used instance number from the
 * state store and appends it to the configured Sender ID (`senderIdSuffix` bytes), so
 * every instance has its own Sender ID — its own Sender Key and nonce space, no
 * coordination per request. The server configures the same pair with `recipientIdSuffix`
 * and resolves the whole family of IDs to it, deriving each member's context on demand,
 * with its own replay window (in the store, shared by server replicas).
 */

import { ContextRegistry, OscoreError, toHex, type RecipientContextLookup, type SecurityContext, type StateStore } from '@oscore-http/core';
import { ContextConfigError } from '../errors.js';

const normalized = new Map<string, string>();

/** Normalises an origin the way URL does: lower-case scheme and host, default port omitted. */
export function normalizeOrigin(origin: string | URL): string {
  if (typeof origin !== 'string') return origin.origin;
  // Called for every request: remember recent spellings (a client talks to few origins).
  let result = normalized.get(origin);
  if (result === undefined) {
    result = new URL(origin).origin;
    if (normalized.size >= 1024) normalized.clear();
    normalized.set(origin, result);
  }
  return result;
}

/**
 * `text` as the origin of an HTTP peer (scheme http or https, host, port; nothing after),
 * or undefined when it is not one — `billing:8080` parses as a URL of scheme `billing:`.
 */
export function httpOriginOf(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '' || url.hash !== '') return undefined;
  return url.origin;
}

/** A client-side family: this instance's member is allocated on first use. */
export interface SenderFamily {
  /** Store counter that hands out instance numbers. */
  readonly counterKey: string;
  /** Suffix length in bytes (1 or 2). */
  readonly bytes: number;
  /** Builds the member context for an instance number. */
  readonly build: (suffix: Uint8Array) => SecurityContext;
}

/** A server-side family: any kid `prefix ‖ suffix` belongs to one configured pair. */
export interface RecipientFamily {
  readonly prefix: Uint8Array;
  readonly bytes: number;
  readonly idContext: Uint8Array | undefined;
  /** Builds the member context for a full Recipient ID. */
  readonly build: (recipientId: Uint8Array) => SecurityContext;
}

/** Most member contexts a server keeps derived per family; others are derived again on demand. */
const MEMBER_CACHE = 4096;

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

export class ContextSet implements RecipientContextLookup {
  /** The configured contexts (family members are derived on demand and not listed). */
  readonly contexts: readonly SecurityContext[];
  /** The store holding the contexts' state. */
  readonly store: StateStore;
  #closed: Promise<void> | undefined;
  readonly #byOrigin: ReadonlyMap<string, SecurityContext | SenderFamily>;
  readonly #instances = new Map<SenderFamily, Promise<SecurityContext>>();
  readonly #allocated = new Map<SenderFamily, SecurityContext>();
  readonly #families: readonly RecipientFamily[];
  readonly #members = new Map<RecipientFamily, Map<string, SecurityContext>>();
  #registry: ContextRegistry | undefined;

  constructor(
    contexts: readonly SecurityContext[],
    origins: ReadonlyMap<string, SecurityContext | SenderFamily>,
    store: StateStore,
    families: readonly RecipientFamily[] = [],
  ) {
    this.contexts = Object.freeze([...contexts]);
    this.#byOrigin = origins;
    this.store = store;
    this.#families = families;
  }

  /**
   * Server side: lookup by kid and kid context. Built on first use, so a client whose
   * servers happen to share a Sender ID (its Recipient ID) is not refused.
   * @throws {ContextConfigError} if the same Recipient Context (Recipient ID, ID Context, Master Secret and Salt) is given twice.
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

  /** Server side: the configured contexts, then the family members, matching a request's kid. */
  findRecipientContexts(kid: Uint8Array, kidContext: Uint8Array | undefined): readonly SecurityContext[] {
    const found = this.registry.findRecipientContexts(kid, kidContext);
    if (found.length > 0 || this.#families.length === 0) return found;
    const members: SecurityContext[] = [];
    for (const family of this.#families) {
      if (kid.length !== family.prefix.length + family.bytes || !startsWith(kid, family.prefix)) continue;
      if (kidContext !== undefined && (family.idContext === undefined || toHex(family.idContext) !== toHex(kidContext))) continue;
      let cache = this.#members.get(family);
      if (cache === undefined) this.#members.set(family, (cache = new Map()));
      const key = toHex(kid);
      let member = cache.get(key);
      if (member === undefined) {
        member = family.build(kid);
        if (cache.size >= MEMBER_CACHE) cache.delete(cache.keys().next().value!);
        cache.set(key, member);
      }
      members.push(member);
    }
    return members;
  }

  /**
   * Client side: the context for an origin, or `undefined`. For a replicated sender, the
   * instance's context once {@link contextFor} has allocated it.
   */
  forOrigin(origin: string | URL): SecurityContext | undefined {
    const entry = this.#entry(origin);
    if (entry === undefined || !isFamily(entry)) return entry;
    return this.#allocated.get(entry);
  }

  /**
   * Client side: the context for an origin, or `undefined` if it has none. For a
   * replicated sender, the first call allocates this instance's Sender ID and returns a
   * promise; later calls return the context directly.
   */
  contextFor(origin: string | URL): SecurityContext | Promise<SecurityContext> | undefined {
    const entry = this.#entry(origin);
    if (entry === undefined || !isFamily(entry)) return entry;
    const allocated = this.#allocated.get(entry);
    if (allocated !== undefined) return allocated;
    let instance = this.#instances.get(entry);
    if (instance === undefined) {
      const family = entry;
      instance = this.store.reserve(family.counterKey, 1).then((n) => {
        if (n >= 256 ** family.bytes) throw new ContextConfigError('senderIdSuffix', `all ${256 ** family.bytes} instance numbers of this sender are used; rotate the context or use a longer suffix`);
        const suffix = new Uint8Array(family.bytes);
        for (let i = family.bytes - 1, v = n; i >= 0; i--, v = Math.floor(v / 256)) suffix[i] = v % 256;
        const ctx = family.build(suffix);
        this.#allocated.set(family, ctx);
        return ctx;
      });
      // A failed allocation (store down) is retried on the next request.
      instance.catch(() => this.#instances.delete(family));
      this.#instances.set(entry, instance);
    }
    return instance;
  }

  /** The configured context or sender family of an origin; `undefined` for none or for a string that is not a URL. */
  #entry(origin: string | URL): SecurityContext | SenderFamily | undefined {
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

  /**
   * Closes the state store: with the file store, the replay windows are saved for a clean
   * restart. Once only: a store shared by several sets counts one close per set, and a
   * second call would close it under the others.
   */
  close(): Promise<void> {
    return (this.#closed ??= this.store.close());
  }
}

function isFamily(entry: SecurityContext | SenderFamily): entry is SenderFamily {
  return 'counterKey' in entry;
}
