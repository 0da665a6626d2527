/**
 * The handler that stands between the network and the caller's handler: it buffers the
 * outer response, verifies it against the request it answers (RFC 8613 §8.4) and only
 * then plays the inner response to the caller. Nothing unverified reaches the caller.
 */

import type { Dispatcher } from 'undici';
import type { DeferredController } from './controller.js';
import { verifyResponse, type RequestBinding } from '@oscore-http/core';
import {
  BodyBuffer,
  BodyTooLargeError,
  decodeOscoreHeader,
  decodeResponse,
  ECHO_MAX_LENGTH,
  echoOptionOf,
  firstValue,
  isOscoreContentType,
  OuterContentEncodingError,
  UnprotectedResponseError,
  type HeaderList,
  type HeaderPolicy,
} from '@oscore-http/http';

type Controller = Dispatcher.DispatchController;

const UNAUTHORIZED = 0x81; // 4.01
type Handler = Dispatcher.DispatchHandler;
type Headers = Record<string, string | string[]>;

/** A short, printable excerpt of an unprotected diagnostic body (it is not authenticated). */
function diagnosticExcerpt(headers: Headers, body: Buffer): string | undefined {
  const type = headers['content-type'];
  if (typeof type !== 'string' || !type.startsWith('text/plain') || body.length === 0 || body.length > 256) return undefined;
  const text = body.toString('latin1').replace(/[^\x20-\x7e]/g, '').trim();
  return text === '' ? undefined : text.slice(0, 120);
}

/** The content of a response that has none (HEAD, 204, 304). */
const NO_CONTENT = new Uint8Array(0);

/** The outer fields before a response started: one empty object for all exchanges, never written to. */
const NO_HEADERS: Headers = Object.freeze({}) as Headers;

/**
 * The fields as undici's parseHeaders gives them: own properties only. Read through the
 * prototype, a field named `constructor` began as `[Object, value]`, and one named
 * `__proto__` set the object's prototype to an array of the server's values.
 */
function headerObject(list: HeaderList): Headers {
  const out: Headers = {};
  for (const [name, value] of list) {
    const prev = Object.hasOwn(out, name) ? out[name] : undefined;
    if (prev === undefined) {
      if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, configurable: true, writable: true });
      else out[name] = value;
    } else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

/** What the response handler needs to know about its exchange. */
export interface ExchangeSettings {
  readonly policy: HeaderPolicy;
  /** Largest outer response body, in bytes. */
  readonly limit: number;
  /** Largest inner response body, in bytes (the `maxResponseSize` option). */
  readonly bodyLimit: number;
  /** Largest total of the response's protected header fields, in bytes (the `maxHeaderSize` option). */
  readonly maxHeaderSize: number;
  /** The request was HEAD: its answer reports the Content-Length the server protected. */
  readonly head: boolean;
}

export class OscoreResponseHandler implements Handler {
  readonly #handler: Handler;
  /** The controller the caller's handler holds (controller.ts); the transport's is attached to it. */
  readonly #controller: DeferredController;
  readonly #binding: RequestBinding;
  readonly #exchange: ExchangeSettings;
  #status = 0;
  #headers: Headers = NO_HEADERS;
  #body: BodyBuffer | undefined;
  #failed = false;
  readonly #done: () => void;
  readonly #retryWithEcho: ((echo: Uint8Array) => void) | undefined;

  /**
   * @param done called once when the exchange is over (answered or failed): frees the request's place in the gate.
   * @param retryWithEcho sends the request again with an Echo value; given for the first attempt only.
   */
  constructor(handler: Handler, controller: DeferredController, binding: RequestBinding, exchange: ExchangeSettings, done: () => void, retryWithEcho?: (echo: Uint8Array) => void) {
    this.#handler = handler;
    this.#controller = controller;
    this.#binding = binding;
    this.#exchange = exchange;
    this.#done = done;
    this.#retryWithEcho = retryWithEcho;
  }

  onRequestStart(controller: Controller): void {
    // The caller's handler got its controller when the request was made.
    this.#controller.attach(controller);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Headers): void {
    if (statusCode < 200) return; // interim responses carry nothing for the caller
    this.#status = statusCode;
    this.#headers = headers;
    const length = headers['content-length'];
    const declared = typeof length === 'string' ? Number(length) : undefined;
    if (declared !== undefined && declared > this.#exchange.limit) {
      // It can only end in BodyTooLargeError: fail now, as the server does with such a
      // request, instead of waiting (up to bodyTimeout, or for ever without one) for bytes
      // that would be refused anyway.
      this.#failed = true;
      controller.abort(new BodyTooLargeError(this.#exchange.bodyLimit, 'response'));
      return;
    }
    this.#body = new BodyBuffer(this.#exchange.limit, declared);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#failed) return;
    this.#body ??= new BodyBuffer(this.#exchange.limit);
    if (this.#body.push(chunk)) return;
    this.#failed = true;
    this.#body = undefined;
    controller.abort(new BodyTooLargeError(this.#exchange.bodyLimit, 'response'));
  }

  onResponseEnd(controller: Controller): void {
    this.#controller.detach();
    this.#done();
    if (this.#failed) return;
    this.#verify().catch((err: unknown) => this.#handler.onResponseError?.(this.#controller, err as Error));
  }

  onResponseError(_controller: Controller, err: Error): void {
    this.#done();
    this.#handler.onResponseError?.(this.#controller, err);
  }

  async #verify(): Promise<void> {
    const controller = this.#controller;
    const body = this.#body?.bytes() ?? Buffer.alloc(0);
    this.#body = undefined;
    const headers = this.#headers;
    // RFC 8613 §11.1: a protected response is 200 with application/oscore and the OSCORE field.
    if (this.#status !== 200 || !isOscoreContentType(headers['content-type']) || headers.oscore === undefined) {
      throw new UnprotectedResponseError(this.#status, diagnosticExcerpt(headers, body));
    }
    // The server sends the ciphertext as it is: a coding was applied on the path (a content
    // coding, or a transfer coding other than chunked, which undici does not decode), and
    // the bytes are not the ciphertext. Refused before the AEAD runs, which would count them
    // as a failed decryption against the Recipient Key's limit_v (draft-ietf-core-oscore-
    // key-limits §2.2) — a compressing hop would retire the context for good, its count stored.
    const coding = headers['content-encoding'];
    const transfer = headers['transfer-encoding'];
    if (
      (coding !== undefined && (typeof coding !== 'string' || !/^\s*(identity\s*)?$/i.test(coding))) ||
      (transfer !== undefined && (typeof transfer !== 'string' || !/^\s*chunked\s*$/i.test(transfer)))
    ) {
      throw new OuterContentEncodingError();
    }
    const option = decodeOscoreHeader(headers.oscore);
    const { message } = await verifyResponse(this.#binding, option, body);
    // The caller may have aborted while the response was verified; the transport is done, so
    // the abort is reported here (undici's contract: after abort, only onResponseError).
    controller.throwIfAborted();
    // A verified 4.01 with Echo: the server needs this request's freshness proved (RFC 9175
    // §2.4; RFC 8613 Appendix B.1.2). Send it once more, with the Echo value, as a new request.
    // An Echo value outside 1-40 bytes is an elective option out of its range: ignored
    // (RFC 9175 §2.2.1, RFC 7252 §5.4.3), so the caller gets the 4.01 as it is.
    const echo = message.code === UNAUTHORIZED ? echoOptionOf(message.options) : undefined;
    if (echo !== undefined && echo.value.length >= 1 && echo.value.length <= ECHO_MAX_LENGTH && this.#retryWithEcho !== undefined) {
      this.#retryWithEcho(echo.value);
      return;
    }
    const response = decodeResponse(message, this.#exchange);
    // The outer limit leaves room for header fields and the tag; the option bounds the body.
    if (response.body.length > this.#exchange.bodyLimit) throw new BodyTooLargeError(this.#exchange.bodyLimit, 'response');
    const exchange = this.#exchange;
    // The answer to HEAD and every 204 and 304 end with their header section (RFC 9110 §6.4.1,
    // §9.3.2, §15.3.5, §15.4.5): a payload the server put in one anyway is not played, as
    // undici's own client never delivers content for them and its callers rely on that.
    const content = exchange.head || response.status === 204 || response.status === 304 ? NO_CONTENT : response.body;
    // A HEAD answer reports the GET representation's length, which the server protected (RFC 9110 §9.3.2).
    const headLength = exchange.head ? firstValue(response.headers, 'content-length') : undefined;
    const list = exchange.policy.keepInner(response.headers);
    list.push(['content-length', headLength !== undefined && /^\d{1,15}$/.test(headLength) ? headLength : String(exchange.head ? response.body.length : content.length)]);
    const passed = exchange.policy.passThrough(headers); // by default none
    if (passed.length > 0) {
      const present = new Set(list.map(([n]) => n));
      for (const entry of passed) if (!present.has(entry[0])) list.push(entry);
    }
    controller.setResponseHeaders(list);
    // A handler may abort from its own callbacks (undici's dump interceptor does, fetch on
    // termination): nothing follows an abort but onResponseError with its reason.
    // A handler may also pause: it then gets nothing more until it resumes (undici's contract;
    // see DeferredController.resumed).
    this.#handler.onResponseStart?.(controller, response.status, headerObject(list), response.statusMessage ?? '');
    controller.throwIfAborted();
    if (controller.paused) await controller.resumed();
    if (content.length > 0) {
      this.#handler.onResponseData?.(controller, Buffer.from(content.buffer, content.byteOffset, content.length));
      controller.throwIfAborted();
      if (controller.paused) await controller.resumed();
    }
    this.#handler.onResponseEnd?.(controller, {});
  }
}

