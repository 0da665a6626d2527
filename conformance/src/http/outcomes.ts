/**
 * The outcomes a rejected request may get, and the HTTP statuses each may arrive as.
 *
 * Whatever the status, the hard requirement of every negative test is the same: no
 * protected response and no application effect. A request that fails OSCORE processing
 * gets an unprotected error (RFC 8613 §8.3: "the OSCORE errors (steps 2, 3, and 6 in
 * Section 8.2) ... are sent as simple CoAP responses, without OSCORE processing"). The
 * status must then be one a faithful mapping of the RFC's outcome produces: RFC 8075 §7
 * Table 2, plus 401 for 4.01, which an HTTP server needs to send a challenge with
 * (RFC 9110 §15.5.2; docs/wire-format.md §2).
 */

/** An expected rejection. */
export interface Rejection {
  /** The outcome as a CoAP code (RFC 7252 §5.9), e.g. `4.01`. */
  readonly outcome: string;
  /** HTTP statuses accepted for it. */
  readonly statuses: readonly number[];
  /** Whether closing the connection without any response is accepted too. */
  readonly allowNoResponse?: boolean;
}

/** 4.00 Bad Request — decryption failed (§8.2 step 6) — is 400 (RFC 8075 §7). */
export const BAD_REQUEST: Rejection = { outcome: '4.00', statuses: [400] };

/**
 * 4.01 Unauthorized — no security context (§8.2 step 2) or a replay (§7.4) — is 403 in
 * RFC 8075 §7 (CoAP has no challenge) and 401 between HTTP endpoints.
 */
export const UNAUTHORIZED: Rejection = { outcome: '4.01', statuses: [401, 403] };

/** 4.02 Bad Option — the OSCORE option or COSE object fails to decode (§8.2 step 2) — is 400 (RFC 8075 §7 note 6). */
export const BAD_OPTION: Rejection = { outcome: '4.02', statuses: [400] };

/** An altered kid names no context (4.01) or another context, whose key fails to decrypt (4.00). */
export const UNAUTHORIZED_OR_BAD_REQUEST: Rejection = { outcome: '4.01 or 4.00', statuses: [400, 401, 403] };

/**
 * A POST with `application/oscore` but no `OSCORE` field carries no OSCORE option
 * (§11.3): malformed as OSCORE (4.02) or an unprotected request (4.01).
 */
export const BAD_OPTION_OR_UNAUTHORIZED: Rejection = { outcome: '4.02 or 4.01', statuses: [400, 401, 403] };

/** A body that §11.1 does not mark as an OSCORE payload: 415 Unsupported Media Type, or 400. */
export const NOT_OSCORE_MEDIA_TYPE: Rejection = { outcome: '4.15 or 4.00', statuses: [400, 415] };

/** 4.13 Request Entity Too Large is 413 (RFC 8075 §7); 400, or closing the connection, is tolerated. */
export const TOO_LARGE: Rejection = { outcome: '4.13', statuses: [413, 400], allowNoResponse: true };

/** A route that is only accessible using OSCORE (§9) refuses a plain request: 401 or 403. */
export const OSCORE_REQUIRED: Rejection = { outcome: '4.01', statuses: [401, 403] };

/** The rejection in words, e.g. `unprotected 401/403 (4.01)`. */
export function describeRejection(rejection: Rejection): string {
  const statuses = rejection.statuses.join('/');
  return `unprotected ${statuses} (${rejection.outcome})${rejection.allowNoResponse ? ' or connection closed' : ''}`;
}
