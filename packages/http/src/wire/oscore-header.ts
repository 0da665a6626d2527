/**
 * The HTTP `OSCORE` header field (RFC 8613 §11.1–11.3): the OSCORE option value in
 * base64url without padding, with the empty value written as `AA` (one zero byte).
 *
 *     OSCORE = 2*base64url-char        base64url-char = ALPHA / DIGIT / "-" / "_"
 */

import { MAX_OSCORE_OPTION_LENGTH } from '@oscore-http/core';
import { MalformedOscoreHeaderError } from '../errors.js';

/** Media type of OSCORE messages (RFC 8613 §13.5). */
export const APPLICATION_OSCORE = 'application/oscore';

/** Longest header value that can carry a 255-byte option value: ceil(255 × 4 / 3). */
const MAX_HEADER_LENGTH = Math.ceil((MAX_OSCORE_OPTION_LENGTH * 4) / 3);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The 6-bit value of a base64url character (already validated). */
function sextet(code: number): number {
  if (code >= 0x61) return code - 0x61 + 26; // a-z
  if (code >= 0x41) return code - 0x41; // A-Z
  if (code >= 0x30 && code <= 0x39) return code - 0x30 + 52; // 0-9
  return code === 0x2d ? 62 : 63; // - _
}

/** Encodes an OSCORE option value for the header field (§11.2). */
export function encodeOscoreHeader(option: Uint8Array): string {
  // "AA if the CoAP OSCORE option is empty" (§11.2).
  if (option.length === 0) return 'AA';
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
  const bytes = Buffer.from(value, 'base64url');
  // "empty if the value of the HTTP OSCORE header field is a single zero byte (0x00) represented by AA" (§11.3).
  if (bytes.length === 1 && bytes[0] === 0) return new Uint8Array(0);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * Whether a Content-Type value is `application/oscore` (parameters are not defined for it).
 * A repeated field (an array, as undici delivers it) is not: it has no single type. A Node
 * server keeps only the first Content-Type, so the server handler looks for a second one
 * in `rawHeaders` itself.
 */
export function isOscoreContentType(value: string | readonly string[] | undefined): boolean {
  if (typeof value !== 'string') return false;
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase() === APPLICATION_OSCORE;
}
