/**
 * Captures what application code writes to a `ServerResponse` — status, headers, body —
 * without sending any of it, so it can be protected as one inner message. When the
 * application ends the response, `onEnd` receives everything; the real `writeHead`
 * and `end` are restored for the protected outer response.
 *
 * Interim responses (`writeContinue`, `writeProcessing`, `writeEarlyHints`) and trailers
 * are not sent: they would leave unprotected. Bodies of 204/304 responses and of
 * responses to HEAD are dropped, as HTTP requires.
 */

import type { ServerResponse } from 'node:http';
import { toHeaderList, type HeaderList } from '../mapping/fields.js';

/** What the application wrote. */
export interface CapturedResponse {
  readonly status: number;
  readonly statusMessage: string | undefined;
  readonly headers: HeaderList;
  readonly body: Uint8Array;
  /** The application wrote more than the limit; `body` is empty. */
  readonly overflow: boolean;
}

const OVERRIDDEN = ['writeHead', 'write', 'end', 'flushHeaders', 'writeContinue', 'writeProcessing', 'writeEarlyHints', 'addTrailers', 'writableEnded', 'finished', 'headersSent'] as const;

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

function noop(): void {}

/**
 * Starts capturing `res`. `onEnd` is called once, when the application ends the response;
 * call the returned `release` before writing the real (protected) response.
 * @param limit largest body kept, in bytes; beyond it `overflow` is reported.
 * @param bodyless the request was HEAD: no body is kept.
 */
export function captureResponse(res: ServerResponse, limit: number, bodyless: boolean, onEnd: (captured: CapturedResponse) => void): () => void {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  let ended = false;
  const r = res as unknown as Record<string, unknown>;

  const append = (chunk: unknown, encoding: unknown): void => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, (chunk as Uint8Array).byteLength);
    if (overflow) return;
    size += buf.length;
    if (size > limit) {
      overflow = true;
      chunks.length = 0;
      return;
    }
    chunks.push(buf);
  };
  const callbackOf = (...args: unknown[]) => args.find((a): a is () => void => typeof a === 'function');

  let headSent = false;
  r.writeHead = function writeHead(status: number, reason?: unknown, headers?: unknown) {
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    res.statusCode = status;
    if (typeof reason === 'string') res.statusMessage = reason;
    // Node's writeHead: after setHeader, the given fields are set one by one (last wins);
    // otherwise a raw list is sent as it is, repeated names included.
    const merge = res.getHeaderNames().length > 0;
    if (Array.isArray(headers)) {
      const list = toHeaderList(headers);
      if (merge) for (const [name, value] of list) res.setHeader(name, value);
      else {
        const grouped = new Map<string, string[]>();
        for (const [name, value] of list) grouped.set(name, [...(grouped.get(name) ?? []), value]);
        for (const [name, values] of grouped) res.setHeader(name, values.length === 1 ? values[0]! : values);
      }
    } else if (headers !== null && typeof headers === 'object') {
      for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value as string | string[]);
    }
    headSent = true;
    return res;
  };
  r.write = function write(chunk: unknown, encoding?: unknown, cb?: unknown) {
    headSent = true;
    if (!ended) append(chunk, encoding);
    const done = callbackOf(encoding, cb);
    if (done) process.nextTick(done);
    return true;
  };
  r.end = function end(chunk?: unknown, encoding?: unknown, cb?: unknown) {
    if (ended) return res;
    append(chunk, encoding);
    ended = true;
    headSent = true;
    const done = callbackOf(chunk, encoding, cb);
    if (done) res.once('finish', done);
    const status = res.statusCode;
    const noBody = bodyless || status === 204 || status === 304;
    const headers = toHeaderList(res.getHeaders());
    if (res.sendDate && !res.hasHeader('date')) headers.push(['date', httpDate()]);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    onEnd({
      status,
      statusMessage: res.statusMessage,
      headers,
      body: noBody || overflow ? new Uint8Array(0) : Buffer.concat(chunks, size),
      overflow: overflow && !noBody,
    });
    return res;
  };
  r.flushHeaders = noop;
  r.writeContinue = noop;
  r.writeProcessing = noop;
  r.writeEarlyHints = noop;
  r.addTrailers = noop;
  Object.defineProperty(res, 'writableEnded', { configurable: true, get: () => ended });
  Object.defineProperty(res, 'finished', { configurable: true, get: () => ended });
  // Frameworks decide between answering an error and aborting by headersSent.
  Object.defineProperty(res, 'headersSent', { configurable: true, get: () => headSent });
  return () => {
    for (const name of OVERRIDDEN) delete r[name];
  };
}
