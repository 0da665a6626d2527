/**
 * Protecting and verifying responses (RFC 8613 §8.3, §8.4). A response is bound to its
 * request through the request kid and Partial IV in the AAD (§5.4, §7.1) and, when it
 * carries no Partial IV of its own, through the request nonce (§5.2).
 */

import { privateBuffer, wipe } from '../buffers.js';
import { internalsOf, type SecurityContext } from '../context/security-context.js';
import { encodeAadInto } from '../cose/aad.js';
import { computeNonceInto } from '../cose/nonce.js';
import { decodeOscoreOption, encodeOscoreOption } from '../cose/oscore-option.js';
import { encodePartialIV } from '../cose/partial-iv.js';
import { DecryptionFailedError, MalformedCoseError, ResponseBindingError } from '../errors.js';
import type { InnerMessage } from '../message/inner-message.js';
import { failed, protectedMessage, startSpan, TELEMETRY, verifiedMessage } from '../telemetry/instrumentation.js';
import type { PartialIV, SequenceNumber } from '../types.js';
import { bindingState, type RequestBinding } from './binding.js';
import { innerMessageOf, plaintextOf } from './plaintext.js';
import { assertRecipientKeyUsable, assertSenderKeyUsable, countEncryption, countFailedDecryption, nextSequenceNumber } from './usage.js';
import type { ProtectedMessage } from './request.js';

/** Options of {@link protectResponse}. */
export interface ProtectResponseOptions {
  /**
   * Use a fresh Sender Sequence Number as Partial IV instead of the request nonce (§8.3
   * step 3). Needed for a second response to one request (e.g. an Echo challenge after
   * a restart, Appendix B.1.2). Default `false`.
   */
  readonly partialIV?: boolean;
}

/** A verified response: the inner message and, if the response carried one, its Partial IV. */
export interface VerifiedResponse {
  readonly message: InnerMessage;
  readonly partialIV: PartialIV | undefined;
}

/**
 * Protects a response to a verified request (§8.3).
 *
 * @param binding the binding returned by `verifyRequest` for the request being answered.
 * @throws {ResponseBindingError} if the binding is a client's, or if the request nonce was already used for a response.
 * @throws {InvalidMessageError} if `message` is not a response or nests OSCORE.
 * @throws {MessageTooLargeError} if the plaintext exceeds the AEAD bound.
 */
export async function protectResponse(
  binding: RequestBinding,
  message: InnerMessage,
  options: ProtectResponseOptions = {},
): Promise<ProtectedMessage> {
  const span = startSpan(TELEMETRY.spans.protect, 'response');
  const context = binding.context;
  let plaintext: Uint8Array | undefined;
  try {
    if (binding.role !== 'server') throw new ResponseBindingError('it belongs to a request this endpoint sent, not one it received');
    const state = bindingState(binding);
    const internals = internalsOf(context);
    const { senderId, commonIV, senderKey, backend } = internals;
    plaintext = plaintextOf(message, 'response', context.aead);
    let nonce: Uint8Array;
    let option: Uint8Array;
    let partialIV: PartialIV | undefined;
    let seq: number | undefined;
    if (options.partialIV === true) {
      // Step 3, second alternative: a new Partial IV from our Sender Sequence Number, which the message MUST carry (step 4).
      const next = nextSequenceNumber(context, internals);
      seq = typeof next === 'number' ? next : await next;
      partialIV = encodePartialIV(seq as SequenceNumber);
      nonce = computeNonceInto(privateBuffer, commonIV, senderId, partialIV);
      option = encodeOscoreOption({ partialIV });
    } else {
      // Step 3, first alternative: the request nonce; the Partial IV MUST NOT be included (step 4).
      // Using it twice would reuse a nonce under our Sender Key (§5.2, §7.2).
      if (state.used) throw new ResponseBindingError('the request nonce already protected a response; pass { partialIV: true } for further responses');
      // Appendix B.1.2: with the replay window lost, the server "MUST use its Partial IV when
      // generating the AEAD nonce" — a replay of this request would get a binding of its own.
      if (state.unproven) throw new ResponseBindingError('the request was verified without a replay window (fresh: false); pass { partialIV: true }, or prove its freshness first (establishFreshness)');
      state.used = true;
      nonce = computeNonceInto(privateBuffer, commonIV, state.kid, state.partialIV);
      option = encodeOscoreOption({});
    }
    const aad = encodeAadInto(privateBuffer, context.aead, state.kid, state.partialIV);
    let keyUses: number;
    try {
      const counted = countEncryption(internals, plaintext.length + context.aead.tagLength);
      keyUses = typeof counted === 'number' ? counted : await counted;
    } catch (err) {
      // Nothing was encrypted: the request nonce is still unused, so the caller's error
      // response, if the key allows one, is not refused as a second response.
      if (partialIV === undefined) state.used = false;
      throw err;
    }
    const payload = backend.encrypt(senderKey, nonce, aad, plaintext);
    protectedMessage(span, 'response', context, { kid: state.kid, partialIV, sequenceNumber: seq, keyUses, size: payload.length });
    return { option, payload };
  } catch (err) {
    failed(span, 'response', err, false, { context });
    throw err;
  } finally {
    wipe(plaintext);
  }
}

/**
 * Whether `context` can still protect a message (draft-ietf-core-oscore-key-limits §2.3.1):
 * a server checks it after verifying a request and before acting on it, so that a request
 * whose response could not be protected is refused (5.03) instead of executed. Synchronous
 * except for the first check of a context with a state store in a process, which reads the
 * stored count (and then returns a promise).
 *
 * @throws {UsageLimitReachedError} if the Sender Key reached 'limit_q' or the context its 'exp'.
 * @throws {StateStoreUnavailableError} if the stored count cannot be read.
 */
export function assertCanProtect(context: SecurityContext): void | Promise<void> {
  return assertSenderKeyUsable(internalsOf(context));
}

/**
 * Verifies a response against the request it answers (§8.4). Only one response is
 * accepted per request (§7.4): after success the binding is spent.
 *
 * @param binding the binding returned by `protectRequest` for the request sent.
 * @throws {MalformedOptionError} / {MalformedCoseError}, {DecryptionFailedError}, {MalformedPlaintextError},
 *   {ResponseBindingError} if the binding is a server's or already received its response.
 */
export async function verifyResponse(binding: RequestBinding, option: Uint8Array, payload: Uint8Array): Promise<VerifiedResponse> {
  const span = startSpan(TELEMETRY.spans.verify, 'response');
  const context = binding.context;
  let partialIV: PartialIV | undefined;
  try {
    if (binding.role !== 'client') throw new ResponseBindingError('it belongs to a request this endpoint received, not one it sent');
    const state = bindingState(binding);
    if (state.used) throw new ResponseBindingError('a response to this request was already accepted (RFC 8613 Section 7.4)');
    // Step 2: decompress.
    partialIV = decodeOscoreOption(option).partialIV;
    if (payload.length === 0) throw new MalformedCoseError('the message has no payload');
    const internals = internalsOf(context);
    const usable = assertRecipientKeyUsable(internals);
    if (usable !== undefined) await usable;
    const { recipientId, commonIV, recipientKey, backend } = internals;
    // Step 3: the AAD carries the request's kid and Partial IV.
    const aad = encodeAadInto(privateBuffer, context.aead, state.kid, state.partialIV);
    // Step 4: the server's Partial IV with its Sender ID (our Recipient ID), else the request nonce.
    const nonce = partialIV !== undefined ? computeNonceInto(privateBuffer, commonIV, recipientId, partialIV) : computeNonceInto(privateBuffer, commonIV, state.kid, state.partialIV);
    // Step 5.
    const plaintext = backend.decrypt(recipientKey, nonce, aad, payload);
    if (plaintext === undefined) {
      await countFailedDecryption(internals, context.aead, payload.length);
      throw new DecryptionFailedError();
    }
    // §7.4 "only a single response is accepted": check again, in the same synchronous step as
    // the update — a concurrent verification of the same response may have won while this one awaited.
    if (state.used) throw new ResponseBindingError('a response to this request was already accepted (RFC 8613 Section 7.4)');
    state.used = true;
    // Step 6.
    const message = innerMessageOf(plaintext, 'response');
    verifiedMessage(span, 'response', context, { kid: state.kid, partialIV, size: payload.length });
    return { message, partialIV: partialIV?.slice() as PartialIV | undefined };
  } catch (err) {
    failed(span, 'response', err, true, { partialIV, context });
    throw err;
  }
}
