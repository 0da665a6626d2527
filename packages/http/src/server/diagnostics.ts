/**
 * The short, fixed reasons sent with unprotected error responses. They are the
 * diagnostic payloads RFC 8613 suggests (§7.4, §8.2) where it has one, and never
 * contain plaintext, key material or the peer's input.
 */

import type { OscoreError } from '@oscore-http/core';

const REASONS: Readonly<Record<string, string>> = {
  ERR_OSCORE_MALFORMED_OPTION: 'Failed to decode COSE',
  ERR_OSCORE_MALFORMED_COSE: 'Failed to decode COSE',
  ERR_OSCORE_HTTP_MALFORMED_HEADER: 'Failed to decode COSE',
  ERR_OSCORE_CONTEXT_NOT_FOUND: 'Security context not found',
  ERR_OSCORE_DECRYPTION_FAILED: 'Decryption failed',
  ERR_OSCORE_REPLAY: 'Replay detected',
  ERR_OSCORE_MALFORMED_PLAINTEXT: 'Malformed inner message',
  ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE: 'Malformed inner message',
  ERR_OSCORE_HTTP_UNPROTECTED_REQUEST: 'OSCORE required',
  ERR_OSCORE_HTTP_CONTENT_TYPE: 'Content-Type must be application/oscore',
  ERR_OSCORE_HTTP_OUTER_METHOD: 'OSCORE requests use POST',
  ERR_OSCORE_HTTP_BODY_TOO_LARGE: 'Payload too large',
  ERR_OSCORE_HTTP_HEADERS_TOO_LARGE: 'Header fields too large',
  ERR_OSCORE_HTTP_RESPONSE_TOO_LARGE: 'Response too large',
  ERR_OSCORE_HTTP_APPLICATION_FAILED: 'Internal Server Error',
  ERR_OSCORE_SEQUENCE_EXHAUSTED: 'Security context exhausted',
  ERR_OSCORE_USAGE_LIMIT: 'Security context exhausted',
  ERR_OSCORE_STATE_UNAVAILABLE: 'State store unavailable',
  ERR_OSCORE_FRESHNESS_REQUIRED: 'Freshness required',
  ERR_OSCORE_HTTP_OUTER_PATH: 'Unknown OSCORE endpoint',
};

const PROXYING_NOT_SUPPORTED = 'Proxying not supported';
const FALLBACK = 'OSCORE processing failed';
const FIXED = new Set([...Object.values(REASONS), PROXYING_NOT_SUPPORTED, FALLBACK]);

/**
 * Whether `text` is one of the fixed reasons above (which include RFC 8613's suggested
 * diagnostics): received unauthenticated, such a text says nothing an attacker chose
 * beyond which of them, so it may appear in an error's message.
 */
export function isFixedDiagnostic(text: string): boolean {
  return FIXED.has(text);
}

/** The reason phrase for `err`. */
export function diagnosticOf(err: OscoreError): string {
  // RFC 7252 §5.10.2: a forward-proxy request is not malformed; its 5.05 says what it is.
  if (err.outcome === '5.05') return PROXYING_NOT_SUPPORTED;
  return REASONS[err.code] ?? FALLBACK;
}
