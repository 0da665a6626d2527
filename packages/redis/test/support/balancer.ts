/**
 * A round-robin HTTP load balancer for tests, on 127.0.0.1: it forwards each request's
 * raw bytes to the next backend in turn and the backend's answer back. It also plays the
 * attacker in the middle: after a request was answered, it may send the very same bytes
 * (same OSCORE header, same body) to a different backend and record what that said.
 */

import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A replay the balancer injected, and the answer it got. */
export interface InjectedReplay {
  /** Backend that served the original. */
  readonly original: number;
  /** Backend the copy was sent to. */
  readonly target: number;
  readonly status: number;
  readonly body: string;
}

export interface Balancer {
  readonly origin: string;
  /** Requests forwarded, per backend. */
  readonly forwarded: number[];
  readonly replays: InjectedReplay[];
  /** Resolves when every injected replay has its answer. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'host']);

function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

interface Sent {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Starts the balancer.
 * @param backends the backends' ports on 127.0.0.1.
 * @param replayRate the share of requests that are replayed to another backend after their answer.
 * @param random a deterministic source in [0, 1), so a failure can be reproduced.
 */
export async function startBalancer(backends: readonly number[], replayRate: number, random: () => number): Promise<Balancer> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const forwarded = backends.map(() => 0);
  const replays: InjectedReplay[] = [];
  const pending = new Set<Promise<void>>();
  let turn = 0;

  function send(backend: number, method: string, url: string, headers: Record<string, string | string[]>, body: Buffer): Promise<Sent> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: backends[backend], method, path: url, headers: { ...headers, 'content-length': String(body.length) }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = forwardable(req.headers);
      const backend = turn++ % backends.length;
      forwarded[backend]!++;
      send(backend, req.method ?? 'GET', req.url ?? '/', headers, body).then(
        (answer) => {
          res.writeHead(answer.status, forwardable(answer.headers));
          res.end(answer.body);
          if (random() >= replayRate) return;
          // The original is answered; now the same bytes again, at another replica.
          const target = (backend + 1 + Math.floor(random() * (backends.length - 1))) % backends.length;
          const injected = send(target, req.method ?? 'GET', req.url ?? '/', headers, body).then(
            (r) => void replays.push({ original: backend, target, status: r.status, body: r.body.toString() }),
            (err: Error) => void replays.push({ original: backend, target, status: 0, body: err.message }),
          );
          pending.add(injected);
          void injected.finally(() => pending.delete(injected));
        },
        (err: Error) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`balancer: ${err.message}`);
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    forwarded,
    replays,
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
