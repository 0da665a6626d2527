/**
 * The outcomes a rejected request may get, and the HTTP statuses each may arrive as.
 *
 * The hard requirement of every negative test is the same: no protected response and no
 * application effect. A request that fails OSCORE processing is refused without OSCORE
 * processing of the answer (RFC 8613 §8.3: "the OSCORE errors (steps 2, 3, and 6 in
 * Section 8.2) ... are sent as simple CoAP responses, without OSCORE processing").
 *
 * The error code itself is not required: the server "MAY respond" with 4.02, 4.01 or
 * 4.00 (§8.2 steps 2 and 6, §7.4), and "This document specifies OPTIONAL error codes ...
 * Servers MAY ... use the same error code for all errors, or avoid responding altogether"
 * (Appendix D.5.3). So any unprotected error status (4xx, 5xx) — or, for an OSCORE
 * processing error, no response at all — satisfies the test; the statuses listed here are
 * what a faithful mapping of the suggested outcome produces (RFC 8075 §7 Table 2, plus 401
 * for 4.01, which an HTTP server needs to send a challenge, RFC 9110 §15.5.2), and are
 * checked as advisory only.
 */

/** An expected rejection. */
export interface Rejection {
  /** The suggested outcome as a CoAP code (RFC 7252 §5.9), e.g. `4.01`. */
  readonly outcome: string;
  /** HTTP statuses a faithful mapping of the outcome gives (advisory). */
  readonly statuses: readonly number[];
  /**
   * Whether the refusal is of OSCORE processing (§8.2), where "avoid responding
   * altogether" is allowed (Appendix D.5.3): then closing the connection without a
   * response passes. A plain HTTP request to a protected route (§9) needs an HTTP answer.
   */
  readonly oscoreError: boolean;
  /** Whether closing the connection is as usual as a status (a body too large to read). */
  readonly closeSuggested?: boolean;
}

/** 4.00 Bad Request — decryption failed (§8.2 step 6) — is 400 (RFC 8075 §7). */
export const BAD_REQUEST: Rejection = { outcome: '4.00', statuses: [400], oscoreError: true };

/**
 * 4.01 Unauthorized — no security context (§8.2 step 2) or a replay (§7.4) — is 403 in
 * RFC 8075 §7 (CoAP has no challenge) and 401 between HTTP endpoints.
 */
export const UNAUTHORIZED: Rejection = { outcome: '4.01', statuses: [401, 403], oscoreError: true };

/** 4.02 Bad Option — the OSCORE option or COSE object fails to decode (§8.2 step 2) — is 400 (RFC 8075 §7 note 6). */
export const BAD_OPTION: Rejection = { outcome: '4.02', statuses: [400], oscoreError: true };

/** An altered kid names no context (4.01) or another context, whose key fails to decrypt (4.00). */
export const UNAUTHORIZED_OR_BAD_REQUEST: Rejection = { outcome: '4.01 or 4.00', statuses: [400, 401, 403], oscoreError: true };

/**
 * A POST with `application/oscore` but no `OSCORE` field carries no OSCORE option
 * (§11.3): malformed as OSCORE (4.02) or an unprotected request (4.01).
 */
export const BAD_OPTION_OR_UNAUTHORIZED: Rejection = { outcome: '4.02 or 4.01', statuses: [400, 401, 403], oscoreError: true };

/**
 * A body that §11.1 does not mark as an OSCORE payload: 415 Unsupported Media Type, 400,
 * or refused as an unprotected request (401/403).
 */
export const NOT_OSCORE_MEDIA_TYPE: Rejection = { outcome: '4.15, 4.00 or 4.01', statuses: [400, 401, 403, 415], oscoreError: true };

/** 4.13 Request Entity Too Large is 413 (RFC 8075 §7); 400, or closing the connection, is as good. */
export const TOO_LARGE: Rejection = { outcome: '4.13', statuses: [413, 400], oscoreError: true, closeSuggested: true };

/** A route that is only accessible using OSCORE (§9) refuses a plain request: 401 or 403 suggested. */
export const OSCORE_REQUIRED: Rejection = { outcome: '4.01', statuses: [401, 403], oscoreError: false };

/** The rejection in words, e.g. `unprotected error (suggested 401/403, 4.01) or no response`. */
export function describeRejection(rejection: Rejection): string {
  const statuses = rejection.statuses.join('/');
  return `unprotected error (suggested ${statuses}, ${rejection.outcome}${rejection.closeSuggested ? ', or connection closed' : ''})${rejection.oscoreError ? ' or no response' : ''}`;
}

/** The suggested statuses in words, for the advisory check. */
export function describeSuggestion(rejection: Rejection): string {
  const statuses = rejection.statuses.join('/');
  return `${statuses} (${rejection.outcome})${rejection.closeSuggested ? ' or connection closed' : ''} — suggested, not required (RFC 8613 Appendix D.5.3)`;
}
