/**
 * Captures what application code writes to a `ServerResponse` — status, headers, body —
 * without sending any of it, so it can be protected as one inner message. When the
 * application ends the response, `onEnd` receives everything; after `release`, the real
 * `writeHead` and `end` send the protected outer response.
 *
 * The overrides are shared functions assigned as own properties of the response (plain
 * assignments, the cheapest way to add properties), with their state under one symbol:
 * no closures per response, and nothing deleted later (a `delete` would push the object
 * into slow dictionary mode). Own properties also survive frameworks that swap the
 * response's prototype (Express). Node's own `finished` field is set while the capture
 * holds the response, so `writableEnded` reads true once the application ended it.
 *
 * Interim responses (`writeContinue`, `writeProcessing`, `writeEarlyHints`) and trailers
 * are not sent: they would leave unprotected (the interim ones' callbacks still run).
 * Bodies of 204/304 responses and of responses to HEAD are dropped, as HTTP requires.
 *
 * A stream piped into the response sees backpressure as from a socket: `write` returns
 * false every `HIGH_WATER_MARK` bytes and `drain` follows on a later turn of the event
 * loop, so a source that produces synchronously cannot starve the server. A body that
 * passes the limit ends the capture at once (the server answers with a protected 500,
 * and frameworks destroy the source when the response finishes); later writes are refused.
 */

import { ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import { firstValue, toHeaderList, type HeaderList } from '../mapping/fields.js';

/** What the application wrote. */
export interface CapturedResponse {
  readonly status: number;
  readonly statusMessage: string | undefined;
  readonly headers: HeaderList;
  readonly body: Uint8Array;
  /** The application wrote more than the limit; `body` is empty. */
  readonly overflow: boolean;
  /** The application failed before it ended the response (see abandonResponse); nothing it wrote is kept. */
  readonly failed: boolean;
}

interface CaptureState {
  readonly limit: number;
  readonly bodyless: boolean;
  readonly onEnd: (captured: CapturedResponse) => void;
  /** Fields given to writeHead when nothing was set before (Node keeps them only in the head it writes). */
  headers: HeaderList | undefined;
  chunks: Buffer[];
  size: number;
  /** Bytes written since `write` last returned false. */
  sinceDrain: number;
  overflow: boolean;
  failed: boolean;
  ended: boolean;
  headSent: boolean;
  released: boolean;
}

/** Bytes a writer may hand over before `write` returns false, as a socket's buffer would. */
const HIGH_WATER_MARK = 64 * 1024;

const STATE = Symbol('oscore-http.response-capture');
type Captured = ServerResponse & { [STATE]: CaptureState };

const proto = ServerResponse.prototype;
const protoHeadersSent = (() => {
  for (let p: object | null = proto; p !== null; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, 'headersSent');
    if (d?.get !== undefined) return d.get;
  }
  throw new Error('ServerResponse has no headersSent getter');
})();

// Node writes a Date field into every response it sends (`res.sendDate`); the inner
// response carries it as plain HTTP would, at one-second resolution, cached like Node's.
let dateSecond = -1;
let dateValue = '';
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
}

/** Keeps a chunk (unless over the limit, or the response has no body); returns its size. */
function append(res: Captured, c: CaptureState, chunk: unknown, encoding: unknown): number {
  if (chunk === undefined || chunk === null || typeof chunk === 'function' || c.overflow) return 0;
  if (c.bodyless || res.statusCode === 204 || res.statusCode === 304) {
    // No body is sent for these (as Node ignores such writes): nothing kept, nothing counted against the limit.
    return typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : ((chunk as Uint8Array).byteLength ?? 0);
  }
  const buf =
    typeof chunk === 'string'
      ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
      : Buffer.from((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, (chunk as Uint8Array).byteLength);
  c.size += buf.length;
  if (c.size > c.limit) {
    c.overflow = true;
    c.chunks = [];
    return buf.length;
  }
  c.chunks.push(buf);
  return buf.length;
}

function callbackOf(a: unknown, b?: unknown, c?: unknown): (() => void) | undefined {
  return typeof a === 'function' ? (a as () => void) : typeof b === 'function' ? (b as () => void) : typeof c === 'function' ? (c as () => void) : undefined;
}

/** What Node throws for a second head (`ERR_HTTP_HEADERS_SENT`): the first one stands. */
function headersSentError(): Error {
  return Object.assign(new Error('Cannot write headers after they are sent to the client'), { code: 'ERR_HTTP_HEADERS_SENT' });
}

/**
 * Checks fields as Node's writeHead does before sending them (setHeader checks its own):
 * an invalid name or value throws Node's own error from the application's call, so the
 * framework's error path answers it (fastify's error handler), as without OSCORE.
 */
function validated(list: HeaderList): HeaderList {
  for (const [name, value] of list) {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  }
  return list;
}

function writeHead(this: Captured, status: number, reason?: unknown, headers?: unknown): ServerResponse {
  const c = this[STATE];
  // eslint-disable-next-line prefer-rest-params
  if (c.released) return proto.writeHead.apply(this, arguments as unknown as Parameters<typeof proto.writeHead>);
  if (c.headSent) throw headersSentError();
  if (typeof reason !== 'string') {
    headers = reason;
    reason = undefined;
  }
  // As Node's writeHead: a status outside 100–999 or a reason phrase with a control
  // character throws from the application's call (ERR_HTTP_INVALID_STATUS_CODE, ERR_INVALID_CHAR).
  const code = status | 0;
  if (code < 100 || code > 999) throw Object.assign(new RangeError(`Invalid status code: ${String(status)}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
  // Node checks the reason that will be sent: the argument, else one set on res.statusMessage.
  const message: unknown = typeof reason === 'string' ? reason : this.statusMessage;
  if (typeof message === 'string' && /[^\t\x20-\x7e\x80-\xff]/.test(message)) throw Object.assign(new TypeError('Invalid character in statusMessage'), { code: 'ERR_INVALID_CHAR' });
  this.statusCode = code;
  if (typeof reason === 'string') this.statusMessage = reason;
  // Node's writeHead: after setHeader, the given fields are set one by one (last wins);
  // otherwise they are sent as given (a raw list with its repeated names) and not stored,
  // which is what fastify's reply does for every response.
  if (headers !== null && typeof headers === 'object') {
    if (this.getHeaderNames().length === 0) c.headers = validated(toHeaderList(headers));
    else if (Array.isArray(headers)) for (const [name, value] of toHeaderList(headers)) this.setHeader(name, value);
    else for (const [name, value] of Object.entries(headers)) if (value !== undefined) this.setHeader(name, value as string | string[]);
  }
  c.headSent = true;
  return this;
}

function write(this: Captured, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  const c = this[STATE];
  const done = callbackOf(encoding, cb);
  if (c.ended) {
    // After end, or after the limit ended the capture: refused, as Node refuses a write after end.
    if (done !== undefined) process.nextTick(done, Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' }));
    return false;
  }
  // Node writes an implicit head through this.writeHead (_implicitHeader): hooks that wrap
  // writeHead (on-headers and the like) run now, while captured, not at the real write.
  if (!c.headSent) this.writeHead(this.statusCode);
  c.sinceDrain += append(this, c, chunk, encoding);
  if (c.overflow) {
    // Answer now (a protected 500) instead of reading the rest of a body that cannot be sent.
    finish(this, c);
    if (done !== undefined) process.nextTick(done, Object.assign(new Error('the response exceeds its size limit'), { code: 'ERR_OSCORE_HTTP_RESPONSE_TOO_LARGE' }));
    return false;
  }
  if (done !== undefined) process.nextTick(done);
  if (c.sinceDrain < HIGH_WATER_MARK) return true;
  c.sinceDrain = 0;
  // setImmediate, not nextTick: I/O runs before the writer resumes.
  setImmediate(() => {
    if (!c.ended) this.emit('drain');
  });
  return false;
}

function end(this: Captured, chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse {
  const c = this[STATE];
  // eslint-disable-next-line prefer-rest-params
  if (c.released) return proto.end.apply(this, arguments as unknown as Parameters<typeof proto.end>);
  const done = callbackOf(chunk, encoding, cb);
  if (done !== undefined) this.once('finish', done);
  if (c.ended) return this; // the limit ended it: the real response follows
  if (!c.headSent) this.writeHead(this.statusCode);
  append(this, c, chunk, encoding);
  finish(this, c);
  return this;
}

/** Ends the capture: hands what was written to `onEnd`. */
function finish(res: Captured, c: CaptureState): void {
  c.ended = true;
  c.headSent = true;
  res.finished = true; // writableEnded; cleared again before the real end()
  const status = res.statusCode;
  const noBody = c.bodyless || status === 204 || status === 304;
  const headers = c.headers ?? [];
  const stored = res.getHeaderNames();
  if (stored.length > 0) {
    headers.push(...toHeaderList(res.getHeaders()));
    for (const name of stored) res.removeHeader(name);
  }
  if (res.sendDate && firstValue(headers, 'date') === undefined) headers.push(['date', httpDate()]);
  const chunks = c.chunks;
  c.chunks = [];
  c.onEnd({
    status,
    statusMessage: res.statusMessage,
    headers,
    body: noBody || c.overflow || c.failed ? new Uint8Array(0) : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, c.size),
    overflow: c.overflow && !noBody,
    failed: c.failed,
  });
}

/** Interim responses and trailers would travel unprotected: they are not sent. */
function ignored(): void {}

/**
 * `writeContinue(cb)`, `writeProcessing(cb)`, `writeEarlyHints(hints, cb)`: not sent either,
 * but Node calls the callback "when the response message has been written", and an
 * application that answers from it (`res.writeEarlyHints(hints, () => res.end())`) must
 * still answer.
 */
function interimSkipped(...args: unknown[]): void {
  const callback = args[args.length - 1];
  if (typeof callback === 'function') process.nextTick(callback as () => void);
}

/** `headersSent` while captured: Node's getter reads the real header state, which is still empty. */
const HEADERS_SENT: PropertyDescriptor = {
  configurable: true,
  get(this: Captured) {
    const c = this[STATE];
    return c.released ? protoHeadersSent.call(this) : c.headSent;
  },
};

/**
 * Starts capturing `res`. `onEnd` is called once, when the application ends the response;
 * call the returned `release` before writing the real (protected) response.
 * @param limit largest body kept, in bytes; beyond it `overflow` is reported.
 * @param bodyless the request was HEAD: no body is kept.
 */
export function captureResponse(res: ServerResponse, limit: number, bodyless: boolean, onEnd: (captured: CapturedResponse) => void): () => void {
  const state: CaptureState = { limit, bodyless, onEnd, headers: undefined, chunks: [], size: 0, sinceDrain: 0, overflow: false, failed: false, ended: false, headSent: false, released: false };
  const r = res as unknown as Record<string | symbol, unknown>;
  r[STATE] = state;
  r.writeHead = writeHead;
  r.write = write;
  r.end = end;
  // Interim responses and trailers would leave unprotected: they are not sent.
  r.flushHeaders = ignored;
  r.writeContinue = interimSkipped;
  r.writeProcessing = interimSkipped;
  r.writeEarlyHints = interimSkipped;
  r.addTrailers = ignored;
  // Frameworks decide between answering an error and aborting by headersSent.
  Object.defineProperty(res, 'headersSent', HEADERS_SENT);
  return () => {
    state.released = true;
    res.finished = false;
  };
}

/**
 * The application failed before it ended `res` (its listener threw): ends the capture now,
 * with `failed` set, so `onEnd` runs once and anything the application writes later is
 * refused as after `end`. Does nothing if the application had already ended it.
 * @returns whether it ended the capture (false: the application had).
 */
export function abandonResponse(res: ServerResponse): boolean {
  const c = (res as Captured)[STATE];
  if (c === undefined || c.ended) return false;
  c.failed = true;
  finish(res as Captured, c);
  return true;
}
