/**
 * Test support: a small HTTP/1.1 proxy (node:http) that forwards each request to one
 * upstream, with a hook on the outer request and one on the outer response so a test
 * can change exactly one thing — a header, one body byte, the method, the path, the
 * status — or hold, swap and replay whole messages.
 *
 * Messages are buffered whole and passed to hooks as bytes and raw header lists (names
 * as received, in order, repeats kept). Framing is the proxy's: it drops hop-by-hop
 * fields and writes Content-Length for the body it sends.
 */

import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A header list: [name, value] pairs as received. */
export type RawHeaders = Array<[string, string]>;

export interface ProxiedRequest {
  method: string;
  url: string;
  headers: RawHeaders;
  body: Buffer;
}

export interface ProxiedResponse {
  status: number;
  statusMessage: string;
  headers: RawHeaders;
  body: Buffer;
}

/** What the proxy saw and did for one request. */
export interface Exchange {
  /** The request as the client sent it. */
  readonly received: ProxiedRequest;
  /** The request as forwarded (after the hook). */
  forwarded?: ProxiedRequest;
  /** The upstream's response as received. */
  upstream?: ProxiedResponse;
  /** The response as returned to the client (after the hook). */
  returned?: ProxiedResponse;
  /** Set by a request hook to answer the client itself: the request is then not forwarded. */
  answer?: ProxiedResponse;
}

export type RequestHook = (request: ProxiedRequest, exchange: Exchange) => ProxiedRequest | Promise<ProxiedRequest>;
export type ResponseHook = (response: ProxiedResponse, exchange: Exchange) => ProxiedResponse | Promise<ProxiedResponse>;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length']);

function pairs(raw: string[]): RawHeaders {
  const out: RawHeaders = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

function framed(headers: RawHeaders, body: Buffer, withLength: boolean): string[] {
  const flat: string[] = [];
  for (const [name, value] of headers) if (!HOP_BY_HOP.has(name.toLowerCase())) flat.push(name, value);
  if (withLength) flat.push('content-length', String(body.length));
  return flat;
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** The first value of a header (any case), or undefined. */
export function getHeader(headers: RawHeaders, name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

/** A copy with every `name` field replaced by one `name: value` (added if absent). */
export function setHeader(headers: RawHeaders, name: string, value: string): RawHeaders {
  const out = headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
  out.push([name, value]);
  return out;
}

/** A copy without any `name` field. */
export function removeHeader(headers: RawHeaders, name: string): RawHeaders {
  return headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
}

/** A copy with one more `name: value` field (repeats kept). */
export function addHeader(headers: RawHeaders, name: string, value: string): RawHeaders {
  return [...headers, [name, value]];
}

/** A copy of `bytes` with bit `bit` of byte `index` flipped (negative index from the end). */
export function flipBit(bytes: Uint8Array, index: number, bit = 0): Buffer {
  const out = Buffer.from(bytes);
  const i = index < 0 ? out.length + index : index;
  if (i < 0 || i >= out.length) throw new RangeError(`no byte ${index} in ${out.length} bytes`);
  out[i] = out[i]! ^ (1 << bit);
  return out;
}

export class TamperProxy {
  readonly #server: Server;
  readonly #upstreamPort: number;
  /** Every exchange since the last {@link reset}. */
  exchanges: Exchange[] = [];
  /** Changes the outer request before it is forwarded; default: unchanged. */
  onRequest: RequestHook | undefined;
  /** Changes the outer response before it is returned; default: unchanged. */
  onResponse: ResponseHook | undefined;

  private constructor(server: Server, upstreamPort: number) {
    this.#server = server;
    this.#upstreamPort = upstreamPort;
  }

  static async start(upstreamPort: number): Promise<TamperProxy> {
    let proxy: TamperProxy | undefined;
    const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
      proxy!.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(599, { 'content-type': 'text/plain', 'x-tamper-proxy-error': '1' });
        res.end(`tamper proxy failure: ${String(err)}`);
      });
    });
    proxy = new TamperProxy(server, upstreamPort);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Forgets the exchanges and removes the hooks. */
  reset(): void {
    this.exchanges = [];
    this.onRequest = undefined;
    this.onResponse = undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const received: ProxiedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: pairs(req.rawHeaders), body: await readAll(req) };
    const exchange: Exchange = { received };
    this.exchanges.push(exchange);
    const forwarded = this.onRequest ? await this.onRequest(structuredCloneRequest(received), exchange) : received;
    let returned: ProxiedResponse;
    if (exchange.answer !== undefined) {
      returned = exchange.answer;
    } else {
      exchange.forwarded = forwarded;
      const upstream = await this.send(forwarded);
      exchange.upstream = upstream;
      returned = this.onResponse ? await this.onResponse(structuredCloneResponse(upstream), exchange) : upstream;
    }
    exchange.returned = returned;
    res.writeHead(returned.status, returned.statusMessage, framed(returned.headers, returned.body, true));
    res.end(returned.body);
  }

  /** Sends a request straight to the upstream (what the proxy forwards, or a replay) and returns its response. */
  send(request: ProxiedRequest): Promise<ProxiedResponse> {
    return new Promise((resolve, reject) => {
      const out = httpRequest(
        {
          host: '127.0.0.1',
          port: this.#upstreamPort,
          method: request.method,
          path: request.url,
          headers: framed(request.headers, request.body, request.body.length > 0 || request.method !== 'GET'),
          agent: false,
        },
        (upstream) => {
          readAll(upstream).then(
            (body) => resolve({ status: upstream.statusCode ?? 0, statusMessage: upstream.statusMessage ?? '', headers: pairs(upstream.rawHeaders), body }),
            reject,
          );
        },
      );
      out.once('error', reject);
      out.end(request.body);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

function structuredCloneRequest(r: ProxiedRequest): ProxiedRequest {
  return { method: r.method, url: r.url, headers: r.headers.map(([n, v]) => [n, v]), body: Buffer.from(r.body) };
}

function structuredCloneResponse(r: ProxiedResponse): ProxiedResponse {
  return { status: r.status, statusMessage: r.statusMessage, headers: r.headers.map(([n, v]) => [n, v]), body: Buffer.from(r.body) };
}
