/**
 * @oscore-http/redis — a Redis state store for oscore-http, so that replicas of a service
 * share their OSCORE state: sequence numbers reserved in blocks with INCRBY (RFC 8613
 * Appendix B.1.1) and replay windows checked and updated by one Lua script (§7.4).
 * See docs/scaling.md.
 *
 * @example
 * ```ts
 * import { createRedisStateStore } from '@oscore-http/redis';
 * import { createContextSet } from '@oscore-http/http';
 *
 * const store = await createRedisStateStore({ url: 'redis://redis.internal:6379' });
 * const contexts = createContextSet(configs, { store });
 * ```
 *
 * @packageDocumentation
 */

export {
  createRedisStateStore,
  DEFAULT_COMMAND_TIMEOUT,
  failClosedRedisOptions,
  RedisReplayWindow,
  RedisStateStore,
  type RedisStateStoreOptions,
  type RedisStoreWarning,
} from './redis-state-store.js';
export { RedisDurabilityError, RedisStateLostError } from './errors.js';
export { checkDurability, type DurabilityReport } from './durability.js';
export { DEFAULT_KEY_PREFIX, KeyLayout } from './keys.js';
