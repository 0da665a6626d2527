/**
 * HTTP request/response ⇄ inner CoAP message (RFC 8613 §11.4, RFC 8075), with the
 * HTTP-Field and HTTP-Code extension options for what CoAP cannot express.
 *
 * Rule for every mapped field: write the standard CoAP option when a mapping exists, so
 * an RFC 8613 peer reads it; if the far side would rebuild a different spelling from
 * that option, also send the exact field as an HTTP-Field, which takes precedence.
 */

import { coapCode, CoapOptionNumber, type CoapOption, type InnerMessage } from '@oscore-http/core';
import { STATUS_CODES } from 'node:http';
import { HeadersTooLargeError, InvalidInnerMessageError, UnmappableMessageError } from '../errors.js';
import { coapEtagOf, decodeUint, encodeUint, httpEtagOf, parseEntityTags } from './coap-values.js';
import { contentFormatToMediaType, mediaTypeToContentFormat } from './content-format.js';
import { HTTP_CODE_MAX_LENGTH, HTTP_CODE_OPTION, HTTP_FIELD_OPTION } from './extension-options.js';
import { decodeField, encodeField, PSEUDO_PATH, PSEUDO_REASON, PSEUDO_STATUS, type HeaderList } from './fields.js';
import { codeToMethod, FALLBACK_REQUEST_CODE, isToken, methodToCode } from './method.js';
import { codeToStatus, statusToCode } from './status.js';
import { checkExactTarget, composeTarget, decomposeTarget, isDotSegment } from './target.js';

/** An HTTP request as the mapping sees it. `headers` are the fields to protect. */
export interface HttpRequestParts {
  readonly method: string;
  /** Origin-form target: path and query. */
  readonly target: string;
  readonly headers: HeaderList;
  readonly body: Uint8Array;
}

/** An HTTP response as the mapping sees it. */
export interface HttpResponseParts {
  readonly status: number;
  readonly statusMessage?: string | undefined;
  readonly headers: HeaderList;
  readonly body: Uint8Array;
}

/** Limits of the mapping. */
export interface MappingLimits {
  /**
   * Largest total size of protected header fields, in bytes: every field line as
   * `name:value`, whether it travels as an HTTP-Field option or as a CoAP option it maps to.
   * Encoding defaults to 16 KiB, like Node's header limit; decoding checks it only when given.
   */
  readonly maxHeaderSize?: number;
}

export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

const O = CoapOptionNumber;
/** The media type of a CoAP diagnostic payload in HTTP (RFC 8075 §6.6). */
const DIAGNOSTIC_MEDIA_TYPE = 'text/plain;charset=utf-8';
/** A field line's size as an HTTP-Field option holds it (`name:value`, ISO-8859-1). */
const fieldLineBytes = (name: string, value: string) => name.length + 1 + value.length;
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');

class OptionWriter {
  readonly options: CoapOption[] = [];
  #fieldBytes = 0;
  constructor(readonly maxHeaderSize: number) {}
  add(number: number, value: Uint8Array): void {
    this.options.push({ number, value });
  }
  field(name: string, value: string): void {
    const encoded = encodeField(name, value);
    this.#count(encoded.length);
    this.options.push({ number: HTTP_FIELD_OPTION, value: encoded });
  }
  /** Counts a field line that travels as CoAP options only (its exact spelling, if sent too, is counted by `field`). */
  mapped(name: string, value: string): void {
    this.#count(fieldLineBytes(name, value));
  }
  #count(bytes: number): void {
    this.#fieldBytes += bytes;
    if (this.#fieldBytes > this.maxHeaderSize) throw new HeadersTooLargeError(this.maxHeaderSize);
  }
}

// Fields with a CoAP option of their own; all others travel as HTTP-Fields.
const MAPPED_IN_REQUESTS = new Set(['content-type', 'accept', 'if-match', 'if-none-match']);
const MAPPED_IN_RESPONSES = new Set(['content-type', 'etag', 'location', 'cache-control', 'retry-after']);

/** Largest Uri-Path, Uri-Query, Location-Path and Location-Query value (RFC 7252 §5.10). */
const MAX_URI_OPTION = 255;
const URI_OPTIONS = [O.UriPath, O.UriQuery] as const;
/**
 * No options of a number: one empty list for every message, never written to (readonly).
 * Not frozen: a frozen array has elements of another kind, and the loops over it would
 * then see two kinds of arrays.
 */
const NONE: readonly CoapOption[] = [];

// Loops, not every/some/map with a callback: these run for every message.

/** Whether every segment or argument fits a Uri-Path or Uri-Query option. */
function allFit(values: readonly Uint8Array[]): boolean {
  for (const v of values) if (v.length > MAX_URI_OPTION) return false;
  return true;
}

function hasDotSegment(options: readonly CoapOption[]): boolean {
  for (const o of options) if (isDotSegment(o.value)) return true;
  return false;
}

/** The values of a number's options, in order (none when there are none). */
function valuesOf(options: readonly CoapOption[] | undefined): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (options !== undefined) for (const o of options) out.push(o.value);
  return out;
}

/**
 * How many lines each mapped name has (unmapped names are absent), or `undefined` when no
 * mapped name has more than one line (the usual case: every name then counts 1). The
 * encoders walk the fields in order and read a name's count at its first line: 1 maps it,
 * more sends every line as an HTTP-Field, and the count is then set to 0 so its further
 * lines are skipped. Plain loops, not a generator: this runs for every message.
 */
function mappedLineCounts(headers: HeaderList, mapped: ReadonlySet<string>): Map<string, number> | undefined {
  if (!repeatsMappedName(headers, mapped)) return undefined;
  const counts = new Map<string, number>();
  for (const [name] of headers) {
    if (mapped.has(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/**
 * Whether a mapped name has more than one line. Each mapped line is looked for among the
 * lines before it, not in a list of names seen (an array per message): a mapping knows at
 * most a handful of names, so at most that many lines are looked back from before a
 * repeat is found.
 */
function repeatsMappedName(headers: HeaderList, mapped: ReadonlySet<string>): boolean {
  for (let i = 1; i < headers.length; i++) {
    const name = headers[i]![0];
    if (!mapped.has(name)) continue;
    for (let j = 0; j < i; j++) if (headers[j]![0] === name) return true;
  }
  return false;
}

/**
 * Whether the body carries a content coding other than identity. A Content-Format names
 * the media type and the coding together (RFC 8075 §6.1: "map both the Content-Type and
 * Content-Encoding HTTP headers into a single CoAP Content-Format option"), and the formats
 * this mapping knows are all uncoded, so a coded body's type travels as an HTTP-Field only:
 * an RFC 8613 peer then sees no Content-Format instead of a wrong one.
 */
function hasContentCoding(headers: HeaderList): boolean {
  for (const [name, value] of headers) {
    if (name !== 'content-encoding') continue;
    const coding = value.trim().toLowerCase();
    if (coding !== '' && coding !== 'identity') return true;
  }
  return false;
}

/** Content-Type / Accept → Content-Format / Accept option, plus the exact spelling when it differs. */
function mapMediaType(w: OptionWriter, name: string, value: string, option: number): void {
  const format = value.includes(',') ? undefined : mediaTypeToContentFormat(value);
  if (format !== undefined) w.add(option, encodeUint(format));
  if (format === undefined || contentFormatToMediaType(format) !== value) w.field(name, value);
  else w.mapped(name, value);
}

/** If-Match / ETag → ETag-shaped options when every tag fits, plus the exact spelling when it differs. */
function mapEntityTags(w: OptionWriter, name: string, value: string, option: number, allowStar: boolean): void {
  const tags = parseEntityTags(value);
  const values = tags?.map((t) => (t === '*' ? (allowStar ? new Uint8Array(0) : undefined) : coapEtagOf(t)));
  if (values === undefined || values.some((v) => v === undefined)) {
    w.field(name, value);
    return;
  }
  for (const v of values) w.add(option, v!);
  const rebuilt = values.map((v) => (v!.length === 0 ? '*' : httpEtagOf(v!))).join(', ');
  if (rebuilt !== value) w.field(name, value);
  else w.mapped(name, value);
}

/**
 * Location → Location-Path / Location-Query (RFC 7252 §5.10.7: they "indicate a relative
 * URI that consists either of an absolute path, a query string, or both"), for an
 * absolute-path reference; anything else (an absolute URI) travels as the field only.
 */
function mapLocation(w: OptionWriter, value: string): void {
  if (!value.startsWith('/') || value.startsWith('//') || /[^\x21-\x7e]/.test(value)) {
    w.field('location', value);
    return;
  }
  let parts;
  try {
    parts = decomposeTarget(value);
  } catch {
    w.field('location', value);
    return;
  }
  // Nothing to carry ("/"), or a value too long for an option. Dot segments are resolved
  // (decomposeTarget), as Location-Path "MUST NOT be '.' or '..'" (§5.10.7).
  const expressible = (parts.path.length > 0 || parts.query.length > 0) && [...parts.path, ...parts.query].every((v) => v.length <= MAX_URI_OPTION);
  if (!expressible) {
    w.field('location', value);
    return;
  }
  for (const segment of parts.path) w.add(O.LocationPath, segment);
  for (const arg of parts.query) w.add(O.LocationQuery, arg);
  if (composeTarget(parts.path, parts.query) !== value) w.field('location', value);
  else w.mapped('location', value);
}

/**
 * Max-Age (RFC 7252 §5.10.5, uint seconds) carries `Cache-Control: max-age=N` alone — or,
 * in a 503, `Retry-After: N` (RFC 8075 §7 note 8) — so a CoAP peer reads it; anything else
 * travels as the field.
 */
function mapMaxAge(w: OptionWriter, name: string, value: string, pattern: RegExp): void {
  const match = pattern.exec(value.trim());
  const seconds = match === null ? undefined : Number(match[1]);
  if (seconds !== undefined && seconds <= 0xffffffff) {
    w.add(O.MaxAge, encodeUint(seconds));
    if (value === String(match![0])) return w.mapped(name, value);
  }
  w.field(name, value);
}

/**
 * Cache-Control → Max-Age. A CoAP peer without a Max-Age option treats the response as
 * fresh for 60 s (RFC 7252 §5.10.5), and a mapped response "MUST indicate a Max-Age value
 * that is no greater than the remaining time the representation can be considered fresh"
 * (§10.1.1): `no-store` or `no-cache` give Max-Age 0, a `max-age=N` directive among others
 * gives N (directive names are case-insensitive, RFC 9111 §5.2). The field also travels
 * exactly unless it is `max-age=N` alone, and takes precedence on the far side.
 */
function mapCacheControl(w: OptionWriter, value: string): void {
  let seconds: number | undefined;
  let uncacheable = false;
  for (const directive of value.split(',')) {
    const [rawName = '', argument] = directive.split('=', 2);
    const name = rawName.trim().toLowerCase();
    if (name === 'no-store' || name === 'no-cache') uncacheable = true;
    else if (name === 'max-age' && argument !== undefined && /^\d{1,10}$/.test(argument.trim()) && seconds === undefined) seconds = Number(argument.trim());
  }
  if (uncacheable) seconds = 0;
  if (seconds !== undefined && seconds <= 0xffffffff) {
    w.add(O.MaxAge, encodeUint(seconds));
    if (value === `max-age=${seconds}`) return w.mapped('cache-control', value);
  }
  w.field('cache-control', value);
}

function isChangedOrDeleted(code: number): boolean {
  return code === coapCode(2, 2) || code === coapCode(2, 4);
}

/** Whether `:status` refines a success without payload: 200 on 2.02/2.04, 204 on 2.05. */
function refinedStatus(value: string | undefined, code: number): boolean {
  return (value === '200' && isChangedOrDeleted(code)) || (value === '204' && code === coapCode(2, 5));
}

/**
 * Maps an HTTP request to the inner message (RFC 8613 §11.4, RFC 8075).
 * @throws {UnmappableMessageError} for an invalid method or target, {HeadersTooLargeError}.
 */
export function encodeRequest(request: HttpRequestParts, limits: MappingLimits = {}): InnerMessage {
  const w = new OptionWriter(limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE);
  let code = methodToCode(request.method);
  if (code === undefined) {
    if (!isToken(request.method)) throw new UnmappableMessageError('the method is not a valid HTTP method token (RFC 9110 §9.1)');
    if (request.method.length > HTTP_CODE_MAX_LENGTH) throw new UnmappableMessageError(`a method of ${request.method.length} characters cannot travel inside: the HTTP-Code option carries at most ${HTTP_CODE_MAX_LENGTH}`);
    code = FALLBACK_REQUEST_CODE;
    w.add(HTTP_CODE_OPTION, Buffer.from(request.method, 'latin1'));
  }
  const hash = request.target.indexOf('#');
  const target = hash === -1 ? request.target : request.target.slice(0, hash);
  const { path, query } = decomposeTarget(target);
  // Uri-Path and Uri-Query values are 0 … 255 bytes (RFC 7252 §5.10): a longer segment
  // cannot be an option, so such a target travels as :path only.
  const fits = allFit(path) && allFit(query);
  if (fits) {
    for (const segment of path) w.add(O.UriPath, segment);
    for (const arg of query) w.add(O.UriQuery, arg);
  }
  // A target of Uri-Path and Uri-Query options counts against the limit as the `:path` line
  // it stands for, as the receiver counts it (decodeRequest): Node's header limit covers the
  // request line too. The target "/" has none and counts nothing.
  if (!fits || composeTarget(path, query) !== target) w.field(PSEUDO_PATH, target);
  else if (path.length > 0 || query.length > 0) w.mapped(PSEUDO_PATH, target);
  const coded = hasContentCoding(request.headers);
  const counts = mappedLineCounts(request.headers, MAPPED_IN_REQUESTS);
  for (const [name, value] of request.headers) {
    const count = counts?.get(name) ?? 1;
    if (count === 0) continue; // a further line of a field already written
    if (count > 1) {
      // Several lines of a mapped field: CoAP has one option per value and no line
      // structure, so every line travels exactly and the far side reads the fields only.
      for (const [n, v] of request.headers) if (n === name) w.field(n, v);
      counts!.set(name, 0);
    } else if (name === 'content-type' && !coded) {
      mapMediaType(w, name, value, O.ContentFormat);
    } else if (name === 'accept' && value.trim() !== '*/*') {
      // "an HTTP Accept */* MUST be mapped to a CoAP request without an Accept option" (RFC 8075 §6.1)
      mapMediaType(w, name, value, O.Accept);
    } else if (name === 'if-match') {
      mapEntityTags(w, name, value, O.IfMatch, true);
    } else if (name === 'if-none-match' && value.trim() === '*') {
      // CoAP If-None-Match (empty) is HTTP's `If-None-Match: *` (RFC 7252 §5.10.8.2).
      w.add(O.IfNoneMatch, new Uint8Array(0));
      if (value !== '*') w.field(name, value);
      else w.mapped(name, value);
    } else {
      w.field(name, value);
    }
  }
  return { code, options: w.options, payload: request.body };
}

/**
 * Maps an HTTP response to the inner message. `requestMethod`, the method of the request
 * answered, picks the success code CoAP uses for it (2.04 Changed for POST and PUT, 2.02
 * Deleted for DELETE; see statusToCode).
 * @throws {UnmappableMessageError}, {HeadersTooLargeError}.
 */
export function encodeResponse(response: HttpResponseParts, limits: MappingLimits = {}, requestMethod?: string): InnerMessage {
  const w = new OptionWriter(limits.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE);
  const { status } = response;
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new UnmappableMessageError(`status ${status} cannot be sent as a final response`);
  const code = statusToCode(status, requestMethod);
  const hasPayload = response.body.length > 0;
  if (!hasPayload && ((status === 200 && isChangedOrDeleted(code)) || (status === 204 && code === coapCode(2, 5)))) {
    // A 200 without content sent as 2.02/2.04 would read back as 204 (RFC 8075 §7 note 2),
    // a 204 to GET sent as 2.05 as 200. Not HTTP-Code: that option is critical, and a CoAP
    // peer would have to reject a plain success (RFC 7252 §5.4.1). The elective `:status`
    // keeps the exact status for an HTTP peer.
    w.field(PSEUDO_STATUS, String(status));
  } else if (codeToStatus(code, hasPayload) !== status) {
    w.add(HTTP_CODE_OPTION, encodeUint(status));
  }
  if (response.statusMessage !== undefined && response.statusMessage !== '' && response.statusMessage !== STATUS_CODES[status]) {
    w.field(PSEUDO_REASON, response.statusMessage);
  }
  const coded = hasContentCoding(response.headers);
  const counts = mappedLineCounts(response.headers, MAPPED_IN_RESPONSES);
  for (const [name, value] of response.headers) {
    const count = counts?.get(name) ?? 1;
    if (count === 0) continue;
    if (count > 1) {
      for (const [n, v] of response.headers) if (n === name) w.field(n, v);
      counts!.set(name, 0);
    } else if (name === 'content-type' && !coded) {
      mapMediaType(w, name, value, O.ContentFormat);
    } else if (name === 'etag') {
      mapEntityTags(w, name, value, O.ETag, false);
    } else if (name === 'location') {
      mapLocation(w, value);
    } else if (name === 'cache-control' && status !== 503) {
      mapCacheControl(w, value);
    } else if (name === 'retry-after' && status === 503) {
      mapMaxAge(w, name, value, /^(\d{1,10})$/);
    } else {
      w.field(name, value);
    }
  }
  return { code, options: w.options, payload: response.body };
}

// Critical options (odd numbers) this mapping understands; any other critical option
// makes the message unprocessable (RFC 7252 §5.4.1). 3 and 7 are Uri-Host/Uri-Port,
// which belong outside (RFC 8613 §4.1.3.2) and are ignored if found inside; 35 and 39,
// Proxy-Uri and Proxy-Scheme, ask for a forward proxy, which this endpoint is not.
const KNOWN_CRITICAL_REQUEST = new Set<number>([O.IfMatch, O.UriHost, O.IfNoneMatch, O.UriPort, O.UriPath, O.UriQuery, O.Accept, O.ProxyUri, O.ProxyScheme, HTTP_CODE_OPTION]);
const KNOWN_CRITICAL_RESPONSE = new Set<number>([HTTP_CODE_OPTION]);
// Critical request options defined to occur at most once (RFC 7252 §5.10 Table 4, "R"
// unmarked), with their value's length range. HTTP-Code is checked with its value.
const SINGLE_CRITICAL_REQUEST: ReadonlyArray<readonly [number, string, number, number]> = [
  [O.UriHost, 'Uri-Host', 1, 255],
  [O.IfNoneMatch, 'If-None-Match', 0, 0],
  [O.UriPort, 'Uri-Port', 0, 2],
  [O.Accept, 'Accept', 0, 2],
];
// Reserved for Location-* extensions (RFC 7252 §5.10.7): "If any of these reserved option
// numbers occurs in addition to Location-Path and/or Location-Query and are not supported,
// then a 4.02 (Bad Option) error MUST be returned."
const RESERVED_LOCATION_OPTIONS = [128, 132, 136, 140] as const;

/**
 * RFC 7252 §5.4.3: "If the length of an option value in a request is outside the defined
 * range, that option MUST be treated like an unrecognized option" — ignored if elective,
 * the message refused (4.02) if critical.
 */
function outOfRange(option: CoapOption, max: number, min = 0): boolean {
  if (option.value.length >= min && option.value.length <= max) return false;
  if ((option.number & 1) === 1) throw new InvalidInnerMessageError(`option ${option.number} has a value of ${option.value.length} bytes, outside its range`, '4.02');
  return true;
}

/** Content-Format / Accept (uint, 0 … 2 bytes; RFC 7252 §5.10) as a media type; `undefined` to ignore. */
function mediaTypeOf(option: CoapOption): string | undefined {
  if (outOfRange(option, 2)) return undefined;
  const format = decodeUint(option.value)!;
  // RFC 8075 §6.2: an unknown Content-Format becomes application/coap-payload with its number.
  return contentFormatToMediaType(format) ?? `application/coap-payload;cf=${format}`;
}

function pushMediaType(headers: HeaderList, name: string, options: CoapOption[] | undefined): void {
  if (options === undefined || hasField(headers, name)) return;
  const type = mediaTypeOf(options[0]!);
  if (type !== undefined) headers.push([name, type]);
}

interface Collected {
  fields: HeaderList;
  /** Bytes of the HTTP-Field options, as counted against `maxHeaderSize`. */
  fieldBytes: number;
  /** Pseudo-fields (`:path`, `:status`, `:reason`); made only when one arrives, which is rare. */
  exact: Map<string, string> | undefined;
  byNumber: Map<number, CoapOption[]>;
}

function collect(message: InnerMessage, knownCritical: Set<number>, maxHeaderSize = Infinity): Collected {
  const fields: HeaderList = [];
  let exact: Map<string, string> | undefined;
  const byNumber = new Map<number, CoapOption[]>();
  let fieldBytes = 0;
  for (const option of message.options) {
    if (option.number === HTTP_FIELD_OPTION) {
      // The receiver's limit, counted as the sender counts it (OptionWriter.field).
      fieldBytes += option.value.length;
      if (fieldBytes > maxHeaderSize) throw new HeadersTooLargeError(maxHeaderSize);
      const [name, value] = decodeField(option.value);
      if (name.startsWith(':')) (exact ??= new Map()).set(name, value);
      else fields.push([name, value]);
      continue;
    }
    if ((option.number & 1) === 1 && !knownCritical.has(option.number)) {
      throw new InvalidInnerMessageError(`it carries critical option ${option.number}, which this endpoint does not support`, '4.02');
    }
    const list = byNumber.get(option.number);
    if (list === undefined) byNumber.set(option.number, [option]);
    else list.push(option);
  }
  return { fields, fieldBytes, exact, byNumber };
}

/**
 * Checks the fields rebuilt from CoAP options (`headers` from index `from` on) against the
 * limit, with the HTTP-Field bytes already counted: a Location of many Location-Path
 * options is a protected field like any other.
 */
function checkRebuilt(headers: HeaderList, from: number, fieldBytes: number, maxHeaderSize = Infinity): void {
  if (maxHeaderSize === Infinity) return;
  let total = fieldBytes;
  for (let i = from; i < headers.length; i++) total += fieldLineBytes(headers[i]![0], headers[i]![1]);
  if (total > maxHeaderSize) throw new HeadersTooLargeError(maxHeaderSize);
}

/**
 * The bytes of a request's Uri-Path and Uri-Query options, each with its `/`, `?` or `&`:
 * the least its composed target can be. Throws once `fieldBytes` and they pass the limit.
 */
function uriOptionBytes(byNumber: Map<number, CoapOption[]>, fieldBytes: number, maxHeaderSize = Infinity): number {
  if (maxHeaderSize === Infinity) return 0;
  let total = 0;
  for (const number of URI_OPTIONS) for (const o of byNumber.get(number) ?? NONE) total += 1 + o.value.length;
  if (fieldBytes + total > maxHeaderSize) throw new HeadersTooLargeError(maxHeaderSize);
  return total;
}

function hasField(fields: HeaderList, name: string): boolean {
  return fields.some(([n]) => n === name);
}

/**
 * Maps a verified inner message to an HTTP request. `headers` are the protected fields.
 * @throws {InvalidInnerMessageError} for anything HTTP cannot carry, {HeadersTooLargeError}
 * for fields beyond `limits.maxHeaderSize`.
 */
export function decodeRequest(message: InnerMessage, limits: MappingLimits = {}): HttpRequestParts {
  const { fields, fieldBytes, exact, byNumber } = collect(message, KNOWN_CRITICAL_REQUEST, limits.maxHeaderSize);
  let method: string;
  const httpCode = byNumber.get(HTTP_CODE_OPTION);
  if (httpCode !== undefined) {
    // A critical option, not repeatable, of 1-16 bytes: a supernumerary occurrence or a
    // value outside that range makes it unrecognized (RFC 7252 §5.4.5, §5.4.3), so 4.02.
    if (httpCode.length > 1) throw new InvalidInnerMessageError(`option ${HTTP_CODE_OPTION} (HTTP-Code) occurs ${httpCode.length} times, but is defined to occur once`, '4.02');
    outOfRange(httpCode[0]!, HTTP_CODE_MAX_LENGTH, 1);
    method = latin1(httpCode[0]!.value);
    if (!isToken(method)) throw new InvalidInnerMessageError('the HTTP-Code option does not hold a method token');
  } else {
    const known = codeToMethod(message.code);
    if (known === undefined) throw new InvalidInnerMessageError(`request code ${message.code >>> 5}.${String(message.code & 31).padStart(2, '0')} has no HTTP method`, '4.05');
    method = known;
  }
  for (const [number, name, min, max] of SINGLE_CRITICAL_REQUEST) {
    const list = byNumber.get(number);
    if (list === undefined) continue;
    // §5.4.5: "each supernumerary option occurrence ... MUST be treated like an unrecognized option" — critical: 4.02.
    if (list.length > 1) throw new InvalidInnerMessageError(`option ${number} (${name}) occurs ${list.length} times, but is defined to occur once`, '4.02');
    outOfRange(list[0]!, max, min); // critical: throws outside the range (§5.4.3)
  }
  // §5.10.2: "An endpoint receiving a request with a Proxy-Uri Option that is unable or
  // unwilling to act as a forward-proxy for the request MUST cause the return of a 5.05
  // (Proxying Not Supported) response." Likewise Proxy-Scheme (§5.7.2).
  if (byNumber.has(O.ProxyUri) || byNumber.has(O.ProxyScheme)) {
    throw new InvalidInnerMessageError('it asks for a forward proxy (Proxy-Uri or Proxy-Scheme), which this endpoint is not', '5.05');
  }
  for (const number of URI_OPTIONS) for (const o of byNumber.get(number) ?? NONE) outOfRange(o, MAX_URI_OPTION);
  const exactTarget = exact?.get(PSEUDO_PATH);
  // A target of Uri-Path and Uri-Query options counts against the limit as its `:path` line
  // would (the exact one is an HTTP-Field, counted already): Node's own limit covers the
  // request line. Checked on the option bytes before the target is composed, which
  // percent-encodes up to 1,024 options of 255 bytes into a string three times as long.
  const targetBytes = exactTarget === undefined ? uriOptionBytes(byNumber, fieldBytes, limits.maxHeaderSize) : 0;
  // §5.10.1: "The value of a Uri-Path Option MUST NOT be "." or ".."". Composed into an HTTP
  // target, they would get a meaning (RFC 3986 §5.2.4) the options do not have. With the
  // exact target (:path) the options are not used.
  if (exactTarget === undefined && hasDotSegment(byNumber.get(O.UriPath) ?? NONE)) throw new InvalidInnerMessageError('a Uri-Path option is "." or ".."');
  const target = exactTarget !== undefined ? checkExactTarget(exactTarget) : composeTarget(valuesOf(byNumber.get(O.UriPath)), valuesOf(byNumber.get(O.UriQuery)));
  const headers = fields;
  const rebuilt = headers.length;
  pushMediaType(headers, 'content-type', byNumber.get(O.ContentFormat));
  pushMediaType(headers, 'accept', byNumber.get(O.Accept));
  const ifMatch = byNumber.get(O.IfMatch);
  if (ifMatch !== undefined && !hasField(headers, 'if-match')) {
    // If-Match is 0 … 8 bytes (RFC 7252 §5.10.8.1); empty means "the resource exists", HTTP's *.
    const tags = ifMatch.map((o) => {
      outOfRange(o, 8); // critical: throws outside the range
      return o.value.length === 0 ? '*' : httpEtagOf(o.value)!;
    });
    headers.push(['if-match', tags.join(', ')]);
  }
  // If-None-Match is empty (§5.10.8.2); checked above.
  if (byNumber.has(O.IfNoneMatch) && !hasField(headers, 'if-none-match')) headers.push(['if-none-match', '*']);
  const etags = method === 'GET' ? byNumber.get(O.ETag) : undefined;
  if (etags !== undefined && !hasField(headers, 'if-none-match')) {
    // ETag in a GET asks whether stored representations are still current (RFC 7252
    // §5.10.6.2): HTTP's If-None-Match with those tags, whose 304 maps back to 2.03 Valid
    // with the ETag. Elective: values outside 1 … 8 bytes are ignored.
    const tags = etags.filter((o) => !outOfRange(o, 8, 1)).map((o) => httpEtagOf(o.value)!);
    if (tags.length > 0) headers.push(['if-none-match', tags.join(', ')]);
  }
  checkRebuilt(headers, rebuilt, fieldBytes + (targetBytes === 0 ? 0 : fieldLineBytes(PSEUDO_PATH, target)), limits.maxHeaderSize);
  return { method, target, headers, body: message.payload };
}

/**
 * The Location of Location-Path / Location-Query options (RFC 7252 §5.10.7): always an
 * absolute path ("leaving out Location-Path but supplying Location-Query means the path
 * component in the URI is '/'"); `undefined` if they break the rules
 * (a "." or ".." segment, a value longer than 255 bytes) — elective, so ignored then.
 */
function locationOf(path: readonly CoapOption[], query: readonly CoapOption[]): string | undefined {
  if ([...path, ...query].some((o) => outOfRange(o, MAX_URI_OPTION))) return undefined;
  if (path.some((o) => isDotSegment(o.value))) return undefined;
  return composeTarget(
    path.map((o) => o.value),
    query.map((o) => o.value),
  );
}

/**
 * Maps a verified inner message to an HTTP response.
 * @throws {InvalidInnerMessageError} for anything HTTP cannot carry, {HeadersTooLargeError}
 * for fields beyond `limits.maxHeaderSize`.
 */
export function decodeResponse(message: InnerMessage, limits: MappingLimits = {}): HttpResponseParts {
  const { fields, fieldBytes, exact, byNumber } = collect(message, KNOWN_CRITICAL_RESPONSE, limits.maxHeaderSize);
  const httpCode = byNumber.get(HTTP_CODE_OPTION);
  let status: number;
  if (httpCode !== undefined) {
    const value = decodeUint(httpCode[0]!.value);
    if (httpCode.length > 1 || value === undefined || value < 200 || value > 599) throw new InvalidInnerMessageError('the HTTP-Code option does not hold a final status (200-599)');
    status = value;
  } else if (message.payload.length === 0 && refinedStatus(exact?.get(PSEUDO_STATUS), message.code)) {
    status = Number(exact!.get(PSEUDO_STATUS)); // see encodeResponse; any other `:status` is ignored, as an elective option may be
  } else {
    status = codeToStatus(message.code, message.payload.length > 0);
  }
  const headers = fields;
  const rebuilt = headers.length;
  pushMediaType(headers, 'content-type', byNumber.get(O.ContentFormat));
  // An error response's payload without Content-Format is a diagnostic message (RFC 7252
  // §5.5.2), which "SHOULD be copied into the HTTP response body with the media type of the
  // response set to text/plain;charset=utf-8" (RFC 8075 §6.6). Not for a coded body (an
  // HTTP peer's, whose fields say what it is).
  // Not counted against the limit below: the sender sent nothing for it.
  let implied = 0;
  if (message.code >>> 5 >= 4 && message.payload.length > 0 && !hasField(headers, 'content-type') && !hasField(headers, 'content-encoding')) {
    headers.push(['content-type', DIAGNOSTIC_MEDIA_TYPE]);
    implied = fieldLineBytes('content-type', DIAGNOSTIC_MEDIA_TYPE);
  }
  const etag = byNumber.get(O.ETag);
  if (etag !== undefined && !hasField(headers, 'etag')) {
    // In a response, ETag is 1 … 8 bytes (RFC 7252 §5.10.6); elective, so ignored outside that.
    const tag = outOfRange(etag[0]!, 8, 1) ? undefined : httpEtagOf(etag[0]!.value);
    if (tag !== undefined) headers.push(['etag', tag]);
  }
  const hasLocation = byNumber.has(O.LocationPath) || byNumber.has(O.LocationQuery);
  const reserved = hasLocation ? RESERVED_LOCATION_OPTIONS.find((n) => byNumber.has(n)) : undefined;
  if (reserved !== undefined) throw new InvalidInnerMessageError(`it carries option ${reserved}, reserved for Location-* extensions this endpoint does not support`, '4.02');
  if (hasLocation && !hasField(headers, 'location')) {
    const location = locationOf(byNumber.get(O.LocationPath) ?? [], byNumber.get(O.LocationQuery) ?? []);
    if (location !== undefined) headers.push(['location', location]);
  }
  const maxAge = byNumber.get(O.MaxAge);
  // A Max-Age becomes a Cache-Control max-age (RFC 7252 §10.2.1), in a 503 a Retry-After
  // (RFC 8075 §7 note 8); an absent one adds nothing here.
  const maxAgeField = message.code === coapCode(5, 3) ? 'retry-after' : 'cache-control';
  if (maxAge !== undefined && !hasField(headers, maxAgeField) && !outOfRange(maxAge[0]!, 4)) {
    const seconds = decodeUint(maxAge[0]!.value)!;
    headers.push([maxAgeField, maxAgeField === 'retry-after' ? String(seconds) : `max-age=${seconds}`]);
  }
  checkRebuilt(headers, rebuilt, fieldBytes - implied, limits.maxHeaderSize);
  return { status, statusMessage: exact?.get(PSEUDO_REASON) ?? STATUS_CODES[status], headers, body: message.payload };
}

