/**
 * HTTP method ⇄ CoAP request code (RFC 7252 §12.1.1; RFC 8132 §4 for FETCH, PATCH, iPATCH).
 * Methods without a code (HEAD, OPTIONS, custom tokens) travel as POST plus the critical
 * HTTP-Code option (see extension-options.ts).
 */

import { coapCode } from '@oscore-http/core';

const METHOD_TO_CODE: ReadonlyMap<string, number> = new Map([
  ['GET', coapCode(0, 1)],
  ['POST', coapCode(0, 2)],
  ['PUT', coapCode(0, 3)],
  ['DELETE', coapCode(0, 4)],
  ['FETCH', coapCode(0, 5)],
  ['PATCH', coapCode(0, 6)],
  ['iPATCH', coapCode(0, 7)],
]);
const CODE_TO_METHOD: ReadonlyMap<number, string> = new Map([...METHOD_TO_CODE].map(([m, c]) => [c, m]));

/** The code used for a method without its own code: POST, with the method in HTTP-Code. */
export const FALLBACK_REQUEST_CODE = coapCode(0, 2);

// RFC 9110 §5.6.2: token = 1*tchar
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Whether `value` is an HTTP token (a valid method name or field name). */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/** The CoAP code of an HTTP method, or `undefined` when CoAP has none (methods are case-sensitive, RFC 9110 §9.1). */
export function methodToCode(method: string): number | undefined {
  return METHOD_TO_CODE.get(method);
}

/** The HTTP method of a CoAP request code, or `undefined` for unassigned codes. */
export function codeToMethod(code: number): string | undefined {
  return CODE_TO_METHOD.get(code);
}
