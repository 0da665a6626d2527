/**
 * The client half of the structure floor (bench/http.mjs modes `structure-client` and
 * `structure-both`): an undici interceptor with the shape of `@oscore-http/undici`
 * (packages/undici/src/interceptor.ts, response-handler.ts) and none of its OSCORE work.
 * The request body is collected, a new outer dispatch is made with fresh options and an
 * outer header object, the response is buffered whole and, after an `await` where the
 * interceptor verifies, played to the caller's handler through the interceptor's own
 * deferred controller — but there is no option, no AEAD, no CoAP codec, no HTTP mapping
 * and no sequence gate: the outer request keeps the caller's method, target and fields,
 * and the response goes to the caller as it came. So `structure-client ×plain` is the
 * best ratio a client built this way could reach if all OSCORE work were free.
 * Measurement only: this is not a protocol, and nothing here is exported by a package.
 */

// The interceptor's own building blocks, from the built packages (they are not public API).
import { collectBody } from '../../packages/undici/dist/body.js';
import { DeferredController } from '../../packages/undici/dist/controller.js';
import { BodyBuffer } from '@oscore-http/http';

function headerObject(list) {
  const out = {};
  for (const [name, value] of list) {
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

/** Buffers the response, then replays it to the caller's handler, as OscoreResponseHandler does after verifying. */
class StructureResponseHandler {
  #handler;
  #controller;
  #limit;
  #status = 0;
  #headers = {};
  #body;

  constructor(handler, controller, limit) {
    this.#handler = handler;
    this.#controller = controller;
    this.#limit = limit;
  }

  onRequestStart(controller) {
    this.#controller.attach(controller);
  }

  onResponseStart(_controller, statusCode, headers) {
    if (statusCode < 200) return;
    this.#status = statusCode;
    this.#headers = headers;
    const length = headers['content-length'];
    this.#body = new BodyBuffer(this.#limit, typeof length === 'string' ? Number(length) : undefined);
  }

  onResponseData(controller, chunk) {
    if (!this.#body.push(chunk)) controller.abort(new Error('response too large'));
  }

  onResponseEnd() {
    this.#controller.detach();
    this.#replay().catch((err) => this.#handler.onResponseError?.(this.#controller, err));
  }

  onResponseError(_controller, err) {
    this.#handler.onResponseError?.(this.#controller, err);
  }

  async #replay() {
    const controller = this.#controller;
    const body = this.#body.bytes();
    await undefined; // the interceptor awaits verifyResponse here
    const list = [];
    for (const name in this.#headers) if (name !== 'content-length') list.push([name, String(this.#headers[name])]);
    list.push(['content-length', String(body.length)]);
    controller.setResponseHeaders(list);
    this.#handler.onResponseStart?.(controller, this.#status, headerObject(list), '');
    if (body.length > 0) this.#handler.onResponseData?.(controller, Buffer.from(body.buffer, body.byteOffset, body.length));
    this.#handler.onResponseEnd?.(controller, {});
  }
}

/** The interceptor: `(dispatch) => (opts, handler) => boolean`, like `oscore()`. */
export function structureInterceptor({ maxBodySize }) {
  return (dispatch) =>
    function structureOnly(opts, handler) {
      const controller = new DeferredController();
      handler.onRequestStart?.(controller, undefined);
      (async () => {
        const { bytes } = await collectBody(opts.body, maxBodySize);
        await undefined; // the interceptor awaits protectRequest here
        const headers = {};
        for (const name in opts.headers) headers[name.toLowerCase()] = opts.headers[name];
        headers.oscore = 'AA'; // the outer OSCORE field the interceptor adds
        const outerOpts = Object.assign({}, opts, {
          method: opts.method,
          path: opts.path,
          query: undefined,
          headers,
          body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
          idempotent: false,
        });
        dispatch(outerOpts, new StructureResponseHandler(handler, controller, maxBodySize + 64 * 1024));
      })().catch((err) => handler.onResponseError?.(controller, err));
      return true;
    };
}
