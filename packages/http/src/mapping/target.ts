/**
 * Request target ⇄ Uri-Path and Uri-Query options (RFC 7252 §6.4 steps 8–9 and §6.5
 * steps 6–8): segments and arguments travel percent-decoded, and are percent-encoded
 * again with upper-case hex on the far side. A target whose spelling differs from that
 * normal form also travels exactly as the `:path` HTTP-Field.
 */

import { InvalidInnerMessageError, UnmappableMessageError } from '../errors.js';

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const SUB_DELIMS = "!$&'()*+,;=";

function allowedTable(extra: string, except = ''): boolean[] {
  const table: boolean[] = new Array(256).fill(false);
  for (let b = 0; b < 128; b++) {
    const ch = String.fromCharCode(b);
    table[b] = UNRESERVED.test(ch) || ((SUB_DELIMS + extra).includes(ch) && !except.includes(ch));
  }
  return table;
}

// §6.5 step 6: unreserved, sub-delims, ":" and "@" stay as they are in a path segment.
const PATH_SAFE = allowedTable(':@');
// §6.5 step 8: in a query argument also "/" and "?", but "&" is encoded.
const QUERY_SAFE = allowedTable(':@/?', '&');
const HEX = '0123456789ABCDEF';

function percentEncode(bytes: Uint8Array, safe: boolean[]): string {
  let out = '';
  for (const b of bytes) out += safe[b] ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  return out;
}

function percentDecode(text: string): Uint8Array {
  // Every request maps its path: a segment without escapes (the usual case) is its own
  // bytes, copied without the intermediate array and Uint8Array.from's iteration.
  if (!text.includes('%')) return visibleAscii(text);
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new UnmappableMessageError(`the request target has an invalid percent-encoding near "${text.slice(i, i + 3)}"`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0x7e || c < 0x21) {
      throw new UnmappableMessageError(OUTSIDE_VISIBLE_ASCII);
    } else {
      out.push(c);
    }
  }
  return Uint8Array.from(out);
}

const OUTSIDE_VISIBLE_ASCII = 'the request target contains a character that must be percent-encoded';

/** The bytes of a target part without escapes; every character must be visible ASCII (0x21–0x7e). */
function visibleAscii(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7e || c < 0x21) throw new UnmappableMessageError(OUTSIDE_VISIBLE_ASCII);
    out[i] = c;
  }
  return out;
}

/** Uri-Path segments and Uri-Query arguments of an origin-form target (`/path?query`). */
export interface DecomposedTarget {
  readonly path: Uint8Array[];
  readonly query: Uint8Array[];
}

/** Whether a decoded segment is "." or "..", which no Uri-Path or Location-Path may be (RFC 7252 §5.10.1, §5.10.7). */
export function isDotSegment(segment: Uint8Array): boolean {
  // Byte by byte, not `every` with a callback: this runs for every segment of every request.
  if (segment.length === 1) return segment[0] === 0x2e;
  return segment.length === 2 && segment[0] === 0x2e && segment[1] === 0x2e;
}

function hasDotSegment(segments: readonly Uint8Array[]): boolean {
  for (const segment of segments) if (isDotSegment(segment)) return true;
  return false;
}

/**
 * RFC 3986 §5.2.4 on decoded segments: "." goes, ".." takes the segment before it, and a
 * trailing one of either leaves an empty last segment ("/a/b/.." is "/a/"). Decoded, so
 * "%2E" counts as "." (RFC 3986 §6.2.2.2), as WHATWG URL parsers read it.
 */
function removeDotSegments(segments: Uint8Array[]): Uint8Array[] {
  if (!hasDotSegment(segments)) return segments;
  const out: Uint8Array[] = [];
  segments.forEach((segment, i) => {
    if (!isDotSegment(segment)) return void out.push(segment);
    if (segment.length === 2) out.pop();
    if (i === segments.length - 1) out.push(new Uint8Array(0));
  });
  // A lone empty segment is the path "/", which has no Uri-Path (§6.4 step 8).
  return out.length === 1 && out[0]!.length === 0 ? [] : out;
}

/**
 * Splits an origin-form target into decoded segments and arguments (§6.4 steps 8–9), its
 * dot segments resolved first (step 2: "Resolve the |url| string using the process of
 * reference resolution defined by [RFC3986]"), so no segment is "." or ".." (§5.10.1).
 * @throws {UnmappableMessageError} for a target that is not origin-form or has invalid percent-encoding.
 */
export function decomposeTarget(target: string): DecomposedTarget {
  if (!target.startsWith('/')) throw new UnmappableMessageError('the request target must be in origin form ("/path?query")');
  const hash = target.indexOf('#');
  if (hash !== -1) target = target.slice(0, hash); // fragments are not sent (§6.4 step 4)
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? undefined : target.slice(q + 1);
  // Step 8: nothing for "" or "/"; otherwise every segment, empty ones included.
  const segments = path === '/' ? [] : removeDotSegments(decodedParts(path, 1, 0x2f)); // '/'
  // Step 9: every argument of a query component.
  const args = query === undefined || query === '' ? [] : decodedParts(query, 0, 0x26); // '&'
  return { path: segments, query: args };
}

/**
 * `text.slice(from).split(separator).map(percentDecode)`, without the split: V8 runs
 * `String#split` through its runtime, about 0.15 µs even for `/echo`, on every request.
 * Empty parts count as `split` counts them.
 */
function decodedParts(text: string, from: number, separator: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = from;
  for (let i = from; i < text.length; i++) {
    if (text.charCodeAt(i) !== separator) continue;
    out.push(percentDecode(text.slice(start, i)));
    start = i + 1;
  }
  out.push(percentDecode(text.slice(start)));
  return out;
}

/** Composes the target in normal form from decoded segments and arguments (§6.5 steps 6–8). */
export function composeTarget(path: readonly Uint8Array[], query: readonly Uint8Array[]): string {
  let target = '';
  for (const segment of path) target += '/' + percentEncode(segment, PATH_SAFE);
  if (target === '') target = '/';
  for (let i = 0; i < query.length; i++) target += (i === 0 ? '?' : '&') + percentEncode(query[i]!, QUERY_SAFE);
  return target;
}

/** Validates a target received in the `:path` HTTP-Field. */
export function checkExactTarget(target: string): string {
  if (!target.startsWith('/') || /[^\x21-\x7e]/.test(target)) throw new InvalidInnerMessageError('the :path field is not an origin-form request target');
  return target;
}
