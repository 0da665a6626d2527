/**
 * @oscore-http/fastify — a fastify plugin that makes every request and response of the
 * service travel as an OSCORE message (RFC 8613 §11).
 *
 * OSCORE hides the method and path, and fastify routes before it reads a body, so the
 * plugin sits in front of fastify's router: it takes the server's `request` listener
 * (`fastify.routing`), verifies each OSCORE request, and hands the inner request to the
 * router. Routes, hooks, schemas, body parsers and the reply API work unchanged; the
 * reply is protected on the way out. `request.oscore` says which peer sent the request.
 *
 * `fastify.inject()` does not pass through the network listener, so injected requests
 * are not OSCORE requests (`request.oscore === null`).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import oscore from '@oscore-http/fastify';
 * const app = Fastify({ logger: true });
 * await app.register(oscore, { contexts: 'contexts.json', allowUnprotected: ['GET /health'] });
 * app.get('/orders/:id', async (request) => ({ id: request.params.id, from: request.oscore?.peer }));
 * ```
 *
 * @packageDocumentation
 */

import type { FastifyBaseLogger, FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { IncomingMessage, type ServerResponse } from 'node:http';
import type { CryptoBackend } from '@oscore-http/core';
import {
  ContextConfigError,
  contextSetFromOption,
  type ContextSet,
  createOscoreHandler,
  oscoreInfoOf,
  type ContextConfig,
  type OscoreRequestInfo,
  type OscoreRequestListener,
  type OscoreServerEvent,
  type OscoreServerOptions,
} from '@oscore-http/http';

/** Options of the plugin. */
export interface FastifyOscoreOptions extends Omit<OscoreServerOptions, 'contexts' | 'onEvent'> {
  /**
   * The server's security contexts: a path to a context file, context configurations,
   * a `ContextSet`, or a lookup (see `OscoreServerOptions.contexts`).
   */
  readonly contexts: OscoreServerOptions['contexts'] | string | readonly ContextConfig[];
  /**
   * The level of the line logged for each rejected request (default `warn`); `silent` logs
   * none. Anyone who reaches the port can cause one line per request, so a service that
   * alerts on the `oscore.messages.rejected` metric may prefer `info` or `debug`.
   * Responses that could not be protected are always logged at `error`.
   */
  readonly rejectionLogLevel?: RejectionLogLevel;
  /**
   * The crypto backend of the contexts made from a context file or configurations, e.g.
   * `opensslBackend()` of `@oscore-http/openssl`. Default node:crypto. A context set or a
   * lookup keeps the backend it was made with.
   */
  readonly backend?: CryptoBackend;
}

/** Log levels for rejected requests. */
export type RejectionLogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const REJECTION_LOG_LEVELS: ReadonlySet<string> = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified OSCORE request's peer and sequence number; `null` for an allow-listed unprotected request. */
    readonly oscore: OscoreRequestInfo | null;
  }
}

const INSTALLED = Symbol.for('oscore-http.fastify.installed');
/** Marks a request that came out of the OSCORE listener (verified, or allow-listed). */
const GATED = Symbol('oscore-http.fastify.gated');
/** The fastify request logger of an inner request, for events after the application ran. */
const LOG = Symbol('oscore-http.fastify.log');
type RawRequest = IncomingMessage & { [GATED]?: true; [LOG]?: FastifyBaseLogger };

function logEvent(fastify: FastifyInstance, event: OscoreServerEvent, rejectionLevel: RejectionLogLevel): void {
  // Once per rejection, with its code and the peer's kid; never plaintext or keys. A
  // request refused before routing has no fastify request (no application code ran for
  // it): fastify.log. A response that failed after the route ran: that request's
  // request.log, so the line carries its reqId like the route's own lines.
  const log = (event.request as RawRequest | undefined)?.[LOG] ?? fastify.log;
  const fields = { oscore: { code: event.error.code, status: event.status, protected: event.protected, kid: event.kid, peer: event.peer } };
  if (event.type === 'response-failed') log.error(fields, 'OSCORE response could not be protected');
  else if (rejectionLevel !== 'silent') log[rejectionLevel](fields, 'OSCORE request rejected');
}

const plugin: FastifyPluginCallback<FastifyOscoreOptions> = (fastify, options, done) => {
  if (fastify.initialConfig.http2 === true) {
    done(new Error('@oscore-http/fastify supports HTTP/1.1 servers; OSCORE does not need HTTP/2 between the peers (a mesh may still use it on each hop).'));
    return;
  }
  const server = fastify.server as typeof fastify.server & { [INSTALLED]?: true };
  if (server[INSTALLED]) {
    done(new Error('@oscore-http/fastify is already registered on this server; register it once, at the root.'));
    return;
  }
  let contexts: OscoreServerOptions['contexts'];
  let owned: ContextSet | undefined;
  let handler: OscoreRequestListener;
  // The listeners fastify (or a serverFactory) attached: fastify.routing, normally.
  const listeners = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  const route = (req: IncomingMessage, res: ServerResponse) => {
    (req as RawRequest)[GATED] = true;
    for (const listener of listeners) listener.call(server, req, res);
  };
  const rejectionLevel = options.rejectionLogLevel ?? 'warn';
  if (!REJECTION_LOG_LEVELS.has(rejectionLevel)) {
    done(new ContextConfigError('rejectionLogLevel', `"${String(rejectionLevel)}" is not one of ${[...REJECTION_LOG_LEVELS].join(', ')}`));
    return;
  }
  try {
    // A file or configurations: the plugin makes the set (with `backend`), and closes it.
    owned = contextSetFromOption(options.contexts, options.backend);
    contexts = owned ?? (options.contexts as OscoreServerOptions['contexts']);
    const { contexts: _ignored, rejectionLogLevel: _level, backend: _backend, ...serverOptions } = options;
    handler = createOscoreHandler({ ...serverOptions, contexts, onEvent: (event) => logEvent(fastify, event, rejectionLevel) }, route);
  } catch (err) {
    // A bad context set (e.g. two peers with the same Recipient ID) is thrown by
    // createOscoreHandler: hand it to ready()/listen() instead of letting it escape the
    // plugin as an uncaught exception (fastify then only reports a plugin timeout), and
    // release the state store (its directory lock) this plugin opened.
    if (owned !== undefined) owned.close().then(() => done(err as Error), () => done(err as Error));
    else done(err as Error);
    return;
  }
  // A clean shutdown saves the replay windows (file store), so a restart needs no Echo round trip.
  if (owned !== undefined) fastify.addHook('onClose', () => owned.close());
  server.removeAllListeners('request');
  server.on('request', handler);
  // Requests with `Expect: 100-continue` get 100 only after their header fields passed the
  // OSCORE checks (fastify itself installs no such listener; one installed before stays).
  if (server.listenerCount('checkContinue') === 0) server.on('checkContinue', handler.checkContinue);
  server[INSTALLED] = true;

  // A getter, not a value set by an onRequest hook: hooks run in registration order, so
  // a hook (or plugin) added before this one would otherwise read `null` on a verified request.
  fastify.decorateRequest('oscore', {
    getter(this: FastifyRequest): OscoreRequestInfo | null {
      return oscoreInfoOf(this.raw) ?? null;
    },
  });
  // fastify's router can be reached without passing the listener replaced above:
  // `listen()` on `localhost` (its default host) binds every address `localhost` resolves
  // to, and the extra servers (fastify lib/server.js, multipleBindings) are created with
  // fastify's own routing function — the ::1 socket would serve every route unprotected.
  // A network request that did not come out of the OSCORE listener is taken over here,
  // before body parsing and any later hook, and goes through it (verified, refused, or
  // allow-listed) as on the main server. The same holds for any other listener that hands
  // requests to fastify.routing (an `upgrade` handler, as WebSocket plugins install, or a
  // `checkContinue` one). `inject()` requests are not IncomingMessages.
  fastify.addHook('onRequest', (request, reply, next) => {
    const raw = request.raw as RawRequest;
    if (raw[GATED] !== true && raw instanceof IncomingMessage) {
      reply.hijack();
      handler(raw, reply.raw);
      return;
    }
    raw[LOG] = request.log;
    next();
  });
  done();
};

/** The plugin. Register it once, at the root of the application. */
const oscore = fp(plugin, { fastify: '5.x', name: '@oscore-http/fastify' });

export default oscore;
export { oscore };
export type { ContextConfig, ContextSet, OscoreRequestInfo };
