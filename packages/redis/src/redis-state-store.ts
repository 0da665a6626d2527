/**
 * The Redis state store: replicas of a service share sequence-number reservations and
 * replay windows through one Redis (docs/scaling.md).
 *
 * - `reserve`: one INCRBY per block. Redis executes commands one at a time, so blocks
 *   never overlap, across every process that uses the server (RFC 8613 Appendix B.1.1).
 * - `replayWindow`: one Lua script per check (replay-script.ts), so the check and the
 *   update are one atomic step for all replicas (§7.4).
 * - Durability: both promises hold only if Redis keeps every write it acknowledged
 *   (durability.ts). The store reads the server's settings at every (re)connection and,
 *   by default, refuses to serve from a server that does not.
 * - Fail closed, fast: while Redis is unreachable, slow, or not verified, every operation
 *   fails at once with `StateStoreUnavailableError` (HTTP 503 at the server) — nothing is
 *   accepted unchecked, no sequence number is guessed. The connection is re-established in
 *   the background and service resumes by itself.
 */

import { MAX_REPLAY_WINDOW_SIZE, MAX_SEQUENCE_NUMBER, StateStoreUnavailableError, type ReplayProtection, type ReplayVerdict, type SequenceNumber, type StateStore } from '@oscore-http/core';
import { randomBytes } from 'node:crypto';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { checkDurability } from './durability.js';
import { RedisDurabilityError, RedisStateLostError } from './errors.js';
import { DEFAULT_KEY_PREFIX, KeyLayout } from './keys.js';
import { REPLAY_SCRIPT } from './replay-script.js';

/** Default bound on every Redis operation, in milliseconds. */
export const DEFAULT_COMMAND_TIMEOUT = 1000;

/** How often a connected but unverified store checks the server again, at most (milliseconds). */
const RECHECK_INTERVAL = 1000;

/** Name under which the replay script is defined on the ioredis client. */
const SCRIPT = 'oscoreHttpReplayCheck';

/** Something operators should see; the store goes on (or stays closed) by itself. */
export interface RedisStoreWarning {
  /**
   * - `OSCORE_REDIS_NOT_DURABLE`: the server may lose acknowledged writes (with
   *   `requireDurability`, the store refuses to serve until a reconnection finds it durable);
   * - `OSCORE_REDIS_DURABILITY_UNVERIFIED`: CONFIG GET is disabled or not permitted;
   * - `OSCORE_REDIS_UNAVAILABLE`: the connection was lost; operations fail until it is back;
   * - `OSCORE_REDIS_STATE_LOST`: a counter went backwards or a window this process used is gone.
   */
  readonly code: 'OSCORE_REDIS_NOT_DURABLE' | 'OSCORE_REDIS_DURABILITY_UNVERIFIED' | 'OSCORE_REDIS_UNAVAILABLE' | 'OSCORE_REDIS_STATE_LOST';
  readonly message: string;
  readonly cause?: unknown;
}

/** Options of {@link createRedisStateStore}. */
export interface RedisStateStoreOptions {
  /**
   * The server: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS.
   * Default `redis://127.0.0.1:6379`. Not used with `client`.
   */
  readonly url?: string;
  /**
   * ioredis options for the connection the store opens, applied over the fail-closed
   * defaults of {@link failClosedRedisOptions} (change those only knowingly).
   */
  readonly redis?: RedisOptions;
  /**
   * An ioredis client to use instead of opening one: a Sentinel client, or a `Cluster`
   * (every key the store uses carries a hash tag, so each script touches one slot). The
   * store does not close it. Give it the settings of {@link failClosedRedisOptions} (for a
   * Cluster: `enableOfflineQueue: false` and those settings as `redisOptions`): the store
   * bounds and gates its own operations, but an offline queue would still hold other
   * users' commands.
   */
  readonly client?: Redis | Cluster;
  /** Prefix of every key. Default `oscore:`. */
  readonly keyPrefix?: string;
  /** Longest wait for any Redis operation, in milliseconds; then it fails with 503. Default 1000. */
  readonly commandTimeout?: number;
  /**
   * Refuse to serve from a server that may lose acknowledged writes (see durability.ts):
   * `createRedisStateStore` rejects with {@link RedisDurabilityError}, and after a
   * reconnection to such a server every operation fails closed. Default `true`. Set
   * `false` only for tests and development: the store then warns and serves.
   * A server whose CONFIG command is disabled cannot be verified: the store warns and
   * serves — the operator vouches for its persistence.
   */
  readonly requireDurability?: boolean;
  /**
   * Confirm every write with `WAIT replicas timeout` (timeout in milliseconds, below
   * `commandTimeout`): a write that fewer replicas acknowledged fails closed. Then the
   * local AOF is not required. Redis replication is asynchronous: WAIT makes a write
   * survive the loss of the primary only if failover promotes a replica that has it.
   */
  readonly waitForReplicas?: { readonly replicas: number; readonly timeout: number };
  /** Receives warnings. Default: `process.emitWarning`. Must not throw. */
  readonly onWarning?: (warning: RedisStoreWarning) => void;
  /** How long `createRedisStateStore` waits for a given `client` that is still connecting, in milliseconds. Default 5000. */
  readonly connectTimeout?: number;
}

/**
 * The ioredis settings that make a connection fail closed and fast, and recover by itself:
 * no offline queue (a command while disconnected fails at once), commands in flight fail
 * when the connection drops and are never re-sent, a dead socket is detected within
 * `2 × commandTimeout`, and reconnection is retried every 100 ms … 1 s, forever.
 */
export function failClosedRedisOptions(commandTimeout: number = DEFAULT_COMMAND_TIMEOUT): RedisOptions {
  return {
    enableOfflineQueue: false,
    enableReadyCheck: true,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 3000,
    socketTimeout: Math.max(2 * commandTimeout, 1000),
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    connectionName: 'oscore-http',
  };
}

/** Rejects with a timeout error when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** `redis:host:port/db` or `redis-cluster:host:port`, never credentials. */
function describe(client: Redis | Cluster): string {
  if (client instanceof Cluster) {
    const first = (client as unknown as { startupNodes?: unknown[] }).startupNodes?.[0];
    let where = '';
    if (typeof first === 'number') where = `:127.0.0.1:${first}`;
    else if (typeof first === 'string') {
      try {
        const url = new URL(first.includes('://') ? first : `redis://${first}`);
        where = `:${url.hostname}:${url.port || 6379}`;
      } catch {
        where = '';
      }
    } else if (first !== null && typeof first === 'object') {
      const node = first as { host?: string; port?: number };
      where = `:${node.host ?? '127.0.0.1'}:${node.port ?? 6379}`;
    }
    return `redis-cluster${where}`;
  }
  const o = client.options;
  if (o.sentinels !== undefined && o.sentinels !== null && o.sentinels.length > 0) return `redis:sentinel:${o.name ?? 'mymaster'}/${o.db ?? 0}`;
  if (o.path !== undefined && o.path !== null) return `redis:${o.path}/${o.db ?? 0}`;
  return `redis:${o.host ?? '127.0.0.1'}:${o.port ?? 6379}/${o.db ?? 0}`;
}

type ReplayMode = 'check' | 'establish';
type ScriptCommand = (meta: string, bits: string, seq: string, size: string, seen: string, mode: ReplayMode) => Promise<unknown>;

/**
 * The replay window of one Recipient Context, kept in Redis (see replay-script.ts). Every
 * replica's object for the same key works on the same window.
 */
export class RedisReplayWindow implements ReplayProtection {
  /** The store's key of this window. */
  readonly key: string;
  /** Window size in sequence numbers. */
  readonly size: number;
  readonly #run: (seq: SequenceNumber, mode: ReplayMode) => Promise<ReplayVerdict>;

  /** @internal Obtain it with {@link RedisStateStore.replayWindow}. */
  constructor(key: string, size: number, run: (seq: SequenceNumber, mode: ReplayMode) => Promise<ReplayVerdict>) {
    this.key = key;
    this.size = size;
    this.#run = run;
  }

  /** {@inheritDoc @oscore-http/core#ReplayProtection.checkAndUpdate} Fails with `StateStoreUnavailableError` when Redis cannot answer. */
  checkAndUpdate(seq: SequenceNumber): Promise<ReplayVerdict> {
    return this.#run(seq, 'check');
  }

  /** {@inheritDoc @oscore-http/core#ReplayProtection.establish} */
  establish(seq: SequenceNumber): Promise<ReplayVerdict> {
    return this.#run(seq, 'establish');
  }
}

/** A state store in Redis. Obtain it with {@link createRedisStateStore}. */
/**
 * A client error as a plain Error with its name, message and code: ioredis attaches the
 * failed command to a server's reply (`err.command`), and the command of a refused login
 * (`HELLO 3 AUTH <user> <password>`) holds the password. What is kept here becomes a cause
 * or a warning, which logs print whole.
 */
function withoutCommand(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  return Object.assign(new Error(err.message), { name: err.name }, code === undefined ? {} : { code });
}

export class RedisStateStore implements StateStore {
  /** `redis:host:port/db`, `redis:sentinel:<name>/db` or `redis-cluster:host:port` — never credentials. */
  readonly name: string;
  readonly #client: Redis | Cluster;
  /** The client, typed for commands (Redis and Cluster share the command interface). */
  readonly #commands: Redis;
  readonly #owned: boolean;
  readonly #keys: KeyLayout;
  readonly #timeout: number;
  readonly #requireDurability: boolean;
  readonly #wait: { readonly replicas: number; readonly timeout: number } | undefined;
  readonly #onWarning: (warning: RedisStoreWarning) => void;
  readonly #connectTimeout: number;
  /** Whether the current connection passed the durability check. */
  #verified = false;
  /** Why the current connection is refused (a non-durable server), if it is. */
  #refusal: RedisDurabilityError | undefined;
  /** Bumped when the connection closes: a check that started before is stale. */
  #generation = 0;
  #checking: Promise<Error | undefined> | undefined;
  #checkInFlight = false;
  #lastCheck = 0;
  #lastError: unknown;
  /** Whether the first check passed (later refusals are warned about; the first one is thrown). */
  #started = false;
  #closed = false;
  /** Per counter, the end of the last block handed out: a later block starting below it means Redis lost state. */
  readonly #floors = new Map<string, number>();
  readonly #lostCounters = new Set<string>();
  /** Windows this process has seen in Redis: if one disappears, Redis lost it. */
  readonly #seenWindows = new Set<string>();
  #warnedLostWindow = false;
  /**
   * The data marker (`<prefix>epoch`) this process first saw. Redis that comes back empty,
   * or is flushed or replaced, has another (or none, and gets a new one): every process
   * that saw the old one then refuses to serve, whichever process touches a key first.
   */
  #epoch: string | undefined;
  #lastEpochCheck = 0;
  #epochCheck: Promise<void> | undefined;
  /** Set when the marker changed: sequence numbers may repeat, so the store never serves again. */
  #dataLost: RedisStateLostError | undefined;

  readonly #onReady = () => {
    this.#checking = this.#verify();
  };
  readonly #onClose = () => {
    this.#generation++;
    if (this.#verified && !this.#closed) {
      this.#warn('OSCORE_REDIS_UNAVAILABLE', `Lost the connection to ${this.name}; OSCORE messages that need the store fail with 503 until it is back.`, this.#lastError);
    }
    this.#verified = false;
  };
  readonly #onError = (err: unknown) => {
    this.#lastError = withoutCommand(err);
  };
  /** Redis Cluster: a node joined (failover, resharding): it is checked before the store serves again. */
  readonly #onNode = () => {
    if (this.#client.status !== 'ready' || this.#closed) return;
    this.#generation++;
    this.#verified = false;
    this.#checking = this.#verify();
  };

  private constructor(options: RedisStateStoreOptions) {
    const timeout = options.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT;
    if (!Number.isInteger(timeout) || timeout < 1) throw new RangeError('commandTimeout must be a positive integer (milliseconds)');
    const wait = options.waitForReplicas;
    if (wait !== undefined) {
      if (options.client instanceof Cluster) throw new TypeError('waitForReplicas is not supported with a Redis Cluster client yet');
      if (!Number.isInteger(wait.replicas) || wait.replicas < 1) throw new RangeError('waitForReplicas.replicas must be a positive integer');
      if (!Number.isInteger(wait.timeout) || wait.timeout < 1 || wait.timeout >= timeout) throw new RangeError('waitForReplicas.timeout must be a positive integer below commandTimeout (milliseconds)');
    }
    this.#keys = new KeyLayout(options.keyPrefix ?? DEFAULT_KEY_PREFIX);
    this.#timeout = timeout;
    this.#requireDurability = options.requireDurability ?? true;
    this.#wait = wait;
    this.#onWarning = options.onWarning ?? ((w) => process.emitWarning(w.message, { code: w.code }));
    this.#connectTimeout = options.connectTimeout ?? 5000;
    this.#owned = options.client === undefined;
    this.#client = options.client ?? new Redis(options.url ?? 'redis://127.0.0.1:6379', { ...failClosedRedisOptions(timeout), lazyConnect: true, ...options.redis });
    this.#commands = this.#client as Redis;
    this.name = describe(this.#client);
    this.#client.defineCommand(SCRIPT, { numberOfKeys: 2, lua: REPLAY_SCRIPT });
    this.#client.on('ready', this.#onReady);
    this.#client.on('close', this.#onClose);
    if (this.#client instanceof Cluster) this.#client.on('+node', this.#onNode);
    if (this.#owned) this.#client.on('error', this.#onError);
  }

  /** @internal Use {@link createRedisStateStore}. */
  static async open(options: RedisStateStoreOptions = {}): Promise<RedisStateStore> {
    const store = new RedisStateStore(options);
    try {
      await store.#start();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async #start(): Promise<void> {
    const client = this.#client;
    try {
      if (client.status === 'wait') await client.connect();
      else if (client.status !== 'ready') await this.#readyWithin(this.#connectTimeout);
    } catch (cause) {
      // ioredis rejects with "Connection is closed." after the server refused the login; the
      // server's own reply (WRONGPASS, NOAUTH, NOPERM) or the socket error came as an 'error'
      // event and says what to fix.
      throw new StateStoreUnavailableError(this.name, { cause: this.#lastError ?? cause });
    }
    // A client that was ready before the store listened gets its first check here.
    this.#checking ??= this.#verify();
    const failure = await this.#checking;
    if (failure !== undefined) throw failure;
    this.#started = true;
  }

  #readyWithin(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#client.off('ready', ready);
        reject(new Error(`the Redis client did not become ready within ${ms} ms (status ${this.#client.status})`));
      }, ms);
      const ready = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#client.once('ready', ready);
    });
  }

  /** Reads the server's durability settings; the store serves only after this passed. Never rejects. */
  async #verify(): Promise<Error | undefined> {
    const generation = this.#generation;
    let report;
    this.#checkInFlight = true;
    try {
      report = await within(checkDurability(this.#client, this.#wait !== undefined), this.#timeout);
    } catch (cause) {
      return new StateStoreUnavailableError(this.name, { cause }); // checked again on the next operation or connection
    } finally {
      this.#checkInFlight = false;
      this.#lastCheck = Date.now();
    }
    if (generation !== this.#generation || this.#closed) return new StateStoreUnavailableError(this.name, { cause: new Error('the connection closed during the durability check') });
    const starting = !this.#started;
    if (report.problems.length > 0) {
      const error = new RedisDurabilityError(this.name, report.problems);
      if (this.#requireDurability) {
        // Warned once when it starts refusing; the first check's refusal is thrown by createRedisStateStore.
        if (!starting && this.#refusal === undefined) this.#warn('OSCORE_REDIS_NOT_DURABLE', `${error.message} Every OSCORE message that needs the store fails with 503.`);
        this.#refusal = error;
        this.#verified = false;
        return error;
      }
      this.#warn('OSCORE_REDIS_NOT_DURABLE', error.message);
    }
    if (report.unverifiable !== undefined) {
      this.#warn(
        'OSCORE_REDIS_DURABILITY_UNVERIFIED',
        `Cannot verify that ${this.name} persists every write before acknowledging it (${report.unverifiable}); make sure it runs with "appendonly yes" and "appendfsync always" (docs/scaling.md).`,
      );
    }
    try {
      await within(this.#checkEpoch(), this.#timeout);
    } catch (cause) {
      return new StateStoreUnavailableError(this.name, { cause });
    }
    if (generation !== this.#generation || this.#closed) return new StateStoreUnavailableError(this.name, { cause: new Error('the connection closed during the check') });
    if (this.#dataLost !== undefined) return new StateStoreUnavailableError(this.name, { cause: this.#dataLost });
    this.#refusal = undefined;
    this.#verified = true;
    return undefined;
  }

  /** Reads (creating it if missing) the data marker and compares it with the one first seen. */
  async #checkEpoch(): Promise<void> {
    this.#lastEpochCheck = Date.now();
    const key = this.#keys.epoch();
    await this.#commands.set(key, randomBytes(16).toString('hex'), 'NX');
    const epoch = await this.#commands.get(key);
    if (epoch === null) throw new Error('the data marker vanished while it was read');
    if (this.#epoch === undefined) this.#epoch = epoch;
    else if (epoch !== this.#epoch && this.#dataLost === undefined) {
      this.#dataLost = new RedisStateLostError(this.name, 'its data marker changed: Redis came back empty, was flushed or was replaced');
      this.#warn('OSCORE_REDIS_STATE_LOST', `${this.#dataLost.message} Every OSCORE message that needs the store fails with 503 until the contexts are rotated and the process restarted.`, this.#dataLost);
    }
  }

  #warn(code: RedisStoreWarning['code'], message: string, cause?: unknown): void {
    try {
      this.#onWarning(cause === undefined ? { code, message } : { code, message, cause });
    } catch {
      // A failing observer must not change what the store does.
    }
  }

  /** The reason no operation can be served now, or `undefined`. */
  #blocked(): StateStoreUnavailableError | undefined {
    if (this.#closed) return new StateStoreUnavailableError(this.name, { cause: new Error('the store is closed') });
    if (this.#dataLost !== undefined) return new StateStoreUnavailableError(this.name, { cause: this.#dataLost });
    const status = this.#client.status;
    if (status !== 'ready') return new StateStoreUnavailableError(this.name, { cause: new Error(`not connected to Redis (${status})`, { cause: this.#lastError }) });
    if (!this.#verified) {
      // Connected but not verified (refused, or the check failed): check again now and then,
      // so a server fixed in place (CONFIG SET) or a check that timed out does not block for good.
      if (this.#started && !this.#checkInFlight && Date.now() - this.#lastCheck >= RECHECK_INTERVAL) this.#checking = this.#verify();
      return new StateStoreUnavailableError(this.name, { cause: this.#refusal ?? new Error('the connection is not verified yet') });
    }
    // A flush without a reconnection: the marker is read again at most once a second.
    if (this.#epochCheck === undefined && Date.now() - this.#lastEpochCheck >= RECHECK_INTERVAL) {
      this.#epochCheck = within(this.#checkEpoch(), this.#timeout)
        .catch(() => undefined) // a failed read is retried at the next interval
        .finally(() => (this.#epochCheck = undefined));
    }
    return undefined;
  }

  /** Whether operations can be served now: connected, and the server passed the durability check. */
  get available(): boolean {
    return this.#blocked() === undefined;
  }

  /** Runs `command` (and WAIT, if configured) within the timeout; the WAIT count, if any, is checked. */
  async #write<T>(command: (target: Redis) => Promise<T>, pipelined: (pipeline: ReturnType<Redis['pipeline']>) => void): Promise<T> {
    if (this.#wait === undefined) return within(command(this.#commands), this.#timeout);
    const { replicas, timeout } = this.#wait;
    const pipeline = this.#commands.pipeline();
    pipelined(pipeline);
    pipeline.wait(replicas, timeout);
    const results = await within(pipeline.exec(), this.#timeout);
    if (results === null || results.length !== 2) throw new Error('the Redis transaction was discarded');
    const [[error, value], [waitError, acknowledged]] = results as [[Error | null, T], [Error | null, number]];
    if (error !== null) throw error;
    if (waitError !== null) throw waitError;
    if (Number(acknowledged) < replicas) throw new Error(`only ${Number(acknowledged)} of ${replicas} replicas acknowledged the write within ${timeout} ms`);
    return value;
  }

  /**
   * {@inheritDoc @oscore-http/core#StateStore.reserve}
   * One INCRBY (and WAIT, if configured). Fails with `StateStoreUnavailableError` when
   * Redis cannot answer, is not verified durable, or lost the counter.
   */
  async reserve(key: string, count: number): Promise<number> {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
    const blocked = this.#blocked();
    if (blocked !== undefined) throw blocked;
    if (this.#lostCounters.has(key)) throw new StateStoreUnavailableError(this.name, { cause: new RedisStateLostError(this.name, 'a counter went backwards') });
    const redisKey = this.#keys.counter(key);
    let end: number;
    try {
      end = Number(
        await this.#write(
          (client) => client.incrby(redisKey, count),
          (pipeline) => pipeline.incrby(redisKey, count),
        ),
      );
    } catch (cause) {
      throw new StateStoreUnavailableError(this.name, { cause });
    }
    if (!Number.isSafeInteger(end)) throw new StateStoreUnavailableError(this.name, { cause: new Error('the counter is not a safe integer') });
    const first = end - count;
    const floor = this.#floors.get(key);
    if (floor !== undefined && first < floor) {
      // Appendix B.1.1: values at or above `first` may have been used already. Never again in this process.
      this.#lostCounters.add(key);
      const error = new RedisStateLostError(this.name, 'a counter went backwards');
      this.#warn('OSCORE_REDIS_STATE_LOST', error.message, error);
      throw new StateStoreUnavailableError(this.name, { cause: error });
    }
    this.#floors.set(key, end);
    return first;
  }

  async #checkWindow(key: string, size: number, seq: SequenceNumber, mode: ReplayMode): Promise<ReplayVerdict> {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQUENCE_NUMBER) throw new RangeError('the sequence number must be an integer between 0 and 2^40 - 1');
    const blocked = this.#blocked();
    if (blocked !== undefined) throw blocked;
    const [meta, bits] = this.#keys.window(key);
    const args = [meta, bits, String(seq), String(size), this.#seenWindows.has(key) ? '1' : '0', mode] as const;
    let verdict: unknown;
    try {
      verdict = await this.#write(
        (client) => (client as unknown as Record<typeof SCRIPT, ScriptCommand>)[SCRIPT](...args),
        (pipeline) => void (pipeline as unknown as Record<typeof SCRIPT, ScriptCommand>)[SCRIPT](...args),
      );
    } catch (cause) {
      throw new StateStoreUnavailableError(this.name, { cause });
    }
    if (verdict === 'unknown') {
      if (!this.#warnedLostWindow) {
        this.#warnedLostWindow = true;
        this.#warn('OSCORE_REDIS_STATE_LOST', `Replay windows this process used are gone from ${this.name}; their senders must prove freshness again (Echo, RFC 8613 Appendix B.1.2).`);
      }
      return 'unknown';
    }
    if (verdict !== 'accepted' && verdict !== 'replayed') throw new StateStoreUnavailableError(this.name, { cause: new Error('unexpected reply from the replay script') });
    this.#seenWindows.add(key);
    return verdict;
  }

  /**
   * {@inheritDoc @oscore-http/core#StateStore.replayWindow}
   * The window lives in Redis: every replica's window for `key` is the same one.
   */
  replayWindow(key: string, size: number): RedisReplayWindow {
    if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW_SIZE) throw new RangeError(`the replay window size must be an integer between 1 and ${MAX_REPLAY_WINDOW_SIZE}`);
    return new RedisReplayWindow(key, size, (seq, mode) => this.#checkWindow(key, size, seq, mode));
  }

  /** Stops serving; quits the connection if the store opened it (a given client stays open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#verified = false;
    this.#client.off('ready', this.#onReady);
    this.#client.off('close', this.#onClose);
    this.#client.off('+node', this.#onNode);
    if (!this.#owned) return;
    try {
      await within(this.#client.quit(), this.#timeout);
    } catch {
      this.#client.disconnect();
    }
    this.#client.off('error', this.#onError);
  }
}

/**
 * Connects to Redis, checks that it persists every write before acknowledging it, and
 * returns the store. Give the same options to every replica.
 * @throws {StateStoreUnavailableError} if Redis cannot be reached.
 * @throws {RedisDurabilityError} if the server may lose acknowledged writes and `requireDurability` is on (default).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import oscore from '@oscore-http/fastify';
 * import { createContextSet } from '@oscore-http/http';
 * import { createRedisStateStore } from '@oscore-http/redis';
 *
 * const store = await createRedisStateStore({ url: process.env.REDIS_URL });
 * const app = Fastify();
 * await app.register(oscore, { contexts: createContextSet(configs, { store }) });
 * app.addHook('onClose', () => store.close());
 * ```
 */
export function createRedisStateStore(options: RedisStateStoreOptions = {}): Promise<RedisStateStore> {
  return RedisStateStore.open(options);
}
