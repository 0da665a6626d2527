/**
 * @oscore-http/core — the RFC 8613 (OSCORE) protection engine.
 *
 * Transport-agnostic: it turns an inner CoAP-coded message into an OSCORE option value
 * and a ciphertext and back, under a security context with a replay window. The HTTP
 * mapping lives in @oscore-http/http.
 *
 * @example
 * ```ts
 * import { createSecurityContext, protectRequest, verifyRequest, protectResponse, verifyResponse, coapCode } from '@oscore-http/core';
 *
 * const client = createSecurityContext({ masterSecret, senderId: new Uint8Array([]), recipientId: new Uint8Array([1]) });
 * const server = createSecurityContext({ masterSecret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([]) });
 *
 * const request = await protectRequest(client, { code: coapCode(0, 1), options: [], payload: new Uint8Array() });
 * const received = await verifyRequest(server, request.option, request.payload);
 * const response = await protectResponse(received.binding, { code: coapCode(2, 5), options: [], payload: body });
 * const { message } = await verifyResponse(request.binding, response.option, response.payload);
 * ```
 *
 * @packageDocumentation
 */

export {
  AEAD_ALGORITHMS,
  DEFAULT_AEAD,
  DEFAULT_HKDF,
  aeadAlgorithm,
  hkdfAlgorithm,
  type AeadAlgorithm,
  type AeadAlgorithmId,
  type HkdfAlgorithm,
} from './algorithms.js';
export { OpaqueKey, type AeadKey, type CryptoBackend } from './aead/backend.js';
export { createSlabAllocator, type SlabAllocator } from './buffers.js';
export { defaultBackend, nodeBackend } from './aead/default-backend.js';
export { nobleBackend } from './aead/noble-backend.js';
export { fromHex, toHex } from './bytes.js';
export { deriveParameters, hkdfInfo, type DerivationInput, type DerivedParameters } from './context/derive.js';
export { ContextRegistry, type RecipientContextLookup } from './context/lookup.js';
export { createSecurityContext, SecurityContext, type SecurityContextParams } from './context/security-context.js';
export { encodeAad, encodeAadArray } from './cose/aad.js';
export { computeNonce } from './cose/nonce.js';
export { decodeOscoreOption, encodeOscoreOption, MAX_OSCORE_OPTION_LENGTH, type OscoreOptionFields } from './cose/oscore-option.js';
export { encodePartialIV, partialIVToSequenceNumber } from './cose/partial-iv.js';
export {
  ContextNotFoundError,
  DecryptionFailedError,
  FreshnessRequiredError,
  InvalidContextError,
  InvalidMessageError,
  MalformedCoseError,
  MalformedOptionError,
  MalformedPlaintextError,
  MessageTooLargeError,
  OscoreError,
  ReplayDetectedError,
  ResponseBindingError,
  SequenceNumbersExhaustedError,
  StateFileCorruptError,
  StateStoreUnavailableError,
  UnsupportedAlgorithmError,
  UsageLimitReachedError,
  type OscoreOutcome,
} from './errors.js';
export { CoapOptionNumber, coapCode, formatCoapCode, isRequestCode, isResponseCode, type CoapCode } from './message/coap.js';
export {
  decodeInnerMessage,
  encodeInnerMessage,
  MAX_OPTION_LENGTH,
  MAX_OPTION_NUMBER,
  MAX_OPTIONS,
  type CoapOption,
  type InnerMessage,
} from './message/inner-message.js';
export { bindingForCapturedRequest, RequestBinding, type BindingRole } from './process/binding.js';
export {
  establishFreshness,
  protectRequest,
  verifyRequest,
  type ProtectedMessage,
  type ProtectedRequest,
  type VerifiedRequest,
  type VerifyRequestOptions,
} from './process/request.js';
export { assertCanProtect, protectResponse, verifyResponse, type ProtectResponseOptions, type VerifiedResponse } from './process/response.js';
export {
  DEFAULT_REPLAY_WINDOW_SIZE,
  MAX_REPLAY_WINDOW_SIZE,
  ReplayWindow,
  type ReplayProtection,
  type ReplayVerdict,
  type ReplayWindowState,
} from './replay/replay-window.js';
export { MemorySequenceNumberSource, ReservedSequenceNumberSource, type SequenceNumberSource } from './sequence/sender-sequence.js';
export { DEFAULT_RESERVATION_BLOCK, ReservedCounter } from './state/reserved-counter.js';
export { MemoryStateStore, type StateStore } from './state/state-store.js';
export { defaultUsageLimits, type UsageLimits } from './state/usage-limits.js';
export { TELEMETRY } from './telemetry/instrumentation.js';
export { MAX_SEQUENCE_NUMBER, sequenceNumber, type PartialIV, type SequenceNumber } from './types.js';
