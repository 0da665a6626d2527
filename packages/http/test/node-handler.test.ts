/**
 * createOscoreHandler on a bare node:http server, with the undici interceptor as client,
 * over loopback. The application behind it is a plain `(req, res)` listener that writes
 * with res.setHeader / res.writeHead / res.write / res.end, and a Connect-style
 * `(req, res, next)` middleware chain written here (no framework dependency).
 *
 * Most checks are differential: the same listener also runs on a plain server without
 * OSCORE, and what the caller receives (status, reason, end-to-end fields, body) and
 * what the listener sees (method, target, fields, body) must be the same both ways.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { pipeline, Readable } from 'node:stream';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { protectRequest } from '@oscore-http/core';
import { BodyBuffer, BodyTooLargeError, ContextConfigError, createContextSet, createOscoreHandler, EchoIssuer, encodeOscoreHeader, encodeRequest, oscoreInfoOf, type ContextSet, type OscoreRequestInfo, type OscoreServerEvent } from '@oscore-http/http';
import {
  allByteValues,
  clientContextA,
  clientContextB,
  closeServer,
  countTraffic,
  listen,
  oscoreAgent,
  patternBytes,
  Resources,
  serverContextA,
  serverContextB,
  type OscoreClient,
  type TrafficCounter,
} from '../../fastify/test/support/oscore-peers.js';
import { heapHeld } from '../../fastify/test/support/memory.js';
import { thrownBy } from '../../fastify/test/support/thrown.js';

// ---------------------------------------------------------------------------------
// The application: a tiny node:http listener
// ---------------------------------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: Buffer;
  oscore: OscoreRequestInfo | undefined;
}

interface AppState {
  seen: Seen[];
  finished: string[];
  callbacks: string[];
  /** `res.statusCode` when the response emitted finish, as loggers read it. */
  statuses: number[];
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function pathnameOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q === -1 ? u : u.slice(0, q);
}

function makeApp(state: AppState): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void (async () => {
      const body = await readBody(req);
      state.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, rawHeaders: [...req.rawHeaders], body, oscore: oscoreInfoOf(req) });
      const path = pathnameOf(req.url);
      res.on('finish', () => {
        state.finished.push(path);
        state.statuses.push(res.statusCode);
      });

      switch (path) {
        case '/echo':
        case '/echo/more': {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString('base64') }));
          return;
        }
        case '/merge': {
          // setHeader before writeHead: writeHead's object wins for the same name, the rest merge.
          res.setHeader('x-set', 'from-setHeader');
          res.setHeader('x-over', 'old');
          res.setHeader('set-cookie', ['a=1; Path=/', 'b=2']);
          res.writeHead(201, 'Created Right Here', { 'x-over': 'new', 'x-head': 'from-writeHead', 'content-type': 'text/plain; charset=utf-8' });
          res.write('one,');
          res.write(Buffer.from('two,'));
          res.write('74687265652c', 'hex');
          res.end('four');
          return;
        }
        case '/raw-array': {
          // A raw header list after setHeader, with a repeated name.
          res.setHeader('x-r', '0');
          res.setHeader('x-keep', 'k');
          res.writeHead(200, ['x-r', '1', 'x-r', '2', 'content-type', 'text/plain']);
          res.end('raw');
          return;
        }
        case '/raw-array-only': {
          res.writeHead(200, ['x-dup', 'a', 'x-dup', 'b', 'content-type', 'text/plain']);
          res.end('raw only');
          return;
        }
        case '/implicit': {
          // No writeHead at all: status and headers from the progressive API.
          res.statusCode = 202;
          res.setHeader('content-type', 'text/plain');
          res.appendHeader('x-app', 'a');
          res.appendHeader('x-app', 'b');
          res.write('a');
          res.write('b');
          res.end('c');
          return;
        }
        case '/encodings': {
          res.setHeader('content-type', 'text/plain; charset=latin1');
          res.write('68656c6c6f', 'hex');
          res.write(' ');
          res.write(Buffer.from('w\u00f6rld', 'latin1'));
          res.end('IQ==', 'base64');
          return;
        }
        case '/async-writes': {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('[');
          for (let i = 0; i < 5; i++) {
            await new Promise((r) => setTimeout(r, 2));
            res.write(`${i === 0 ? '' : ','}${i}`);
          }
          res.end(']');
          return;
        }
        case '/interim': {
          // Interim responses with callbacks: the final answer is written only from the last one.
          res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => {
            res.writeProcessing(() => {
              res.writeHead(200, { 'content-type': 'text/plain' });
              res.end('after interim responses');
            });
          });
          return;
        }
        case '/bad-field': {
          // Node's writeHead refuses an invalid value; frameworks answer that error themselves.
          try {
            res.writeHead(200, { 'content-type': 'text/plain', 'x-bad': 'a\nb' });
            res.end('sent anyway');
          } catch (err) {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(`refused: ${(err as NodeJS.ErrnoException).code}`);
          }
          return;
        }
        case '/bad-reason':
        case '/bad-status-message':
        case '/bad-status': {
          // Node's writeHead refuses a reason phrase with a control character and a status outside 100–999.
          try {
            if (path === '/bad-reason') res.writeHead(200, 'ok\r\nx-injected: 1', { 'content-type': 'text/plain' });
            else if (path === '/bad-status-message') {
              res.statusMessage = 'ok\r\nx-injected: 1';
              res.writeHead(200, { 'content-type': 'text/plain' });
            } else res.writeHead(1000, { 'content-type': 'text/plain' });
            res.end('sent anyway');
          } catch (err) {
            // With its own reason phrase: Node keeps the refused one in statusMessage.
            res.writeHead(500, 'Internal Server Error', { 'content-type': 'text/plain' });
            res.end(`refused: ${(err as NodeJS.ErrnoException).code}`);
          }
          return;
        }
        case '/close': {
          // What fastify does while it closes (and after a body it could not read).
          res.setHeader('connection', 'close');
          res.end('bye');
          return;
        }
        case '/continue': {
          // Without OSCORE only after `Expect: 100-continue` (undici refuses an unasked 100).
          res.writeContinue(() => {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end('after 100');
          });
          return;
        }
        case '/headers-sent': {
          // Frameworks read res.headersSent to decide whether an error can still be answered.
          const before = res.headersSent;
          res.writeHead(200, { 'content-type': 'application/json' });
          const afterWriteHead = res.headersSent;
          res.write('');
          res.end(JSON.stringify({ before, afterWriteHead, afterWrite: res.headersSent }));
          return;
        }
        case '/write-head-twice': {
          // A second writeHead, or one after write, is a bug Node reports by throwing.
          res.writeHead(200, { 'content-type': 'application/json', 'x-first': '1' });
          const thrown: Array<string | undefined> = [];
          for (const again of [() => res.writeHead(500, { 'x-second': '1' }), () => (res.write('['), res.writeHead(201))]) {
            try {
              again();
              thrown.push(undefined);
            } catch (err) {
              thrown.push((err as NodeJS.ErrnoException).code);
            }
          }
          res.end(`${JSON.stringify({ thrown, statusCode: res.statusCode })}]`);
          return;
        }
        case '/on-headers': {
          // A hook in the style of the on-headers module: it runs when the head is written.
          const writeHead = res.writeHead;
          res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
            this.setHeader('set-cookie', 'sid=SECRET; HttpOnly');
            return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
          } as typeof res.writeHead;
          res.setHeader('content-type', 'text/plain');
          res.end('implicit head'); // no explicit writeHead: Node writes the head implicitly
          return;
        }
        case '/late-field': {
          // 40 KiB against a 32 KiB limit, then a field and the end.
          res.setHeader('content-type', 'application/octet-stream');
          for (let i = 0; i < 10; i++) {
            res.write(Buffer.alloc(4096, i), (err) => {
              if (err) state.callbacks.push(`write: ${(err as NodeJS.ErrnoException).code}`);
            });
          }
          if (res.writableEnded) res.setHeader('x-secret', 'session=abc123');
          res.end(() => state.callbacks.push('end'));
          return;
        }
        case '/head-stream': {
          // 128 KiB piped into a HEAD answer (the limit is 32 KiB): no body is sent either way.
          res.setHeader('content-type', 'application/octet-stream');
          const source = Readable.from((function* () {
            for (let i = 0; i < 32; i++) yield Buffer.alloc(4096, i);
          })());
          pipeline(source, res, (err) => state.callbacks.push(`pipeline: ${err ? (err as NodeJS.ErrnoException).code : 'ok'}`));
          return;
        }
        case '/callbacks': {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('x', () => state.callbacks.push('write'));
          res.end('y', () => state.callbacks.push('end'));
          return;
        }
        case '/status-only': {
          res.statusCode = 418;
          res.end();
          return;
        }
        case '/no-content': {
          res.writeHead(204, { 'x-nc': '1' });
          res.end();
          return;
        }
        case '/not-modified': {
          res.writeHead(304, { etag: '"abc"' });
          res.end();
          return;
        }
        case '/head-body': {
          res.writeHead(200, { 'content-type': 'text/plain', 'x-kind': 'head-body' });
          res.end(req.method === 'HEAD' ? undefined : 'hello');
          return;
        }
        case '/bytes': {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(allByteValues(2));
          return;
        }
        case '/big': {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const big = patternBytes(24 * 1024, 3);
          for (let i = 0; i < big.length; i += 4096) res.write(big.subarray(i, i + 4096));
          res.end();
          return;
        }
        case '/reason': {
          res.writeHead(299, 'Quite Unusual', { 'content-type': 'text/plain' });
          res.end('odd');
          return;
        }
        case '/secret-reason': {
          // Frameworks such as Koa set a reason phrase for every status; this one says too much.
          res.statusCode = 404;
          res.statusMessage = 'Order 42 of alice@example.com not found';
          res.end('no');
          return;
        }
        case '/status-message': {
          res.statusCode = 200;
          res.statusMessage = 'Fine By Me';
          res.end('ok');
          return;
        }
        case '/public': {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ public: true, protected: oscoreInfoOf(req) !== undefined }));
          return;
        }
        case '/whoami': {
          const info = oscoreInfoOf(req);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(info === undefined ? null : { peer: info.peer, kid: info.kid, kidContext: info.kidContext ?? null, seq: info.sequenceNumber }));
          return;
        }
        default: {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end(`no route for ${req.method} ${path}`);
        }
      }
    })();
  };
}

// ---------------------------------------------------------------------------------
// A Connect-style middleware chain, written here
// ---------------------------------------------------------------------------------

type Next = (err?: unknown) => void;
type Handle = (req: IncomingMessage, res: ServerResponse, next: Next) => void;
type ErrorHandle = (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;
type Req = IncomingMessage & { body?: unknown; peer?: string; originalUrl?: string };

interface ConnectLike {
  (req: IncomingMessage, res: ServerResponse): void;
  use(fn: Handle | ErrorHandle): ConnectLike;
  use(prefix: string, fn: Handle | ErrorHandle): ConnectLike;
}

/** Connect's dispatch: layers in order, prefix mounting with req.url stripped, error handlers have four parameters. */
function connectLike(): ConnectLike {
  const stack: Array<{ prefix: string; fn: Handle | ErrorHandle }> = [];
  const app = ((req: Req, res: ServerResponse) => {
    let index = 0;
    const originalUrl = req.url ?? '/';
    req.originalUrl = originalUrl;
    const next: Next = (err) => {
      req.url = originalUrl;
      const layer = stack[index++];
      if (layer === undefined) {
        res.statusCode = err === undefined ? 404 : 500;
        res.setHeader('content-type', 'text/plain');
        res.end(err === undefined ? `Cannot ${req.method} ${pathnameOf(originalUrl)}` : 'unhandled error');
        return;
      }
      const path = pathnameOf(originalUrl);
      const matches = layer.prefix === '/' || path === layer.prefix || path.startsWith(`${layer.prefix}/`);
      if (!matches) return next(err);
      if (layer.prefix !== '/') req.url = originalUrl.slice(layer.prefix.length) || '/';
      const isErrorHandler = layer.fn.length === 4;
      try {
        if (err !== undefined && isErrorHandler) (layer.fn as ErrorHandle)(err, req, res, next);
        else if (err === undefined && !isErrorHandler) (layer.fn as Handle)(req, res, next);
        else next(err);
      } catch (thrown) {
        next(thrown);
      }
    };
    next();
  }) as ConnectLike;
  app.use = (a: string | Handle | ErrorHandle, b?: Handle | ErrorHandle) => {
    stack.push(typeof a === 'string' ? { prefix: a, fn: b! } : { prefix: '/', fn: a });
    return app;
  };
  return app;
}

function buildConnectApp(): ConnectLike {
  const app = connectLike();
  app.use((req: IncomingMessage, res: ServerResponse, next: Next) => {
    res.setHeader('x-request-id', (req.headers['x-request-id'] as string | undefined) ?? 'none');
    next();
  });
  // Asynchronous middleware: the chain continues after verification, on a later tick.
  app.use((_req: IncomingMessage, _res: ServerResponse, next: Next) => void setTimeout(next, 1));
  // Body parser.
  app.use((req: Req, _res: ServerResponse, next: Next) => {
    readBody(req).then((raw) => {
      if (raw.length === 0) return next();
      if ((req.headers['content-type'] ?? '').startsWith('application/json')) {
        try {
          req.body = JSON.parse(raw.toString('utf8'));
        } catch {
          return next(Object.assign(new Error('invalid JSON body'), { status: 400 }));
        }
      } else {
        req.body = raw.toString('utf8');
      }
      next();
    }, next);
  });
  // Authorisation by OSCORE peer for everything under /api.
  app.use('/api', (req: Req, res: ServerResponse, next: Next) => {
    const info = oscoreInfoOf(req);
    if (info?.peer !== 'client-a') {
      res.statusCode = 403;
      res.setHeader('content-type', 'text/plain');
      res.end('forbidden: not an OSCORE peer');
      return;
    }
    req.peer = info.peer;
    next();
  });
  // Router mounted at /api (sees req.url without the prefix).
  app.use('/api', (req: Req, res: ServerResponse, next: Next) => {
    const path = pathnameOf(req.url);
    if (req.method === 'POST' && path === '/items') {
      res.writeHead(201, { 'content-type': 'application/json', location: '/api/items/7' });
      res.end(JSON.stringify({ created: req.body, peer: req.peer, url: req.url, originalUrl: req.originalUrl }));
      return;
    }
    if (req.method === 'GET' && path === '/items') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ items: [1, 2, 3], url: req.url }));
      return;
    }
    if (path === '/boom') throw new Error('sync boom');
    if (path === '/async-boom') return void setTimeout(() => next(new Error('async boom')), 1);
    next();
  });
  app.use((err: unknown, _req: IncomingMessage, res: ServerResponse, _next: Next) => {
    const e = err as Error & { status?: number };
    res.statusCode = e.status ?? 500;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ error: e.message }));
  });
  return app;
}

// ---------------------------------------------------------------------------------
// Servers and clients
// ---------------------------------------------------------------------------------

/** A client whose extra interceptor, composed inside the OSCORE one, records the outer responses. */
function outerSpy(): { client: OscoreClient; outer: Array<{ status: string; headers: Record<string, string | string[]> }> } {
  const outer: Array<{ status: string; headers: Record<string, string | string[]> }> = [];
  const spy: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
    dispatch(opts, {
      onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
      onResponseStart: (c, status, headers, message) => {
        outer.push({ status: `${status} ${message}`, headers: headers as Record<string, string | string[]> });
        return handler.onResponseStart?.(c, status, headers, message);
      },
      onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
      onResponseEnd: (c, trailers) => handler.onResponseEnd?.(c, trailers),
      onResponseError: (c, err) => handler.onResponseError?.(c, err),
    });
  return { client: oscoreAgent(protectedOrigin, { contexts: clientSet, inner: [spy] }), outer };
}

const resources = new Resources();
const plainState: AppState = { seen: [], finished: [], callbacks: [], statuses: [] };
const protectedState: AppState = { seen: [], finished: [], callbacks: [], statuses: [] };
const events: OscoreServerEvent[] = [];
let plainOrigin: string;
let protectedOrigin: string;
let connectOrigin: string;
let protectedTraffic: TrafficCounter;
let plainAgent: Agent;
let clientSet: ContextSet;
let client: OscoreClient;

async function start(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; origin: string }> {
  const server = resources.add(createServer(listener), closeServer);
  return { server, origin: await listen(server) };
}

beforeAll(async () => {
  plainOrigin = (await start(makeApp(plainState))).origin;
  const prot = await start(
    createOscoreHandler(
      {
        contexts: createContextSet([serverContextA()]),
        allowUnprotected: ['/public', 'GET /api/items'],
        maxBodySize: 32 * 1024,
        onEvent: (e) => events.push(e),
      },
      makeApp(protectedState),
    ),
  );
  protectedOrigin = prot.origin;
  protectedTraffic = countTraffic(prot.server);
  connectOrigin = (await start(createOscoreHandler({ contexts: createContextSet([serverContextA({ senderId: '31', recipientId: '32' })]), allowUnprotected: ['GET /api/items'] }, buildConnectApp()))).origin;

  plainAgent = resources.add(new Agent(), (a) => a.close());
  clientSet = createContextSet([clientContextA(protectedOrigin), clientContextA(connectOrigin, { senderId: '32', recipientId: '31' })]);
  client = resources.add(oscoreAgent(protectedOrigin, { contexts: clientSet }), (c) => c.close());
});

afterAll(() => resources.closeAll());

beforeEach(() => {
  for (const s of [plainState, protectedState]) {
    s.seen.length = 0;
    s.finished.length = 0;
    s.callbacks.length = 0;
    s.statuses.length = 0;
  }
  events.length = 0;
  protectedTraffic.reset();
});

interface Received {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

type Options = { method?: string; headers?: Dispatcher.RequestOptions['headers']; body?: Dispatcher.RequestOptions['body'] };

async function send(dispatcher: Dispatcher, origin: string, path: string, options: Options = {}): Promise<Received> {
  const res = await dispatcher.request({ origin, path, method: 'GET', ...options } as Dispatcher.RequestOptions);
  return { status: res.statusCode, headers: res.headers as Received['headers'], body: Buffer.from(await res.body.arrayBuffer()) };
}

const viaOscore = (path: string, options?: Options) => send(client.dispatcher, protectedOrigin, path, options);
const viaPlain = (path: string, options?: Options) => send(plainAgent, plainOrigin, path, options);

const TRANSPORT = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);
function endToEnd(headers: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !TRANSPORT.has(name)));
}

// ---------------------------------------------------------------------------------
// Responses written with the node:http API
// ---------------------------------------------------------------------------------

describe('responses written with setHeader / writeHead / write / end', () => {
  const cases: Array<[method: string, path: string]> = [
    ['GET', '/merge'],
    ['GET', '/raw-array'],
    ['GET', '/raw-array-only'],
    ['GET', '/implicit'],
    ['GET', '/encodings'],
    ['GET', '/async-writes'],
    ['GET', '/headers-sent'],
    ['GET', '/interim'],
    ['GET', '/bad-field'],
    ['GET', '/bad-reason'],
    ['GET', '/bad-status-message'],
    ['GET', '/bad-status'],
    ['GET', '/write-head-twice'],
    ['GET', '/status-only'],
    ['GET', '/no-content'],
    ['GET', '/not-modified'],
    ['GET', '/head-body'],
    ['HEAD', '/head-body'],
    ['GET', '/bytes'],
    ['GET', '/big'],
    ['GET', '/reason'],
    ['GET', '/status-message'],
    ['GET', '/no-such-path'],
  ];

  it.each(cases)('%s %s: the caller receives what the same listener sends without OSCORE', async (method, path) => {
    const expected = await viaPlain(path, { method });
    const actual = await viaOscore(path, { method });
    expect(actual.status).toBe(expected.status);
    expect(endToEnd(actual.headers)).toEqual(endToEnd(expected.headers));
    expect(actual.body.toString('latin1')).toBe(expected.body.toString('latin1'));
    expect(actual.headers['content-length']).toBe(String(actual.body.length));
    expect(protectedTraffic.requests).toBe(1);
    expect(protectedTraffic.seen[0]).toMatchObject({ method: 'POST', url: '/oscore', contentType: 'application/oscore' });
  });

  it('setHeader + writeHead merge and several writes (explicit expectations)', async () => {
    const res = await viaOscore('/merge');
    expect(res.status).toBe(201);
    expect(res.headers['x-set']).toBe('from-setHeader');
    expect(res.headers['x-over']).toBe('new');
    expect(res.headers['x-head']).toBe('from-writeHead');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2']);
    expect(res.body.toString()).toBe('one,two,three,four');
  });

  it('reason phrases from writeHead(status, reason) and res.statusMessage reach fetch’s statusText', async () => {
    for (const [path, status, reason] of [
      ['/reason', 299, 'Quite Unusual'],
      ['/status-message', 200, 'Fine By Me'],
      ['/merge', 201, 'Created Right Here'],
    ] as const) {
      const plain = await undiciFetch(`${plainOrigin}${path}`, { dispatcher: plainAgent });
      const prot = await undiciFetch(`${protectedOrigin}${path}`, { dispatcher: client.dispatcher });
      expect([prot.status, prot.statusText]).toEqual([status, reason]);
      expect([prot.status, prot.statusText]).toEqual([plain.status, plain.statusText]);
      await plain.arrayBuffer();
      await prot.arrayBuffer();
    }
  });

  it('the outer status line is always 200 OK: the application’s reason phrase travels only inside', async () => {
    const { client: spying, outer } = outerSpy();
    try {
      const res = await undiciFetch(`${protectedOrigin}/secret-reason`, { dispatcher: spying.dispatcher });
      expect([res.status, res.statusText]).toEqual([404, 'Order 42 of alice@example.com not found']);
      await res.arrayBuffer();
      expect(outer.map((o) => o.status)).toEqual(['200 OK']);
    } finally {
      await spying.close();
    }
  });

  it('fields set by a hook around writeHead (on-headers style) are captured and protected, never sent outside', async () => {
    const { client: spying, outer } = outerSpy();
    try {
      const res = await send(spying.dispatcher, protectedOrigin, '/on-headers');
      expect(res.headers['set-cookie']).toBe('sid=SECRET; HttpOnly');
      expect(res.body.toString()).toBe('implicit head');
      expect(outer[0]!.headers['set-cookie']).toBeUndefined();
    } finally {
      await spying.close();
    }
  });

  it('a field set after the body passed the limit never reaches the outer response', async () => {
    const { client: spying, outer } = outerSpy();
    try {
      const res = await send(spying.dispatcher, protectedOrigin, '/late-field');
      expect(res.status).toBe(500);
      expect(outer[0]!.headers['x-secret']).toBeUndefined();
      await expect.poll(() => protectedState.callbacks).toEqual(['write: ERR_OSCORE_HTTP_RESPONSE_TOO_LARGE', 'write: ERR_STREAM_WRITE_AFTER_END', 'end']);
    } finally {
      await spying.close();
    }
  });

  it('a HEAD answer streamed beyond the limit completes as without OSCORE (no body is kept or counted)', async () => {
    const expected = await viaPlain('/head-stream', { method: 'HEAD' });
    const actual = await viaOscore('/head-stream', { method: 'HEAD' });
    expect([actual.status, actual.body.length]).toEqual([expected.status, 0]);
    await expect.poll(() => protectedState.finished).toEqual(['/head-stream']);
    expect(protectedState.callbacks).toEqual(['pipeline: ok']);
  });

  it('res.statusCode at finish (what request loggers read) is the application’s status, as without OSCORE, not the outer 200', async () => {
    for (const path of ['/implicit', '/echo']) {
      await viaPlain(path);
      await viaOscore(path);
    }
    await expect.poll(() => protectedState.statuses).toEqual([202, 200]);
    expect(protectedState.statuses).toEqual(plainState.statuses);
  });

  it('Connection: close from the application closes the connection after the response, as without OSCORE (fastify sends it while closing)', async () => {
    // The outer head as it leaves the server, read from a raw socket.
    async function outerHead(path: string): Promise<{ head: string; closedByServer: boolean }> {
      const { option, payload } = await protectRequest(clientSet.contextFor(protectedOrigin)!, encodeRequest({ method: 'GET', target: path, headers: [], body: new Uint8Array(0) }));
      const socket = connect(Number(new URL(protectedOrigin).port), '127.0.0.1');
      socket.write(`POST /oscore HTTP/1.1\r\nHost: x\r\nContent-Type: application/oscore\r\nOSCORE: ${encodeOscoreHeader(option)}\r\nContent-Length: ${payload.length}\r\n\r\n`);
      socket.write(payload);
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      const closedByServer = await new Promise<boolean>((resolve) => {
        socket.once('end', () => resolve(true));
        setTimeout(() => resolve(false), 300);
      });
      socket.destroy();
      return { head: received.slice(0, received.indexOf('\r\n\r\n')), closedByServer };
    }
    const close = await outerHead('/close');
    expect(close.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(close.head).toMatch(/\r\nConnection: close(\r\n|$)/i);
    expect(close.closedByServer).toBe(true);
    const keep = await outerHead('/echo');
    expect(keep.head).toMatch(/\r\nConnection: keep-alive(\r\n|$)/i);
    expect(keep.closedByServer).toBe(false);
  });

  it('the callback of an interim response that is not sent still runs: an application answering from it answers', async () => {
    const res = await viaOscore('/continue');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('after 100');
  });

  it('write and end callbacks run, and the response emits finish, as without OSCORE', async () => {
    await viaOscore('/callbacks');
    await expect.poll(() => [...protectedState.callbacks].sort()).toEqual(['end', 'write']);
    await expect.poll(() => protectedState.finished).toEqual(['/callbacks']);
  });

  it('a response body beyond maxResponseSize (default maxBodySize, 32 KiB here) becomes a protected 500', async () => {
    // The echo answers with the body in base64 inside JSON: 30 KiB in, ~40 KiB out.
    const res = await viaOscore('/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: patternBytes(30 * 1024) });
    expect(res.status).toBe(500);
    expect(res.body.toString()).toBe('Response too large');
    expect(events).toEqual([expect.objectContaining({ type: 'response-failed', status: 500, protected: true, peer: 'client-a', kid: '02' })]);
    expect(events[0]!.error.code).toBe('ERR_OSCORE_HTTP_RESPONSE_TOO_LARGE');
  });

  it('the event names the inner request for the framework, but logging the whole event writes none of it out', async () => {
    const secret = 'Bearer SECRET-TOKEN-4f1c';
    await viaOscore('/echo?token=QUERY-SECRET-9a', { method: 'POST', headers: { 'content-type': 'application/octet-stream', authorization: secret }, body: patternBytes(30 * 1024) });
    const [event] = events;
    expect(event!.request?.headers.authorization).toBe(secret);
    for (const text of [JSON.stringify(event), inspect(event, { depth: 5 }), JSON.stringify({ ...event })]) {
      expect(text).not.toContain('SECRET-TOKEN-4f1c');
      expect(text).not.toContain('QUERY-SECRET-9a');
    }
    expect(JSON.parse(JSON.stringify(event))).toMatchObject({ type: 'response-failed', status: 500, protected: true, kid: '02', peer: 'client-a' });
  });
});

// ---------------------------------------------------------------------------------
// Requests as the listener sees them
// ---------------------------------------------------------------------------------

describe('requests as the listener sees them', () => {
  const cases: Array<[label: string, path: string, options: Options]> = [
    [
      'GET with query, repeated and custom fields',
      '/echo?a=1&a=2&u=%C3%A9&sp=a%20b',
      {
        headers: {
          'x-list': ['a', 'b'],
          authorization: 'Bearer abc',
          cookie: ['c1=1', 'c2=2'],
          accept: 'application/json',
          'if-none-match': '"etag-1"',
          'user-agent': 'node-handler-test',
          'x-empty': '',
        },
      },
    ],
    ['POST with JSON', '/echo', { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"x":[1,2,3]}' }],
    ['PUT with all byte values', '/echo/more', { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: allByteValues() }],
    ['PATCH with text', '/echo', { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: 'patch me' }],
    ['POST without body', '/echo', { method: 'POST' }],
    ['DELETE without body', '/echo?id=3', { method: 'DELETE' }],
    ['DELETE with body', '/echo', { method: 'DELETE', headers: { 'content-type': 'text/plain' }, body: 'bye' }],
    ['OPTIONS', '/echo', { method: 'OPTIONS', headers: { origin: 'http://example.test', 'access-control-request-method': 'PUT' } }],
    ['HEAD', '/echo', { method: 'HEAD' }],
    ['If-Match list', '/echo', { method: 'PUT', headers: { 'if-match': '"a", "b"', 'content-type': 'text/plain' }, body: 'v2' }],
  ];

  it.each(cases)('%s: same method, target, fields and body as without OSCORE', async (_label, path, options) => {
    const plainRes = await viaPlain(path, options);
    const protRes = await viaOscore(path, options);
    expect(protRes.status).toBe(plainRes.status);
    const [expected] = plainState.seen;
    const [actual] = protectedState.seen;
    expect(actual!.method).toBe(expected!.method);
    expect(actual!.url).toBe(expected!.url);
    expect(endToEnd(actual!.headers)).toEqual(endToEnd(expected!.headers));
    expect(actual!.headers['content-length']).toBe(expected!.headers['content-length']);
    expect(Buffer.compare(actual!.body, expected!.body)).toBe(0);
    expect(actual!.oscore).toMatchObject({ peer: 'client-a', kid: '02' });
    expect(expected!.oscore).toBeUndefined();
  });

  it('a method token node’s own parser would refuse still arrives through OSCORE', async () => {
    const res = await viaOscore('/echo', { method: 'BREW', headers: { 'content-type': 'text/plain' }, body: 'coffee' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ method: 'BREW', url: '/echo', body: Buffer.from('coffee').toString('base64') });
    expect(protectedState.seen[0]!.method).toBe('BREW');
  });

  it('the inner request never carries the outer framing fields', async () => {
    await viaOscore('/echo', { method: 'POST', headers: { 'content-type': 'text/plain', connection: 'x-hop', 'x-hop': '1', te: 'trailers', 'keep-alive': '1' }, body: 'x' });
    const h = protectedState.seen[0]!.headers;
    for (const name of ['oscore', 'connection', 'x-hop', 'te', 'keep-alive', 'transfer-encoding']) expect(h[name], name).toBeUndefined();
    expect(h['content-type']).toBe('text/plain');
    expect(h['content-length']).toBe('1');
    expect(h.host).toBe(new URL(protectedOrigin).host);
  });

  it('oscoreInfoOf(req) names the peer; sequence numbers increase', async () => {
    const first = JSON.parse((await viaOscore('/whoami')).body.toString()) as { seq: number };
    const second = JSON.parse((await viaOscore('/whoami')).body.toString()) as { seq: number };
    expect(first).toMatchObject({ peer: 'client-a', kid: '02', kidContext: null });
    expect(second.seq).toBeGreaterThan(first.seq);
  });
});

describe('the outer request target', () => {
  it('by default an OSCORE request at / is served too: where an RFC 8613 §11 peer mapping from CoAP sends (§11.6)', async () => {
    const rootClient = oscoreAgent(protectedOrigin, { contexts: clientSet, interceptor: { outerPath: '/' } });
    try {
      const res = await send(rootClient.dispatcher, protectedOrigin, '/echo?x=1', { method: 'POST', body: 'hi' });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body.toString())).toMatchObject({ method: 'POST', url: '/echo?x=1' });
      expect(protectedTraffic.seen[0]).toMatchObject({ method: 'POST', url: '/', contentType: 'application/oscore' });
    } finally {
      await rootClient.close();
    }
  });

  it('a server given one outerPath serves OSCORE only there', async () => {
    const { origin } = await start(createOscoreHandler({ contexts: createContextSet([serverContextA()], { store: 'memory' }), outerPath: '/svc/oscore' }, makeApp(protectedState)));
    const contexts = createContextSet([clientContextA(origin)], { store: 'memory' });
    const there = oscoreAgent(origin, { contexts, interceptor: { outerPath: '/svc/oscore' } });
    const root = oscoreAgent(origin, { contexts, interceptor: { outerPath: '/' } });
    try {
      expect((await send(there.dispatcher, origin, '/echo')).status).toBe(200);
      const refused = await send(root.dispatcher, origin, '/echo').catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 404 });
      expect(protectedState.seen).toHaveLength(1);
    } finally {
      await there.close();
      await root.close();
    }
  });
});

describe('fields the policy sends outside', () => {
  it('an invalid value in an outer field: writeHead throws as Node’s does, and the uncaught error makes a protected 500, never an unprotected answer', async () => {
    const seen: OscoreServerEvent[] = [];
    const { origin } = await start(
      createOscoreHandler({ contexts: createContextSet([serverContextA()], { store: 'memory' }), headers: { 'x-trace': 'outer' }, onEvent: (e) => seen.push(e) }, (_req, res) => {
        // Node's own writeHead throws on this value, and so does the capture's.
        res.writeHead(200, { 'content-type': 'text/plain', 'x-trace': 'a\r\nx-injected: 1' });
        res.end('ok');
      }),
    );
    const agent = oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin)], { store: 'memory' }) });
    try {
      const res = await send(agent.dispatcher, origin, '/');
      expect(res.status).toBe(500);
      expect(res.headers['x-injected']).toBeUndefined();
      expect(seen).toMatchObject([{ type: 'response-failed', protected: true, status: 500, error: { code: 'ERR_OSCORE_HTTP_APPLICATION_FAILED' } }]);
      expect((seen[0]!.error.cause as NodeJS.ErrnoException).code).toBe('ERR_INVALID_CHAR');
    } finally {
      await agent.close();
    }
  });
});

describe('options that would fail open (found in review)', () => {
  it('a size that is NaN, a string, negative or a fraction, or an echoMaxAge that is not a positive number: a ContextConfigError naming the option, when the handler is made', () => {
    const contexts = createContextSet([serverContextA()], { store: 'memory' });
    const errorOf = (extra: Record<string, unknown>) => thrownBy(() => createOscoreHandler({ contexts, ...extra }, () => {}));
    // Number(process.env.UNSET) is NaN, and `n > NaN` is false: each would have switched its limit off.
    for (const [name, value] of [
      ['maxBodySize', Number(undefined)],
      ['maxBodySize', '1048576'],
      ['maxHeaderSize', -1],
      ['maxResponseSize', 2.5],
      ['maxResponseSize', Infinity],
      ['echoMaxAge', NaN],
      ['echoMaxAge', 0],
      ['echoMaxAge', '30'],
    ] as const) {
      expect(errorOf({ [name]: value }), `${name}: ${String(value)}`).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: name });
    }
    expect(errorOf({ maxBodySize: 0, maxResponseSize: 0, echoMaxAge: 0.5 })).toBeUndefined();
    expect(() => new EchoIssuer(NaN)).toThrow(ContextConfigError);
    expect(() => new BodyBuffer(NaN)).toThrow(RangeError);
  });

  it('Number.MAX_SAFE_INTEGER for "no limit", on both sides: requests are served (the derived outer limit stays an exact integer)', async () => {
    const { origin } = await start(createOscoreHandler({ contexts: createContextSet([serverContextA()], { store: 'memory' }), maxBodySize: Number.MAX_SAFE_INTEGER, maxResponseSize: Number.MAX_SAFE_INTEGER }, (_req, res) => res.end('served')));
    const agent = oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin)], { store: 'memory' }), interceptor: { maxBodySize: Number.MAX_SAFE_INTEGER, maxResponseSize: Number.MAX_SAFE_INTEGER } });
    try {
      const res = await send(agent.dispatcher, origin, '/');
      expect([res.status, res.body.toString()]).toEqual([200, 'served']);
    } finally {
      await agent.close();
    }
  });
});

describe('maxHeaderSize on the receiving side', () => {
  it('a server refuses protected request fields beyond its limit with a protected 431; a client refuses response fields beyond its own', async () => {
    const seen: string[] = [];
    const { origin } = await start(
      createOscoreHandler({ contexts: createContextSet([serverContextA(), serverContextB()], { store: 'memory' }), maxHeaderSize: 1024, onEvent: (e) => seen.push(e.error.code) }, (req, res) => {
        res.setHeader('x-big', 'r'.repeat(Number(req.headers['x-reply-size'] ?? 0)));
        res.end('ok');
      }),
    );
    const big = oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin)], { store: 'memory' }) });
    const small = oscoreAgent(origin, { contexts: createContextSet([clientContextB(origin)], { store: 'memory' }), interceptor: { maxHeaderSize: 512 } });
    try {
      expect((await send(big.dispatcher, origin, '/', { headers: { 'x-fill': 'a'.repeat(900) } })).status).toBe(200);
      const refused = await send(big.dispatcher, origin, '/', { headers: { 'x-fill': 'a'.repeat(1100) } });
      expect(refused.status).toBe(431);
      expect(seen).toEqual(['ERR_OSCORE_HTTP_HEADERS_TOO_LARGE']);
      expect((await send(small.dispatcher, origin, '/', { headers: { 'x-reply-size': '400' } })).status).toBe(200);
      const error = await send(small.dispatcher, origin, '/', { headers: { 'x-reply-size': '600' } }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_OSCORE_HTTP_HEADERS_TOO_LARGE', limit: 512 });
    } finally {
      await big.close();
      await small.close();
    }
  });
});

describe('an async listener that rejects (found in review)', () => {
  it('before answering: a protected 500 as for a throw, never a hanging request; after answering: its response stands', async () => {
    const seen: OscoreServerEvent[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const { origin } = await start(
      createOscoreHandler({ contexts: createContextSet([serverContextA()], { store: 'memory' }), onEvent: (e) => seen.push(e) }, (req, res) => {
        if (req.url === '/thenable') {
          // Not a native Promise (another realm, a promise library): awaited all the same.
          return { then: (_resolve: unknown, reject: (err: Error) => void) => setImmediate(() => reject(new Error('secret detail of a thenable'))) };
        }
        return (async () => {
          await new Promise((resolve) => setImmediate(resolve));
          if (req.url === '/after') {
            res.end('answered');
            throw new Error('after the answer');
          }
          throw new Error('secret detail of an async bug');
        })();
      }),
    );
    const agent = oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin)], { store: 'memory' }) });
    try {
      const res = await send(agent.dispatcher, origin, '/');
      expect(res.status).toBe(500);
      expect(res.body.toString()).not.toContain('secret detail');
      expect(seen).toMatchObject([{ type: 'response-failed', protected: true, status: 500, error: { code: 'ERR_OSCORE_HTTP_APPLICATION_FAILED' } }]);
      const thenable = await send(agent.dispatcher, origin, '/thenable');
      expect(thenable.status).toBe(500);
      expect(thenable.body.toString()).not.toContain('secret detail');
      const after = await send(agent.dispatcher, origin, '/after');
      expect([after.status, after.body.toString()]).toEqual([200, 'answered']);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // As node:http leaves it: the application's own error, not one of ours.
      expect(unhandled.map((e) => (e as Error).message)).toEqual(['after the answer']);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await agent.close();
    }
  });
});

describe('a listener that throws', () => {
  it.each([
    ['before writing anything', (_res: ServerResponse) => undefined],
    ['after setting a status and a header', (res: ServerResponse) => {
      res.statusCode = 201;
      res.setHeader('x-partial', '1');
    }],
  ])('%s: the verified request gets a protected 500 without detail (RFC 8613 §8.3), and the event is reported', async (_name, before) => {
    const seen: OscoreServerEvent[] = [];
    const { origin } = await start(
      createOscoreHandler({ contexts: createContextSet([serverContextA()], { store: 'memory' }), onEvent: (e) => seen.push(e) }, (_req, res) => {
        before(res);
        throw new Error('secret detail of a bug');
      }),
    );
    const agent = oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin)], { store: 'memory' }) });
    try {
      const res = await send(agent.dispatcher, origin, '/');
      expect(res.status).toBe(500);
      expect(res.headers['x-partial']).toBeUndefined();
      expect(res.body.toString()).not.toContain('secret detail');
      expect(seen).toMatchObject([{ type: 'response-failed', protected: true, status: 500, error: { code: 'ERR_OSCORE_HTTP_APPLICATION_FAILED' } }]);
      expect((seen[0]!.error.cause as Error).message).toBe('secret detail of a bug');
      expect(JSON.stringify(seen[0]!.error)).not.toContain('secret detail');
    } finally {
      await agent.close();
    }
  });
});

// ---------------------------------------------------------------------------------
// What never reaches the listener
// ---------------------------------------------------------------------------------

describe('requests refused before the listener runs', () => {
  async function raw(path: string, options: Options): Promise<Received> {
    return send(plainAgent, protectedOrigin, path, options);
  }

  it('an allow-listed path is served without OSCORE; oscoreInfoOf is undefined', async () => {
    const res = await raw('/public', { method: 'GET' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ public: true, protected: false });
    const post = await raw('/public', { method: 'POST', body: 'x' });
    expect(post.status).toBe(200);
  });

  it('a path that is not allow-listed gets 401 with WWW-Authenticate: OSCORE and an event', async () => {
    const res = await raw('/echo', { method: 'GET' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('OSCORE');
    expect(res.body.toString()).toBe('OSCORE required');
    expect(protectedState.seen).toHaveLength(0);
    expect(events).toEqual([expect.objectContaining({ type: 'rejected', status: 401, protected: false })]);
    expect(events[0]!.error.code).toBe('ERR_OSCORE_HTTP_UNPROTECTED_REQUEST');
  });

  it.each([
    ['not POST', '/oscore', { method: 'PUT', headers: { 'content-type': 'application/oscore', oscore: 'CQAC' }, body: 'x' }, 405, 'OSCORE requests use POST'],
    ['wrong outer path', '/elsewhere', { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: 'CQAC' }, body: 'x' }, 404, undefined],
    ['wrong content type', '/oscore', { method: 'POST', headers: { 'content-type': 'text/plain', oscore: 'CQAC' }, body: 'x' }, 415, 'Content-Type must be application/oscore'],
    // Node keeps the first Content-Type only; a hop in front may read the second.
    ['two Content-Type fields', '/oscore', { method: 'POST', headers: ['content-type', 'application/oscore', 'Content-Type', 'text/html', 'oscore', 'CQAC'], body: 'x' }, 415, 'Content-Type must be application/oscore'],
    ['malformed OSCORE field', '/oscore', { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: 'not base64url!' }, body: 'x' }, 400, 'Failed to decode COSE'],
    ['unknown kid', '/oscore', { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: 'CQB_' }, body: 'xxxxxxxxxxxx' }, 401, 'Security context not found'],
    ['undecryptable', '/oscore', { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: 'C3___wI' }, body: 'xxxxxxxxxxxxxxxx' }, 400, 'Decryption failed'],
  ] as const)('%s: refused unprotected, listener not called', async (_label, path, options, status, diagnostic) => {
    const res = await raw(path, options as Options);
    expect(res.status).toBe(status);
    if (diagnostic !== undefined) expect(res.body.toString()).toBe(diagnostic);
    if (status === 405) expect(res.headers.allow).toBe('POST');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(protectedState.seen).toHaveLength(0);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'rejected', status, protected: false });
  });

  it('a raw OSCORE-looking POST with a huge body gets 413 without reaching the listener', async () => {
    const res = await raw('/oscore', { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: 'CQAC' }, body: Buffer.alloc(512 * 1024, 1) });
    expect(res.status).toBe(413);
    expect(res.body.toString()).toBe('Payload too large');
    expect(protectedState.seen).toHaveLength(0);
    expect(events).toEqual([expect.objectContaining({ type: 'rejected', status: 413, protected: false })]);
  });

  it('the client refuses a body over its limit before sending; a larger client limit gets a protected 413', async () => {
    const small = oscoreAgent(protectedOrigin, { contexts: clientSet, interceptor: { maxBodySize: 32 * 1024 } });
    const large = oscoreAgent(protectedOrigin, { contexts: clientSet, interceptor: { maxBodySize: 1024 * 1024 } });
    try {
      const body = patternBytes(32 * 1024 + 1);
      const err = await send(small.dispatcher, protectedOrigin, '/echo', { method: 'POST', body }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BodyTooLargeError);
      expect((err as BodyTooLargeError).limit).toBe(32 * 1024);
      expect(protectedTraffic.requests).toBe(0);
      const res = await send(large.dispatcher, protectedOrigin, '/echo', { method: 'POST', body });
      expect(res.status).toBe(413);
      expect(protectedState.seen).toHaveLength(0);
      expect(events).toEqual([expect.objectContaining({ type: 'rejected', status: 413, protected: true, peer: 'client-a' })]);
    } finally {
      await small.close();
      await large.close();
    }
  });
});

describe('an onEvent observer that fails', () => {
  it.each([
    ['throws', () => { throw new Error('observer failed'); }],
    ['returns a rejected promise', async () => { throw new Error('observer failed'); }],
  ] as const)('%s: the request is answered as usual and the process keeps no unhandled rejection', async (_what, onEvent) => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const { origin } = await start(createOscoreHandler({ contexts: createContextSet([serverContextA()], { store: 'memory' }), onEvent }, makeApp(protectedState)));
      const res = await send(plainAgent, origin, '/echo');
      expect(res.status).toBe(401);
      expect(res.body.toString()).toBe('OSCORE required');
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
});

describe('the OSCORE body as it arrives', () => {
  /** An interceptor under the OSCORE one: sends the protected body as chunked encoding, one byte per chunk. */
  const oneByteChunks: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
    const body = Buffer.from(opts.body as Uint8Array);
    const headers = Object.fromEntries(Object.entries(opts.headers as Record<string, string>).filter(([name]) => name.toLowerCase() !== 'content-length'));
    return dispatch({ ...opts, headers, body: Readable.from((function* () { for (const byte of body) yield Buffer.of(byte); })()) }, handler);
  };

  it('a body in 1-byte chunks is read whole and verified', async () => {
    const chunked = oscoreAgent(protectedOrigin, { contexts: clientSet, inner: [oneByteChunks] });
    try {
      const body = patternBytes(3000);
      const res = await send(chunked.dispatcher, protectedOrigin, '/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
      expect(res.status).toBe(200);
      expect(Buffer.from(JSON.parse(res.body.toString()).body, 'base64').equals(Buffer.from(body))).toBe(true);
      expect(protectedState.seen).toHaveLength(1);
    } finally {
      await chunked.close();
    }
  });

  it('a body in 1-byte chunks held open costs memory of its size, not an object per chunk (nothing verified yet)', async () => {
    // 2 × 100,000 one-byte chunks: 1.2 MB on the wire, 200 KB of body, under the outer limit
    // (32 KiB + 16 KiB + 64 KiB). Kept as chunk objects, that is some 40 MB of heap.
    const chunks = '1\r\nx\r\n'.repeat(100_000);
    const { port } = new URL(protectedOrigin);
    const before = heapHeld();
    const sockets = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(Number(port), '127.0.0.1', () => {
              socket.write('POST /oscore HTTP/1.1\r\nHost: x\r\nContent-Type: application/oscore\r\nOSCORE: CQAC\r\nTransfer-Encoding: chunked\r\n\r\n');
              socket.write(chunks, () => resolve(socket));
            });
            socket.once('error', reject);
          }),
      ),
    );
    try {
      await new Promise((r) => setTimeout(r, 500)); // the server reads what the kernel holds
      const grown = heapHeld() - before;
      expect(grown).toBeLessThan(8 * 1024 * 1024);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    expect(protectedState.seen).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------
// A Connect-style (req, res, next) chain behind createOscoreHandler
// ---------------------------------------------------------------------------------

describe('the aborts a connection holds', () => {
  it('a keep-alive connection holds no abort of an answered request: each leaves its socket’s list at its response’s close', async () => {
    const { server, origin } = await start(createOscoreHandler({ contexts: createContextSet([serverContextA()]) }, (_req, res) => res.end('ok')));
    const sockets: Socket[] = [];
    server.on('connection', (socket: Socket) => sockets.push(socket));
    const peer = oscoreAgent(origin);
    try {
      for (let i = 0; i < 20; i++) expect((await send(peer.dispatcher, origin, '/')).status).toBe(200);
      await new Promise((r) => setImmediate(r)); // a response closes the tick after it finished
      const held = sockets.map((socket) => {
        const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'oscore-http.pending-aborts');
        return key === undefined ? undefined : (socket as unknown as Record<symbol, unknown[]>)[key]!.length;
      });
      expect(held.length).toBeGreaterThan(0);
      expect(held.every((n) => n === 0)).toBe(true);
    } finally {
      await peer.close();
    }
  });
});

describe('Connect-style middleware chain behind createOscoreHandler', () => {
  const viaChain = (path: string, options?: Options) => send(client.dispatcher, connectOrigin, path, options);

  it('POST through logger, async step, body parser, peer check and mounted router', async () => {
    const res = await viaChain('/api/items', { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' }, body: JSON.stringify({ name: 'widget', qty: 3 }) });
    expect(res.status).toBe(201);
    expect(res.headers['x-request-id']).toBe('r-1');
    expect(res.headers.location).toBe('/api/items/7');
    expect(JSON.parse(res.body.toString())).toEqual({ created: { name: 'widget', qty: 3 }, peer: 'client-a', url: '/items', originalUrl: '/api/items' });
  });

  it('GET with a query through the chain', async () => {
    const res = await viaChain('/api/items?page=2&tag=a&tag=b');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body.toString())).toEqual({ items: [1, 2, 3], url: '/items?page=2&tag=a&tag=b' });
    expect(res.headers['x-request-id']).toBe('none');
  });

  it('a thrown error and a next(err) reach the error middleware; the 500 is protected', async () => {
    const sync = await viaChain('/api/boom');
    expect(sync.status).toBe(500);
    expect(JSON.parse(sync.body.toString())).toEqual({ error: 'sync boom' });
    const asyncErr = await viaChain('/api/async-boom');
    expect(asyncErr.status).toBe(500);
    expect(JSON.parse(asyncErr.body.toString())).toEqual({ error: 'async boom' });
  });

  it('a malformed JSON body becomes the chain’s 400', async () => {
    const res = await viaChain('/api/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toEqual({ error: 'invalid JSON body' });
  });

  it('an unknown path falls through to the final 404', async () => {
    const res = await viaChain('/nothing/here', { method: 'DELETE' });
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('Cannot DELETE /nothing/here');
  });

  it('the same chain tells an allow-listed unprotected request apart (403 from the peer check)', async () => {
    const res = await send(plainAgent, connectOrigin, '/api/items');
    expect(res.status).toBe(403);
    expect(res.body.toString()).toBe('forbidden: not an OSCORE peer');
    const refused = await send(plainAgent, connectOrigin, '/api/items', { method: 'POST', body: '{}' });
    expect(refused.status).toBe(401);
  });

  it('20 concurrent requests through the chain each get their own answer', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        viaChain('/api/items', { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `c-${i}` }, body: JSON.stringify({ i }) }),
      ),
    );
    results.forEach((res, i) => {
      expect(res.status).toBe(201);
      expect(res.headers['x-request-id']).toBe(`c-${i}`);
      expect(JSON.parse(res.body.toString()).created).toEqual({ i });
    });
  });
});

describe('a framework that replaces the response prototype (as Express does)', () => {
  it('still has every write captured and protected: nothing reaches the wire unprotected', async () => {
    const { createServer: create, ServerResponse: Response } = await import('node:http');
    const serverSet = createContextSet([{ masterSecret: { hex: '42'.repeat(16) }, senderId: '0a', recipientId: '0b' }], { store: 'memory' });
    const expressLike = Object.create(Response.prototype, {
      send: {
        value(this: ServerResponse, body: string) {
          this.setHeader('content-type', 'text/plain; charset=utf-8');
          this.end(body);
        },
      },
    });
    let wire = '';
    const server = create(
      createOscoreHandler({ contexts: serverSet }, (_req, res) => {
        Object.setPrototypeOf(res, expressLike);
        (res as unknown as { send(b: string): void }).send('secret reply');
      }),
    );
    server.on('connection', (socket) => {
      const write = socket.write.bind(socket);
      socket.write = ((chunk: unknown, ...rest: unknown[]) => {
        wire += Buffer.from(chunk as Uint8Array).toString('latin1');
        return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof socket.write;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const { oscore } = await import('@oscore-http/undici');
    const agent = new Agent().compose(oscore({ contexts: createContextSet([{ peer: origin, masterSecret: { hex: '42'.repeat(16) }, senderId: '0b', recipientId: '0a' }], { store: 'memory' }) }));
    const res = await undiciFetch(`${origin}/x`, { dispatcher: agent });
    expect(await res.text()).toBe('secret reply');
    expect(wire).toContain('application/oscore');
    expect(wire).not.toContain('secret reply');
    expect(wire).not.toContain('text/plain');
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('the contexts option', () => {
  it('anything but a context set, a lookup or security contexts: a ContextConfigError when the handler is made, naming the place', () => {
    const app = () => undefined;
    const errorOf = (contexts: unknown) => {
      try {
        createOscoreHandler({ contexts: contexts as ContextSet }, app);
        return undefined;
      } catch (err) {
        return err as ContextConfigError;
      }
    };
    for (const wrong of [undefined, null, 42, 'contexts.json', {}]) {
      const err = errorOf(wrong);
      expect(err, String(wrong)).toBeInstanceOf(ContextConfigError);
      expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: 'contexts' });
      expect(err?.message).toMatch(/loadContextFile\(path\)/);
    }
    // Configurations where made contexts are expected: the first entry is named.
    expect(errorOf([serverContextA()])).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: 'contexts[0]' });
    // What it does take.
    const set = createContextSet([serverContextA()], { store: 'memory' });
    expect(errorOf(set)).toBeUndefined();
    expect(errorOf(set.registry)).toBeUndefined();
  });
});

describe("a context past its 'exp' (draft-ietf-core-oscore-key-limits §2.2.1)", () => {
  const EXPIRED = '2020-01-01T00:00:00Z';

  it('the server refuses with 503 before the listener runs; a client whose context expired sends nothing', async () => {
    let ran = 0;
    const refused: OscoreServerEvent[] = [];
    const listener = (_req: IncomingMessage, res: ServerResponse) => {
      ran++;
      res.end('ran');
    };
    const { server, origin } = await start(
      createOscoreHandler({ contexts: createContextSet([serverContextA({ senderId: '41', recipientId: '42', exp: EXPIRED })], { store: 'memory' }), onEvent: (e) => refused.push(e) }, listener),
    );
    const traffic = countTraffic(server);
    const fresh = resources.add(oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin, { senderId: '42', recipientId: '41' })], { store: 'memory' }) }), (c) => c.close());
    // The refusal cannot be protected (the context is spent): the client sees an unverifiable 503.
    await expect(send(fresh.dispatcher, origin, '/echo')).rejects.toMatchObject({ code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 503, diagnostic: 'Security context exhausted' });
    expect(ran).toBe(0);
    expect(refused).toEqual([expect.objectContaining({ type: 'rejected', status: 503 })]);
    expect(refused[0]!.error.code).toBe('ERR_OSCORE_USAGE_LIMIT');

    traffic.reset();
    const expired = resources.add(oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin, { senderId: '42', recipientId: '41', exp: EXPIRED })], { store: 'memory' }) }), (c) => c.close());
    await expect(send(expired.dispatcher, origin, '/echo')).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'exp' });
    expect(traffic.requests).toBe(0);
  });
});
