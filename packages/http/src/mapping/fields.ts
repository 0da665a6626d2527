/**
 * HTTP header lists and the HTTP-Field option value: `name ":" value`, the name in
 * lower case, the value as its octets (ISO-8859-1, as HTTP/1.1 carries them;
 * RFC 9110 §5.5). Pseudo-fields start with a colon: `:path` (the exact request target),
 * `:reason` (a non-standard reason phrase) and `:status` (a 200 that CoAP's code would
 * read as 204; docs/wire-format.md §3).
 */

import { MAX_OPTION_LENGTH } from '@oscore-http/core';
import { InvalidInnerMessageError, UnmappableMessageError } from '../errors.js';
import { isToken } from './method.js';

/** Header fields in order; names in lower case. Repeated names are repeated entries. */
export type HeaderList = Array<[name: string, value: string]>;

/** Pseudo-fields the mapping defines. */
export const PSEUDO_PATH = ':path';
export const PSEUDO_REASON = ':reason';
export const PSEUDO_STATUS = ':status';
const PSEUDO = new Set([PSEUDO_PATH, PSEUDO_REASON, PSEUDO_STATUS]);

// RFC 9110 §5.5: field-value = *field-content; no CR, LF or NUL (the characters Node's writeHead accepts).
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** Whether `value` is a field value HTTP/1.1 (and Node's `writeHead`) accepts. */
export function isFieldValue(value: string): boolean {
  return !INVALID_VALUE.test(value);
}

/**
 * A valid field name as an error message shows it: at most 40 characters. An invalid one is
 * never shown (errors carry no input bytes, and a mistake like `Authorization Bearer …`
 * written as a name would put a credential in the logs).
 */
function shownName(name: string): string {
  return `"${name.length > 40 ? `${name.slice(0, 40)}…` : name}"`;
}

/** Encodes one field line as an HTTP-Field option value. */
export function encodeField(name: string, value: string): Uint8Array {
  if (!(name.startsWith(':') ? PSEUDO.has(name) : isToken(name))) throw new UnmappableMessageError('a header name is not a valid token (RFC 9110 §5.1)');
  if (INVALID_VALUE.test(value)) throw new UnmappableMessageError(`the value of header ${shownName(name)} has characters HTTP does not allow`);
  const line = Buffer.from(`${name}:${value}`, 'latin1');
  if (line.length > MAX_OPTION_LENGTH) throw new UnmappableMessageError(`header ${shownName(name)} is longer than one CoAP option can carry (${MAX_OPTION_LENGTH} bytes)`);
  return line;
}

/**
 * Decodes an HTTP-Field option value.
 * @throws {InvalidInnerMessageError} for a name that is not a token or a value HTTP forbids.
 */
export function decodeField(bytes: Uint8Array): [string, string] {
  const line = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  const colon = line.indexOf(':', 1);
  if (colon === -1) throw new InvalidInnerMessageError('an HTTP-Field option has no ":" after the name');
  const name = line.slice(0, colon);
  const value = line.slice(colon + 1);
  const validName = name.startsWith(':') ? PSEUDO.has(name) : isToken(name) && name === name.toLowerCase();
  // Decrypted plaintext: nothing of it in the message, which reaches logs (docs/errors.md).
  if (!validName) throw new InvalidInnerMessageError('an HTTP-Field option carries a name that is not a lower-case header token');
  if (INVALID_VALUE.test(value)) throw new InvalidInnerMessageError('an HTTP-Field option carries a value with characters HTTP does not allow');
  return [name, name.startsWith(':') ? value : withoutOws(value)];
}

/**
 * RFC 9110 §5.5: "a field value does not include leading or trailing whitespace" — a parser
 * "MUST exclude such whitespace prior to evaluating the field value", as Node's and undici's
 * do for the fields of a plain message. Only SP and HTAB: `String#trim` would also take
 * U+00A0, which is an obs-text octet here.
 */
function withoutOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Normalises Node/undici header shapes (object with string, number or array values; flat array; iterable of pairs) to a list. */
export function toHeaderList(headers: unknown): HeaderList {
  const out: HeaderList = [];
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) for (const [n, v] of headers as [unknown, unknown][]) pushField(out, n, v);
    else for (let i = 0; i + 1 < headers.length; i += 2) pushField(out, headers[i], headers[i + 1]);
    return out;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function' && typeof headers !== 'string') {
    for (const pair of headers as Iterable<[unknown, unknown]>) pushField(out, pair[0], pair[1]);
    return out;
  }
  // Own enumerable keys, as Object.entries, without a [key, value] array per field: this
  // runs for every response a framework writes with a header object (fastify's reply).
  const record = headers as Record<string, unknown>;
  for (const name of Object.keys(record)) pushField(out, name, record[name]);
  return out;
}

/** Appends a field's lines to `out`: none for a missing value, one per element of an array. */
function pushField(out: HeaderList, name: unknown, value: unknown): void {
  if (value === undefined || value === null) return;
  const n = String(name).toLowerCase();
  if (Array.isArray(value)) for (const v of value) out.push([n, String(v)]);
  else out.push([n, String(value)]);
}

// Node's rules for folding repeated request headers (IncomingMessage#headers).
const FIRST_WINS = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent']);

/** Folds a header list into the object shape of Node's `IncomingMessage#headers`. */
export function toHeaderObject(list: HeaderList): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of list) {
    const prev = out[name];
    if (prev === undefined) out[name] = name === 'set-cookie' ? [value] : value;
    else if (name === 'set-cookie') (prev as string[]).push(value);
    else if (FIRST_WINS.has(name)) continue;
    else out[name] = `${prev as string}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}

/** The value of the first field named `name`, or `undefined`. */
export function firstValue(list: HeaderList, name: string): string | undefined {
  for (const [n, v] of list) if (n === name) return v;
  return undefined;
}
