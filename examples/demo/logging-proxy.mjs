// The untrusted hop: a node:http reverse proxy, like a load balancer or a mesh sidecar that
// terminates the connection. It forwards every message unchanged — method, target, header
// lines (names, case, order) and body bytes — and records everything it sees, so the demo
// can print it. It holds no key: whatever it records is all an intermediary ever learns.
import { Agent, createServer, request as httpRequest } from 'node:http';

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** [[name, value], …] from Node's flat rawHeaders, names as they came on the wire. */
function pairs(rawHeaders) {
  const out = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) out.push([rawHeaders[i], rawHeaders[i + 1]]);
  return out;
}

/**
 * One recorded message as raw HTTP/1.1 bytes: start line, header lines, blank line, body.
 * A chunked body is written as one chunk, so the file stays a valid message.
 */
export function toRawHttp(startLine, headers, body) {
  const chunked = headers.some(([n, v]) => n.toLowerCase() === 'transfer-encoding' && /chunked/i.test(v));
  const head = [startLine, ...headers.map(([n, v]) => `${n}: ${v}`), '', ''].join('\r\n');
  const framed = chunked && body.length > 0 ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : chunked ? Buffer.from('0\r\n\r\n') : body;
  return Buffer.concat([Buffer.from(head, 'latin1'), framed]);
}

/**
 * Starts the proxy on 127.0.0.1 in front of `upstream` (an origin).
 * Returns its origin, the exchanges it recorded, `replay(exchange)` — an attacker at this
 * hop re-sending a recorded request verbatim — and `close()`.
 */
export async function startLoggingProxy({ upstream }) {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  /** @type {{ request: object, response: object, replayed: boolean }[]} */
  const exchanges = [];

  // Sends a recorded request upstream exactly as received and records the answer.
  function forward(req) {
    return new Promise((resolve, reject) => {
      const upstreamReq = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers.flat(), agent },
        async (res) => {
          try {
            const body = await readAll(res);
            resolve({ httpVersion: res.httpVersion, status: res.statusCode, statusMessage: res.statusMessage, headers: pairs(res.rawHeaders), body });
          } catch (err) {
            reject(err);
          }
        },
      );
      upstreamReq.once('error', reject);
      upstreamReq.end(req.body);
    });
  }

  const server = createServer(async (clientReq, clientRes) => {
    try {
      const request = { method: clientReq.method, url: clientReq.url, httpVersion: clientReq.httpVersion, headers: pairs(clientReq.rawHeaders), body: await readAll(clientReq) };
      const response = await forward(request);
      exchanges.push({ request, response, replayed: false });
      clientRes.writeHead(response.status, response.statusMessage, response.headers.flat());
      clientRes.end(response.body);
    } catch {
      clientRes.writeHead(502).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    exchanges,
    async replay(exchange) {
      const response = await forward(exchange.request);
      const replayed = { request: exchange.request, response, replayed: true };
      exchanges.push(replayed);
      return replayed;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
