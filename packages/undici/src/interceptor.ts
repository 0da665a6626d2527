/**
 * The undici interceptor: `(dispatch) => (opts, handler) => …`, usable with
 * `Agent.compose`, so `undici.request`, `undici.fetch` and global `fetch` with that
 * dispatcher protect every request to a configured origin (RFC 8613 §8.1, §11.1) and
 * verify every response against its request (§8.4) before the caller sees it.
 */

import { stringify as stringifyQuery, type ParsedUrlQueryInput } from 'node:querystring';
import { errors, type Dispatcher } from 'undici';
import { MemorySequenceNumberSource, protectRequest, type CryptoBackend, type InnerMessage, type SecurityContext, type SequenceNumberSource } from '@oscore-http/core';
import {
  choiceOption,
  ContextSet,
  contextSetFromOption,
  ContextConfigError,
  createHeaderPolicy,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_HTTP_REPLAY_WINDOW,
  DEFAULT_MAX_HEADER_SIZE,
  DEFAULT_OUTER_PATH,
  ECHO_OPTION,
  encodeOscoreHeader,
  encodeRequest,
  firstValue,
  HostMismatchError,
  httpOriginOf,
  integerOption,
  sizeOption,
  NoContextForOriginError,
  normalizeOrigin,
  toHeaderList,
  APPLICATION_OSCORE,
  UnmappableMessageError,
  type ContextConfig,
  type HeaderPolicyOptions,
} from '@oscore-http/http';
import { collectBody, collectInMemory, isInMemory, type CollectedBody } from './body.js';
import { DeferredController } from './controller.js';
import { isAddressOf } from './host-address.js';
import { SequenceGate } from './sequence-gate.js';
import { OscoreResponseHandler, type ExchangeSettings } from './response-handler.js';

/** Where the client's contexts come from. */
export type ClientContexts =
  | ContextSet
  | string
  | readonly ContextConfig[]
  | ((origin: string) => SecurityContext | undefined)
  | Readonly<Record<string, SecurityContext>>;

/** Options of {@link oscore}. */
export interface OscoreInterceptorOptions {
  /**
   * The contexts, chosen by the request's origin: context configurations with `peer`
   * set, a context file path, a context set, a function of the origin, or an object
   * keyed by origin (`http://billing:8080`).
   */
  readonly contexts: ClientContexts;
  /** What to do with a request to an origin without a context: send it as is (`pass`, default) or fail it (`refuse`). */
  readonly unprotectedOrigins?: 'pass' | 'refuse';
  /** Outer request target, per origin or for all. Default `/oscore`. */
  readonly outerPath?: string | ((origin: string) => string);
  /** Header policy overrides (docs/wire-format.md). */
  readonly headers?: HeaderPolicyOptions;
  /** Largest request body, in bytes; larger ones fail with BodyTooLargeError before anything is sent. Default 1 MiB. */
  readonly maxBodySize?: number;
  /** Largest total of protected header fields, in bytes. Default 16 KiB. */
  readonly maxHeaderSize?: number;
  /** Largest response accepted, in bytes. Default `maxBodySize`. */
  readonly maxResponseSize?: number;
  /**
   * The replay window of the servers this client talks to. Concurrent requests are
   * dispatched so that none arrives further behind the newest than this (see
   * sequence-gate.ts). Default 1024, the default of this project's servers; set it to
   * the peer's window when that is smaller (RFC 8613's default is 32).
   */
  readonly peerReplayWindow?: number;
  /**
   * The crypto backend of the contexts made from a context file or configurations, e.g.
   * `opensslBackend()` of `@oscore-http/openssl`. Default node:crypto. A context set or
   * contexts made elsewhere keep their own (give it to `createContextSet` there).
   */
  readonly backend?: CryptoBackend;
}

type DispatchOptions = Dispatcher.DispatchOptions;
type Handler = Dispatcher.DispatchHandler;

type Resolver = (origin: string) => SecurityContext | Promise<SecurityContext> | undefined;

/** The context a request is protected with, and the origin it is for (outer path, errors). */
interface Route {
  readonly context: SecurityContext | Promise<SecurityContext>;
  readonly origin: string;
}

function contextResolver(contexts: ClientContexts, backend: CryptoBackend | undefined): Resolver {
  // A file or configurations: a set made here, with `backend`.
  const made = contextSetFromOption(contexts, backend);
  if (made !== undefined) return resolverOf(made);
  if (typeof contexts === 'function') return contexts as (origin: string) => SecurityContext | undefined;
  // A client picks its context by the request's origin, so contexts without their peer's
  // origin (an array of made contexts, as the server takes) cannot be used here.
  if (contexts === null || typeof contexts !== 'object' || Array.isArray(contexts)) {
    throw new ContextConfigError('contexts', 'a client needs each context with its peer origin: give a context file, configurations with `peer`, a context set, a function of the origin or an object keyed by origin');
  }
  // Duck-typed, so a ContextSet from another copy of @oscore-http/http works too.
  if (typeof (contexts as ContextSet).contextFor === 'function') return resolverOf(contexts as ContextSet);
  const table = new Map<string, SecurityContext>();
  for (const [origin, ctx] of Object.entries(contexts as Readonly<Record<string, SecurityContext>>)) table.set(originKey(origin), ctx);
  return (origin) => table.get(origin);
}

function resolverOf(set: ContextSet): Resolver {
  return (origin) => set.contextFor(origin);
}

/** A key of the `contexts` object as an origin, or a ContextConfigError that says how to write it. */
function originKey(key: string): string {
  const origin = httpOriginOf(key);
  if (origin === undefined) throw new ContextConfigError(`contexts[${JSON.stringify(key)}]`, 'is not an origin: give only scheme (http or https), host and port, like http://billing:8080');
  return origin;
}

/**
 * The Sender Sequence Number source each sender (by its state id, derived from the key
 * material) was last protected with in this process, by any interceptor. Two sources for
 * one sender where one of them counts in memory on its own hand out the same numbers: a
 * `contexts` function that makes a new context per call did that on every request, each
 * sent with Partial IV 0 — the same nonce with the same key for another plaintext
 * (RFC 8613 §7.2.1, §12.2). Sources only: they hold a counter, nothing secret.
 */
const senderSources = new Map<string, SequenceNumberSource>();

/** @throws {ContextConfigError} if `context` would count its sender's sequence numbers again. */
function assertOwnSequence(context: SecurityContext): void {
  const source = context.senderSequence;
  const known = senderSources.get(context.senderStateId);
  if (known === source) return;
  if (known !== undefined && (known instanceof MemorySequenceNumberSource || source instanceof MemorySequenceNumberSource)) {
    throw new ContextConfigError(
      'contexts',
      'a second context for the same sender (same key material and Sender ID) counts its sequence numbers in memory on its own, so it would send Partial IVs already used and reuse nonces (RFC 8613 Section 7.2.1); return the same SecurityContext object for an origin every time, or give a context file or ContextSet',
    );
  }
  // The first, or a context set made again on the same store (its numbers come from the store).
  senderSources.set(context.senderStateId, source);
}

/** The request with the Echo option (RFC 9175 §2.2.1: Class E) set to `echo`. */
function withEcho(message: InnerMessage, echo: Uint8Array): InnerMessage {
  return { ...message, options: [...message.options.filter((o) => o.number !== ECHO_OPTION), { number: ECHO_OPTION, value: echo }] };
}

/**
 * Headers given as an iterable of `[name, value]` pairs (a Map, a Headers object, a
 * generator), as a flat list — the same fields, in order, read once. undici reads such an
 * iterable once; this interceptor reads the headers twice (the Host field, then all of
 * them), so a one-shot iterable (a generator, `map.entries()`) came out empty the second
 * time and the request went out, protected or in clear, without the caller's fields.
 * Undefined for the shapes that can be read again (an object, an array).
 */
function headersReadOnce(headers: DispatchOptions['headers']): string[] | undefined {
  if (headers === undefined || headers === null || typeof headers !== 'object' || Array.isArray(headers)) return undefined;
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] !== 'function') return undefined;
  const flat: string[] = [];
  for (const pair of headers as Iterable<unknown>) {
    // undici's own check and message for such an iterable (core/request.js).
    if (!Array.isArray(pair) || pair.length !== 2) throw new errors.InvalidArgumentError('headers must be in key-value pair format');
    flat.push(pair[0] as string, pair[1] as string);
  }
  return flat;
}

/** The request's Host field, if it has one (headers in any shape undici accepts). */
function hostFieldOf(headers: DispatchOptions['headers']): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (Array.isArray(headers)) {
    // A flat [name, value, …] list, or a list of [name, value] pairs.
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [name, value] of headers as unknown as [string, string][]) if (String(name).toLowerCase() === 'host') return String(value);
      return undefined;
    }
    for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'host') return String(headers[i + 1]);
    return undefined;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const entry of headers as Iterable<[string, string]>) if (String(entry[0]).toLowerCase() === 'host') return String(entry[1]);
    return undefined;
  }
  for (const name in headers) if (name.toLowerCase() === 'host') return String((headers as Record<string, unknown>)[name]);
  return undefined;
}

/**
 * The origin the request is addressed to: its Host field names the target's authority
 * (RFC 9110 §7.2), which differs from `opts.origin` when undici's dns interceptor, composed
 * outside this one, replaced the host name by an address (it moves the name to Host).
 * Without this, a request to a configured peer would be looked up by its IP address and
 * sent in clear (`pass`) or refused (`refuse`). The context it names is used only for a
 * request to one of its addresses (host-address.ts).
 */
function addressedOrigin(origin: string, headers: DispatchOptions['headers']): string | undefined {
  const host = hostFieldOf(headers);
  if (host === undefined) return undefined;
  try {
    // Compared normalized: `localhost:80` or `api ` name the origin itself, not another one.
    const named = normalizeOrigin(`${new URL(origin).protocol}//${host.trim()}`);
    return named === origin ? undefined : named;
  } catch {
    return undefined; // not a valid authority: the origin alone decides
  }
}

/** The request target as undici's Request builds it from `path` and `query` (`serializePathWithQuery`). */
function targetOf(opts: DispatchOptions): string {
  if (!opts.query) return opts.path;
  if (opts.path.includes('?') || opts.path.includes('#')) throw new errors.InvalidArgumentError('Query params cannot be passed when url already contains "?" or "#".');
  const query = stringifyQuery(opts.query as ParsedUrlQueryInput);
  return query === '' ? opts.path : `${opts.path}?${query}`;
}

/**
 * Creates the interceptor.
 *
 * @example
 * ```ts
 * import { Agent, request } from 'undici';
 * import { oscore } from '@oscore-http/undici';
 * const dispatcher = new Agent().compose(oscore({ contexts: 'contexts.json' }));
 * // or: oscore({ contexts: [{ peer: 'http://orders.internal:8080', masterSecret: { env: 'ORDERS_SECRET' }, senderId: '01', recipientId: '02' }] })
 * const { statusCode, body } = await request('http://orders.internal:8080/orders/42', { dispatcher });
 * ```
 */
export function oscore(options: OscoreInterceptorOptions): Dispatcher.DispatcherComposeInterceptor {
  const resolve = contextResolver(options.contexts, options.backend);
  const policy = createHeaderPolicy(options.headers);
  const maxBodySize = sizeOption('maxBodySize', options.maxBodySize, DEFAULT_MAX_BODY_SIZE);
  const maxHeaderSize = sizeOption('maxHeaderSize', options.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE);
  const maxResponseBody = sizeOption('maxResponseSize', options.maxResponseSize, maxBodySize);
  // The outer body also carries the inner header fields, options and the tag.
  const maxResponseSize = maxResponseBody + maxHeaderSize + 64 * 1024;
  const outerPathOf = typeof options.outerPath === 'function' ? options.outerPath : () => (options.outerPath as string | undefined) ?? DEFAULT_OUTER_PATH;
  const refuse = choiceOption('unprotectedOrigins', options.unprotectedOrigins, ['pass', 'refuse'], 'pass') === 'refuse';
  const peerWindow = integerOption('peerReplayWindow', options.peerReplayWindow, DEFAULT_HTTP_REPLAY_WINDOW, 1);
  // The same for every exchange but for HEAD: made once, not per request.
  const exchange: ExchangeSettings = { policy, limit: maxResponseSize, bodyLimit: maxResponseBody, maxHeaderSize, head: false };
  const headExchange: ExchangeSettings = { ...exchange, head: true };
  const gates = new WeakMap<SecurityContext, SequenceGate>();
  const gateOf = (context: SecurityContext) => {
    let gate = gates.get(context);
    if (gate === undefined) gates.set(context, (gate = new SequenceGate(peerWindow)));
    return gate;
  };

  /**
   * The body, read so that an abort meanwhile fails at once and destroys a stream body, as
   * undici would once dispatched. A body in memory (the usual string or bytes) is taken at
   * once, without a promise to await.
   */
  function collectAbortably(body: unknown, controller: DeferredController): CollectedBody | Promise<CollectedBody> {
    if (isInMemory(body)) return collectInMemory(body, maxBodySize);
    return collectStream(body, controller);
  }

  async function collectStream(body: unknown, controller: DeferredController): Promise<CollectedBody> {
    const unwatch = controller.onAbort((reason) => (body as { destroy?: (err: Error) => void }).destroy?.(reason));
    try {
      return await controller.race(collectBody(body, maxBodySize, () => controller.aborted));
    } finally {
      unwatch();
    }
  }

  return (dispatch) =>
    function oscoreInterceptor(opts: DispatchOptions, handler: Handler): boolean {
      // undici's Request checks these only below this interceptor, which reads them first.
      if (typeof opts.method !== 'string' || typeof opts.path !== 'string') {
        handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, new errors.InvalidArgumentError(`${typeof opts.method !== 'string' ? 'method' : 'path'} must be a string`));
        return true;
      }
      try {
        const flat = headersReadOnce(opts.headers);
        if (flat !== undefined) opts = { ...opts, headers: flat };
      } catch (err) {
        handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, err as Error);
        return true;
      }
      let origin: string;
      try {
        // A Client or Pool passes no origin unless the caller gives one; it may well be a
        // configured peer, so the request is neither sent in clear nor guessed at.
        if (opts.origin === undefined || opts.origin === null || opts.origin === '') throw new TypeError('no origin');
        origin = normalizeOrigin(opts.origin as string | URL);
      } catch {
        handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, new UnmappableMessageError('the request names no valid origin (a Client or Pool passes none: give `origin`, or compose the interceptor on an Agent)'));
        return true;
      }
      let route: Route | Promise<Route> | undefined;
      const addressed = addressedOrigin(origin, opts.headers);
      const named = addressed === undefined ? undefined : resolve(addressed);
      if (named !== undefined) {
        // The Host field names a peer: its context only for a request to one of its
        // addresses (host-address.ts); else the destination's own, if it has one.
        const to = origin;
        const choose = (isPeerAddress: boolean): Route => {
          if (isPeerAddress) return { context: named, origin: addressed! };
          const own = resolve(to);
          if (own === undefined) throw new HostMismatchError(addressed!, to);
          return { context: own, origin: to };
        };
        const verdict = isAddressOf(to, addressed!);
        try {
          route = typeof verdict === 'boolean' ? choose(verdict) : verdict.then(choose);
        } catch (err) {
          handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, err as Error);
          return true;
        }
      } else {
        const context = resolve(origin);
        if (context !== undefined) route = { context, origin };
      }
      if (route === undefined) {
        if (!refuse) return dispatch(opts, handler);
        handler.onResponseError?.(null as unknown as Dispatcher.DispatchController, new NoContextForOriginError(origin));
        return true;
      }
      // The caller's handler gets its controller now, so that an abort works before dispatch too.
      const controller = new DeferredController();
      handler.onRequestStart?.(controller, undefined);
      protectAndDispatch(route, opts, handler).catch((err: unknown) => {
        handler.onResponseError?.(controller, err as Error);
      });
      return true;

      async function protectAndDispatch(chosen: Route | Promise<Route>, opts: DispatchOptions, handler: Handler): Promise<void> {
        const { context: resolved, origin } = chosen instanceof Promise ? await controller.race(chosen) : chosen;
        const context = resolved instanceof Promise ? await controller.race(resolved) : resolved;
        assertOwnSequence(context);
        controller.throwIfAborted();
        if (opts.upgrade || opts.method === 'CONNECT') throw new UnmappableMessageError('upgrades and CONNECT cannot travel inside OSCORE');
        const collected = collectAbortably(opts.body, controller);
        // One turn of the microtask queue even for a body in memory: a caller that aborts as
        // soon as dispatch returns must find nothing spent — no sequence number, no count_q.
        const { bytes, contentType } = await collected;
        const headers = toHeaderList(opts.headers);
        if (contentType !== undefined && firstValue(headers, 'content-type') === undefined) headers.push(['content-type', contentType]);
        // undici writes Host from the origin below this interceptor: a protected Host is added here, or nothing would go inside.
        if (policy.protectsHost && firstValue(headers, 'host') === undefined) headers.push(['host', new URL(origin).host]);
        const { inner, outer } = policy.split(headers);
        const message = encodeRequest({ method: opts.method, target: targetOf(opts), headers: inner, body: bytes }, { maxHeaderSize });
        const outerExtra = outer;
        await send(message, true);

        /**
         * @param lead given to the retry that proves freshness to a server that lost its
         * replay window (sequence-gate.ts, RFC 8613 Appendix B.1.2): it ends the proof, and is
         * called once this request was answered or failed.
         */
        async function send(message: InnerMessage, mayRetry: boolean, lead?: () => void): Promise<void> {
          const gate = gateOf(context);
          let protecting = false;
          let sent;
          try {
            controller.throwIfAborted();
            if (lead !== undefined) {
              // Protected only when nothing of this context is unanswered: no lower Partial
              // IV can then reach the server after this one sets its window's lower limit.
              await controller.race(gate.idle());
            } else {
              // Behind a proof under way: protected once it is answered, above its Partial IV.
              for (let barrier = gate.barrier; barrier !== undefined; barrier = gate.barrier) await controller.race(barrier);
            }
            gate.protecting();
            protecting = true;
            sent = await protectRequest(context, message);
          } catch (err) {
            if (protecting) gate.notProtected();
            lead?.();
            throw err;
          }
          const { option, payload, binding } = sent;
          const seq = binding.sequenceNumber;
          const release =
            lead === undefined
              ? () => gate.done(seq)
              : () => {
                  gate.done(seq);
                  lead();
                };
          // Held while dispatching now could overtake an unanswered request by a whole window.
          const wait = gate.admit(seq);
          try {
            if (wait !== undefined) await controller.race(wait);
            // Aborted before dispatch: the sequence number is spent, never sent (skipping is safe, §7.2.1).
            controller.throwIfAborted();
          } catch (err) {
            release();
            throw err;
          }
          const outerHeaders: Record<string, string | string[]> = { 'content-type': APPLICATION_OSCORE, oscore: encodeOscoreHeader(option) };
          for (const [name, value] of outerExtra) {
            const prev = outerHeaders[name];
            outerHeaders[name] = prev === undefined ? value : ([] as string[]).concat(prev, value);
          }
          // The first challenged request of a context leads the freshness proof; the others wait for it.
          const retry = mayRetry
            ? (echo: Uint8Array) => {
                send(withEcho(message, echo), false, gate.lead()).catch((err: unknown) => handler.onResponseError?.(controller, err as Error));
              }
            : undefined;
          try {
            // Object.assign, not `{ ...opts, idempotent: false }`: on V8 11 a spread followed by
            // properties the source lacks yields an object with a map of its own, which made
            // undici's Request constructor ~20x slower (5 µs per request; bench/http).
            const outerOpts: DispatchOptions = Object.assign({}, opts, {
              method: 'POST' as const,
              path: outerPathOf(origin),
              query: undefined,
              headers: outerHeaders,
              body: Buffer.from(payload.buffer, payload.byteOffset, payload.length),
              // A resent ciphertext is a replay: never let the transport retry it. Retry
              // interceptors composed outside this one re-protect instead.
              idempotent: false,
              // Nor a redirect interceptor composed inside follow an unverified 3xx (the outer
              // status of an authentic response is always 200): whoever answers on the path
              // must not choose where the protected request goes next.
              maxRedirections: 0,
            });
            dispatch(outerOpts, new OscoreResponseHandler(handler, controller, binding, opts.method === 'HEAD' ? headExchange : exchange, release, retry));
          } catch (err) {
            release();
            throw err;
          }
        }
      }
    };
}

