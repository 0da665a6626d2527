/**
 * HTTP status ⇄ CoAP response code, following RFC 8075 §7 (Table 2) with three choices
 * made for an HTTP endpoint on both sides (docs/wire-format.md):
 *
 * - 4.01 ⇄ 401 (RFC 8075 maps 4.01 to 403 only because CoAP has no WWW-Authenticate);
 * - 4.05 ⇄ 405 (the Allow header travels as an HTTP-Field);
 * - 4.09 Conflict, 4.22 Unprocessable Entity (RFC 8132) and 4.29 Too Many Requests
 *   (RFC 8516) ⇄ 409, 422, 429.
 *
 * Statuses without an exact code travel with a class-preserving code plus the critical
 * HTTP-Code option.
 */

import { coapCode } from '@oscore-http/core';

const STATUS_TO_CODE: ReadonlyMap<number, number> = new Map([
  [200, coapCode(2, 5)],
  [201, coapCode(2, 1)],
  [204, coapCode(2, 4)],
  [304, coapCode(2, 3)],
  [400, coapCode(4, 0)],
  [401, coapCode(4, 1)],
  [403, coapCode(4, 3)],
  [404, coapCode(4, 4)],
  [405, coapCode(4, 5)],
  [406, coapCode(4, 6)],
  [409, coapCode(4, 9)],
  [412, coapCode(4, 12)],
  [413, coapCode(4, 13)],
  [415, coapCode(4, 15)],
  [422, coapCode(4, 22)],
  [429, coapCode(4, 29)],
  [500, coapCode(5, 0)],
  [501, coapCode(5, 1)],
  [502, coapCode(5, 2)],
  [503, coapCode(5, 3)],
  [504, coapCode(5, 4)],
]);

// RFC 8075 Table 2, read from CoAP to HTTP; 2.02 and 2.04 depend on the payload (note 2).
const CODE_TO_STATUS: ReadonlyMap<number, number> = new Map([
  [coapCode(2, 1), 201],
  [coapCode(2, 3), 304],
  [coapCode(2, 5), 200],
  [coapCode(4, 0), 400],
  [coapCode(4, 1), 401],
  [coapCode(4, 2), 400],
  [coapCode(4, 3), 403],
  [coapCode(4, 4), 404],
  [coapCode(4, 5), 405],
  [coapCode(4, 6), 406],
  [coapCode(4, 9), 409],
  [coapCode(4, 12), 412],
  [coapCode(4, 13), 413],
  [coapCode(4, 15), 415],
  [coapCode(4, 22), 422],
  [coapCode(4, 29), 429],
  [coapCode(5, 0), 500],
  [coapCode(5, 1), 501],
  [coapCode(5, 2), 502],
  [coapCode(5, 3), 503],
  [coapCode(5, 4), 504],
  [coapCode(5, 5), 502],
]);

/**
 * The success code of a 200 or 204 answer to `method`, where CoAP names one: 2.05 Content is
 * "only used in response to GET requests" (RFC 7252 §5.9.1.5; FETCH too, RFC 8132 §2.3.1),
 * 2.04 Changed answers POST and PUT (§5.8.2, §5.8.3; PATCH and iPATCH, RFC 8132 §3.1) and
 * 2.02 Deleted answers DELETE (§5.8.4); a CoAP-HTTP proxy maps 200/204 so (§10.1.2–10.1.4).
 */
const SUCCESS_BY_METHOD: ReadonlyMap<string, number> = new Map([
  ['GET', coapCode(2, 5)],
  ['FETCH', coapCode(2, 5)],
  ['POST', coapCode(2, 4)],
  ['PUT', coapCode(2, 4)],
  ['PATCH', coapCode(2, 4)],
  ['iPATCH', coapCode(2, 4)],
  ['DELETE', coapCode(2, 2)],
]);

/**
 * The CoAP code for an HTTP status: exact where Table 2 has one, else by class (2xx/3xx → 2.05,
 * 4xx → 4.00, 5xx → 5.00). With the request's `method`, a 200 or 204 to GET or FETCH is
 * 2.05, to POST, PUT, PATCH or iPATCH 2.04, to DELETE 2.02 (see SUCCESS_BY_METHOD); other
 * methods keep 2.05 / 2.04.
 */
export function statusToCode(status: number, method?: string): number {
  if ((status === 200 || status === 204) && method !== undefined) {
    const success = SUCCESS_BY_METHOD.get(method);
    if (success !== undefined) return success;
  }
  const exact = STATUS_TO_CODE.get(status);
  if (exact !== undefined) return exact;
  if (status >= 500) return coapCode(5, 0);
  if (status >= 400) return coapCode(4, 0);
  // CoAP has no redirect class: the critical HTTP-Code option keeps a peer from reading 2.05 as success.
  return coapCode(2, 5);
}

/** The HTTP status for a CoAP response code (RFC 8075 §7); `hasPayload` decides 2.02/2.04 (note 2). */
export function codeToStatus(code: number, hasPayload: boolean): number {
  if (code === coapCode(2, 2) || code === coapCode(2, 4)) return hasPayload ? 200 : 204;
  const exact = CODE_TO_STATUS.get(code);
  if (exact !== undefined) return exact;
  return (code >>> 5) * 100; // unassigned detail: the class (2 → 200, 4 → 400, 5 → 500)
}
