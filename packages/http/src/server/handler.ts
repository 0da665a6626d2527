/**
 * The server side of OSCORE over HTTP (RFC 8613 §11.1, §11.4, §8.2–8.3) as a plain
 * `node:http` request listener wrapper. Frameworks plug in behind it: the fastify
 * plugin passes `fastify.routing`; Express and Connect pass their app.
 *
 * For each request:
 *  - not OSCORE: handed to `next` only if allow-listed, else refused (401, "OSCORE required");
 *  - OSCORE: checked (POST, the outer path, `application/oscore`, the `OSCORE` header),
 *    its body read within the limit, verified (context, decryption, replay window), mapped
 *    to an inner HTTP request and handed to `next` — whose response is captured,
 *    mapped, protected and sent as `200 OK`.
 * No application code runs before verification succeeded (ARCHITECTURE.md, invariant 1).
 * A request that fails verification gets the §8 outcome as an unprotected response with
 * a fixed reason; a failure after verification gets a protected response (§8.3).
 */

import { ServerResponse, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import {
  coapCode,
  assertCanProtect,
  ContextRegistry,
  decodeOscoreOption,
  establishFreshness,
  FreshnessRequiredError,
  MalformedPlaintextError,
  protectResponse,
  toHex,
  verifyRequest,
  OscoreError,
  SecurityContext,
  type RecipientContextLookup,
  type RequestBinding,
} from '@oscore-http/core';
import { ContextSet } from '../config/context-set.js';
import { sizeOption } from '../config/option-values.js';
import {
  ApplicationFailedError,
  BodyTooLargeError,
  ContextConfigError,
  httpStatusOf,
  InternalError,
  OscoreRequiredError,
  OuterMethodError,
  OuterPathError,
  ResponseTooLargeError,
  UnmappableMessageError,
  UnsupportedMediaTypeError,
} from '../errors.js';
import { isFieldValue, toHeaderList, type HeaderList } from '../mapping/fields.js';
import { createHeaderPolicy, type HeaderPolicyOptions } from '../mapping/header-policy.js';
import { DEFAULT_MAX_HEADER_SIZE, decodeRequest, encodeResponse } from '../mapping/messages.js';
import { codeToStatus } from '../mapping/status.js';
import { BodyBuffer } from '../wire/body-buffer.js';
import { APPLICATION_OSCORE, decodeOscoreHeader, encodeOscoreHeader, isOscoreContentType } from '../wire/oscore-header.js';
import { diagnosticOf } from './diagnostics.js';
import { ECHO_OPTION, echoOptionOf, EchoIssuer, SentChallenges } from './echo.js';
import { createInnerRequest } from './inner-request.js';
import type { OscoreRequestInfo } from './request-info.js';
import { abandonResponse, captureResponse, type CapturedResponse } from './response-capture.js';

/** What `handle` asks of verifyRequest, one object for every request. */
const FRESHNESS_BY_CALLER = Object.freeze({ freshness: 'caller' } as const);

/** The outer request target when none is configured. */
export const DEFAULT_OUTER_PATH = '/oscore';
/** Default limit of a request or response body, in bytes. */
export const DEFAULT_MAX_BODY_SIZE = 1024 * 1024;

/** Something the server did that operators want to see: a rejection or a response it could not protect. */
export interface OscoreServerEvent {
  readonly type: 'rejected' | 'response-failed';
  readonly error: OscoreError;
  /** HTTP status sent. */
  readonly status: number;
  /** Whether the response to the client was OSCORE-protected. */
  readonly protected: boolean;
  /** The request kid (hex) when it was readable. */
  readonly kid: string | undefined;
  /** The peer's configured name when the request was verified. */
  readonly peer: string | undefined;
  /**
   * The inner request, for a `response-failed` event after the application received it:
   * lets a framework log the event with that request's logger (fastify: `request.log`, with
   * its `reqId`). Undefined for requests refused before any application code ran. Not
   * enumerable, so logging or serializing the whole event never writes out the decrypted
   * request; read it by name.
   */
  readonly request?: IncomingMessage;
}

/** Options of {@link createOscoreHandler}. */
export interface OscoreServerOptions {
  /** The server's security contexts: a context set (from a context file), a lookup, or contexts. */
  readonly contexts: ContextSet | RecipientContextLookup | Iterable<SecurityContext>;
  /**
   * Outer request target(s) of OSCORE requests. Default `['/oscore', '/']`: `/oscore` is
   * where this project's clients send; `/` is where a peer that maps CoAP to HTTP per
   * RFC 8613 §11 sends, since Uri-Path is protected and the outer target is the root
   * (§11.6). Given a path, only that path is served.
   */
  readonly outerPath?: string | readonly string[];
  /** Routes served without OSCORE: `"/health"` (any method) or `"GET /health"`. Exact paths. Default none. */
  readonly allowUnprotected?: readonly string[];
  /** Header policy overrides (see docs/wire-format.md). */
  readonly headers?: HeaderPolicyOptions;
  /** Largest request body, in bytes. Default 1 MiB. */
  readonly maxBodySize?: number;
  /** Largest total of protected header fields, in bytes. Default 16 KiB. */
  readonly maxHeaderSize?: number;
  /** Largest response body protected, in bytes; the application's larger responses become a protected 500. Default `maxBodySize`. */
  readonly maxResponseSize?: number;
  /** Called for every rejection and every response that could not be protected. What it throws, or a promise it returns rejects with, is ignored. */
  readonly onEvent?: (event: OscoreServerEvent) => void | Promise<void>;
  /** How long an Echo challenge may be answered, in seconds (RFC 9175). Default 30. */
  readonly echoMaxAge?: number;
}

// `unknown`, not `void | Promise`: a listener such as `(req, res) => res.end()` returns something.
type Next = (req: IncomingMessage, res: ServerResponse) => unknown;

/** The listener {@link createOscoreHandler} returns. */
export interface OscoreRequestListener {
  /** For the server's `request` event. */
  (req: IncomingMessage, res: ServerResponse): void;
  /**
   * For the server's `checkContinue` event (`server.on('checkContinue', listener.checkContinue)`):
   * a request with `Expect: 100-continue` gets `100 Continue` only once its header fields
   * passed every check, so a request refused anyway is refused before its body is sent.
   * Without it, Node sends `100 Continue` to every such request.
   */
  readonly checkContinue: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Responses to `Expect: 100-continue` requests whose `100 Continue` is not sent yet. */
const awaitingContinue = new WeakSet<ServerResponse>();

/** Asks for the body of a request that waits for it (RFC 9110 §10.1.1). */
function sendContinue(res: ServerResponse): void {
  if (awaitingContinue.delete(res)) res.writeContinue();
}

function toLookup(contexts: OscoreServerOptions['contexts']): RecipientContextLookup {
  if (contexts instanceof SecurityContext) return new ContextRegistry([contexts]);
  if (contexts instanceof ContextSet) void contexts.registry; // surface duplicate IDs at start-up, not at the first request
  // Checked here, for callers without the types: a mistake surfaces at start-up, typed.
  if (typeof (contexts as RecipientContextLookup | null | undefined)?.findRecipientContexts === 'function') return contexts as RecipientContextLookup;
  if (contexts === null || typeof contexts !== 'object' || typeof (contexts as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new ContextConfigError('contexts', 'give a context set (loadContextFile(path) or createContextSet(configs)), a lookup with findRecipientContexts, or security contexts');
  }
  const list = [...(contexts as Iterable<unknown>)];
  list.forEach((entry, i) => {
    if (!(entry instanceof SecurityContext)) throw new ContextConfigError(`contexts[${i}]`, 'is not a SecurityContext; make contexts with createContextSet(configs) or loadContextFile(path)');
  });
  return new ContextRegistry(list as SecurityContext[]);
}

/** The scheme and authority of an absolute-form target (no fragment: none is valid in a target). */
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]+(?=[^#]*$)/i;

/**
 * The path of a request target, without its query. "A server MUST accept the absolute-form
 * in requests" (RFC 9112 §3.2.2): `http://host/oscore?x` is the path `/oscore`, and an
 * empty path is `/` (RFC 9110 §4.2.3), as fastify's router reads it.
 */
function pathOf(url: string | undefined): string {
  let u = url ?? '/';
  if (u.charCodeAt(0) !== 0x2f) {
    const authority = ABSOLUTE_FORM.exec(u);
    if (authority !== null) u = u.charCodeAt(authority[0].length) === 0x2f ? u.slice(authority[0].length) : '/';
  }
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

function compileAllowList(entries: readonly string[] = []): (req: IncomingMessage) => boolean {
  const rules = entries.map((entry) => {
    const [a, b] = entry.trim().split(/\s+/, 2);
    return b === undefined ? { method: undefined, path: a! } : { method: a!.toUpperCase(), path: b };
  });
  return (req) => {
    const path = pathOf(req.url);
    // A GET rule covers HEAD, which asks for the same resource without its body (RFC 9110 §9.3.2) and which frameworks serve from the GET route.
    return rules.some((r) => r.path === path && (r.method === undefined || r.method === req.method || (r.method === 'GET' && req.method === 'HEAD')));
  };
}

/** Reads the body into one buffer (body-buffer.ts); its declared length was checked against `limit` before (see `handle`). */
function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const body = new BodyBuffer(limit, Number(req.headers['content-length']));
    req.on('data', (chunk: Buffer) => {
      if (body.push(chunk)) return;
      req.removeAllListeners('data');
      req.resume();
      reject(new BodyTooLargeError(limit, 'request'));
    });
    // `on`, not `once`: a request ends once, and `once` would wrap the listener (a bound
    // function and its state) on every request.
    req.on('end', () => resolve(body.bytes()));
    req.once('error', reject);
  });
}

function sendUnprotected(res: ServerResponse, err: OscoreError): number {
  const status = httpStatusOf(err);
  if (res.headersSent || res.writableEnded || res.destroyed) return status;
  const body = diagnosticOf(err);
  const headers: HeaderList = [
    ['content-type', 'text/plain; charset=utf-8'],
    ['content-length', String(Buffer.byteLength(body))],
    // RFC 8613 §8.2: such errors MAY carry an Outer Max-Age of zero; in HTTP, do not store them.
    ['cache-control', 'no-store'],
  ];
  // HTTP requires a challenge with 401 (RFC 9110 §15.5.2) and Allow with 405 (§15.5.6).
  if (status === 401) headers.push(['www-authenticate', 'OSCORE']);
  if (status === 405) headers.push(['allow', 'POST']);
  // RFC 9110 §10.1.1: a final status sent before the content SHOULD say whether the
  // connection closes; a client that waited for 100 Continue may or may not send it now.
  if (status === 413 || awaitingContinue.has(res)) headers.push(['connection', 'close']);
  sendOwn(res, status, STATUS_CODES[status] ?? '', headers.flat(), body);
  return status;
}

const { writeHead: realWriteHead, end: realEnd } = ServerResponse.prototype;

/**
 * Writes a response of this layer's own: with an explicit reason (Node would otherwise send
 * the application's statusMessage), without any field the application stored on `res`, and
 * past any wrapper the application installed around writeHead or end (hooks in the style of
 * on-headers would otherwise add fields outside, unprotected).
 */
function sendOwn(res: ServerResponse, status: number, reason: string, headers: string[], body: Uint8Array | string): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  (realWriteHead as (this: ServerResponse, status: number, reason: string, headers: string[]) => ServerResponse).call(res, status, reason, headers);
  (realEnd as (this: ServerResponse, body: Uint8Array | string) => ServerResponse).call(res, body);
}

/**
 * @param innerStatus the status inside: left on `res.statusCode` once the outer 200 is
 * written, so what runs when the response finished (fastify's onResponse hooks and its
 * "request completed" log, Express loggers) reports the application's status, as without
 * OSCORE, not the outer 200 that every protected response has (RFC 8613 §4.2, §11.1).
 * @param close the application's response asked to close the connection.
 */
function writeProtected(res: ServerResponse, option: Uint8Array, payload: Uint8Array, outer: HeaderList, innerStatus: number, close = false): void {
  if (res.destroyed) return;
  const headers: string[] = [
    'content-type',
    APPLICATION_OSCORE,
    'oscore',
    encodeOscoreHeader(option),
    'content-length',
    String(payload.length),
    // RFC 8613 §11.1: OSCORE messages are not useful from a cache.
    'cache-control',
    'no-store',
  ];
  for (const [name, value] of outer) headers.push(name, value);
  // Connection is hop-by-hop, so it never travels inside; but an application (or fastify
  // while it closes) that asks to close the connection has it closed, announced as HTTP
  // wants it (RFC 9112 §9.6): Node ends the socket after a response with this field.
  if (close) headers.push('connection', 'close');
  // "OK" given explicitly: the inner reason phrase (and with it the inner status) stays inside.
  sendOwn(res, 200, 'OK', headers, payload);
  res.statusCode = innerStatus; // the head is written: this changes nothing on the wire
}

/** Whether a response's fields ask to close the connection (`Connection: close`, RFC 9112 §9.6). */
function asksToClose(headers: HeaderList): boolean {
  for (const [name, value] of headers) if (name === 'connection' && /(?:^|,)\s*close\s*(?:,|$)/i.test(value)) return true;
  return false;
}

/**
 * Whether a field occurs more than once in Node's flat `rawHeaders` list. Node keeps only
 * the first Content-Type and drops the others, so `req.headers` cannot show a repeat; a
 * request with two media types has no single one (RFC 9110 §5.3), and one hop may read
 * the other (`name` in lower case).
 */
function isRepeated(rawHeaders: readonly string[], name: string): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (field.length !== name.length || field.toLowerCase() !== name) continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

/**
 * Wraps a request listener so that every request must be OSCORE-protected.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createOscoreHandler, loadContextFile } from '@oscore-http/http';
 * const contexts = loadContextFile('contexts.json');
 * const listener = createOscoreHandler({ contexts, allowUnprotected: ['GET /health'] }, app);
 * createServer(listener).on('checkContinue', listener.checkContinue).listen(8080);
 * ```
 */
export function createOscoreHandler(options: OscoreServerOptions, next: Next): OscoreRequestListener {
  const lookup = toLookup(options.contexts);
  const policy = createHeaderPolicy(options.headers);
  const outerPaths = new Set(typeof options.outerPath === 'string' ? [options.outerPath] : (options.outerPath ?? [DEFAULT_OUTER_PATH, '/']));
  const maxBodySize = sizeOption('maxBodySize', options.maxBodySize, DEFAULT_MAX_BODY_SIZE);
  const maxHeaderSize = sizeOption('maxHeaderSize', options.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE);
  const maxResponseSize = sizeOption('maxResponseSize', options.maxResponseSize, maxBodySize);
  const limits = { maxHeaderSize };
  // The ciphertext carries the body, the protected fields, the path and query, a code, markers and a tag.
  const maxOuterBody = maxBodySize + maxHeaderSize + 64 * 1024;
  const allowed = compileAllowList(options.allowUnprotected);
  const onEvent = options.onEvent;
  const echo = new EchoIssuer(options.echoMaxAge);
  const challenges = new SentChallenges(echo.maxAgeSeconds);

  function report(type: OscoreServerEvent['type'], error: OscoreError, status: number, isProtected: boolean, kid: string | undefined, peer: string | undefined, request?: IncomingMessage): void {
    if (onEvent === undefined) return;
    // A failing observer must not change how the request is answered, nor, being async, end the process with an unhandled rejection.
    try {
      const event: OscoreServerEvent = { type, error, status, protected: isProtected, kid, peer };
      // Not enumerable: an observer that logs the whole event (pino, console, JSON) must not
      // write out the decrypted request — its headers, target and body (docs/observability.md).
      if (request !== undefined) Object.defineProperty(event, 'request', { value: request, enumerable: false });
      const pending = onEvent(event);
      if (pending instanceof Promise) pending.catch(() => {});
    } catch {
      // ignored (above)
    }
  }

  function reject(res: ServerResponse, err: OscoreError, kid?: string): void {
    report('rejected', err, sendUnprotected(res, err), false, kid, undefined);
  }

  async function sendProtectedResponse(
    res: ServerResponse,
    binding: RequestBinding,
    captured: CapturedResponse,
    info: OscoreRequestInfo,
    method: string,
    release: () => void,
    inner: IncomingMessage,
    failure: ApplicationFailedError | undefined,
  ): Promise<void> {
    const head = method === 'HEAD';
    let outer: HeaderList = [];
    let status = captured.status;
    let sent: { option: Uint8Array; payload: Uint8Array };
    try {
      if (captured.failed) throw failure ?? new InternalError();
      if (captured.overflow) throw new ResponseTooLargeError(maxResponseSize);
      const split = policy.split(captured.headers);
      outer = withoutHost(split.outer);
      // Checked before protecting: once the response is protected, its binding is spent,
      // and a field Node refuses in writeHead could then only be answered unprotected.
      for (const [name, value] of outer) if (!isFieldValue(value)) throw new UnmappableMessageError(`the value of the outer field "${name}" is not a valid field value`);
      // A HEAD answer's Content-Length is the GET representation's, not framing (RFC 9110
      // §9.3.2): it travels inside, protected, so the client can report it.
      const headLength = head ? captured.headers.find(([name]) => name === 'content-length') : undefined;
      const inner = headLength === undefined ? split.inner : [...split.inner, headLength];
      // The request's method picks CoAP's success code (2.04 for POST/PUT, 2.02 for DELETE; RFC 7252 §5.8, §10.1).
      const message = encodeResponse({ status: captured.status, statusMessage: captured.statusMessage, headers: inner, body: captured.body }, limits, method);
      sent = await protectResponse(binding, message);
    } catch (err) {
      const error = err instanceof OscoreError ? err : new ResponseTooLargeError(maxResponseSize);
      // The application's response cannot be protected: answer with a protected 500 instead (§8.3).
      try {
        const reason = Buffer.from(diagnosticOf(error));
        const message = encodeResponse({ status: 500, headers: [['content-type', 'text/plain; charset=utf-8']], body: reason }, limits);
        sent = await protectResponse(binding, message);
        outer = [];
        status = 500;
        report('response-failed', error, 500, true, info.kid, info.peer, inner);
      } catch (again) {
        release();
        const final = again instanceof OscoreError ? again : error;
        report('response-failed', final, sendUnprotected(res, final), false, info.kid, info.peer, inner);
        return;
      }
    }
    release();
    writeProtected(res, sent.option, sent.payload, outer, status, asksToClose(captured.headers));
  }

  async function sendProtectedError(res: ServerResponse, binding: RequestBinding, err: OscoreError, info: OscoreRequestInfo): Promise<void> {
    const status = httpStatusOf(err);
    const mapped = encodeResponse({ status, headers: [['content-type', 'text/plain; charset=utf-8']], body: Buffer.from(diagnosticOf(err)) }, limits);
    // The CoAP code is the outcome itself where it maps to the same status, so an RFC 8613
    // peer reads 4.02 for an unrecognized critical option (RFC 7252 §5.4.1) and 4.05 for an
    // unsupported method (§5.8), not the 4.00 that HTTP 400 alone would give.
    const code = err.outcome === undefined ? undefined : outcomeCode(err.outcome);
    const message = code !== undefined && codeToStatus(code, true) === status ? { ...mapped, code } : mapped;
    const sent = await protectResponse(binding, message);
    writeProtected(res, sent.option, sent.payload, [], status);
    report('rejected', err, status, true, info.kid, info.peer);
  }

  /**
   * "the server responds with an OSCORE protected 4.01 (Unauthorized), containing only the
   * Echo option and no diagnostic payload. The server MUST use its Partial IV when
   * generating the AEAD nonce and MUST include the Partial IV in the response" (Appendix B.1.2).
   */
  async function sendEchoChallenge(res: ServerResponse, binding: RequestBinding, info: OscoreRequestInfo): Promise<void> {
    // A copy of a request already challenged gets the same challenge (SentChallenges).
    const sent = await challenges.challenge(`${info.context.recipientStateId}/${info.sequenceNumber}`, () => {
      const challenge = { code: coapCode(4, 1), options: [{ number: ECHO_OPTION, value: echo.issue(info.context.recipientStateId) }], payload: new Uint8Array(0) };
      return protectResponse(binding, challenge, { partialIV: true });
    });
    writeProtected(res, sent.option, sent.payload, [], 401);
    report('rejected', new FreshnessRequiredError(), 401, true, info.kid, info.peer);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // RFC 8613 §11.1: the OSCORE header field "is only used in POST requests", with
    // Content-Type application/oscore, at an outer request target this server exposes.
    if (!outerPaths.has(pathOf(req.url))) return reject(res, new OuterPathError());
    if (req.method !== 'POST') return reject(res, new OuterMethodError());
    if (!isOscoreContentType(req.headers['content-type']) || isRepeated(req.rawHeaders, 'content-type')) return reject(res, new UnsupportedMediaTypeError());
    let option: Uint8Array;
    let body: Uint8Array;
    try {
      option = decodeOscoreHeader(req.headers.oscore);
      if (Number(req.headers['content-length'] ?? 0) > maxOuterBody) throw new BodyTooLargeError(maxOuterBody, 'request');
      // Every check the header fields allow has passed: only now is the body asked for (RFC 9110 §10.1.1).
      sendContinue(res);
      body = await readBody(req, maxOuterBody);
    } catch (err) {
      if (err instanceof OscoreError) return reject(res, err);
      if (req.destroyed || req.socket.destroyed) return; // the client went away while sending
      throw err; // a defect: answered as one (fail)
    }
    let verified;
    try {
      verified = await verifyRequest(lookup, option, body, FRESHNESS_BY_CALLER);
    } catch (err) {
      if (!(err instanceof OscoreError)) throw err;
      // Authentic, but its plaintext is malformed: CoAP processing, answered protected (§8.3).
      if (err instanceof MalformedPlaintextError && err.binding !== undefined) return sendProtectedError(res, err.binding, err, infoOf(err.binding, option));
      return reject(res, err, kidOf(option));
    }
    const { context, binding } = verified;
    const info = infoOf(binding, option);
    try {
      // A Sender Key past 'limit_q' (or a context past 'exp') could not protect the answer:
      // the request is refused before anything acts on it (draft-ietf-core-oscore-key-limits §2.3.1).
      const usable = assertCanProtect(context);
      if (usable !== undefined) await usable;
    } catch (err) {
      if (!(err instanceof OscoreError)) throw err;
      return reject(res, err, info.kid);
    }
    const value = echoOptionOf(verified.message.options)?.value;
    // A good Echo value is spent by the request that carries it, also when the window was
    // re-established meanwhile by another answer to a challenge (concurrent requests): else
    // a captured copy of this request would still hold an unspent value, and prove its
    // freshness again after a second loss of the window.
    const echoed = value !== undefined && echo.verify(value, context.recipientStateId);
    if (!verified.fresh) {
      // The replay window was lost (a restart without its state): the request may be a
      // replay. Appendix B.1.2: challenge with Echo; a request that returns a value we
      // issued is fresh and sets the window's lower limit.
      if (!echoed) return sendEchoChallenge(res, binding, info);
      try {
        await establishFreshness(verified);
      } catch (err) {
        if (!(err instanceof OscoreError)) throw err;
        return reject(res, err, info.kid);
      }
    }
    let parts;
    try {
      parts = decodeRequest(verified.message, limits);
      if (parts.body.length > maxBodySize) throw new BodyTooLargeError(maxBodySize, 'request');
    } catch (err) {
      if (!(err instanceof OscoreError)) throw err;
      return sendProtectedError(res, binding, err, info);
    }
    const inner = createInnerRequest(req, parts, policy.keepInner(parts.headers), policy.passThroughRaw(req.rawHeaders), info);
    let failure: ApplicationFailedError | undefined;
    const release = captureResponse(res, maxResponseSize, parts.method === 'HEAD', (captured) => {
      sendProtectedResponse(res, binding, captured, info, parts.method, release, inner, failure).catch((err: unknown) => fail(res, err, info, inner));
    });
    // A client that goes away before the answer aborts the inner request as Node aborts a
    // plain one (IncomingMessage 'aborted', then 'close'): frameworks cancel work on it
    // (fastify: request.signal, onRequestAbort hooks). Nothing to do once it has closed.
    // Also run when the socket closes first (pendingAborts); it leaves the socket's list at
    // the response's 'close', which Node emits after every finish (the tick after), so no
    // 'finish' listener of its own is needed.
    const pending = pendingAborts(req.socket);
    const abort = (): void => {
      unlist(pending, abort);
      if (!res.writableFinished && !inner.destroyed) {
        inner.aborted = true;
        inner.destroy();
      }
    };
    // `on`, not `once`: a response closes once, and abort is a no-op when called again;
    // `once` would wrap the listener and remove it again on every request.
    res.on('close', abort);
    pending.push(abort);
    // A bare node:http listener that throws (frameworks catch their own): the request is
    // verified, so it is answered protected (§8.3), a 500 without what the listener wrote.
    const failed = (err: unknown): boolean => {
      failure = new ApplicationFailedError(err); // read by the capture's callback, which abandoning runs
      if (abandonResponse(res)) return true;
      failure = undefined; // it had answered: the answer stands
      return false;
    };
    try {
      const result = next(inner, res);
      // An async listener that rejects before it answered: the same (else the request would
      // hang). After it answered, the rejection is left unhandled, as node:http leaves it.
      if (isThenable(result)) {
        result.then(undefined, (err: unknown) => {
          if (!failed(err)) throw err;
        });
      }
    } catch (err) {
      failed(err);
    }
    // The client left while the request was being verified: the close is past, so the
    // request is aborted now that the application has its listeners on it.
    if (req.socket.destroyed) abort();
  }

  function fail(res: ServerResponse, err: unknown, info?: OscoreRequestInfo, inner?: IncomingMessage): void {
    // A defect, not a protocol outcome: answer without detail and keep serving.
    const error = err instanceof OscoreError ? err : new InternalError();
    report('response-failed', error, sendUnprotected(res, error), false, info?.kid, info?.peer, inner);
  }

  function oscoreRequestListener(req: IncomingMessage, res: ServerResponse): void {
    const isOscore = req.headers.oscore !== undefined || isOscoreContentType(req.headers['content-type']);
    if (!isOscore) {
      if (!allowed(req)) return reject(res, new OscoreRequiredError());
      sendContinue(res); // the application's framework does not know it was asked
      void next(req, res); // unprotected: as node:http would run it, a rejection included
      return;
    }
    handle(req, res).catch((err: unknown) => fail(res, err));
  }
  return Object.assign(oscoreRequestListener, {
    checkContinue(req: IncomingMessage, res: ServerResponse): void {
      awaitingContinue.add(res);
      oscoreRequestListener(req, res);
    },
  });
}

/** Aborts of the inner requests whose responses a socket has not finished sending. */
const PENDING_ABORTS = Symbol('oscore-http.pending-aborts');
type TrackedSocket = Socket & { [PENDING_ABORTS]?: (() => void)[] };

/** A promise of any origin (another realm, a library's own): what `await` would wait for. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * The aborts to call if `socket` closes before their responses finished. A pipelined
 * response queued behind another has no socket yet and never emits 'close' of its own; Node
 * aborts the outer request instead, which is already read to its end. One listener per
 * socket, however many requests are pipelined on it. An array, not a Set: a keep-alive
 * socket adds and removes one entry per request, and a Set rebuilds its table every few
 * such removals — garbage that outlives a scavenge (bench/README.md).
 */
function pendingAborts(socket: Socket): (() => void)[] {
  const tracked = socket as TrackedSocket;
  let pending = tracked[PENDING_ABORTS];
  if (pending === undefined) {
    const list: (() => void)[] = [];
    tracked[PENDING_ABORTS] = pending = list;
    socket.once('close', () => {
      for (const a of list.splice(0)) a();
    });
  }
  return pending;
}

/** Removes `abort` from a socket's list, if it is still there (order does not matter). */
function unlist(pending: (() => void)[], abort: () => void): void {
  const i = pending.indexOf(abort);
  if (i === -1) return;
  pending[i] = pending[pending.length - 1]!;
  pending.pop();
}

/** The CoAP code of an outcome such as `'4.02'`. */
function outcomeCode(outcome: string): number {
  const [cls, detail] = outcome.split('.');
  return coapCode(Number(cls), Number(detail));
}

/**
 * The request kid in hex, per context. A server binding's kid is its context's Recipient
 * ID (verifyRequest), so it is the same string for every request of a context: made
 * once, not a copy of the kid (`binding.kid`) and a new string per request.
 */
const kidHexes = new WeakMap<SecurityContext, string>();

function kidHexOf(binding: RequestBinding): string {
  let hex = kidHexes.get(binding.context);
  if (hex === undefined) kidHexes.set(binding.context, (hex = toHex(binding.kid)));
  return hex;
}

function infoOf(binding: RequestBinding, option: Uint8Array): OscoreRequestInfo {
  const context = binding.context;
  return Object.freeze({ context, peer: context.name, kid: kidHexOf(binding), kidContext: kidContextOf(option), sequenceNumber: binding.sequenceNumber });
}

/** The outer fields without Host, which the outer response never carries; the list itself when it has none (the usual case). */
function withoutHost(outer: HeaderList): HeaderList {
  for (const [name] of outer) if (name === 'host') return outer.filter(([n]) => n !== 'host');
  return outer;
}

function kidOf(option: Uint8Array): string | undefined {
  try {
    const kid = decodeOscoreOption(option).kid;
    return kid === undefined ? undefined : toHex(kid);
  } catch {
    return undefined;
  }
}

/** The flag bit of a 'kid context' in the option's first byte (RFC 8613 §6.1, h). */
const FLAG_KID_CONTEXT = 0x10;

function kidContextOf(option: Uint8Array): string | undefined {
  // Most requests carry none: no second decode of the option for them.
  if (option.length === 0 || (option[0]! & FLAG_KID_CONTEXT) === 0) return undefined;
  const kidContext = decodeOscoreOption(option).kidContext;
  return kidContext === undefined ? undefined : toHex(kidContext);
}

