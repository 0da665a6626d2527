/**
 * Protecting and verifying requests (RFC 8613 §8.1, §8.2).
 */

import { privateBuffer, wipe } from '../buffers.js';
import { internalsOf, type SecurityContext } from '../context/security-context.js';
import { resolveRecipientContexts, type RecipientContextLookup } from '../context/lookup.js';
import { encodeAadInto } from '../cose/aad.js';
import { computeNonceInto } from '../cose/nonce.js';
import { decodeOscoreOption, encodeOscoreOption } from '../cose/oscore-option.js';
import { encodePartialIV, partialIVToSequenceNumber } from '../cose/partial-iv.js';
import { ContextNotFoundError, DecryptionFailedError, FreshnessRequiredError, MalformedCoseError, MalformedPlaintextError, ReplayDetectedError, UsageLimitReachedError } from '../errors.js';
import type { InnerMessage } from '../message/inner-message.js';
import type { SequenceNumber } from '../types.js';
import { bindingState, RequestBinding } from './binding.js';
import { innerMessageOf, plaintextOf } from './plaintext.js';
import { failed, protectedMessage, startSpan, TELEMETRY, verifiedMessage } from '../telemetry/instrumentation.js';
import { assertRecipientKeyUsable, countEncryption, countFailedDecryption, nextSequenceNumber } from './usage.js';

/** The two parts of a compressed COSE object as they travel: OSCORE option value and payload (§6). */
export interface ProtectedMessage {
  /** The OSCORE option value (§6.1); may be empty for responses. */
  readonly option: Uint8Array;
  /** The COSE ciphertext, carried as the message payload (§6.2). */
  readonly payload: Uint8Array;
}

/** A protected request and the binding its response will be verified against. */
export interface ProtectedRequest extends ProtectedMessage {
  readonly binding: RequestBinding;
}

/** A verified request: the inner message, its context and the binding for the response. */
export interface VerifiedRequest {
  readonly context: SecurityContext;
  readonly message: InnerMessage;
  readonly binding: RequestBinding;
  readonly sequenceNumber: SequenceNumber;
  /**
   * False only with `{ freshness: 'caller' }` when the replay window was lost: the request
   * decrypted, but the window was not updated. Prove freshness (Echo), then call
   * {@link establishFreshness} before processing it. Until then the binding protects a
   * response only with `{ partialIV: true }` (Appendix B.1.2).
   */
  readonly fresh: boolean;
}

/** Options of {@link verifyRequest}. */
export interface VerifyRequestOptions {
  /**
   * What to do when the replay window is unknown (state lost): `require` (default)
   * throws FreshnessRequiredError; `caller` returns the request with `fresh: false`.
   */
  readonly freshness?: 'require' | 'caller';
}

/**
 * Protects a request (§8.1): takes the next Sender Sequence Number, builds nonce and AAD,
 * encrypts the inner message with the Sender Key and compresses the COSE object.
 *
 * @throws {InvalidMessageError} if `message` is not a request or nests OSCORE.
 * @throws {MessageTooLargeError} if the plaintext exceeds the AEAD bound.
 * @throws {SequenceNumbersExhaustedError} once 2^40 − 1 is reached (§7.2.1).
 *
 * @example
 * ```ts
 * const { option, payload, binding } = await protectRequest(client, {
 *   code: coapCode(0, 1), // GET
 *   options: [{ number: CoapOptionNumber.UriPath, value: utf8('orders') }],
 *   payload: new Uint8Array(),
 * });
 * ```
 */
export async function protectRequest(context: SecurityContext, message: InnerMessage): Promise<ProtectedRequest> {
  const span = startSpan(TELEMETRY.spans.protect, 'request');
  let plaintext: Uint8Array | undefined;
  try {
    const internals = internalsOf(context);
    const { senderId, idContext, commonIV, senderKey, backend } = internals;
    // Step 2: the plaintext (validated before a sequence number is spent).
    plaintext = plaintextOf(message, 'request', context.aead);
    // Step 3: "Encode the Partial IV ... and increment the Sender Sequence Number by one."
    const next = nextSequenceNumber(context, internals);
    const seq = typeof next === 'number' ? next : await next;
    const partialIV = encodePartialIV(seq);
    const nonce = computeNonceInto(privateBuffer, commonIV, senderId, partialIV);
    // §5.4: in a request, request_kid is our Sender ID and request_piv our Partial IV.
    const aad = encodeAadInto(privateBuffer, context.aead, senderId, partialIV);
    // Step 4: encrypt with the Sender Key, then compress (§6).
    const counted = countEncryption(internals, plaintext.length + context.aead.tagLength);
    const keyUses = typeof counted === 'number' ? counted : await counted;
    const payload = backend.encrypt(senderKey, nonce, aad, plaintext);
    const option = encodeOscoreOption({
      partialIV,
      kid: senderId,
      kidContext: context.sendKidContext ? idContext : undefined,
    });
    protectedMessage(span, 'request', context, { kid: senderId, partialIV, sequenceNumber: seq, keyUses, size: payload.length });
    return { option, payload, binding: new RequestBinding('client', context, senderId, partialIV) };
  } catch (err) {
    failed(span, 'request', err, false, { context });
    throw err;
  } finally {
    wipe(plaintext);
  }
}

/**
 * Verifies a request (§8.2): decompresses the COSE object, finds the Recipient Context
 * by kid (and kid context), checks the replay window, decrypts, then updates the
 * window in the same step as the check.
 *
 * @param source the server's contexts, or a single context.
 * @param option the OSCORE option value as received.
 * @param payload the message payload (the ciphertext) as received.
 * @throws {MalformedOptionError} / {MalformedCoseError} (4.02), {ContextNotFoundError} (4.01),
 *   {ReplayDetectedError} (4.01), {DecryptionFailedError} (4.00), {MalformedPlaintextError} (4.00);
 *   nothing else for any input bytes.
 */
export async function verifyRequest(
  source: SecurityContext | RecipientContextLookup,
  option: Uint8Array,
  payload: Uint8Array,
  options: VerifyRequestOptions = {},
): Promise<VerifiedRequest> {
  const span = startSpan(TELEMETRY.spans.verify, 'request');
  let fields: ReturnType<typeof decodeOscoreOption> = {};
  let context: SecurityContext | undefined;
  try {
    // Step 2: decompress (§6.1).
    fields = decodeOscoreOption(option);
    const { partialIV, kid, kidContext } = fields;
    // §5: 'Partial IV' and 'kid' "SHALL be present in requests".
    if (partialIV === undefined) throw new MalformedCoseError('a request must carry a Partial IV');
    if (kid === undefined) throw new MalformedCoseError("a request must carry a 'kid'");
    // §2: "An endpoint receiving a CoAP message without payload that also contains an OSCORE option SHALL treat it as malformed".
    if (payload.length === 0) throw new MalformedCoseError('the message has no payload');
    const found = resolveRecipientContexts(source, kid, kidContext);
    const candidates = Array.isArray(found) ? (found as readonly SecurityContext[]) : await found;
    if (candidates.length === 0) throw new ContextNotFoundError();

    const seq = partialIVToSequenceNumber(partialIV);
    // A candidate whose Recipient Key is retired (key-limits §2.3.2) is passed over when
    // others share its kid — the old context beside its successor during a rotation.
    let retired: UsageLimitReachedError | undefined;
    let tried = 0;
    for (const candidate of candidates) {
      context = candidate;
      const replay = candidate.replayProtection as { isFresh?: (seq: SequenceNumber) => boolean; known?: boolean };
      // Step 3: an early look at the window saves decrypting a replay; the decisive check is below.
      if (candidates.length === 1 && replay.isFresh !== undefined && replay.known !== false && !replay.isFresh(seq)) throw new ReplayDetectedError();
      const internals = internalsOf(candidate);
      try {
        const usable = assertRecipientKeyUsable(internals);
        if (usable !== undefined) await usable;
      } catch (err) {
        if (!(err instanceof UsageLimitReachedError) || candidates.length === 1) throw err;
        retired = err;
        continue;
      }
      tried++;
      const { recipientId, commonIV, recipientKey, backend } = internals;
      // Steps 4–6: the kid is the Recipient ID, which is ID_PIV of the request nonce.
      const aad = encodeAadInto(privateBuffer, candidate.aead, recipientId, partialIV);
      const nonce = computeNonceInto(privateBuffer, commonIV, recipientId, partialIV);
      const plaintext = backend.decrypt(recipientKey, nonce, aad, payload);
      if (plaintext === undefined) {
        // Counted even when a later candidate opens the message (key-limits §2.3.2 makes no
        // exception): to this key it is a forgery attempt, whoever made it. So peers that
        // share a Recipient ID (§3.3) use up each other's limit_v.
        await countFailedDecryption(internals, candidate.aead, payload.length);
        continue;
      }
      // Step 6: "If decryption succeeds, update the Replay Window" — check and update are one step (§7.4).
      const checked = candidate.replayProtection.checkAndUpdate(seq);
      const verdict = typeof checked === 'string' ? checked : await checked;
      if (verdict === 'replayed') throw new ReplayDetectedError();
      if (verdict === 'unknown' && options.freshness !== 'caller') throw new FreshnessRequiredError();
      // The Partial IV is a view into the caller's buffer: the binding keeps its own copy.
      const binding = new RequestBinding('server', candidate, recipientId, new Uint8Array(partialIV) as typeof partialIV, verdict === 'unknown');
      // Step 7. An authentic request whose plaintext is malformed is answered protected (§8.3)
      // — if it is known to be fresh. Otherwise it may be a replay, and a response bound to it
      // would reuse the request's nonce for a second time (Appendix B.1.2): no binding then.
      let message: InnerMessage;
      try {
        message = innerMessageOf(plaintext, 'request');
      } catch (err) {
        if (err instanceof MalformedPlaintextError && verdict === 'accepted') Object.defineProperty(err, 'binding', { value: binding });
        throw err;
      }
      verifiedMessage(span, 'request', candidate, { kid, kidContext, partialIV, sequenceNumber: seq, size: payload.length });
      return { context: candidate, message, binding, sequenceNumber: seq, fresh: verdict === 'accepted' };
    }
    context = candidates.length === 1 ? candidates[0] : undefined;
    if (tried === 0 && retired !== undefined) throw retired;
    throw new DecryptionFailedError();
  } catch (err) {
    failed(span, 'request', err, true, { kid: fields.kid, kidContext: fields.kidContext, partialIV: fields.partialIV, context });
    throw err;
  }
}

/**
 * Completes a request verified with `fresh: false` once its freshness is proved (an Echo
 * exchange, RFC 9175): its Partial IV becomes the lower limit of the replay window
 * (Appendix B.1.2). Afterwards the request may be processed.
 * @throws {ReplayDetectedError} if the window was re-established meanwhile and this Partial IV is not new.
 */
export async function establishFreshness(request: VerifiedRequest): Promise<void> {
  const replay = request.context.replayProtection;
  const verdict = await (replay.establish !== undefined ? replay.establish(request.sequenceNumber) : replay.checkAndUpdate(request.sequenceNumber));
  if (verdict !== 'accepted') throw new ReplayDetectedError();
  // Now the request is known to be the first with its Partial IV: its nonce may protect a response.
  bindingState(request.binding).unproven = false;
}
