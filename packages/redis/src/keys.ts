/**
 * Redis key names of the state store.
 *
 *     <prefix>n:{<state id>}/seq    counter (a string holding an integer): INCRBY
 *     <prefix>w:{<state id>}        replay window: hash { highest, size }
 *     <prefix>b:{<state id>}        replay window: bitmap, bit (seq mod size)
 *     <prefix>epoch                 random marker of this Redis's data, set once (SET NX)
 *
 * The engine names its state `<state id>/<what>` (counters) and `<state id>` (windows),
 * where the state id is an opaque hex digest of the context (see SecurityContext). The part
 * before the first `/` is wrapped in braces, a Redis Cluster hash tag: the two keys of a
 * window always hash to the same slot, as a Lua script that touches both requires. The
 * type letter after the prefix keeps counters and windows apart even when a client and a
 * server share one Redis (the client's Sender Context and the server's Recipient Context
 * of one pair have the same state id).
 */

/** Default prefix of every key. */
export const DEFAULT_KEY_PREFIX = 'oscore:';

/** `{id}rest` for `id/rest`; `{key}` when there is no `/` or nothing before it. Injective. */
function tagged(key: string): string {
  const slash = key.indexOf('/');
  if (slash <= 0) return `{${key}}`;
  return `{${key.slice(0, slash)}}${key.slice(slash)}`;
}

/** The key names under one prefix. */
export class KeyLayout {
  readonly prefix: string;

  constructor(prefix: string = DEFAULT_KEY_PREFIX) {
    if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
      throw new TypeError('keyPrefix must be a string without "{" or "}" (braces would become the Redis Cluster hash tag)');
    }
    this.prefix = prefix;
  }

  /** The key of counter `key`. */
  counter(key: string): string {
    return `${this.prefix}n:${tagged(key)}`;
  }

  /** The marker whose change tells a process that Redis lost or replaced its data. */
  epoch(): string {
    return `${this.prefix}epoch`;
  }

  /** The two keys of replay window `key`: its hash (highest, size) and its bitmap. */
  window(key: string): [meta: string, bits: string] {
    const t = tagged(key);
    return [`${this.prefix}w:${t}`, `${this.prefix}b:${t}`];
  }
}
