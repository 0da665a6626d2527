/**
 * The HTTP `OSCORE` header field (RFC 8613 §11.1–11.3): the OSCORE option value in
 * base64url without padding, with the empty value written as `AA` (one zero byte).
 *
 *     OSCORE = 2*base64url-char        base64url-char = ALPHA / DIGIT / "-" / "_"
 */

import { createSlabAllocator, MAX_OSCORE_OPTION_LENGTH } from '@oscore-http/core';
import { MalformedOscoreHeaderError } from '../errors.js';

/** Media type of OSCORE messages (RFC 8613 §13.5). */
export const APPLICATION_OSCORE = 'application/oscore';

/** Longest header value that can carry a 255-byte option value: ceil(255 × 4 / 3). */
const MAX_HEADER_LENGTH = Math.ceil((MAX_OSCORE_OPTION_LENGTH * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const SEXTETS = new Uint8Array(128);
for (let v = 0; v < 64; v++) SEXTETS[ALPHABET.charCodeAt(v)] = v;

/** The 6-bit value of a base64url character (already validated). */
function sextet(code: number): number {
  return SEXTETS[code]!;
}

/**
 * Where decoded option values live: slabs of their own (core's buffers.ts), holding only
 * option values, which travel in clear. `Buffer.from(value, 'base64url')` would take them
 * from Node's shared pool and cost a native call per header; the decoder then hands out
 * views (the kid, the Partial IV) of a small array that must not live inside V8's heap.
 */
const optionValues = createSlabAllocator();

/** Decodes validated, canonical, unpadded base64url (`text.length % 4 !== 1`). */
function decodeBase64url(text: string): Uint8Array {
  const out = optionValues((text.length * 3) >> 2);
  let o = 0;
  let i = 0;
  for (; i + 4 <= text.length; i += 4) {
    const n = (sextet(text.charCodeAt(i)) << 18) | (sextet(text.charCodeAt(i + 1)) << 12) | (sextet(text.charCodeAt(i + 2)) << 6) | sextet(text.charCodeAt(i + 3));
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  const rest = text.length - i;
  if (rest >= 2) {
    const n = (sextet(text.charCodeAt(i)) << 18) | (sextet(text.charCodeAt(i + 1)) << 12) | (rest === 3 ? sextet(text.charCodeAt(i + 2)) << 6 : 0);
    out[o++] = n >>> 16;
    if (rest === 3) out[o] = (n >>> 8) & 0xff;
  }
  return out;
}

/** Up to this many bytes, the JavaScript encoder below is faster than Buffer's (a request's option is a few bytes). */
const SHORT_OPTION = 12;

/** Unpadded base64url of a few bytes, as `Buffer#toString('base64url')` writes it, without a Buffer and a native call. */
function encodeShortBase64url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]! + ALPHABET[(n >>> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out += ALPHABET[n >>> 18]! + ALPHABET[(n >>> 12) & 63]!;
    if (rest === 2) out += ALPHABET[(n >>> 6) & 63]!;
  }
  return out;
}

/** Encodes an OSCORE option value for the header field (§11.2). */
export function encodeOscoreHeader(option: Uint8Array): string {
  // "AA if the CoAP OSCORE option is empty" (§11.2).
  if (option.length === 0) return 'AA';
  if (option.length <= SHORT_OPTION) return encodeShortBase64url(option);
  return Buffer.from(option.buffer, option.byteOffset, option.length).toString('base64url');
}

/**
 * Decodes the header field into the OSCORE option value (§11.3).
 * @throws {MalformedOscoreHeaderError} if absent, repeated, too long, or not unpadded base64url.
 */
export function decodeOscoreHeader(value: string | string[] | undefined): Uint8Array {
  if (value === undefined) throw new MalformedOscoreHeaderError('it is missing');
  if (Array.isArray(value)) {
    if (value.length !== 1) throw new MalformedOscoreHeaderError('it appears more than once');
    value = value[0]!;
  }
  value = value.trim();
  // "OSCORE = 2*base64url-char"
  if (value.length < 2) throw new MalformedOscoreHeaderError('it is shorter than two characters');
  if (value.length > MAX_HEADER_LENGTH) throw new MalformedOscoreHeaderError('it is longer than an OSCORE option value can be');
  if (!BASE64URL.test(value) || value.length % 4 === 1) throw new MalformedOscoreHeaderError('it is not unpadded base64url');
  // Reject non-canonical encodings, so one value has one spelling: the bits the last
  // character carries beyond the final byte must be zero (RFC 4648 §3.5).
  const unused = value.length % 4 === 2 ? 0x0f : value.length % 4 === 3 ? 0x03 : 0;
  if ((sextet(value.charCodeAt(value.length - 1)) & unused) !== 0) throw new MalformedOscoreHeaderError('it is not canonical base64url');
  // "empty if the value of the HTTP OSCORE header field is a single zero byte (0x00) represented by AA" (§11.3).
  // An empty view of the slab: `new Uint8Array(0)` costs V8 a runtime call (~0.2 µs).
  if (value === 'AA') return optionValues(0);
  return decodeBase64url(value);
}

/**
 * Whether a Content-Type value is `application/oscore` (parameters are not defined for it).
 * A repeated field (an array, as undici delivers it) is not: it has no single type. A Node
 * server keeps only the first Content-Type, so the server handler looks for a second one
 * in `rawHeaders` itself.
 */
export function isOscoreContentType(value: string | readonly string[] | undefined): boolean {
  if (typeof value !== 'string') return false;
  if (value === APPLICATION_OSCORE) return true; // as every OSCORE peer sends it: no copies to compare
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase() === APPLICATION_OSCORE;
}
