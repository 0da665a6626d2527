/**
 * Typed errors of the Redis state store. They extend the engine's `OscoreError`, so
 * callers branch on one family by `code`. Operations that cannot be served never throw
 * these directly: they fail with the engine's `StateStoreUnavailableError` (5.03, HTTP
 * 503) and carry one of these as its `cause`. Messages name the Redis server by host and
 * port only — never a password, never key material.
 */

import { OscoreError } from '@oscore-http/core';

/**
 * The Redis server does not persist every write before acknowledging it, so a crash of
 * Redis could hand out a sequence number twice (nonce reuse, RFC 8613 Appendix B.1.1) or
 * forget an accepted request (replay, §7.4). Thrown by `createRedisStateStore` when
 * `requireDurability` is on (the default); the `cause` of every refused operation when a
 * reconnection finds such a server.
 */
export class RedisDurabilityError extends OscoreError {
  readonly code = 'ERR_OSCORE_REDIS_NOT_DURABLE';
  readonly outcome = undefined;
  /** What the server's configuration lacks, e.g. `appendfsync is "everysec", not "always"`. */
  readonly problems: readonly string[];
  constructor(server: string, problems: readonly string[]) {
    super(
      `The Redis server ${server} does not persist every write before acknowledging it (${problems.join('; ')}); ` +
        'configure "appendonly yes" and "appendfsync always" (or use waitForReplicas), and "maxmemory-policy noeviction" — or pass requireDurability: false for tests.',
    );
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * Redis lost state this process had seen: a counter went backwards or a replay window
 * it used is gone (a restart without its data, a failover to a replica that missed
 * writes, an eviction, a FLUSHALL). Counters affected stay refused in this process; the
 * security contexts must be replaced (new Master Secret or ID Context) — see docs/scaling.md.
 */
export class RedisStateLostError extends OscoreError {
  readonly code = 'ERR_OSCORE_REDIS_STATE_LOST';
  readonly outcome = undefined;
  constructor(server: string, what: string) {
    super(`The Redis server ${server} lost OSCORE state (${what}); sequence numbers may repeat, so this counter stays refused: restore Redis from a durable copy or rotate the security contexts.`);
  }
}
