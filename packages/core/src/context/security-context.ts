/**
 * The Security Context (RFC 8613 §3): Common Context, Sender Context and Recipient
 * Context, derived once from the input parameters and immutable afterwards except
 * for the Sender Sequence Number and the Replay Window (§3.1).
 *
 * The derived keys and Common IV live in private fields; `toString`, `toJSON` and
 * `util.inspect` show identifiers only, so a context can be logged by accident
 * without leaking a secret (§12.6: "The Master Secret, Sender Key, Recipient Key,
 * and Common IV must be secret").
 */

import { aeadAlgorithm, DEFAULT_AEAD, DEFAULT_HKDF, hkdfAlgorithm, type AeadAlgorithm, type HkdfAlgorithm } from '../algorithms.js';
import type { AeadKey, CryptoBackend } from '../aead/backend.js';
import { defaultBackend } from '../aead/default-backend.js';
import { bytesEqual, EMPTY, toHex } from '../bytes.js';
import { InvalidContextError, UnsupportedAlgorithmError } from '../errors.js';
import { DEFAULT_REPLAY_WINDOW_SIZE, ReplayWindow, type ReplayProtection } from '../replay/replay-window.js';
import { MemorySequenceNumberSource, ReservedSequenceNumberSource, type SequenceNumberSource } from '../sequence/sender-sequence.js';
import { ReservedCounter } from '../state/reserved-counter.js';
import type { StateStore } from '../state/state-store.js';
import { cipherBlockBytes, defaultUsageLimits, type UsageLimits } from '../state/usage-limits.js';
import { deriveParameters, hkdfInfo } from './derive.js';
import { MAX_OSCORE_OPTION_LENGTH } from '../cose/oscore-option.js';

/** Input parameters of a security context (RFC 8613 §3.2). */
export interface SecurityContextParams {
  /** A label for logs and diagnostics, e.g. the peer service's name. Not part of the derivation. */
  readonly name?: string;
  /** Master Secret, a random byte string shared by both endpoints (§3.1, §12.3). */
  readonly masterSecret: Uint8Array;
  /** Master Salt; default the empty byte string (§3.2). */
  readonly masterSalt?: Uint8Array;
  /** Sender ID of this endpoint; at most nonce length − 6 bytes (§3.3). May be empty. */
  readonly senderId: Uint8Array;
  /** Recipient ID (the peer's Sender ID); distinct from `senderId`. */
  readonly recipientId: Uint8Array;
  /** ID Context; omit when not used (then `nil` in the HKDF info, §3.2.1). */
  readonly idContext?: Uint8Array;
  /** AEAD algorithm, COSE id or name; default 10, AES-CCM-16-64-128 (§3.2). */
  readonly aeadAlgorithm?: number | string;
  /** HKDF algorithm, COSE id (−10, −11) or name; default HKDF-SHA-256 (§3.2). */
  readonly hkdfAlgorithm?: number | string;
  /**
   * Whether requests carry the ID Context as 'kid context' (§5.1). Default: `true` when
   * an ID Context is set, so a server holding many contexts can find this one.
   */
  readonly sendKidContext?: boolean;
  /** Crypto backend; default node:crypto where available, else @noble/ciphers. */
  readonly backend?: CryptoBackend;
  /** Source of Sender Sequence Numbers; default in memory, starting at 0 (§3.2.2). */
  readonly senderSequence?: SequenceNumberSource;
  /** Replay protection of the Recipient Context; default an in-memory window of 64. */
  readonly replayProtection?: ReplayProtection;
  /**
   * A state store for what must survive restarts or be shared by replicas: sequence
   * numbers, the replay window and the usage counters are then kept there (unless
   * `senderSequence` / `replayProtection` are given). Default: none, all in memory.
   */
  readonly state?: StateStore;
  /** Replay window size when the window comes from `state`. Default 64. */
  readonly replayWindowSize?: number;
  /** Block size K of durable reservations (Appendix B.1.1). Default 4,096. */
  readonly reservationBlock?: number;
  /** AEAD usage limits; default from draft-ietf-core-oscore-key-limits for the algorithm. */
  readonly usageLimits?: Partial<UsageLimits>;
  /**
   * Expiration time ('exp', draft-ietf-core-oscore-key-limits §2.2.1): seconds since
   * 1970-01-01T00:00:00Z (a NumericDate). From then on the context protects and verifies
   * nothing. Default: none.
   */
  readonly exp?: number;
}

/**
 * The immutable parts of a context as the message-processing modules of this package
 * read them. Never exported from the package: keys and Common IV stay inside.
 */
export interface ContextInternals {
  /** Encryptions with the Sender Key so far (`count_q`): `take()` yields the next count. */
  readonly q: UsageCounter;
  /** Failed decryptions with the Recipient Key (`count_v`). */
  readonly v: UsageCounter;
  readonly limits: UsageLimits;
  /** Bytes of `limits.l` blocks: the longest message that counts as one use. */
  readonly useBytes: number;
  /** 'exp' in milliseconds since the epoch, if set. */
  readonly expiresAt: number | undefined;
  /** Set once `count_q` exceeded `limit_q`: the Sender Key encrypts nothing more. */
  readonly senderKeyRetired: { value: boolean };
  /** Set once the Sender Sequence Number passed 2^40 − 1: the Sender Context protects nothing more (§7.2.1). */
  readonly senderSequenceExhausted: { value: boolean };
  /** Whether `count_q` from earlier processes was read (stored counters only; see usage.ts), and the read in progress. */
  readonly senderKeyChecked: { value: boolean; pending?: Promise<void> | undefined };
  /** Set once `count_v` exceeded `limit_v`: the Recipient Key decrypts nothing more. */
  readonly recipientKeyRetired: { value: boolean };
  /** Whether `count_v` from earlier processes was read (stored counters only; see usage.ts), and the read in progress. */
  readonly recipientKeyChecked: { value: boolean; pending?: Promise<void> | undefined };
  readonly senderId: Uint8Array;
  readonly recipientId: Uint8Array;
  readonly idContext: Uint8Array | undefined;
  readonly senderKey: AeadKey;
  readonly recipientKey: AeadKey;
  readonly commonIV: Uint8Array;
  readonly backend: CryptoBackend;
}

/** A usage counter: `take()` returns how many uses came before this one (0-based). */
export interface UsageCounter {
  take(): number | Promise<number>;
  /** The next value `take` would give, without taking it (for a stored counter, read once from the store). */
  peek?(): Promise<number>;
  /** The next value `take` would give, if known without waiting (no I/O). */
  next?(): number | undefined;
}

/** Usage counting in memory, for contexts without a state store. */
class MemoryCounter implements UsageCounter {
  #count = 0;
  take(): number {
    return this.#count++;
  }
  next(): number {
    return this.#count;
  }
}

let readInternals: (ctx: SecurityContext) => ContextInternals;

/** The private parts of `ctx`; for the message-processing modules of this package only. */
export function internalsOf(ctx: SecurityContext): ContextInternals {
  return readInternals(ctx);
}

/**
 * A derived OSCORE security context. Create with {@link createSecurityContext}.
 *
 * The ID getters return copies, so the context cannot be altered through them.
 */
export class SecurityContext {
  /** Label given at creation, if any (not secret, not part of the derivation). */
  readonly name: string | undefined;
  /** AEAD algorithm of the Common Context. */
  readonly aead: AeadAlgorithm;
  /** HKDF algorithm used for the derivation. */
  readonly hkdf: HkdfAlgorithm;
  /** Whether requests carry 'kid context'. */
  readonly sendKidContext: boolean;
  /** The Sender Sequence Number source of the Sender Context. */
  readonly senderSequence: SequenceNumberSource;
  /** The replay protection of the Recipient Context. */
  readonly replayProtection: ReplayProtection;
  /** Opaque, stable id of the Sender Context's state (hex), derived from the secret; reveals nothing about it. */
  readonly senderStateId: string;
  /** Opaque, stable id of the Recipient Context's state (hex). */
  readonly recipientStateId: string;
  readonly #internals: ContextInternals;

  static {
    readInternals = (ctx) => ctx.#internals;
  }

  /** @internal Use {@link createSecurityContext}. */
  constructor(
    params: Readonly<{
      name: string | undefined;
      aead: AeadAlgorithm;
      hkdf: HkdfAlgorithm;
      sendKidContext: boolean;
      senderSequence: SequenceNumberSource;
      replayProtection: ReplayProtection;
      senderStateId: string;
      recipientStateId: string;
      internals: ContextInternals;
    }>,
  ) {
    this.name = params.name;
    this.aead = params.aead;
    this.hkdf = params.hkdf;
    this.sendKidContext = params.sendKidContext;
    this.senderSequence = params.senderSequence;
    this.replayProtection = params.replayProtection;
    this.senderStateId = params.senderStateId;
    this.recipientStateId = params.recipientStateId;
    this.#internals = params.internals;
    Object.freeze(this);
  }

  /** Sender ID (a copy). */
  get senderId(): Uint8Array {
    return this.#internals.senderId.slice();
  }

  /** Recipient ID (a copy). */
  get recipientId(): Uint8Array {
    return this.#internals.recipientId.slice();
  }

  /** ID Context (a copy), or `undefined` when the context has none. */
  get idContext(): Uint8Array | undefined {
    return this.#internals.idContext?.slice();
  }

  /** The AEAD usage limits in force. */
  get usageLimits(): UsageLimits {
    return this.#internals.limits;
  }

  /** The expiration time ('exp'), in seconds since the epoch, if set. */
  get exp(): number | undefined {
    const at = this.#internals.expiresAt;
    return at === undefined ? undefined : at / 1000;
  }

  /** Name of the crypto backend in use. */
  get backendName(): string {
    return this.#internals.backend.name;
  }

  /** A description with identifiers only, e.g. `SecurityContext(AES-CCM-16-64-128, sid=, rid=01)`. */
  toString(): string {
    const { senderId, recipientId, idContext } = this.#internals;
    const ctx = idContext === undefined ? '' : `, idctx=${toHex(idContext)}`;
    const name = this.name === undefined ? '' : `${this.name}, `;
    return `SecurityContext(${name}${this.aead.name}, sid=${toHex(senderId)}, rid=${toHex(recipientId)}${ctx})`;
  }

  /** Public identifiers only; keys and Common IV are never serialised. */
  toJSON(): { name?: string; aead: string; senderId: string; recipientId: string; idContext: string | null } {
    const { senderId, recipientId, idContext } = this.#internals;
    return {
      ...(this.name === undefined ? {} : { name: this.name }),
      aead: this.aead.name,
      senderId: toHex(senderId),
      recipientId: toHex(recipientId),
      idContext: idContext === undefined ? null : toHex(idContext),
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

function copyBytes(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidContextError(`${name} must be a Uint8Array`);
  return Uint8Array.from(value);
}

/**
 * The store counters of a Sender Key (its sequence numbers and `count_q`), one per store
 * and key in this process. Contexts with the same Sender Key — a server's contexts for the
 * instances of a replicated client (docs/scaling.md), or a context created twice — draw
 * from one counter: each would otherwise reserve its own block of the one key's values,
 * and a few hundred such contexts would exhaust `count_q` (key-limits §2.2) unused.
 */
const senderCounters = new WeakMap<StateStore, Map<string, ReservedCounter>>();

function senderCounter(store: StateStore, key: string, block: number | undefined): ReservedCounter {
  let counters = senderCounters.get(store);
  if (counters === undefined) senderCounters.set(store, (counters = new Map()));
  let counter = counters.get(key);
  if (counter === undefined) counters.set(key, (counter = new ReservedCounter(store, key, block)));
  return counter;
}

/**
 * Validates the input parameters (RFC 8613 §3.3) and derives a security context (§3.2.1).
 * Derivation costs three HKDF calls: do it once per peer and keep the context.
 *
 * @throws {InvalidContextError} if a parameter breaks §3.3 (ID too long for the nonce, equal IDs, empty secret).
 * @throws {UnsupportedAlgorithmError} if the algorithm is unknown or the backend lacks it.
 *
 * @example
 * ```ts
 * const client = createSecurityContext({
 *   masterSecret: secret, masterSalt: salt,
 *   senderId: new Uint8Array([]), recipientId: new Uint8Array([0x01]),
 * });
 * ```
 */
export function createSecurityContext(params: SecurityContextParams): SecurityContext {
  const aead = params.aeadAlgorithm === undefined ? DEFAULT_AEAD : aeadAlgorithm(params.aeadAlgorithm);
  const hkdf = params.hkdfAlgorithm === undefined ? DEFAULT_HKDF : hkdfAlgorithm(params.hkdfAlgorithm);
  const masterSecret = copyBytes(params.masterSecret, 'masterSecret');
  const masterSalt = params.masterSalt === undefined ? EMPTY : copyBytes(params.masterSalt, 'masterSalt');
  const senderId = copyBytes(params.senderId, 'senderId');
  const recipientId = copyBytes(params.recipientId, 'recipientId');
  const idContext = params.idContext === undefined ? undefined : copyBytes(params.idContext, 'idContext');
  const sendKidContext = params.sendKidContext ?? idContext !== undefined;
  const backend = params.backend ?? defaultBackend();

  if (masterSecret.length === 0) throw new InvalidContextError('the Master Secret is empty; use at least 16 random bytes (RFC 8613 Section 12.3)');
  // §3.3: "The maximum length of Sender ID in bytes equals the length of the AEAD nonce minus 6."
  const maxId = aead.nonceLength - 6;
  if (senderId.length > maxId) throw new InvalidContextError(`the Sender ID is ${senderId.length} bytes but ${aead.name} allows at most ${maxId}; use a shorter ID`);
  if (recipientId.length > maxId) throw new InvalidContextError(`the Recipient ID is ${recipientId.length} bytes but ${aead.name} allows at most ${maxId}; use a shorter ID`);
  // Equal IDs would give both directions the same key and nonce space (§3.3, Appendix D.4).
  if (bytesEqual(senderId, recipientId)) throw new InvalidContextError('the Sender ID and Recipient ID are equal; give each endpoint a distinct ID');
  if (sendKidContext && idContext === undefined) throw new InvalidContextError('sendKidContext is set but there is no ID Context');
  // A request's OSCORE option (flags, Partial IV of up to 5 bytes, s, kid context, kid) must fit
  // the option's 255 bytes (§2, §6.1) for every sequence number, not only the small ones.
  if (sendKidContext && idContext !== undefined && 1 + 5 + 1 + idContext.length + senderId.length > MAX_OSCORE_OPTION_LENGTH) {
    throw new InvalidContextError(
      `the ID Context (${idContext.length} bytes) and Sender ID (${senderId.length} bytes) do not fit the 255-byte OSCORE option as 'kid context' and 'kid'; use at most ${MAX_OSCORE_OPTION_LENGTH - 7 - senderId.length} bytes of ID Context, or set sendKidContext: false`,
    );
  }
  if (!backend.supports(aead)) throw new UnsupportedAlgorithmError(aead.name, backend.name);
  // A limit that is not a positive integer would never trigger (draft-ietf-core-oscore-key-limits §2.2).
  for (const key of Object.keys(params.usageLimits ?? {})) {
    const value = (params.usageLimits as Record<string, unknown>)[key];
    if (key !== 'q' && key !== 'v' && key !== 'l') throw new InvalidContextError(`usageLimits has an unknown limit "${key}"; use q, v and l`);
    if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)) {
      throw new InvalidContextError(`usageLimits.${key} must be a positive integer`);
    }
  }
  // §2.2.1: "a non-negative integer".
  if (params.exp !== undefined && (typeof params.exp !== 'number' || !Number.isSafeInteger(params.exp) || params.exp < 0)) {
    throw new InvalidContextError('exp must be a non-negative integer: seconds since 1970-01-01T00:00:00Z');
  }

  const derived = deriveParameters({ masterSecret, masterSalt, senderId, recipientId, idContext, aead, hkdf }, backend);
  // State ids: the §3.2.1 derivation with its own label, so each key's state has a stable
  // name across restarts and replicas that says nothing about the key.
  const stateId = (id: Uint8Array) => toHex(backend.hkdf(hkdf, masterSecret, masterSalt, hkdfInfo(id, idContext, aead, 'state', 16), 16));
  const senderStateId = stateId(senderId);
  const recipientStateId = stateId(recipientId);
  masterSecret.fill(0);
  const store = params.state;
  const block = params.reservationBlock;
  const limits: UsageLimits = { ...defaultUsageLimits(aead), ...params.usageLimits };
  const internals: ContextInternals = Object.freeze({
    q: store === undefined ? new MemoryCounter() : senderCounter(store, `${senderStateId}/q`, block),
    v: store === undefined ? new MemoryCounter() : new ReservedCounter(store, `${recipientStateId}/v`, block === undefined ? 64 : Math.min(block, 64)),
    limits,
    useBytes: limits.l * cipherBlockBytes(aead),
    expiresAt: params.exp === undefined ? undefined : params.exp * 1000,
    senderKeyRetired: { value: false },
    senderSequenceExhausted: { value: false },
    senderKeyChecked: { value: store === undefined },
    recipientKeyRetired: { value: false },
    recipientKeyChecked: { value: store === undefined },
    senderId,
    recipientId,
    idContext,
    senderKey: backend.importKey(aead, derived.senderKey),
    recipientKey: backend.importKey(aead, derived.recipientKey),
    commonIV: derived.commonIV,
    backend,
  });
  derived.senderKey.fill(0);
  derived.recipientKey.fill(0);

  return new SecurityContext({
    name: params.name,
    aead,
    hkdf,
    sendKidContext,
    senderSequence:
      params.senderSequence ??
      (store === undefined ? new MemorySequenceNumberSource(0) : new ReservedSequenceNumberSource(senderCounter(store, `${senderStateId}/seq`, block))),
    replayProtection: params.replayProtection ?? (store === undefined ? new ReplayWindow(params.replayWindowSize) : store.replayWindow(recipientStateId, params.replayWindowSize ?? DEFAULT_REPLAY_WINDOW_SIZE)),
    senderStateId,
    recipientStateId,
    internals,
  });
}
