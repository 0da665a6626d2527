/**
 * Typed errors of the OSCORE engine.
 *
 * Every failure a caller can meet is one class with a stable `code`, a one-sentence
 * message that says what to do, and — for failures of a received message — the
 * RFC 8613 §8 outcome (a CoAP error code) that the transport layer maps to its own
 * status (HTTP 400/401/413 through RFC 8075 §7). Messages never contain key
 * material or plaintext. Callers branch on `instanceof` or `code`, never on text.
 */

import type { RequestBinding } from './process/binding.js';

/** CoAP response codes an OSCORE failure maps to (RFC 8613 §7.4, §8.2, §8.4; RFC 7252 §5.9.2). */
export type OscoreOutcome =
  | '4.00' // Bad Request: decryption failed, malformed plaintext (RFC 8613 §8.2 step 6)
  | '4.01' // Unauthorized: context not found, replay (RFC 8613 §8.2 step 2, §7.4)
  | '4.02' // Bad Option: OSCORE option or COSE object fails to decode (RFC 8613 §8.2 step 2); an unrecognized critical inner option (RFC 7252 §5.4.1)
  | '4.05' // Method Not Allowed: an inner request code the endpoint does not support (RFC 7252 §5.8)
  | '4.13' // Request Entity Too Large: the message exceeds what the AEAD can protect
  | '5.03' // Service Unavailable: the sender cannot protect more messages with this context
  | '5.05'; // Proxying Not Supported: a verified request asks for a forward proxy (RFC 7252 §5.10.2)

/** Base class of every error the engine throws on purpose. */
export abstract class OscoreError extends Error {
  /** Stable machine-readable identifier, e.g. `ERR_OSCORE_REPLAY`. */
  abstract readonly code: string;
  /** RFC 8613 §8 outcome for a received message, `undefined` for local/configuration errors. */
  abstract readonly outcome: OscoreOutcome | undefined;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** A JSON form that carries the code and message only — never a stack or a cause. */
  toJSON(): { name: string; code: string; message: string; outcome: OscoreOutcome | undefined } {
    return { name: this.name, code: this.code, message: this.message, outcome: this.outcome };
  }
}

/** The OSCORE option value violates RFC 8613 §6.1 (reserved bits, lengths, trailing bytes). */
export class MalformedOptionError extends OscoreError {
  readonly code = 'ERR_OSCORE_MALFORMED_OPTION';
  readonly outcome = '4.02';
  constructor(detail: string) {
    super(`The OSCORE option value is malformed (${detail}); the sender must encode it as RFC 8613 Section 6.1 specifies.`);
  }
}

/** The compressed COSE object cannot be used: a request without kid or Partial IV, or a message without payload (RFC 8613 §2, §5, §8.2 step 2). */
export class MalformedCoseError extends OscoreError {
  readonly code = 'ERR_OSCORE_MALFORMED_COSE';
  readonly outcome = '4.02';
  constructor(detail: string) {
    super(`The COSE object fails to decode (${detail}); the sender must follow RFC 8613 Section 5.`);
  }
}

/** No Recipient Context matches the received kid (and kid context) (RFC 8613 §8.2 step 2). */
export class ContextNotFoundError extends OscoreError {
  readonly code = 'ERR_OSCORE_CONTEXT_NOT_FOUND';
  readonly outcome = '4.01';
  constructor() {
    super('No security context matches the kid and kid context of the message; configure a context whose Recipient ID (and ID Context) equals the peer\'s Sender ID.');
  }
}

/** AEAD decryption or integrity verification failed (RFC 8613 §8.2 step 6, §8.4 step 5). */
export class DecryptionFailedError extends OscoreError {
  readonly code = 'ERR_OSCORE_DECRYPTION_FAILED';
  readonly outcome = '4.00';
  constructor() {
    super('The OSCORE message failed to decrypt: it was altered in transit or both peers do not share the same security context (Master Secret, Master Salt, IDs, algorithm).');
  }
}

/** The Partial IV of a request was received before or is older than the replay window (RFC 8613 §7.4). */
export class ReplayDetectedError extends OscoreError {
  readonly code = 'ERR_OSCORE_REPLAY';
  readonly outcome = '4.01';
  constructor() {
    super('Replay detected: this Partial IV was already received or is older than the replay window; the client must send a new request with a fresh sequence number.');
  }
}

/** The decrypted plaintext is not a valid CoAP-coded inner message (RFC 8613 §5.3, RFC 7252 §3). */
export class MalformedPlaintextError extends OscoreError {
  readonly code = 'ERR_OSCORE_MALFORMED_PLAINTEXT';
  readonly outcome = '4.00';
  /**
   * For a request: the binding of the authentic request it came in (set by `verifyRequest`).
   * The request decrypted and was counted in the replay window, so the error is CoAP
   * processing (§8.2 step 8) and its response is protected with this binding (§8.3).
   * Not enumerable: it stays out of logs and JSON.
   */
  declare readonly binding?: RequestBinding;
  constructor(detail: string) {
    super(`The decrypted inner message is malformed (${detail}); the sender must encode it as RFC 8613 Section 5.3 specifies.`);
  }
}

/** The Sender Sequence Number reached its maximum, 2^40 − 1 (RFC 8613 §7.2.1). */
export class SequenceNumbersExhaustedError extends OscoreError {
  readonly code = 'ERR_OSCORE_SEQUENCE_EXHAUSTED';
  readonly outcome = '5.03';
  constructor() {
    super('The Sender Sequence Numbers of this security context are exhausted (2^40 - 1 reached); establish a new security context before sending again.');
  }
}

/** The AEAD or HKDF algorithm is unknown, or the selected crypto backend does not implement it. */
export class UnsupportedAlgorithmError extends OscoreError {
  readonly code = 'ERR_OSCORE_UNSUPPORTED_ALGORITHM';
  readonly outcome = undefined;
  constructor(algorithm: string, backend?: string) {
    super(backend === undefined
      ? `The algorithm ${algorithm} is not supported; use one of AES-CCM-16-64-128 (10), AES-CCM-16-64-256 (11), AES-CCM-16-128-128 (30), AES-CCM-16-128-256 (31), A128GCM (1), A192GCM (2), A256GCM (3), ChaCha20/Poly1305 (24).`
      : `The crypto backend "${backend}" does not implement ${algorithm}; use the node:crypto backend or choose A128GCM, A192GCM, A256GCM or ChaCha20/Poly1305.`);
  }
}

/** The security context input parameters violate RFC 8613 §3.3 (ID lengths, distinct IDs, empty secret). */
export class InvalidContextError extends OscoreError {
  readonly code = 'ERR_OSCORE_INVALID_CONTEXT';
  readonly outcome = undefined;
  constructor(detail: string) {
    super(`The security context parameters are invalid: ${detail}.`);
  }
}

/** The message given to protect is not one OSCORE can carry (wrong code class, nested OSCORE option, bad option). */
export class InvalidMessageError extends OscoreError {
  readonly code = 'ERR_OSCORE_INVALID_MESSAGE';
  readonly outcome = undefined;
  constructor(detail: string) {
    super(`The message cannot be protected: ${detail}.`);
  }
}

/** The plaintext exceeds what the AEAD algorithm can protect in one message (e.g. 65,535 bytes for AES-CCM-16-*). */
export class MessageTooLargeError extends OscoreError {
  readonly code = 'ERR_OSCORE_MESSAGE_TOO_LARGE';
  readonly outcome = '4.13';
  /** The largest plaintext, in bytes, the algorithm or configuration allows. */
  readonly limit: number;
  constructor(size: number, limit: number, algorithm: string) {
    super(`The message plaintext is ${size} bytes but ${algorithm} protects at most ${limit} bytes per message; send a smaller body or use A128GCM, A256GCM or ChaCha20/Poly1305 for large bodies.`);
    this.limit = limit;
  }
}

/** A request binding was used for a second response (RFC 8613 §7.4: only a single response is accepted; §5.2 nonce reuse). */
export class ResponseBindingError extends OscoreError {
  readonly code = 'ERR_OSCORE_RESPONSE_BINDING';
  readonly outcome = undefined;
  constructor(detail: string) {
    super(`The request binding cannot be used here: ${detail}.`);
  }
}

/**
 * The replay window of the Recipient Context is not known (state lost in a restart), so
 * the request cannot be told apart from a replay (RFC 8613 §7.5, Appendix B.1.2). The
 * HTTP layer answers with an Echo challenge (RFC 9175); other callers must prove
 * freshness themselves.
 */
export class FreshnessRequiredError extends OscoreError {
  readonly code = 'ERR_OSCORE_FRESHNESS_REQUIRED';
  readonly outcome = '4.01';
  constructor() {
    super('The replay state of this context was lost, so the request cannot be told apart from a replay; prove freshness with the Echo option (RFC 9175) before processing it.');
  }
}

/** A key reached its AEAD usage limit, or the context its expiration time (draft-ietf-core-oscore-key-limits §2.2, §2.3). */
export class UsageLimitReachedError extends OscoreError {
  readonly code = 'ERR_OSCORE_USAGE_LIMIT';
  readonly outcome = '5.03';
  /** Which limit: `q` (encryptions with the Sender Key), `v` (failed decryptions with the Recipient Key) or `exp` (the context's expiration time). */
  readonly limit: 'q' | 'v' | 'exp';
  constructor(limit: 'q' | 'v' | 'exp', value: number) {
    super(
      limit === 'q'
        ? `The Sender Key protected its limit of ${value} messages (draft-ietf-core-oscore-key-limits; a message longer than 'l' blocks counts as several); rotate the security context (new Master Secret or ID Context) before sending again.`
        : limit === 'v'
          ? `The Recipient Key saw its limit of ${value} failed decryptions (draft-ietf-core-oscore-key-limits; a message longer than 'l' blocks counts as several); rotate the security context, and look for the source of the forgeries.`
          : `The security context expired at ${new Date(value * 1000).toISOString()} ('exp', draft-ietf-core-oscore-key-limits); rotate it (new Master Secret or ID Context) to communicate again.`,
    );
    this.limit = limit;
  }
}

/** The file store's state file is damaged or not this store's: refused, never read as empty (that would reuse nonces). */
export class StateFileCorruptError extends OscoreError {
  readonly code = 'ERR_OSCORE_STATE_FILE_CORRUPT';
  readonly outcome = undefined;
  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(`The OSCORE state file ${file} cannot be used (${detail}); restore it from a backup, or rotate the security contexts (new keys) before starting with an empty state directory: starting its counters again would reuse nonces.`, options);
  }
}

/** The state store (file, Redis) cannot be reached; processing fails closed. */
export class StateStoreUnavailableError extends OscoreError {
  readonly code = 'ERR_OSCORE_STATE_UNAVAILABLE';
  readonly outcome = '5.03';
  constructor(store: string, options?: { cause?: unknown }) {
    super(`The OSCORE state store ${store} is unavailable, so no message can be protected or checked for replay; restore the store, nothing is processed until then.`, options);
  }
}
