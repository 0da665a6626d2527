/**
 * The suite's raw OSCORE client. It builds requests the way RFC 8613 §11 says — the
 * HTTP request mapped to an inner message (RFC 8075, @oscore-http/http), protected
 * (§8.1, @oscore-http/core), sent as `POST` with `OSCORE` and `application/oscore`
 * (§11.1) — but sends them with undici's plain `request`, without the interceptor, so a
 * test can alter, replay or reorder the outer message before it goes. It verifies
 * answers the way §8.4 says, against the request they answer.
 */

import { Agent, request } from 'undici';
import {
  coapCode,
  decodeOscoreOption,
  OscoreError,
  protectRequest,
  verifyResponse,
  type CoapOption,
  type InnerMessage,
  type OscoreOptionFields,
  type RequestBinding,
  type SecurityContext,
} from '@oscore-http/core';
import {
  APPLICATION_OSCORE,
  ECHO_OPTION,
  decodeOscoreHeader,
  decodeResponse,
  encodeOscoreHeader,
  encodeRequest,
  isOscoreContentType,
  type HttpResponseParts,
} from '@oscore-http/http';
import type { SuiteSequence } from './sequence.js';

/** Header fields in order, names in lower case. */
export type FieldList = readonly (readonly [string, string])[];

/** An HTTP request before protection: what the application on the other side should see. */
export interface InnerRequest {
  readonly method: string;
  /** Origin-form target: path and query. */
  readonly target: string;
  readonly headers?: FieldList;
  readonly body?: Uint8Array;
  /** An Echo option value to return to the server (RFC 9175 §2.3; RFC 8613 Appendix B.1.2). */
  readonly echo?: Uint8Array;
  /** Changes to the mapped CoAP message, for tests of the server's CoAP processing (RFC 8613 §8.3): another code, more options. */
  readonly coap?: { readonly code?: number; readonly options?: readonly CoapOption[] };
}

/** An HTTP request exactly as it goes on the wire. */
export interface OuterRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: FieldList;
  readonly body: Uint8Array;
}

/** A protected request: the outer message, and the binding its response must verify against. */
export interface ProtectedRequest {
  readonly inner: InnerRequest;
  readonly outer: OuterRequest;
  /** The OSCORE option value (RFC 8613 §6.1) in the `OSCORE` field. */
  readonly option: Uint8Array;
  readonly binding: RequestBinding;
  readonly sequenceNumber: number;
}

/**
 * What came back, unjudged. `status` is absent when no response arrived; with `status`,
 * `error` says the body did not arrive whole (`body` then holds what did).
 */
export interface RawResponse {
  readonly status?: number | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Uint8Array;
  readonly error?: string | undefined;
  readonly durationMs: number;
}

/** A response judged by RFC 8613 §11.1 and §8.4. */
export type Verification =
  | { readonly kind: 'none'; readonly error: string }
  | { readonly kind: 'unprotected'; readonly status: number }
  | { readonly kind: 'protected'; readonly verified: false; readonly error: string }
  | {
      readonly kind: 'protected';
      readonly verified: true;
      /** The inner response as HTTP (RFC 8075 mapping). */
      readonly response: HttpResponseParts;
      /** The inner response as CoAP, with options the HTTP mapping does not carry (e.g. Echo). */
      readonly message: InnerMessage;
      readonly option: OscoreOptionFields;
    };

/** Options of {@link SuiteClient}. */
export interface SuiteClientOptions {
  /** The target's origin, e.g. `http://127.0.0.1:8613`. */
  readonly origin: string;
  /** The outer request target of OSCORE requests (docs/wire-format.md §1). */
  readonly outerPath: string;
  /** The client's security context; its Sender Sequence Numbers come from `sequence`. */
  readonly context: SecurityContext;
  readonly sequence: SuiteSequence;
  /**
   * Per-request limit for the response headers and for each pause in the body, in ms. A
   * whole exchange gets {@link EXCHANGE_TIMEOUT_FACTOR} times as long: a target that
   * drips its body a byte at a time must not hold the run forever.
   */
  readonly timeoutMs: number;
}

/** A whole exchange, request sent to response read, may take this many times the timeout. */
export const EXCHANGE_TIMEOUT_FACTOR = 3;

/** CoAP 4.01 Unauthorized. */
const UNAUTHORIZED = coapCode(4, 1);

/** Responses are read up to this many bytes; the rest is dropped. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The first value of a header field. */
export function fieldOf(headers: RawResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The Echo value of a verified 4.01 response: the server lost its replay window and asks
 * the client to prove freshness (RFC 8613 Appendix B.1.2; RFC 9175 §2.4).
 */
export function echoChallengeOf(v: Verification): Uint8Array | undefined {
  if (v.kind !== 'protected' || !v.verified || v.message.code !== UNAUTHORIZED) return undefined;
  return v.message.options.find((o) => o.number === ECHO_OPTION)?.value;
}

/** Whether a response carries any sign of OSCORE protection (RFC 8613 §11.1). */
export function looksProtected(response: RawResponse): boolean {
  return isOscoreContentType(fieldOf(response.headers, 'content-type')) || response.headers.oscore !== undefined;
}

function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e.cause?.code === 'string') return e.cause.code;
  if (typeof e.code === 'string') return e.code;
  return err instanceof Error ? err.message : String(err);
}

/** Reads up to MAX_RESPONSE_BYTES into `chunks` (so that what arrived is kept if the rest fails). */
async function readCapped(body: AsyncIterable<Uint8Array>, chunks: Uint8Array[]): Promise<void> {
  let size = 0;
  for await (const chunk of body) {
    if (size + chunk.length > MAX_RESPONSE_BYTES) break;
    chunks.push(chunk);
    size += chunk.length;
  }
}

/** Sends protected, altered and plain requests to one target. */
export class SuiteClient {
  readonly origin: string;
  readonly outerPath: string;
  readonly context: SecurityContext;
  readonly sequence: SuiteSequence;
  readonly #timeoutMs: number;
  // A plain agent: no OSCORE interceptor, no retries (a retried ciphertext is a replay).
  readonly #agent = new Agent({ pipelining: 1 });

  constructor(options: SuiteClientOptions) {
    this.origin = options.origin;
    this.outerPath = options.outerPath;
    this.context = options.context;
    this.sequence = options.sequence;
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * Maps and protects `inner` (RFC 8613 §8.1, §11.4) into the outer message of §11.1.
   * @param sequenceNumber a number reserved with `sequence.reserve`; default the next one.
   */
  async protect(inner: InnerRequest, sequenceNumber?: number): Promise<ProtectedRequest> {
    const mapped = encodeRequest({
      method: inner.method,
      target: inner.target,
      headers: (inner.headers ?? []).map(([name, value]) => [name, value] as [string, string]),
      body: inner.body ?? new Uint8Array(0),
    });
    // The Echo option is Class E (RFC 9175 §2.2.1): it travels inside, like the mapped options.
    const extra = [...(inner.echo === undefined ? [] : [{ number: ECHO_OPTION, value: inner.echo }]), ...(inner.coap?.options ?? [])];
    const message = extra.length === 0 && inner.coap?.code === undefined ? mapped : { code: inner.coap?.code ?? mapped.code, options: [...mapped.options, ...extra], payload: mapped.payload };
    if (sequenceNumber !== undefined) this.sequence.use(sequenceNumber);
    const { option, payload, binding } = await protectRequest(this.context, message);
    const outer: OuterRequest = {
      method: 'POST',
      path: this.outerPath,
      headers: [
        ['content-type', APPLICATION_OSCORE],
        ['oscore', encodeOscoreHeader(option)],
      ],
      body: payload,
    };
    return { inner, outer, option, binding, sequenceNumber: binding.sequenceNumber };
  }

  /**
   * Sends `outer` as it is. Never throws: a network failure is a response without status,
   * and a body that fails after the status line keeps that status (a target that answers a
   * replay with a protected 200 and then stalls has still answered it).
   */
  async send(outer: OuterRequest): Promise<RawResponse> {
    const started = performance.now();
    const hasBody = outer.body.length > 0 || (outer.method !== 'GET' && outer.method !== 'HEAD');
    // Node's timers hold at most 2^31 − 1 ms (about 24.8 days); a longer one would fire at once.
    const limit = Math.min(this.#timeoutMs * EXCHANGE_TIMEOUT_FACTOR, 2 ** 31 - 1);
    const signal = AbortSignal.timeout(limit);
    const failure = (err: unknown) => (signal.aborted ? `no complete response within ${limit} ms` : errorCode(err));
    let res;
    try {
      res = await request(new URL(outer.path, this.origin), {
        dispatcher: this.#agent,
        method: outer.method,
        headers: outer.headers.flat(),
        body: hasBody ? Buffer.from(outer.body.buffer, outer.body.byteOffset, outer.body.length) : null,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        signal,
      });
    } catch (err) {
      return { headers: {}, body: new Uint8Array(0), error: failure(err), durationMs: performance.now() - started };
    }
    const chunks: Uint8Array[] = [];
    let error: string | undefined;
    try {
      await readCapped(res.body, chunks);
    } catch (err) {
      error = failure(err);
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), error, durationMs: performance.now() - started };
  }

  /**
   * Judges `response` as the answer to the request of `binding` (RFC 8613 §11.1, §8.4).
   * Verification spends the binding when it succeeds: a request accepts one response (§7.4).
   */
  async verify(response: RawResponse, binding: RequestBinding | undefined): Promise<Verification> {
    if (response.status === undefined) return { kind: 'none', error: response.error ?? 'no response' };
    if (!looksProtected(response)) return { kind: 'unprotected', status: response.status };
    if (response.error !== undefined) return { kind: 'protected', verified: false, error: `the body did not arrive whole (${response.error})` };
    const oscore = response.headers.oscore;
    // §11.1: the OSCORE field is used only in 200 responses with Content-Type application/oscore.
    if (response.status !== 200 || !isOscoreContentType(fieldOf(response.headers, 'content-type')) || oscore === undefined) {
      return { kind: 'protected', verified: false, error: `not framed as RFC 8613 §11.1 requires (status ${response.status}, application/oscore and OSCORE)` };
    }
    if (binding === undefined) return { kind: 'protected', verified: false, error: 'no unused request to verify it against: a request accepts one response, RFC 8613 §7.4' };
    try {
      const option = decodeOscoreHeader(oscore);
      const { message } = await verifyResponse(binding, option, response.body);
      return { kind: 'protected', verified: true, response: decodeResponse(message), message, option: decodeOscoreOption(option) };
    } catch (err) {
      return { kind: 'protected', verified: false, error: err instanceof OscoreError ? err.code : errorCode(err) };
    }
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}
