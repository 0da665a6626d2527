/**
 * The conformance target: a fastify service with @oscore-http/fastify in front of one
 * route that implements the optional echo contract of docs/conformance.md §3:
 *
 *   every method at /conformance/echo answers 200 with the request body as it arrived,
 *   the request's Content-Type, and three fields: x-echo-method (the method the
 *   application saw), x-echo-target (the path and query it saw) and x-echo-count (how
 *   many requests this route has served, this one included).
 *
 * The plugin verifies every request before fastify routes it, so the route — like any
 * route behind the plugin — runs only for verified OSCORE requests. x-echo-count lets
 * the suite see from outside that a rejected request had no application effect.
 */

import { createServer } from 'node:http';
import Fastify from 'fastify';
import oscore from '@oscore-http/fastify';

/** Where the echo route is: the default `--path` of `oscore-http conformance http`. */
export const ECHO_PATH = '/conformance/echo';

/** A method outside CoAP's codes, carried in the HTTP-Code option (docs/wire-format.md §3). */
const EXTENSION_METHOD = 'PURGE';

function pathOf(url) {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Creates the service (not listening yet).
 *
 * @param {object} options
 * @param {string | object} options.contexts the server's context file, or a context set (`loadContextFile`)
 * @param {boolean | object} [options.logger] fastify's logger option; default off
 */
export async function createConformanceServer({ contexts, logger = false }) {
  let served = 0;
  const echoHeaders = (method, target, type) => {
    served += 1;
    return {
      'x-echo-method': method,
      'x-echo-target': target,
      'x-echo-count': String(served),
      'content-type': type ?? 'application/octet-stream',
    };
  };

  // fastify routes only the methods node:http knows, so FETCH (RFC 8132, CoAP 0.05) is
  // answered here, in front of fastify's router and behind the plugin (which takes over
  // the server's request listener): it too runs only for verified requests.
  const serverFactory = (route) =>
    createServer((req, res) => {
      if (req.method !== 'FETCH' || pathOf(req.url) !== ECHO_PATH) return route(req, res);
      readAll(req).then((body) => {
        res.writeHead(200, echoHeaders(req.method, req.url, req.headers['content-type']));
        res.end(body);
      });
    });

  const app = Fastify({ logger, forceCloseConnections: true, serverFactory });
  await app.register(oscore, { contexts });

  // Every body reaches the echo as the bytes that arrived, whatever its type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.addHttpMethod(EXTENSION_METHOD, { hasBody: true });
  app.route({
    method: app.supportedMethods,
    url: ECHO_PATH,
    exposeHeadRoute: false,
    handler: (request, reply) =>
      reply
        .code(200)
        .headers(echoHeaders(request.method, request.url, request.headers['content-type']))
        .send(request.body ?? Buffer.alloc(0)),
  });
  return app;
}
