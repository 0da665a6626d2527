/**
 * CoAP codes and option numbers the engine needs (RFC 7252 §3, §5.9, §12.1–12.2;
 * RFC 8613 §4.1 Figure 5).
 */

/** A CoAP code byte `c.dd`: class in the top 3 bits, detail in the low 5 (RFC 7252 §3). */
export type CoapCode = number;

/** Builds the code byte of `class.detail`, e.g. `coapCode(2, 5)` for 2.05 Content. */
export function coapCode(codeClass: number, detail: number): CoapCode {
  return (codeClass << 5) | detail;
}

/** Formats a code byte as `c.dd`, e.g. `2.05`. */
export function formatCoapCode(code: CoapCode): string {
  return `${code >>> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}

/** A request method code: class 0, detail 1 … 31 (RFC 7252 §12.1.1). */
export function isRequestCode(code: CoapCode): boolean {
  return code >>> 5 === 0 && (code & 0x1f) !== 0;
}

/** A response code: class 2, 4 or 5 (RFC 7252 §12.1.2). */
export function isResponseCode(code: CoapCode): boolean {
  const c = code >>> 5;
  return c === 2 || c === 4 || c === 5;
}

/** Option numbers of RFC 7252 §12.2 and RFC 8613 §2 that the engine and the HTTP mapping use. */
export const CoapOptionNumber = Object.freeze({
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  Oscore: 9,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  NoResponse: 258,
  /** RFC 9175 §2.2.1 */
  Echo: 252,
  /** RFC 9175 §3.2.1 */
  RequestTag: 292,
} as const);
