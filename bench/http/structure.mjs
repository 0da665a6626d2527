/**
 * The `structure` mode of bench/http.mjs: what the server side of OSCORE costs before any
 * OSCORE processing. A fastify server behind a listener with the shape of
 * `createOscoreHandler` (packages/http/src/server/handler.ts) — the outer body read
 * through the stream, a second `IncomingMessage` handed to fastify's router, the reply
 * captured and written as an outer `200` with the OSCORE response's outer fields — but
 * with no option, no AEAD, no CoAP codec and no HTTP mapping: the inner request carries
 * the outer method, target and Content-Type, and the captured body goes out unchanged.
 * The client is plain undici. So `structure ×plain` is the best ratio an OSCORE server
 * built this way could reach if all OSCORE work were free. Measurement only: this is not
 * a protocol, and nothing here is exported by a package.
 */

import { ServerResponse } from 'node:http';
// The handler's own building blocks, from the built package (they are not public API).
import { createInnerRequest } from '../../packages/http/dist/server/inner-request.js';
import { captureResponse } from '../../packages/http/dist/server/response-capture.js';

const { writeHead, end } = ServerResponse.prototype;

/** Reads a request body as the handler does (a promise over 'data' and 'end'). */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      chunks.push(chunk);
    });
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

/**
 * Puts the listener in front of fastify's router, as the plugin does. Call after
 * `app.ready()`, before `app.listen()`.
 */
export function installStructureOnly(server, maxBody) {
  const route = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    readBody(req).then((body) => {
      const inner = createInnerRequest(req, { method: req.method, target: req.url, headers: [], body }, [['content-type', req.headers['content-type']]], [], {});
      const release = captureResponse(res, maxBody, false, (captured) => {
        // The handler protects here (an await), then writes; the await is kept.
        Promise.resolve().then(() => {
          release();
          for (const name of res.getHeaderNames()) res.removeHeader(name);
          const fields = ['content-type', 'application/oscore', 'oscore', 'AA', 'content-length', String(captured.body.length), 'cache-control', 'no-store'];
          writeHead.call(res, 200, 'OK', fields);
          end.call(res, captured.body);
        });
      });
      for (const listener of route) listener.call(server, inner, res);
    }, () => res.destroy());
  });
}
