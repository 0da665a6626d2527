/**
 * End-to-end: a real fastify server with @oscore-http/fastify and a real undici client
 * with @oscore-http/undici, over loopback. Every request and response travels as an
 * OSCORE message (outer `POST /oscore`, `application/oscore`); the tests assert what
 * the route handler saw and what the caller received, for every method, many status
 * codes, headers, bodies, query strings and 1,000 concurrent requests.
 *
 * Servers:
 *  - `main`     AES-CCM (default), contexts for clients A and B, `GET /health` allow-listed;
 *  - `gcm`      A128GCM, maxBodySize 1 MiB (fastify's own bodyLimit set higher);
 *  - `traced`   header policy `x-trace: outer`.
 * Client A shares one ContextSet across all its agents: one sender sequence per server,
 * as a real client must (a fresh context restarting at 0 would be a replay).
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyQuery } from 'node:querystring';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Agent, FormData as UndiciFormData, Response as UndiciResponse, fetch as undiciFetch, request, type Dispatcher } from 'undici';
import { MemorySequenceNumberSource, MessageTooLargeError, OscoreError } from '@oscore-http/core';
import { BodyTooLargeError, createContextSet, HeadersTooLargeError, UnprotectedResponseError, type ContextSet } from '@oscore-http/http';
import { startFastify, type TestServer } from './support/fastify-server.js';
import {
  allByteValues,
  clientContextA,
  clientContextB,
  oscoreAgent,
  patternBytes,
  rejectionOf,
  Resources,
  SECRET_A,
  serverContextA,
  serverContextB,
  type OscoreClient,
} from './support/oscore-peers.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const resources = new Resources();
let main: TestServer;
let gcm: TestServer;
let traced: TestServer;
/** Client A's contexts for every server (one sequence number space per server). */
let setA: ContextSet;
let clientA: OscoreClient;
/** Client A with `x-trace` sent outside the protection. */
let clientAOuterTrace: OscoreClient;
let clientB: OscoreClient;

// ---------------------------------------------------------------------------------
// Server routes
// ---------------------------------------------------------------------------------

type Described = { none: true } | { text: string } | { bytes: string } | { json: unknown };

/** A body as the handler received it, in a JSON-safe form. */
function describeBody(body: unknown): Described {
  if (body === undefined || body === null) return { none: true };
  if (Buffer.isBuffer(body)) return { bytes: body.toString('base64') };
  if (typeof body === 'string') return { text: body };
  return { json: body };
}

/** Buffer parser for anything fastify has no parser for (octet-stream, cbor, xml, multipart…). */
function addBufferParser(app: FastifyInstance): void {
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
}

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PURGE', 'PROPFIND', 'REPORT', 'QUERY'];

function mainRoutes(app: FastifyInstance, s: Pick<TestServer, 'record'>): void {
  app.addHttpMethod('PURGE');
  app.addHttpMethod('PROPFIND', { hasBody: true });
  app.addHttpMethod('REPORT', { hasBody: true });
  addBufferParser(app);

  // --- methods ---------------------------------------------------------------
  app.route({
    method: ALL_METHODS,
    url: '/methods/:id',
    handler: async (req, reply) => {
      s.record(req);
      reply.header('x-seen-method', req.method);
      return { method: req.method, url: req.raw.url, id: (req.params as { id: string }).id, body: describeBody(req.body) };
    },
  });

  // --- status codes ---------------------------------------------------------
  app.get('/status/:code', async (req, reply) => {
    s.record(req);
    const code = Number((req.params as { code: string }).code);
    reply.code(code).header('x-status', String(code));
    if (code >= 300 && code < 400 && code !== 304) reply.header('location', `/target?from=${code}`);
    if (code === 204 || code === 304) return reply.send();
    return reply.type('text/plain; charset=utf-8').send(`status ${code}`);
  });
  app.get('/status-extra/405', async (req, reply) => {
    s.record(req);
    return reply.code(405).header('allow', 'GET, HEAD').send({ error: 'method not allowed here' });
  });
  app.get('/status-extra/429', async (req, reply) => {
    s.record(req);
    return reply.code(429).headers({ 'retry-after': '30', 'ratelimit-remaining': '0' }).send({ error: 'slow down' });
  });
  app.get('/status-extra/451', async (req, reply) => {
    s.record(req);
    return reply.code(451).header('link', '<https://authority.example/ban>; rel="blocked-by"').send('Unavailable For Legal Reasons');
  });
  app.get('/status-extra/503', async (req, reply) => {
    s.record(req);
    return reply.code(503).header('retry-after', 'Wed, 21 Oct 2026 07:28:00 GMT').send({ error: 'maintenance' });
  });
  app.get('/status-extra/401', async (req, reply) => {
    s.record(req);
    return reply.code(401).header('www-authenticate', 'Bearer realm="app"').send({ error: 'application-level 401' });
  });
  app.get('/throws', async (req) => {
    s.record(req);
    throw new Error('kaboom');
  });
  app.get('/throws-409', async (req) => {
    s.record(req);
    throw Object.assign(new Error('already exists'), { statusCode: 409 });
  });
  app.post('/validate', { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } }, async (req) => {
    s.record(req);
    return { ok: true };
  });
  app.get('/reason', async (req, reply) => {
    s.record(req);
    reply.raw.statusMessage = 'Totally Fine Thanks';
    return reply.code(200).send('custom reason');
  });

  // --- redirects ------------------------------------------------------------
  app.route({
    method: ['GET', 'POST', 'PUT'],
    url: '/redirect/:code',
    handler: async (req, reply) => {
      s.record(req);
      const code = Number((req.params as { code: string }).code);
      return reply.redirect(`/target?from=${code}`, code);
    },
  });
  app.route({
    method: ['GET', 'POST', 'PUT'],
    url: '/target',
    handler: async (req) => {
      s.record(req);
      return { method: req.method, url: req.raw.url, body: describeBody(req.body), seq: req.oscore?.sequenceNumber };
    },
  });

  // --- headers --------------------------------------------------------------
  app.all('/headers/echo', async (req) => {
    s.record(req);
    return { headers: req.headers, rawHeaders: req.raw.rawHeaders };
  });
  app.get('/headers/multi', async (req, reply) => {
    s.record(req);
    reply.header('set-cookie', ['session=abc; Path=/; HttpOnly', 'theme=dark; Max-Age=3600']);
    reply.header('x-multi', ['one', 'two', 'three']);
    reply.header('x-custom', 'custom value');
    reply.header('x-empty', '');
    reply.header('x-latin1', 'caf\u00e9');
    reply.header('cache-control', 'private, max-age=10');
    reply.header('vary', 'accept, accept-encoding');
    reply.header('link', '</a>; rel="next", </b>; rel="prev"');
    return { ok: true };
  });
  app.get('/headers/hop-by-hop-response', async (req, reply) => {
    s.record(req);
    reply.header('keep-alive', 'timeout=99');
    reply.header('trailer', 'x-checksum');
    reply.header('upgrade', 'h2c');
    reply.header('proxy-authenticate', 'Basic realm="proxy"');
    reply.header('x-resp-kept', 'kept');
    return { ok: true };
  });

  // --- conditional requests (ETag / If-Match / If-None-Match) --------------
  let version = 1;
  app.route({
    method: ['GET', 'PUT'],
    url: '/etag/resource',
    handler: async (req, reply) => {
      s.record(req);
      const current = `"v${version}"`;
      const ifNoneMatch = req.headers['if-none-match'];
      const ifMatch = req.headers['if-match'];
      if (req.method === 'GET') {
        reply.header('etag', current);
        if (ifNoneMatch !== undefined && ifNoneMatch.split(/\s*,\s*/).includes(current)) return reply.code(304).send();
        return { version };
      }
      if (ifNoneMatch === '*') return reply.code(412).send({ error: 'exists' });
      if (ifMatch !== undefined && ifMatch !== '*' && !ifMatch.split(/\s*,\s*/).includes(current)) return reply.code(412).send({ error: 'stale' });
      version++;
      return reply.code(204).header('etag', `"v${version}"`).send();
    },
  });
  app.get('/etag/weak', async (req, reply) => {
    s.record(req);
    reply.header('etag', 'W/"weak-1"');
    if (req.headers['if-none-match'] === 'W/"weak-1"') return reply.code(304).send();
    return 'weak';
  });
  app.get('/etag/long', async (req, reply) => {
    s.record(req);
    return reply.header('etag', '"0123456789abcdef-longer-than-8"').send('long');
  });

  // --- bodies ---------------------------------------------------------------
  app.post('/body/echo', async (req, reply) => {
    s.record(req);
    const ct = req.headers['content-type'];
    if (ct !== undefined) reply.header('content-type', ct);
    if (req.body === undefined) return reply.code(200).send();
    return Buffer.isBuffer(req.body) ? req.body : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
  });
  app.post('/body/describe', async (req) => {
    s.record(req);
    return { body: describeBody(req.body), contentLength: req.headers['content-length'] ?? null, contentType: req.headers['content-type'] ?? null };
  });
  app.get('/body/all-bytes', async (req, reply) => {
    s.record(req);
    return reply.type('application/octet-stream').send(allByteValues(4));
  });
  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE'],
    url: '/body/empty',
    handler: async (req, reply) => {
      s.record(req);
      return reply.code(200).send();
    },
  });
  app.get('/body/sized/:bytes', async (req, reply) => {
    s.record(req);
    return reply.type('application/octet-stream').send(patternBytes(Number((req.params as { bytes: string }).bytes), 7));
  });
  app.get('/body/stream-text', async (req, reply) => {
    s.record(req);
    return reply.type('text/plain; charset=utf-8').send(Readable.from(['alpha,', 'beta,', 'gamma'], { objectMode: false }));
  });

  app.get('/body/stream-error', async (req, reply) => {
    s.record(req);
    async function* failing() {
      yield Buffer.from('partial-');
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('stream broke');
    }
    return reply.type('text/plain; charset=utf-8').send(Readable.from(failing()));
  });
  app.get('/headers/too-large', async (req, reply) => {
    s.record(req);
    for (let i = 0; i < 10; i++) reply.header(`x-big-${i}`, 'v'.repeat(2000));
    return 'never delivered';
  });
  app.get('/hijack', async (req, reply) => {
    s.record(req);
    reply.hijack();
    reply.raw.setHeader('x-before', 'set');
    reply.raw.writeHead(202, { 'content-type': 'text/plain', 'x-hijacked': '1' });
    reply.raw.write('hijacked, ');
    reply.raw.end('raw');
  });

  // Raw bodies: no parsers but the buffer one, so the handler sees the exact bytes.
  app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    addBufferParser(raw);
    raw.post('/raw/echo', async (req, reply) => {
      s.record(req);
      const ct = req.headers['content-type'];
      if (ct !== undefined) reply.header('content-type', ct);
      return req.body === undefined ? reply.send() : reply.send(req.body as Buffer);
    });
  });

  // --- query strings and targets -------------------------------------------
  app.all('/q/*', async (req) => {
    s.record(req);
    return { url: req.raw.url, query: req.query };
  });
  app.get('/files/:name/', async (req) => {
    s.record(req);
    return { url: req.raw.url, params: req.params };
  });

  // --- identity, allow-list, concurrency -----------------------------------
  app.get('/whoami', async (req) => {
    s.record(req);
    const o = req.oscore;
    return o === null ? { protected: false } : { protected: true, peer: o.peer, kid: o.kid, kidContext: o.kidContext ?? null, seq: o.sequenceNumber };
  });
  app.get('/health', async (req) => {
    s.record(req);
    return { status: 'ok', protected: req.oscore !== null };
  });
  app.post('/health', async (req) => {
    s.record(req);
    return { status: 'posted' };
  });
  app.get('/secret', async (req) => {
    s.record(req);
    return { secret: 42 };
  });
  app.post('/concurrent/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    // Finish out of arrival order.
    await new Promise((r) => setTimeout(r, Number(id) % 5));
    reply.header('x-request-id', req.headers['x-request-id'] as string);
    return { id, body: req.body, seq: req.oscore?.sequenceNumber };
  });
  app.get('/concurrent/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    await new Promise((r) => setTimeout(r, Number(id) % 3));
    return reply.type('text/plain; charset=utf-8').send(`get ${id} ${JSON.stringify(req.query)}`);
  });
}

function gcmRoutes(app: FastifyInstance, s: Pick<TestServer, 'record'>): void {
  addBufferParser(app);
  app.post('/echo', async (req, reply) => {
    s.record(req);
    reply.header('x-received-bytes', String((req.body as Buffer | undefined)?.length ?? 0));
    return reply.type('application/octet-stream').send(req.body as Buffer);
  });
  app.get('/stream/:kib', async (req, reply) => {
    s.record(req);
    const kib = Number((req.params as { kib: string }).kib);
    async function* chunks() {
      for (let i = 0; i < kib / 16; i++) {
        await new Promise((r) => setImmediate(r));
        yield patternBytes(16 * KiB, i + 1);
      }
    }
    return reply.type('application/octet-stream').header('x-streamed', 'yes').send(Readable.from(chunks()));
  });
  app.get('/stream-endless', async (req, reply) => {
    s.record(req);
    // Produces synchronously and never ends: only backpressure and the limit stop it.
    const chunk = patternBytes(16 * KiB, 9);
    let produced = 0;
    const source = new Readable({
      read() {
        produced += chunk.length;
        this.push(chunk);
      },
    });
    source.once('close', () => endlessProduced.push(produced));
    return reply.type('application/octet-stream').send(source);
  });
}

/** Bytes each endless stream had produced when it was destroyed. */
const endlessProduced: number[] = [];

function tracedRoutes(app: FastifyInstance, s: Pick<TestServer, 'record'>): void {
  app.get('/trace', async (req, reply) => {
    s.record(req);
    reply.header('x-trace', 'from-server');
    reply.header('x-protected-reply', 'yes');
    reply.header('x-internal', 'server-only');
    return { trace: req.headers['x-trace'] ?? null, internal: req.headers['x-internal'] ?? null };
  });
}

beforeAll(async () => {
  main = resources.add(
    await startFastify({ contexts: [serverContextA(), serverContextB()], allowUnprotected: ['GET /health'] }, (app, s) => mainRoutes(app, s)),
    (s) => s.close(),
  );
  gcm = resources.add(
    await startFastify({ contexts: [serverContextA({ aeadAlgorithm: 'A128GCM', senderId: '11', recipientId: '12' })], maxBodySize: MiB }, (app, s) => gcmRoutes(app, s), { bodyLimit: 8 * MiB }),
    (s) => s.close(),
  );
  traced = resources.add(
    await startFastify({ contexts: [serverContextA({ senderId: '21', recipientId: '22' })], headers: { 'x-trace': 'outer', 'x-internal': 'drop' } }, (app, s) => tracedRoutes(app, s)),
    (s) => s.close(),
  );
  // Distinct IDs per server: Sender IDs must be unique under one Master Secret (RFC 8613 §3.3).
  setA = createContextSet([
    clientContextA(main.origin),
    clientContextA(gcm.origin, { aeadAlgorithm: 'A128GCM', senderId: '12', recipientId: '11' }),
    clientContextA(traced.origin, { senderId: '22', recipientId: '21' }),
  ]);
  clientA = resources.add(oscoreAgent(main.origin, { contexts: setA, interceptor: { maxBodySize: MiB } }), (c) => c.close());
  clientAOuterTrace = resources.add(oscoreAgent(main.origin, { contexts: setA, interceptor: { headers: { 'x-trace': 'outer' } } }), (c) => c.close());
  clientB = resources.add(oscoreAgent(main.origin, { contexts: [clientContextB(main.origin)] }), (c) => c.close());
});

afterAll(() => resources.closeAll());

beforeEach(() => {
  for (const s of [main, gcm, traced]) {
    s.seen.length = 0;
    s.logs.length = 0;
    s.traffic.reset();
  }
});

// ---------------------------------------------------------------------------------
// Client helpers
// ---------------------------------------------------------------------------------

type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method?: Dispatcher.HttpMethod | string };

interface Received {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/**
 * Sends `target` exactly as given (dispatcher.request with origin and path: no WHATWG URL
 * normalisation on the way), through `client` (default client A).
 */
async function call(server: TestServer, target: string, options: RequestOptions = {}, client: OscoreClient | Dispatcher = clientA): Promise<Received> {
  const dispatcher = 'dispatcher' in client ? client.dispatcher : client;
  const res = await dispatcher.request({ origin: server.origin, path: target, method: 'GET', ...options } as Dispatcher.RequestOptions);
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers as Received['headers'], body, text: body.toString('utf8') };
}

function json(received: Received): unknown {
  return JSON.parse(received.text);
}

/** Every request that reached a server went in as an OSCORE POST to /oscore. */
function expectAllOuterProtected(server: TestServer, count: number): void {
  expect(server.traffic.requests).toBe(count);
  for (const outer of server.traffic.seen) {
    expect(outer).toMatchObject({ method: 'POST', url: '/oscore', contentType: 'application/oscore' });
    expect(outer.oscore).toMatch(/^[A-Za-z0-9_-]{2,}$/);
  }
}

// ---------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------

describe('methods', () => {
  const cases: Array<{ method: string; contentType?: string; body?: string | Buffer; expected: Described }> = [
    { method: 'GET', expected: { none: true } },
    { method: 'DELETE', expected: { none: true } },
    { method: 'OPTIONS', expected: { none: true } },
    { method: 'PURGE', expected: { none: true } },
    { method: 'POST', contentType: 'application/json', body: JSON.stringify({ a: 1, s: 'x' }), expected: { json: { a: 1, s: 'x' } } },
    { method: 'PUT', contentType: 'application/json', body: JSON.stringify({ put: true }), expected: { json: { put: true } } },
    { method: 'PATCH', contentType: 'application/merge-patch+json', body: '{"op":"merge"}', expected: { bytes: Buffer.from('{"op":"merge"}').toString('base64') } },
    { method: 'DELETE', contentType: 'text/plain', body: 'delete with a body', expected: { text: 'delete with a body' } },
    { method: 'OPTIONS', contentType: 'text/plain', body: 'options body', expected: { text: 'options body' } },
    { method: 'PROPFIND', contentType: 'application/xml', body: '<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>', expected: { bytes: Buffer.from('<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>').toString('base64') } },
    { method: 'REPORT', contentType: 'application/octet-stream', body: allByteValues(), expected: { bytes: allByteValues().toString('base64') } },
    { method: 'QUERY', contentType: 'application/json', body: '{"select":["a","b"]}', expected: { json: { select: ['a', 'b'] } } },
  ];

  it.each(cases)('$method with $contentType reaches the handler with the same method, target, headers and body', async ({ method, contentType, body, expected }) => {
    const id = `${method.toLowerCase()}-${contentType === undefined ? 'nobody' : 'body'}`;
    const target = `/methods/${id}?via=${method}&n=1`;
    const res = await call(main, target, { method, body, headers: contentType === undefined ? { 'x-probe': id } : { 'content-type': contentType, 'x-probe': id } });

    expect(res.status).toBe(200);
    expect(res.headers['x-seen-method']).toBe(method);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(json(res)).toEqual({ method, url: target, id, body: expected });

    expect(main.seen).toHaveLength(1);
    const seen = main.seen[0]!;
    expect(seen).toMatchObject({ method, rawUrl: target, query: { via: method, n: '1' }, protected: true, peer: 'client-a' });
    expect(seen.headers['x-probe']).toBe(id);
    expect(seen.headers['content-type']).toBe(contentType);
    if (body !== undefined) expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expectAllOuterProtected(main, 1);
  });

  it('HEAD reaches the GET route (fastify exposeHeadRoutes) as HEAD and returns status and headers without a body', async () => {
    const res = await call(main, '/methods/head-1?via=HEAD', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['x-seen-method']).toBe('HEAD');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body.length).toBe(0);
    // The length of the GET representation, as fastify reports it for HEAD without OSCORE
    // (RFC 9110 §9.3.2), carried inside.
    const plain = await main.app.inject({ method: 'HEAD', url: '/methods/head-1?via=HEAD' });
    expect(Number(plain.headers['content-length'])).toBeGreaterThan(0);
    expect(res.headers['content-length']).toBe(plain.headers['content-length']);
    expect(main.seen.map((s) => [s.method, s.rawUrl])).toEqual([['HEAD', '/methods/head-1?via=HEAD'], ['HEAD', '/methods/head-1?via=HEAD']]);
    expectAllOuterProtected(main, 1);
  });

  it('HEAD of an unknown route is a protected 404 without a body', async () => {
    const res = await call(main, '/no-such-route', { method: 'HEAD' });
    expect(res.status).toBe(404);
    expect(res.body.length).toBe(0);
    expectAllOuterProtected(main, 1);
  });

  it('a method fastify has no route for is a protected 404 from fastify, not an OSCORE error', async () => {
    const res = await call(main, '/methods/x', { method: 'MKCOL' });
    expect(res.status).toBe(404);
    expect(json(res)).toMatchObject({ statusCode: 404, error: 'Not Found', message: 'Route MKCOL:/methods/x not found' });
    expect(main.seen).toHaveLength(0);
    expectAllOuterProtected(main, 1);
  });
});

// ---------------------------------------------------------------------------------
// Status codes
// ---------------------------------------------------------------------------------

describe('status codes', () => {
  const statuses = [200, 201, 202, 203, 204, 206, 226, 299, 300, 301, 302, 303, 307, 308, 400, 402, 403, 404, 406, 409, 410, 412, 413, 415, 418, 422, 425, 429, 451, 499, 500, 501, 502, 503, 504, 505, 511, 599];

  it.each(statuses)('%i arrives with exactly that status, its headers and its body', async (code) => {
    const res = await call(main, `/status/${code}`);
    expect(res.status).toBe(code);
    expect(res.headers['x-status']).toBe(String(code));
    if (code === 204) {
      expect(res.body.length).toBe(0);
    } else {
      expect(res.text).toBe(`status ${code}`);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    }
    if (code >= 300 && code < 400) expect(res.headers.location).toBe(`/target?from=${code}`);
    else expect(res.headers.location).toBeUndefined();
    expectAllOuterProtected(main, 1);
  });

  it('304 from a conditional GET has no body and keeps the ETag', async () => {
    const res = await call(main, '/status/304');
    expect(res.status).toBe(304);
    expect(res.body.length).toBe(0);
    expect(res.headers['x-status']).toBe('304');
  });

  it('400 from fastify schema validation', async () => {
    const res = await call(main, '/validate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"nope":1}' });
    expect(res.status).toBe(400);
    expect(json(res)).toMatchObject({ statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request' });
    expect(main.seen).toHaveLength(0);
  });

  it('400 from fastify for malformed JSON', async () => {
    const res = await call(main, '/validate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
    expect(res.status).toBe(400);
    expect(json(res)).toMatchObject({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' });
  });

  it('404 for an unknown inner route is fastify’s own 404, protected', async () => {
    const res = await call(main, '/definitely/not/here?x=1');
    expect(res.status).toBe(404);
    expect(json(res)).toEqual({ message: 'Route GET:/definitely/not/here?x=1 not found', error: 'Not Found', statusCode: 404 });
    expectAllOuterProtected(main, 1);
  });

  it('405 with Allow', async () => {
    const res = await call(main, '/status-extra/405');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(json(res)).toEqual({ error: 'method not allowed here' });
  });

  it('401 from the application is protected and keeps its own challenge (not the OSCORE one)', async () => {
    const res = await call(main, '/status-extra/401');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="app"');
    expect(json(res)).toEqual({ error: 'application-level 401' });
    expect(main.seen).toHaveLength(1);
  });

  it('429 with Retry-After and rate-limit fields', async () => {
    const res = await call(main, '/status-extra/429');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('30');
    expect(res.headers['ratelimit-remaining']).toBe('0');
  });

  it('451 with a Link field', async () => {
    const res = await call(main, '/status-extra/451');
    expect(res.status).toBe(451);
    expect(res.headers.link).toBe('<https://authority.example/ban>; rel="blocked-by"');
    expect(res.text).toBe('Unavailable For Legal Reasons');
  });

  it('503 with an HTTP-date Retry-After', async () => {
    const res = await call(main, '/status-extra/503');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(json(res)).toEqual({ error: 'maintenance' });
  });

  it('500 when the handler throws: fastify’s error response arrives protected', async () => {
    const res = await call(main, '/throws');
    expect(res.status).toBe(500);
    expect(json(res)).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'kaboom' });
    expect(main.seen).toHaveLength(1);
    expectAllOuterProtected(main, 1);
  });

  it('409 from an error with statusCode', async () => {
    const res = await call(main, '/throws-409');
    expect(res.status).toBe(409);
    expect(json(res)).toMatchObject({ statusCode: 409, message: 'already exists' });
  });

  it('a custom reason phrase reaches fetch’s statusText; standard ones are the standard text', async () => {
    const custom = await undiciFetch(`${main.origin}/reason`, { dispatcher: clientA.dispatcher });
    expect(custom.status).toBe(200);
    expect(custom.statusText).toBe('Totally Fine Thanks');
    expect(await custom.text()).toBe('custom reason');

    const standard = await undiciFetch(`${main.origin}/status/418`, { dispatcher: clientA.dispatcher });
    expect(standard.status).toBe(418);
    expect(standard.statusText).toBe(STATUS_CODES[418]);
    await standard.text();
  });

  describe('redirects', () => {
    it('301 and 307 without a redirect interceptor: the caller sees exactly the status and Location', async () => {
      for (const code of [301, 307]) {
        const res = await call(main, `/redirect/${code}`);
        expect(res.status).toBe(code);
        expect(res.headers.location).toBe(`/target?from=${code}`);
      }
      expect(main.seen.map((s) => s.rawUrl)).toEqual(['/redirect/301', '/redirect/307']);
    });

    it('307 followed by undici’s redirect interceptor (composed outside oscore) is a second, newly protected request with the same method and body', async () => {
      const follower = oscoreAgent(main.origin, { contexts: setA, followRedirects: 1 });
      try {
        const res = await call(main, '/redirect/307', { method: 'POST', headers: { 'content-type': 'text/plain', 'x-keep': 'me' }, body: 'payload-307' }, follower);
        expect(res.status).toBe(200);
        const final = json(res) as { method: string; url: string; body: Described; seq: number };
        expect(final).toMatchObject({ method: 'POST', url: '/target?from=307', body: { text: 'payload-307' } });

        expect(main.seen.map((s) => [s.method, s.rawUrl])).toEqual([
          ['POST', '/redirect/307'],
          ['POST', '/target?from=307'],
        ]);
        expect(main.seen[1]!.headers['x-keep']).toBe('me');
        // Two OSCORE requests, each with its own Partial IV (a resend would be a replay).
        expectAllOuterProtected(main, 2);
        const [first, second] = main.seen;
        expect(second!.sequenceNumber).toBeGreaterThan(first!.sequenceNumber!);
        expect(main.traffic.seen[0]!.oscore).not.toBe(main.traffic.seen[1]!.oscore);
      } finally {
        await follower.close();
      }
    });

    it('301 after a POST is followed as GET without the body (undici semantics), again protected', async () => {
      const follower = oscoreAgent(main.origin, { contexts: setA, followRedirects: 1 });
      try {
        const res = await call(main, '/redirect/301', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'dropped' }, follower);
        expect(res.status).toBe(200);
        expect(json(res)).toMatchObject({ method: 'GET', url: '/target?from=301', body: { none: true } });
        expect(main.seen.map((s) => [s.method, s.rawUrl])).toEqual([
          ['POST', '/redirect/301'],
          ['GET', '/target?from=301'],
        ]);
        expectAllOuterProtected(main, 2);
      } finally {
        await follower.close();
      }
    });
  });
});

// ---------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------

describe('headers', () => {
  it('multi-valued and custom response headers arrive as undici reports them', async () => {
    const res = await call(main, '/headers/multi');
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toEqual(['session=abc; Path=/; HttpOnly', 'theme=dark; Max-Age=3600']);
    expect(res.headers['x-multi']).toEqual(['one', 'two', 'three']);
    expect(res.headers['x-custom']).toBe('custom value');
    expect(res.headers['x-empty']).toBe('');
    expect(res.headers['x-latin1']).toBe('caf\u00e9');
    expect(res.headers['vary']).toBe('accept, accept-encoding');
    expect(res.headers['link']).toBe('</a>; rel="next", </b>; rel="prev"');
    // The application's Cache-Control, not the outer message's `no-store`.
    expect(res.headers['cache-control']).toBe('private, max-age=10');
    expect(res.headers['content-length']).toBe(String(res.body.length));
  });

  it('multi-valued, custom, Authorization and Cookie request headers arrive at the handler', async () => {
    const res = await call(main, '/headers/echo', {
      headers: {
        'x-list': ['a', 'b', 'c'],
        'x-custom': 'value with spaces',
        'x-empty': '',
        'x-latin1': 'caf\u00e9',
        authorization: 'Bearer eyJhbGciOi.payload.sig',
        cookie: ['sid=1', 'pref=2'],
        'user-agent': 'e2e-test/1.0',
        accept: 'application/json',
        'accept-language': 'fr-CH, fr;q=0.9, en;q=0.8',
        'X-Mixed-Case': 'Mixed',
      },
    });
    expect(res.status).toBe(200);
    const seen = main.seen[0]!;
    expect(seen.headers['x-list']).toBe('a, b, c');
    expect(seen.headers['x-custom']).toBe('value with spaces');
    expect(seen.headers['x-empty']).toBe('');
    expect(seen.headers['x-latin1']).toBe('caf\u00e9');
    expect(seen.headers.authorization).toBe('Bearer eyJhbGciOi.payload.sig');
    expect(seen.headers.cookie).toBe('sid=1; pref=2');
    expect(seen.headers['user-agent']).toBe('e2e-test/1.0');
    expect(seen.headers.accept).toBe('application/json');
    expect(seen.headers['accept-language']).toBe('fr-CH, fr;q=0.9, en;q=0.8');
    expect(seen.headers['x-mixed-case']).toBe('Mixed');
    // rawHeaders keep repeated fields as separate lines, as Node does for a network request.
    const raw = seen.rawHeaders;
    const lines = Array.from({ length: raw.length / 2 }, (_, i) => [raw[2 * i]!.toLowerCase(), raw[2 * i + 1]]);
    expect(lines.filter(([n]) => n === 'x-list').map(([, v]) => v)).toEqual(['a', 'b', 'c']);
    expect(lines.filter(([n]) => n === 'cookie').map(([, v]) => v)).toEqual(['sid=1', 'pref=2']);
    expect(seen.headers.host).toBe(new URL(main.origin).host);
  });

  it('request headers given as a flat array keep their repetitions', async () => {
    await call(main, '/headers/echo', { headers: ['x-rep', '1', 'x-rep', '2', 'x-single', 's'] });
    expect(main.seen[0]!.headers['x-rep']).toBe('1, 2');
    expect(main.seen[0]!.headers['x-single']).toBe('s');
  });

  it('hop-by-hop request fields are not delivered to the handler; end-to-end ones are', async () => {
    const res = await call(main, '/headers/echo', {
      headers: {
        connection: 'x-hop-named',
        'x-hop-named': 'must not arrive',
        'keep-alive': 'timeout=5',
        te: 'trailers',
        trailer: 'x-checksum',
        upgrade: 'websocket',
        'proxy-authorization': 'Basic cHJveHk6c2VjcmV0',
        'proxy-connection': 'keep-alive',
        'x-kept': 'yes',
      },
    });
    expect(res.status).toBe(200);
    const seen = main.seen[0]!;
    for (const name of ['connection', 'x-hop-named', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection', 'transfer-encoding', 'oscore']) {
      expect(seen.headers[name], name).toBeUndefined();
    }
    expect(seen.headers['x-kept']).toBe('yes');
    // The outer content-type (application/oscore) is not the inner request's.
    expect(seen.headers['content-type']).toBeUndefined();
  });

  it('hop-by-hop response fields set by the application are not delivered to the client', async () => {
    const res = await call(main, '/headers/hop-by-hop-response');
    expect(res.status).toBe(200);
    expect(res.headers['x-resp-kept']).toBe('kept');
    for (const name of ['keep-alive', 'trailer', 'upgrade', 'proxy-authenticate', 'oscore', 'connection']) {
      expect(res.headers[name], name).toBeUndefined();
    }
  });

  it('several Accept lines all reach the handler (as Node joins them)', async () => {
    await call(main, '/headers/echo', { headers: { accept: ['application/json', 'application/cbor'] } });
    expect(main.seen[0]!.headers.accept).toBe('application/json, application/cbor');
    await call(main, '/headers/echo', { headers: { accept: ['application/json', 'text/html;level=1'] } });
    expect(main.seen[1]!.headers.accept).toBe('application/json, text/html;level=1');
  });

  it('several If-Match lines all reach the handler, also when only some tags fit a CoAP ETag', async () => {
    await call(main, '/headers/echo', { headers: { 'if-match': ['"a"', '"b"'] } });
    expect(main.seen[0]!.headers['if-match']).toBe('"a", "b"');
    await call(main, '/headers/echo', { headers: { 'if-match': ['"a"', '"0123456789abcdef"'] } });
    expect(main.seen[1]!.headers['if-match']).toBe('"a", "0123456789abcdef"');
  });

  it('request header fields beyond maxHeaderSize fail on the client with HeadersTooLargeError before anything is sent', async () => {
    const big = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`x-big-${i}`, 'v'.repeat(2000)]));
    const err = await rejectionOf(call(main, '/headers/echo', { headers: big }));
    expect(err).toBeInstanceOf(HeadersTooLargeError);
    expect((err as HeadersTooLargeError).limit).toBe(16 * KiB);
    expect(main.traffic.requests).toBe(0);
    expect(main.seen).toHaveLength(0);
  });

  it('response header fields beyond maxHeaderSize become a protected 500, and the server logs why', async () => {
    const res = await call(main, '/headers/too-large');
    expect(res.status).toBe(500);
    expect(res.text).toBe('Header fields too large');
    expect(res.headers['x-big-0']).toBeUndefined();
    expect(main.logs.some((l) => (l.oscore as { code?: string } | undefined)?.code === 'ERR_OSCORE_HTTP_HEADERS_TOO_LARGE')).toBe(true);
  });

  it('reply.hijack() with writes to reply.raw is captured and protected like any reply', async () => {
    const res = await call(main, '/hijack');
    expect(res.status).toBe(202);
    expect(res.headers['x-hijacked']).toBe('1');
    expect(res.headers['x-before']).toBe('set');
    expect(res.text).toBe('hijacked, raw');
    expectAllOuterProtected(main, 1);
  });

  const contentTypes = [
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'text/plain;charset=utf-8',
    'TEXT/Plain; Charset="UTF-8"',
    'text/html; charset=UTF-8',
    'application/octet-stream',
    'application/cbor',
    'application/xml',
    'application/senml+json',
    'image/png',
    'application/vnd.example.v2+json; profile="https://example.com/p"',
  ];

  it.each(contentTypes)('content-type %s arrives exactly, both ways, with the body unchanged', async (contentType) => {
    const body = contentType === 'application/cbor' ? Buffer.from('a26161016162820203', 'hex') : contentType === 'image/png' ? allByteValues() : Buffer.from('{"k":"v","é":1}');
    const res = await call(main, '/raw/echo', { method: 'POST', headers: { 'content-type': contentType }, body });
    expect(res.status).toBe(200);
    expect(main.seen[0]!.headers['content-type']).toBe(contentType);
    expect(Buffer.compare(main.seen[0]!.body as Buffer, body)).toBe(0);
    expect(res.headers['content-type']).toBe(contentType);
    expect(Buffer.compare(res.body, body)).toBe(0);
  });

  it.each([
    ['undici FormData', UndiciFormData],
    ['global FormData', globalThis.FormData],
  ])('a multipart/form-data upload from %s arrives with its boundary and parts', async (_label, FormDataClass) => {
    const form = new (FormDataClass as typeof UndiciFormData)();
    form.append('field', 'value é');
    form.append('file', new Blob([new Uint8Array(allByteValues())], { type: 'application/octet-stream' }), 'bytes.bin');
    const res = await call(main, '/raw/echo', { method: 'POST', body: form as unknown as Dispatcher.DispatchOptions['body'] });
    expect(res.status).toBe(200);
    const seen = main.seen[0]!;
    const contentType = seen.headers['content-type'] as string;
    expect(contentType).toMatch(/^multipart\/form-data; ?boundary=/);
    const parsed = await new UndiciResponse(seen.body as Buffer, { headers: { 'content-type': contentType } }).formData();
    expect(parsed.get('field')).toBe('value é');
    const file = parsed.get('file') as unknown as Blob & { name: string };
    expect(file.name).toBe('bytes.bin');
    expect(Buffer.compare(Buffer.from(await file.arrayBuffer()), allByteValues())).toBe(0);
  });

  it('a multipart/form-data upload with global FormData through global fetch arrives with its parts', async () => {
    const form = new FormData();
    form.append('field', 'via fetch');
    form.append('file', new Blob([new Uint8Array(allByteValues())], { type: 'application/octet-stream' }), 'f.bin');
    const res = await fetch(`${main.origin}/raw/echo`, { method: 'POST', body: form, dispatcher: clientA.dispatcher } as RequestInit);
    expect(res.status).toBe(200);
    const echoed = await res.formData();
    expect(echoed.get('field')).toBe('via fetch');
    expect(Buffer.compare(Buffer.from(await (echoed.get('file') as unknown as Blob).arrayBuffer()), allByteValues())).toBe(0);
  });

  describe('ETag, If-Match, If-None-Match', () => {
    it('GET returns the ETag; If-None-Match with it gives 304; with another tag 200', async () => {
      const first = await call(main, '/etag/resource');
      expect(first.status).toBe(200);
      const etag = first.headers.etag as string;
      expect(etag).toMatch(/^"v\d+"$/);

      const notModified = await call(main, '/etag/resource', { headers: { 'if-none-match': etag } });
      expect(notModified.status).toBe(304);
      expect(notModified.body.length).toBe(0);
      expect(notModified.headers.etag).toBe(etag);
      expect(main.seen[1]!.headers['if-none-match']).toBe(etag);

      const list = await call(main, '/etag/resource', { headers: { 'if-none-match': `"nope", ${etag}` } });
      expect(list.status).toBe(304);
      expect(main.seen[2]!.headers['if-none-match']).toBe(`"nope", ${etag}`);

      const modified = await call(main, '/etag/resource', { headers: { 'if-none-match': '"v0"' } });
      expect(modified.status).toBe(200);
    });

    it('PUT with If-Match: matching → 204 with a new ETag; stale list → 412; * → 204; If-None-Match: * → 412', async () => {
      const etag = (await call(main, '/etag/resource')).headers.etag as string;
      const ok = await call(main, '/etag/resource', { method: 'PUT', headers: { 'if-match': etag } });
      expect(ok.status).toBe(204);
      expect(ok.headers.etag).not.toBe(etag);
      expect(main.seen[1]!.headers['if-match']).toBe(etag);

      const stale = await call(main, '/etag/resource', { method: 'PUT', headers: { 'if-match': `"v0", ${etag}` } });
      expect(stale.status).toBe(412);
      expect(main.seen[2]!.headers['if-match']).toBe(`"v0", ${etag}`);

      const star = await call(main, '/etag/resource', { method: 'PUT', headers: { 'if-match': '*' } });
      expect(star.status).toBe(204);
      expect(main.seen[3]!.headers['if-match']).toBe('*');

      const createOnly = await call(main, '/etag/resource', { method: 'PUT', headers: { 'if-none-match': '*' } });
      expect(createOnly.status).toBe(412);
      expect(main.seen[4]!.headers['if-none-match']).toBe('*');
    });

    it('weak and long entity tags (no CoAP ETag form) round-trip exactly', async () => {
      const weak = await call(main, '/etag/weak');
      expect(weak.headers.etag).toBe('W/"weak-1"');
      const weak304 = await call(main, '/etag/weak', { headers: { 'if-none-match': 'W/"weak-1"' } });
      expect(weak304.status).toBe(304);
      const long = await call(main, '/etag/long');
      expect(long.headers.etag).toBe('"0123456789abcdef-longer-than-8"');
    });
  });

  describe('outer-only fields (header policy `outer`)', () => {
    it('x-trace sent outside reaches the handler when the server’s policy also has it as outer', async () => {
      const res = await call(traced, '/trace', { headers: { 'x-trace': 'trace-123' } }, clientAOuterTrace);
      expect(res.status).toBe(200);
      expect(json(res)).toEqual({ trace: 'trace-123', internal: null });
      expect(traced.traffic.seen).toHaveLength(1);
    });

    it('x-trace sent outside does not reach a handler whose server does not list it', async () => {
      const res = await call(main, '/headers/echo', { headers: { 'x-trace': 'trace-456', 'x-other': 'protected' } }, clientAOuterTrace);
      expect(res.status).toBe(200);
      expect(main.seen[0]!.headers['x-trace']).toBeUndefined();
      expect(main.seen[0]!.headers['x-other']).toBe('protected');
    });

    it('x-trace protected by the client still reaches the handler of a server that lists it as outer', async () => {
      const res = await call(traced, '/trace', { headers: { 'x-trace': 'inside' } }, clientA);
      expect(json(res)).toEqual({ trace: 'inside', internal: null });
    });

    it('the server’s x-trace response field travels outside: visible to a client listing it, not to one that does not', async () => {
      const withPolicy = await call(traced, '/trace', {}, clientAOuterTrace);
      expect(withPolicy.headers['x-trace']).toBe('from-server');
      expect(withPolicy.headers['x-protected-reply']).toBe('yes');
      const without = await call(traced, '/trace', {}, clientA);
      expect(without.headers['x-trace']).toBeUndefined();
      expect(without.headers['x-protected-reply']).toBe('yes');
    });

    it('`drop`: a field the server drops is neither delivered to its handler nor sent in its replies; a client drop is never sent', async () => {
      const res = await call(traced, '/trace', { headers: { 'x-internal': 'from-client' } });
      expect(json(res)).toEqual({ trace: null, internal: null });
      expect(res.headers['x-internal']).toBeUndefined();

      const dropping = oscoreAgent(main.origin, { contexts: setA, interceptor: { headers: { 'x-secret': 'drop' } } });
      try {
        await call(main, '/headers/echo', { headers: { 'x-secret': 'do not send', 'x-fine': 'ok' } }, dropping);
        expect(main.seen[0]!.headers['x-secret']).toBeUndefined();
        expect(main.seen[0]!.headers['x-fine']).toBe('ok');
      } finally {
        await dropping.close();
      }
    });

    it('fields injected into the outer request by an intermediary never reach the handler, and never override protected ones', async () => {
      // An interceptor composed inside oscore sees the outer request: it plays the intermediary.
      const inject: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
        dispatch({ ...opts, headers: { ...(opts.headers as Record<string, string>), 'x-injected': 'evil', authorization: 'Bearer evil', 'x-trace': 'evil-trace' } }, handler);
      const mitm = oscoreAgent(main.origin, { contexts: setA, inner: [inject] });
      try {
        const res = await call(main, '/headers/echo', { headers: { authorization: 'Bearer good' } }, mitm);
        expect(res.status).toBe(200);
        const h = main.seen[0]!.headers;
        expect(h['x-injected']).toBeUndefined();
        expect(h.authorization).toBe('Bearer good');
        expect(h['x-trace']).toBeUndefined();

        const traceRes = await call(traced, '/trace', { headers: { 'x-trace': 'protected-trace' } }, mitm);
        expect(json(traceRes)).toMatchObject({ trace: 'protected-trace' });
      } finally {
        await mitm.close();
      }
    });
  });
});

// ---------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------

describe('bodies', () => {
  it('empty request body without content-type: no body at the handler, content-length 0', async () => {
    const res = await call(main, '/body/describe', { method: 'POST' });
    expect(json(res)).toEqual({ body: { none: true }, contentLength: '0', contentType: null });
  });

  it('empty text/plain request body is the empty string', async () => {
    const res = await call(main, '/body/describe', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '' });
    expect(json(res)).toEqual({ body: { text: '' }, contentLength: '0', contentType: 'text/plain' });
  });

  it.each(['GET', 'POST', 'PUT', 'DELETE'])('empty response body with 200 to %s stays 200 (not 204)', async (method) => {
    const res = await call(main, '/body/empty', { method: method as 'GET' });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers['content-length']).toBe('0');
  });

  it('binary: all 256 byte values round-trip both ways', async () => {
    const bytes = allByteValues(3);
    const res = await call(main, '/raw/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(Buffer.compare(res.body, bytes)).toBe(0);
    const down = await call(main, '/body/all-bytes');
    expect(down.headers['content-type']).toBe('application/octet-stream');
    expect(Buffer.compare(down.body, allByteValues(4))).toBe(0);
  });

  it('JSON with non-ASCII text round-trips', async () => {
    const value = { name: 'café ☕ 𝄞', list: [1, 2.5, null, true], nested: { deep: ['x', { y: 'z' }] } };
    const res = await call(main, '/body/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
    // fastify itself appends the charset to a string payload (checked against inject() below).
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(json(res)).toEqual(value);
  });

  it('a request body given as a stream is collected and protected', async () => {
    const res = await call(main, '/raw/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Readable.from([Buffer.from('ab'), Buffer.from('cd'), allByteValues()]) });
    expect(Buffer.compare(res.body, Buffer.concat([Buffer.from('abcd'), allByteValues()]))).toBe(0);
  });

  it('60 KiB both ways with AES-CCM (default algorithm)', async () => {
    const bytes = patternBytes(60 * KiB, 60);
    const res = await call(main, '/raw/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(bytes.length);
    expect(Buffer.compare(res.body, bytes)).toBe(0);
    expectAllOuterProtected(main, 1);
  });

  it('AES-CCM: a request beyond 65,535 plaintext bytes fails with MessageTooLargeError before anything is sent', async () => {
    const fresh = oscoreAgent(main.origin, { contexts: setA });
    try {
      const err = await rejectionOf(call(main, '/raw/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: patternBytes(64 * KiB) }, fresh));
      expect(err).toBeInstanceOf(MessageTooLargeError);
      expect((err as MessageTooLargeError).limit).toBe(65_535);
      expect(main.traffic.requests).toBe(0);
      expect(main.traffic.connections).toBe(0);
      expect(main.seen).toHaveLength(0);
    } finally {
      await fresh.close();
    }
  });

  it('AES-CCM: a response beyond the algorithm bound becomes a protected 500, and the server logs why', async () => {
    const res = await call(main, `/body/sized/${70 * KiB}`);
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(main.logs.some((l) => (l.oscore as { code?: string } | undefined)?.code === 'ERR_OSCORE_MESSAGE_TOO_LARGE' && (l.oscore as { protected?: boolean }).protected === true)).toBe(true);
  });

  it('A128GCM: 1 MiB (exactly the limit) both ways', async () => {
    const bytes = patternBytes(MiB, 1);
    const res = await call(gcm, '/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(res.status).toBe(200);
    expect(res.headers['x-received-bytes']).toBe(String(MiB));
    expect(res.body.length).toBe(MiB);
    expect(Buffer.compare(res.body, bytes)).toBe(0);
    expectAllOuterProtected(gcm, 1);
  });

  it('A128GCM: one byte over maxBodySize fails on the client with BodyTooLargeError before anything is sent', async () => {
    const fresh = oscoreAgent(gcm.origin, { contexts: setA, interceptor: { maxBodySize: MiB } });
    try {
      const err = await rejectionOf(call(gcm, '/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: patternBytes(MiB + 1) }, fresh));
      expect(err).toBeInstanceOf(BodyTooLargeError);
      expect((err as BodyTooLargeError).limit).toBe(MiB);
      expect(err).toBeInstanceOf(OscoreError);
      // A streamed body too: it is cut off as soon as the limit is passed.
      const streamed = await rejectionOf(
        call(gcm, '/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Readable.from([patternBytes(MiB), Buffer.from('x')]) }, fresh),
      );
      expect(streamed).toBeInstanceOf(BodyTooLargeError);
      expect(gcm.traffic.requests).toBe(0);
      expect(gcm.traffic.connections).toBe(0);
      expect(gcm.seen).toHaveLength(0);
    } finally {
      await fresh.close();
    }
  });

  it('A128GCM: a client with a larger limit gets a protected 413 from the server; the handler is not called', async () => {
    const generous = oscoreAgent(gcm.origin, { contexts: setA, interceptor: { maxBodySize: 2 * MiB } });
    try {
      const res = await call(gcm, '/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: patternBytes(MiB + 1) }, generous);
      expect(res.status).toBe(413);
      expect(gcm.seen).toHaveLength(0);
      expectAllOuterProtected(gcm, 1);
    } finally {
      await generous.close();
    }
  });

  it('a raw POST that looks like OSCORE with a huge body gets an unprotected 413; the handler is not called', async () => {
    const raw = new Agent();
    try {
      const res = await request(`${main.origin}/oscore`, {
        method: 'POST',
        dispatcher: raw,
        headers: { 'content-type': 'application/oscore', oscore: 'CQAC' },
        body: Buffer.alloc(3 * MiB, 0x42),
      });
      expect(res.statusCode).toBe(413);
      expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(await res.body.text()).toBe('Payload too large');
      expect(main.seen).toHaveLength(0);
    } finally {
      await raw.close();
    }
  });

  it('a streamed reply (reply.send(Readable)) is protected and arrives intact', async () => {
    const res = await call(main, '/body/stream-text');
    expect(res.status).toBe(200);
    expect(res.text).toBe('alpha,beta,gamma');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['transfer-encoding']).toBeUndefined();

    const big = await call(gcm, `/stream/${512}`);
    expect(big.status).toBe(200);
    expect(big.headers['x-streamed']).toBe('yes');
    const expected = Buffer.concat(Array.from({ length: 512 / 16 }, (_, i) => patternBytes(16 * KiB, i + 1)));
    expect(big.body.length).toBe(expected.length);
    expect(Buffer.compare(big.body, expected)).toBe(0);
  });

  it('a streamed reply that fails midway never reaches the client as a mix of partial data and an error body', async () => {
    // Without OSCORE the head is on the wire after the first chunk, so fastify can only abort
    // the connection. Behind OSCORE nothing has left yet: a clean protected error response is
    // possible, or an abort; a verified response that splices the partial stream into
    // fastify's error JSON is neither.
    const outcome = await call(main, '/body/stream-error').catch((err: unknown) => err as Error);
    if (outcome instanceof Error) return; // aborted, as without OSCORE
    expect(outcome.status).toBe(500);
    expect(outcome.text.startsWith('partial-')).toBe(false);
    expect(() => JSON.parse(outcome.text)).not.toThrow();
    expect(json(outcome)).toMatchObject({ statusCode: 500, message: 'stream broke' });
  });

  it('a streamed reply beyond maxResponseSize becomes a protected 500 (and is logged)', async () => {
    const res = await call(gcm, `/stream/${1024 + 64}`);
    expect(res.status).toBe(500);
    expect(res.text).toBe('Response too large');
    expect(res.headers['x-streamed']).toBeUndefined();
    expect(gcm.logs.some((l) => (l.oscore as { code?: string } | undefined)?.code === 'ERR_OSCORE_HTTP_RESPONSE_TOO_LARGE')).toBe(true);
    expectAllOuterProtected(gcm, 1);
  });

  it('an endless synchronous stream is cut at the limit: a protected 500, the source destroyed, the server still serving', async () => {
    const res = await call(gcm, '/stream-endless');
    expect(res.status).toBe(500);
    expect(res.text).toBe('Response too large');
    await expect.poll(() => endlessProduced.length).toBe(1);
    // maxResponseSize is 1 MiB here: reading stopped at the limit, not at the end of the source.
    expect(endlessProduced[0]).toBeLessThan(MiB + 128 * KiB);
    expect((await call(gcm, '/stream/16')).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------
// Query strings and targets
// ---------------------------------------------------------------------------------

describe('query strings and request targets', () => {
  const targets: Array<[label: string, target: string, query: Record<string, unknown>]> = [
    ['repeated parameters', '/q/repeat?a=1&a=2&b=3&a=4', { a: ['1', '2', '4'], b: '3' }],
    ['encoded space, slash, ampersand, plus, unicode', '/q/enc?sp=a%20b&slash=a%2Fb&amp=a%26b&plus=a+b&u=%C3%A9t%C3%A9', { sp: 'a b', slash: 'a/b', amp: 'a&b', plus: 'a b', u: 'été' }],
    ['lower-case percent-encoding', '/q/lower?x=%c3%a9&y=%2f', { x: 'é', y: '/' }],
    ['empty values', '/q/empty?a=&b&c=', { a: '', b: '', c: '' }],
    ['reserved characters left as they are', "/q/reserved?r=/a/b?c:d@e!$'()*,;", { r: "/a/b?c:d@e!$'()*,;" }],
    ['encoded equals in a value and key', '/q/eq?k%3D1=v%3D2', { 'k=1': 'v=2' }],
    ['a bare question mark', '/q/bare?', {}],
    ['encoded dot segments stay encoded', '/q/%2E%2E/x?y=1', { y: '1' }],
    ['trailing slash', '/q/trailing/', {}],
    ['empty path segments', '/q//double//slash', {}],
  ];

  it.each(targets)('%s: the handler sees exactly the target the client sent', async (_label, target, query) => {
    const res = await call(main, target);
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ url: target, query });
    expect(main.seen[0]!.rawUrl).toBe(target);
    expectAllOuterProtected(main, 1);
  });

  it('1,000 repeated query parameters and a 4,000-character path segment arrive exactly', async () => {
    const many = '/q/many?' + Array.from({ length: 1000 }, (_, i) => `a=${i}`).join('&');
    const res = await call(main, many);
    expect(res.status).toBe(200);
    const body = json(res) as { url: string; query: { a: string[] } };
    expect(body.url).toBe(many);
    expect(body.query.a).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));

    const long = `/q/${'s'.repeat(4000)}?x=${'y'.repeat(3000)}`;
    const longRes = await call(main, long);
    expect((json(longRes) as { url: string }).url).toBe(long);
  });

  it('a path with an encoded slash and a trailing slash routes by the decoded parameter and keeps the exact target', async () => {
    const res = await call(main, '/files/a%2Fb%20c/');
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ url: '/files/a%2Fb%20c/', params: { name: 'a/b c' } });
  });

  it('undici’s `query` option is serialised as undici would serialise it', async () => {
    const query = { a: ['1', '2'], s: 'x y', e: 'é', amp: 'a&b' };
    const res = await call(main, '/q/option', { query });
    const expected = `/q/option?${stringifyQuery(query)}`;
    expect(json(res)).toEqual({ url: expected, query: { a: ['1', '2'], s: 'x y', e: 'é', amp: 'a&b' } });
  });

  it('a fragment is not sent (dispatcher.request path and undici.request URL)', async () => {
    const res = await call(main, '/q/frag?x=1#section');
    expect(json(res)).toEqual({ url: '/q/frag?x=1', query: { x: '1' } });
    const viaUrl = await request(`${main.origin}/q/frag?y=2#section`, { dispatcher: clientA.dispatcher });
    expect(await viaUrl.body.json()).toEqual({ url: '/q/frag?y=2', query: { y: '2' } });
  });

  it('undici.request(url) sends the WHATWG-normalised target, and the handler sees exactly that', async () => {
    // undici parses the URL first: ' in a query becomes %27, %2E%2E is a dot segment, a bare ? is dropped.
    for (const [given, sent] of [
      ["/q/url?r=a'b", '/q/url?r=a%27b'],
      ['/q/url/%2E%2E/u?z=1', '/q/u?z=1'],
      ['/q/url?', '/q/url'],
      ['/q/url?a=1&a=2&u=%C3%A9', '/q/url?a=1&a=2&u=%C3%A9'],
    ]) {
      const res = await request(`${main.origin}${given}`, { dispatcher: clientA.dispatcher });
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { url: string }).url, given).toBe(sent);
    }
  });
});

// ---------------------------------------------------------------------------------
// Identity, allow-list, verification failures
// ---------------------------------------------------------------------------------

describe('peer identity and unprotected requests', () => {
  it('request.oscore names the peer, its kid and kid context; sequence numbers increase', async () => {
    const a1 = json(await call(main, '/whoami')) as { seq: number };
    const a2 = json(await call(main, '/whoami')) as { seq: number };
    expect(a1).toMatchObject({ protected: true, peer: 'client-a', kid: '02', kidContext: null });
    expect(a2.seq).toBeGreaterThan(a1.seq);

    const b = json(await call(main, '/whoami', {}, clientB));
    expect(b).toMatchObject({ protected: true, peer: 'client-b', kid: '0b0c', kidContext: '37cbf3210017a2d3' });
  });

  it('the plugin loads its contexts from a context file path (secret read from a file next to it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oscore-e2e-'));
    try {
      writeFileSync(join(dir, 'secret.hex'), `${SECRET_A}\n`);
      const file = join(dir, 'contexts.json');
      writeFileSync(file, JSON.stringify({ format: 'oscore-http-contexts/1', contexts: [{ name: 'from-file', masterSecret: { file: 'secret.hex' }, senderId: '41', recipientId: '42' }] }));
      const fromFile = await startFastify({ contexts: file }, (app) => {
        app.get('/who', async (req) => ({ peer: req.oscore?.peer, kid: req.oscore?.kid }));
      });
      const c = oscoreAgent(fromFile.origin, { contexts: [clientContextA(fromFile.origin, { senderId: '42', recipientId: '41' })] });
      try {
        const res = await call(fromFile, '/who', {}, c);
        expect(res.status).toBe(200);
        expect(json(res)).toEqual({ peer: 'from-file', kid: '42' });
      } finally {
        await c.close();
        await fromFile.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an allow-listed route works without the interceptor (request.oscore is null) and with it', async () => {
    const plain = new Agent();
    try {
      const res = await request(`${main.origin}/health`, { dispatcher: plain });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ status: 'ok', protected: false });
      expect(main.seen[0]!.protected).toBe(false);
      expect(main.traffic.seen[0]).toMatchObject({ method: 'GET', url: '/health' });
    } finally {
      await plain.close();
    }
    const protectedRes = await call(main, '/health');
    expect(json(protectedRes)).toEqual({ status: 'ok', protected: true });
    expect(main.seen[1]).toMatchObject({ protected: true, peer: 'client-a' });
  });

  it("'GET /health' also allows HEAD /health, which fastify serves from the GET route (RFC 9110 §9.3.2); not POST", async () => {
    const plain = new Agent();
    try {
      const head = await request(`${main.origin}/health`, { method: 'HEAD', dispatcher: plain });
      expect(head.statusCode).toBe(200);
      await head.body.dump();
      const post = await request(`${main.origin}/health`, { method: 'POST', dispatcher: plain });
      expect(post.statusCode).toBe(401);
      await post.body.dump();
    } finally {
      await plain.close();
    }
  });

  it('a route that is not allow-listed refuses an unprotected request with 401 and WWW-Authenticate: OSCORE; the handler is not called', async () => {
    const plain = new Agent();
    try {
      for (const [method, path] of [
        ['GET', '/secret'],
        ['POST', '/health'],
        ['GET', '/nowhere'],
      ] as const) {
        const res = await request(`${main.origin}${path}`, { method, dispatcher: plain });
        expect(res.statusCode, `${method} ${path}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe('OSCORE');
        expect(res.headers['cache-control']).toBe('no-store');
        expect(await res.body.text()).toBe('OSCORE required');
      }
      expect(main.seen).toHaveLength(0);
    } finally {
      await plain.close();
    }
  });

  it('a client with the wrong key gets an UnprotectedResponseError (400 "Decryption failed", RFC 8613 §8.2 step 6); the handler is not called, the window is not moved', async () => {
    // Start far above the numbers client A has used: the server checks the replay window
    // before decrypting (RFC 8613 §8.2 step 3), so a reused number would say "Replay detected".
    const wrongSet = createContextSet([clientContextA(main.origin, { masterSecret: { hex: 'ffffffffffffffffffffffffffffffff' } })], {
      state: () => ({ senderSequence: new MemorySequenceNumberSource(1_000_000) }),
    });
    const wrong = oscoreAgent(main.origin, { contexts: wrongSet });
    try {
      const err = await rejectionOf(call(main, '/secret', {}, wrong));
      expect(err).toBeInstanceOf(UnprotectedResponseError);
      expect((err as UnprotectedResponseError).status).toBe(400);
      expect((err as UnprotectedResponseError).diagnostic).toBe('Decryption failed');
      expect(main.seen).toHaveLength(0);
      // Had the failed request moved the window to 1,000,000, client A's next number would be "too old".
      const ok = await call(main, '/secret');
      expect(ok.status).toBe(200);
    } finally {
      await wrong.close();
    }
  });

  it('a recorded OSCORE request replayed verbatim is refused; the handler runs once', async () => {
    let recorded: { headers: Record<string, string>; body: Buffer } | undefined;
    const recorder: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
      recorded = { headers: { ...(opts.headers as Record<string, string>) }, body: Buffer.from(opts.body as Buffer) };
      return dispatch(opts, handler);
    };
    const recording = oscoreAgent(main.origin, { contexts: setA, inner: [recorder] });
    const raw = new Agent();
    try {
      const first = await call(main, '/secret', {}, recording);
      expect(first.status).toBe(200);
      const replay = await request(`${main.origin}/oscore`, { method: 'POST', dispatcher: raw, headers: recorded!.headers, body: recorded!.body });
      expect(replay.statusCode).toBe(401);
      expect(await replay.body.text()).toBe('Replay detected');
      expect(main.seen).toHaveLength(1);
    } finally {
      await recording.close();
      await raw.close();
    }
  });
});

// ---------------------------------------------------------------------------------
// fetch
// ---------------------------------------------------------------------------------

describe('fetch', () => {
  it('undici.fetch GET and POST', async () => {
    const get = await undiciFetch(`${main.origin}/q/fetch?via=undici`, { dispatcher: clientA.dispatcher });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ url: '/q/fetch?via=undici', query: { via: 'undici' } });

    const post = await undiciFetch(`${main.origin}/methods/fetch-post?via=undici`, {
      method: 'POST',
      dispatcher: clientA.dispatcher,
      headers: { 'content-type': 'application/json', 'x-fetch': 'undici' },
      body: JSON.stringify({ hello: 'fetch' }),
    });
    expect(post.status).toBe(200);
    expect(post.headers.get('x-seen-method')).toBe('POST');
    expect(await post.json()).toEqual({ method: 'POST', url: '/methods/fetch-post?via=undici', id: 'fetch-post', body: { json: { hello: 'fetch' } } });
    expect(main.seen[1]!.headers['x-fetch']).toBe('undici');
    expectAllOuterProtected(main, 2);
  });

  it('global fetch with the dispatcher: GET and POST', async () => {
    const init = (extra: RequestInit = {}) => ({ dispatcher: clientA.dispatcher, ...extra }) as RequestInit;
    const get = await fetch(`${main.origin}/q/fetch?via=global`, init());
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ url: '/q/fetch?via=global', query: { via: 'global' } });

    const post = await fetch(`${main.origin}/body/describe`, init({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'from global fetch' }));
    expect(post.status).toBe(200);
    expect(await post.json()).toEqual({ body: { text: 'from global fetch' }, contentLength: String('from global fetch'.length), contentType: 'text/plain' });

    const notFound = await fetch(`${main.origin}/definitely-missing`, init());
    expect(notFound.status).toBe(404);
    await notFound.arrayBuffer();
    expectAllOuterProtected(main, 3);
  });
});

// ---------------------------------------------------------------------------------
// Differential: the protected answer equals fastify's own answer (inject, no OSCORE)
// ---------------------------------------------------------------------------------

describe('same answer as fastify.inject() (which bypasses OSCORE)', () => {
  // Fields the transport owns; each side sets its own.
  const TRANSPORT = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);
  const endToEnd = (headers: Record<string, unknown>) => Object.fromEntries(Object.entries(headers).filter(([name]) => !TRANSPORT.has(name)));

  const cases: Array<{ method: string; url: string; headers?: Record<string, string>; body?: string }> = [
    { method: 'GET', url: '/headers/multi' },
    { method: 'GET', url: '/status/418' },
    { method: 'GET', url: '/status/301' },
    { method: 'GET', url: '/status/202' },
    { method: 'GET', url: '/status/204' },
    { method: 'GET', url: '/status/599' },
    { method: 'GET', url: '/status-extra/429' },
    { method: 'GET', url: '/status-extra/451' },
    { method: 'GET', url: '/etag/weak' },
    { method: 'GET', url: '/etag/weak', headers: { 'if-none-match': 'W/"weak-1"' } },
    { method: 'GET', url: '/etag/long' },
    { method: 'GET', url: '/body/all-bytes' },
    { method: 'GET', url: '/body/empty' },
    { method: 'GET', url: '/body/stream-text' },
    { method: 'GET', url: '/throws' },
    { method: 'GET', url: '/definitely/not/here' },
    { method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, body: '{}' },
    { method: 'POST', url: '/body/echo', headers: { 'content-type': 'application/json' }, body: '{"a":[1,2]}' },
    { method: 'POST', url: '/methods/d?x=1&x=2', headers: { 'content-type': 'application/json' }, body: '{"d":1}' },
    { method: 'PURGE', url: '/methods/p' },
    { method: 'OPTIONS', url: '/methods/o' },
    { method: 'GET', url: '/q/enc?sp=a%20b&u=%C3%A9&plus=a+b' },
    { method: 'GET', url: '/files/a%2Fb/' },
  ];

  it.each(cases)('$method $url', async ({ method, url, headers, body }) => {
    const expected = await main.app.inject({ method: method as 'GET', url, headers, payload: body });
    const actual = await call(main, url, { method, headers, body });
    expect(actual.status).toBe(expected.statusCode);
    expect(endToEnd(actual.headers)).toEqual(endToEnd(expected.headers));
    expect(Buffer.compare(actual.body, expected.rawPayload)).toBe(0);
    expect(actual.headers['content-length']).toBe(String(expected.rawPayload.length));
  });

  it('HEAD: same status and fields as inject(), without a body', async () => {
    const expected = await main.app.inject({ method: 'HEAD', url: '/methods/h' });
    const actual = await call(main, '/methods/h', { method: 'HEAD' });
    expect(actual.status).toBe(expected.statusCode);
    expect(endToEnd(actual.headers)).toEqual(endToEnd(expected.headers));
    expect(actual.body.length).toBe(0);
  });

  it('the response carries a Date field, as the same fastify app sends without OSCORE', async () => {
    // Node adds Date when it writes the head; the protected (inner) response is captured before that.
    const expected = await main.app.inject({ method: 'GET', url: '/body/empty' });
    expect(expected.headers.date).toBeDefined();
    const actual = await call(main, '/body/empty');
    expect(actual.headers.date).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  });
});

// ---------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------

describe('concurrency', () => {
  /** Sends 1,000 requests at once (3/4 POST with distinct JSON bodies, 1/4 GET with distinct queries) and checks each answer. */
  async function thousandConcurrent(agentOptions: Agent.Options): Promise<void> {
    const server = await startFastify({ contexts: [serverContextA()] }, (app) => {
      app.post('/concurrent/:id', async (req, reply) => {
        const id = (req.params as { id: string }).id;
        await new Promise((r) => setTimeout(r, Number(id) % 5)); // finish out of arrival order
        reply.header('x-request-id', req.headers['x-request-id'] as string);
        return { id, body: req.body, seq: req.oscore?.sequenceNumber };
      });
      app.get('/concurrent/:id', async (req, reply) => {
        const id = (req.params as { id: string }).id;
        await new Promise((r) => setTimeout(r, Number(id) % 3));
        return reply.type('text/plain; charset=utf-8').send(`get ${id} ${JSON.stringify(req.query)}`);
      });
    });
    const pool = oscoreAgent(server.origin, { agent: agentOptions });
    try {
      const N = 1000;
      // allSettled: every request has finished when the test ends, whatever the outcome.
      const settled = await Promise.allSettled(
        Array.from({ length: N }, async (_, i) => {
          if (i % 4 === 3) return { i, kind: 'get' as const, res: await call(server, `/concurrent/${i}?i=${i}&tag=t${i}`, {}, pool) };
          const body = JSON.stringify({ i, pad: 'p'.repeat(i % 97) });
          return { i, kind: 'post' as const, res: await call(server, `/concurrent/${i}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `req-${i}` }, body }, pool) };
        }),
      );
      const failures = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as Error).message ?? r.reason));
      expect(failures.length, `${failures.length} of ${N} requests failed; first: ${failures[0]}`).toBe(0);
      const sequenceNumbers = new Set<number>();
      for (const r of settled) {
        const { i, kind, res } = (r as PromiseFulfilledResult<{ i: number; kind: 'get' | 'post'; res: Received }>).value;
        expect(res.status).toBe(200);
        if (kind === 'get') {
          expect(res.text).toBe(`get ${i} ${JSON.stringify({ i: String(i), tag: `t${i}` })}`);
        } else {
          const body = json(res) as { id: string; body: { i: number; pad: string }; seq: number };
          expect(body.id).toBe(String(i));
          expect(body.body).toEqual({ i, pad: 'p'.repeat(i % 97) });
          expect(res.headers['x-request-id']).toBe(`req-${i}`);
          sequenceNumbers.add(body.seq);
        }
      }
      expect(sequenceNumbers.size).toBe(N - N / 4);
      expectAllOuterProtected(server, N);
    } finally {
      await pool.close();
      await server.close();
    }
  }

  it('1,000 concurrent requests over an Agent with 10 connections each receive their own response', async () => {
    await thousandConcurrent({ connections: 10 });
  });

  // Many connections: requests queued on connections still being opened reach the server far
  // behind later ones. The client's sequence gate (packages/undici/src/sequence-gate.ts) holds a
  // request back rather than let it arrive beyond the server's replay window, so none is refused.
  it('1,000 concurrent requests over an Agent with 50 connections each receive their own response', async () => {
    await thousandConcurrent({ connections: 50 });
  });

  it('1,000 concurrent requests over a default Agent (as in the interceptor’s own example) each receive their own response', async () => {
    await thousandConcurrent({});
  });
});
