/**
 * Tampering between the peers: the undici interceptor talks to the fastify plugin through
 * a test proxy (proxy/tamper-proxy.ts) that changes one thing at a time — the OSCORE
 * header, one body byte, the outer method, path or content type, a header, the response
 * status — or swaps the responses of two concurrent requests, or replays a request.
 *
 * Every change is rejected with the documented outcome (docs: packages/http/src/server/
 * diagnostics.ts reasons, packages/http/src/errors.ts / packages/core/src/errors.ts types):
 * request-side, an unprotected 4xx with its fixed reason, the server's typed error code in
 * its log, and the client's UnprotectedResponseError; response-side, the client's typed
 * error and never a response. The application handler provably did not run: a counter per
 * route and one `onRequest` hook count every request that reached fastify's router.
 */

import Fastify, { type FastifyInstance } from 'fastify';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createSecurityContext,
  decodeOscoreOption,
  DecryptionFailedError,
  encodeInnerMessage,
  fromHex,
  MalformedCoseError,
  MalformedOptionError,
  MemoryStateStore,
  OscoreError,
  verifyRequest,
} from '@oscore-http/core';
import { createContextSet, decodeOscoreHeader, encodeOscoreHeader, MalformedOscoreHeaderError, UnprotectedResponseError } from '@oscore-http/http';
import oscore from '@oscore-http/fastify';
import { oscore as oscoreInterceptor } from '@oscore-http/undici';
import {
  addHeader,
  flipBit,
  getHeader,
  removeHeader,
  setHeader,
  TamperProxy,
  type Exchange,
  type ProxiedRequest,
  type ProxiedResponse,
} from './proxy/tamper-proxy.js';

const MASTER_SECRET = '0102030405060708090a0b0c0d0e0f10';
const MASTER_SALT = '9e7ca92223786340';
const CLIENT_ID = '01';
const SERVER_ID = '02';

let app: FastifyInstance;
let proxy: TamperProxy;
let agent: Agent;

/** Requests that reached fastify's router (any route, 404s included). */
let routed = 0;
/** Handler runs per route. */
const runs = new Map<string, number>();
/** What /whoami saw. */
let seen: { url: string; headers: Record<string, unknown> } | undefined;
/** The server's log records of rejected OSCORE requests (fastify logger, level warn). */
let serverLog: { msg: string; oscore?: { code: string; status: number; protected: boolean; kid?: string } }[] = [];

function count(route: string): void {
  runs.set(route, (runs.get(route) ?? 0) + 1);
}

function handlerRuns(): Record<string, number> {
  return Object.fromEntries(runs);
}

beforeAll(async () => {
  app = Fastify({
    logger: { level: 'warn', stream: { write: (line: string) => void serverLog.push(JSON.parse(line)) } },
  });
  await app.register(oscore, {
    contexts: [{ name: 'shop-frontend', masterSecret: { hex: MASTER_SECRET }, masterSalt: { hex: MASTER_SALT }, senderId: SERVER_ID, recipientId: CLIENT_ID }],
  });
  app.addHook('onRequest', async () => {
    routed++;
  });
  app.post('/orders', async (req, reply) => {
    count('POST /orders');
    reply.code(201).header('x-order-id', 'ord-1').header('location', '/orders/ord-1');
    return { id: 'ord-1', received: req.body };
  });
  app.get('/a', async () => {
    count('GET /a');
    return { route: 'a', detail: 'the answer to request A' };
  });
  app.get('/b', async () => {
    count('GET /b');
    return { route: 'b', detail: 'the answer to request B, which is longer than A' };
  });
  app.get('/whoami', async (req) => {
    count('GET /whoami');
    seen = { url: req.url, headers: { ...req.headers } };
    return { ok: true };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  proxy = await TamperProxy.start(address.port);
  agent = new Agent().compose(
    oscoreInterceptor({
      contexts: createContextSet([
        { name: 'orders', peer: proxy.origin, masterSecret: { hex: MASTER_SECRET }, masterSalt: { hex: MASTER_SALT }, senderId: CLIENT_ID, recipientId: SERVER_ID },
      ]),
    }),
  ) as unknown as Agent;
});

afterAll(async () => {
  await agent?.close();
  await proxy?.close();
  await app?.close();
});

beforeEach(() => {
  proxy.reset();
  routed = 0;
  runs.clear();
  seen = undefined;
  serverLog = [];
});

interface Result {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

type CallOptions = Omit<NonNullable<Parameters<typeof request>[1]>, 'dispatcher'>;

async function call(path: string, options: CallOptions = {}): Promise<Result> {
  const res = await request(`${proxy.origin}${path}`, { ...options, dispatcher: agent });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** The error a call fails with; fails the test if the call returns a response. */
async function failure(path: string, options: CallOptions = {}): Promise<Error> {
  let result: Result;
  try {
    result = await call(path, options);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`expected the call to fail, but it returned ${result.status} ${result.body}`);
}

const postOrder: CallOptions = { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer secret-token' }, body: JSON.stringify({ item: 'book', qty: 1 }) };

function text(bytes: Buffer): string {
  return bytes.toString('utf8');
}

function option(req: ProxiedRequest): Uint8Array {
  return decodeOscoreHeader(getHeader(req.headers, 'oscore'));
}

function withOption(req: ProxiedRequest, value: Uint8Array): ProxiedRequest {
  return { ...req, headers: setHeader(req.headers, 'oscore', encodeOscoreHeader(value)) };
}

/** Flips the highest clear bit of the last Partial IV byte: a larger, never-seen sequence number. */
function flipPartialIV(req: ProxiedRequest): ProxiedRequest {
  const value = option(req);
  const n = value[0]! & 0x07;
  expect(n).toBeGreaterThan(0);
  const last = value[n]!;
  const bit = [7, 6, 5, 4, 3, 2, 1, 0].find((b) => (last & (1 << b)) === 0)!;
  return withOption(req, flipBit(value, n, bit));
}

/**
 * Changes the protected Authorization value, the only way an intermediary can: in the
 * ciphertext. AES-CCM encrypts in counter mode, so ciphertext byte i is plaintext byte i
 * masked (RFC 9053 §4.2), and flipping it flips that plaintext byte. Where the value lies in
 * the plaintext is found by decrypting the captured request with a twin of the server's
 * context that keeps its own (memory) state, so the server's replay window is not touched.
 */
async function flipProtectedAuthorization(req: ProxiedRequest): Promise<ProxiedRequest> {
  const twin = createSecurityContext({
    masterSecret: fromHex(MASTER_SECRET),
    masterSalt: fromHex(MASTER_SALT),
    senderId: fromHex(SERVER_ID),
    recipientId: fromHex(CLIENT_ID),
    state: new MemoryStateStore(),
  });
  const { message } = await verifyRequest(twin, option(req), req.body);
  const plaintext = Buffer.from(encodeInnerMessage(message));
  expect(plaintext.length).toBe(req.body.length - 8); // the tag of AES-CCM-16-64-128 is 8 bytes
  const at = plaintext.indexOf('Bearer secret-token');
  expect(at).toBeGreaterThan(0);
  return { ...req, body: flipBit(req.body, at + 'Bearer '.length, 0) }; // "secret" → "recret"
}

interface RequestCase {
  name: string;
  tamper: (req: ProxiedRequest) => ProxiedRequest | Promise<ProxiedRequest>;
  status: number;
  reason: string;
  code: string;
  /** Extra response header the status requires. */
  header?: [string, string];
}

const requestCases: RequestCase[] = [
  // The OSCORE header (RFC 8613 §6.1 option value, §11.1 header field).
  { name: 'OSCORE header: a reserved flag bit set', tamper: (r) => withOption(r, flipBit(option(r), 0, 7)), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_MALFORMED_OPTION' },
  { name: 'OSCORE header: the kid flag cleared', tamper: (r) => withOption(r, flipBit(option(r), 0, 3)), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_MALFORMED_OPTION' },
  { name: 'OSCORE header: one bit of the Partial IV flipped', tamper: flipPartialIV, status: 400, reason: 'Decryption failed', code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'OSCORE header: one bit of the kid flipped', tamper: (r) => withOption(r, flipBit(option(r), -1, 0)), status: 401, reason: 'Security context not found', code: 'ERR_OSCORE_CONTEXT_NOT_FOUND', header: ['www-authenticate', 'OSCORE'] },
  { name: 'OSCORE header: replaced by AA (empty option: no kid, no Partial IV)', tamper: (r) => ({ ...r, headers: setHeader(r.headers, 'oscore', 'AA') }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_MALFORMED_COSE' },
  { name: 'OSCORE header: not base64url', tamper: (r) => ({ ...r, headers: setHeader(r.headers, 'oscore', `${getHeader(r.headers, 'oscore')!.slice(1)}+`) }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
  { name: 'OSCORE header: removed', tamper: (r) => ({ ...r, headers: removeHeader(r.headers, 'oscore') }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
  { name: 'OSCORE header: a second, altered copy added', tamper: (r) => ({ ...r, headers: addHeader(r.headers, 'OSCORE', encodeOscoreHeader(flipBit(option(r), -1, 1))) }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
  // The body (the COSE ciphertext with its tag).
  { name: 'body: one bit of the first byte flipped', tamper: (r) => ({ ...r, body: flipBit(r.body, 0, 0) }), status: 400, reason: 'Decryption failed', code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'body: one bit of a middle byte flipped', tamper: (r) => ({ ...r, body: flipBit(r.body, r.body.length >> 1, 4) }), status: 400, reason: 'Decryption failed', code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'body: one bit of the last (tag) byte flipped', tamper: (r) => ({ ...r, body: flipBit(r.body, -1, 7) }), status: 400, reason: 'Decryption failed', code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  // A protected header field: it exists only inside, so changing it means changing the ciphertext.
  { name: 'a protected header: the Authorization value changed in the ciphertext', tamper: flipProtectedAuthorization, status: 400, reason: 'Decryption failed', code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'body: one byte cut off', tamper: (r) => ({ ...r, body: r.body.subarray(0, -1) }), status: 400, reason: 'Decryption failed', code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'body: one byte appended', tamper: (r) => ({ ...r, body: Buffer.concat([r.body, Buffer.of(0)]) }), status: 400, reason: 'Decryption failed', code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'body: emptied', tamper: (r) => ({ ...r, body: Buffer.alloc(0) }), status: 400, reason: 'Failed to decode COSE', code: 'ERR_OSCORE_MALFORMED_COSE' },
  // The outer method, path and content type (RFC 8613 §11.1).
  { name: 'outer method: POST → PUT', tamper: (r) => ({ ...r, method: 'PUT' }), status: 405, reason: 'OSCORE requests use POST', code: 'ERR_OSCORE_HTTP_OUTER_METHOD', header: ['allow', 'POST'] },
  { name: 'outer method: POST → GET', tamper: (r) => ({ ...r, method: 'GET' }), status: 405, reason: 'OSCORE requests use POST', code: 'ERR_OSCORE_HTTP_OUTER_METHOD', header: ['allow', 'POST'] },
  // No fixed reason is defined for the outer path (diagnostics.ts): the generic one is sent.
  { name: 'outer path: /oscore → /oscore/x', tamper: (r) => ({ ...r, url: '/oscore/x' }), status: 404, reason: 'Unknown OSCORE endpoint', code: 'ERR_OSCORE_HTTP_OUTER_PATH' },
  { name: 'outer path: /oscore → /orders (the inner path)', tamper: (r) => ({ ...r, url: '/orders' }), status: 404, reason: 'Unknown OSCORE endpoint', code: 'ERR_OSCORE_HTTP_OUTER_PATH' },
  { name: 'outer Content-Type: application/oscore → application/json', tamper: (r) => ({ ...r, headers: setHeader(r.headers, 'content-type', 'application/json') }), status: 415, reason: 'Content-Type must be application/oscore', code: 'ERR_OSCORE_HTTP_CONTENT_TYPE' },
  { name: 'outer Content-Type: removed', tamper: (r) => ({ ...r, headers: removeHeader(r.headers, 'content-type') }), status: 415, reason: 'Content-Type must be application/oscore', code: 'ERR_OSCORE_HTTP_CONTENT_TYPE' },
  {
    name: 'OSCORE header and Content-Type removed (an unprotected request)',
    tamper: (r) => ({ ...r, headers: removeHeader(removeHeader(r.headers, 'oscore'), 'content-type') }),
    status: 401,
    reason: 'OSCORE required',
    code: 'ERR_OSCORE_HTTP_UNPROTECTED_REQUEST',
    header: ['www-authenticate', 'OSCORE'],
  },
];

function sameRequest(a: ProxiedRequest, b: ProxiedRequest): boolean {
  return a.method === b.method && a.url === b.url && a.body.equals(b.body) && JSON.stringify(a.headers) === JSON.stringify(b.headers);
}

describe('a request changed on the way is rejected before any application code runs', () => {
  it('control: the same exchange, unchanged, goes through the proxy', async () => {
    proxy.onRequest = (r) => r;
    const res = await call('/orders', postOrder);
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toEqual({ id: 'ord-1', received: { item: 'book', qty: 1 } });
    expect(handlerRuns()).toEqual({ 'POST /orders': 1 });
    expect(routed).toBe(1);
    const [exchange] = proxy.exchanges;
    expect(exchange!.received.method).toBe('POST');
    expect(exchange!.received.url).toBe('/oscore');
    expect(getHeader(exchange!.received.headers, 'content-type')).toBe('application/oscore');
    expect(getHeader(exchange!.upstream!.headers, 'oscore')).toBe('AA');
    expect(serverLog).toEqual([]);
  });

  it.each(requestCases)('$name → $status "$reason"', async ({ tamper, status, reason, code, header }) => {
    proxy.onRequest = tamper;
    const err = await failure('/orders', postOrder);

    // What the client sees: the typed error, with the server's status and reason.
    expect(err).toBeInstanceOf(UnprotectedResponseError);
    expect((err as UnprotectedResponseError).status).toBe(status);
    expect((err as UnprotectedResponseError).diagnostic).toBe(reason);

    // What the server answered, through the proxy.
    expect(proxy.exchanges).toHaveLength(1);
    const exchange = proxy.exchanges[0]!;
    expect(sameRequest(exchange.forwarded!, exchange.received)).toBe(false); // the change was made
    const upstream = exchange.upstream!;
    expect(upstream.status).toBe(status);
    expect(text(upstream.body)).toBe(reason);
    expect(getHeader(upstream.headers, 'content-type')).toBe('text/plain; charset=utf-8');
    expect(getHeader(upstream.headers, 'oscore')).toBeUndefined();
    expect(getHeader(upstream.headers, 'cache-control')).toBe('no-store');
    if (header) expect(getHeader(upstream.headers, header[0])).toBe(header[1]);

    // The server's typed error, logged once.
    expect(serverLog.map((r) => r.oscore?.code)).toEqual([code]);
    expect(serverLog[0]!.oscore).toMatchObject({ status, protected: false });
    expect(JSON.stringify(serverLog)).not.toMatch(/secret-token|book|orders/); // codes and kids only, no plaintext

    // No application code ran.
    expect(handlerRuns()).toEqual({});
    expect(routed).toBe(0);

    // The rejection consumed nothing: the untouched original, sent now, is accepted once.
    const original = await proxy.send(exchange.received);
    expect(original.status).toBe(200);
    expect(getHeader(original.headers, 'oscore')).toBe('AA');
    expect(handlerRuns()).toEqual({ 'POST /orders': 1 });
  });
});

describe('headers an intermediary adds do not reach the application', () => {
  it('outer Authorization, X-Api-Key, X-User and an outer query are ignored; the handler sees only the protected values and inner target', async () => {
    proxy.onRequest = (r) => ({
      ...r,
      url: '/oscore?admin=true&user=root',
      headers: addHeader(addHeader(setHeader(r.headers, 'authorization', 'Bearer evil'), 'x-user', 'admin'), 'x-api-key', 'evil-key'),
    });
    const res = await call('/whoami?tenant=acme', { headers: { authorization: 'Bearer secret-token', 'x-api-key': 'key-1' } });
    expect(res.status).toBe(200);
    expect(seen!.url).toBe('/whoami?tenant=acme');
    expect(seen!.headers.authorization).toBe('Bearer secret-token');
    expect(seen!.headers['x-api-key']).toBe('key-1');
    expect(seen!.headers['x-user']).toBeUndefined();
    expect(JSON.stringify(seen!.headers)).not.toMatch(/evil|admin|root/);
    // The injected fields did travel to the server.
    const forwarded = proxy.exchanges[0]!.forwarded!;
    expect(getHeader(forwarded.headers, 'authorization')).toBe('Bearer evil');
    expect(getHeader(forwarded.headers, 'x-user')).toBe('admin');
    expect(handlerRuns()).toEqual({ 'GET /whoami': 1 });
  });

  it('an Authorization the client did not send, added outside, is not seen by the handler', async () => {
    proxy.onRequest = (r) => ({ ...r, headers: addHeader(r.headers, 'Authorization', 'Bearer evil') });
    const res = await call('/whoami');
    expect(res.status).toBe(200);
    expect(seen!.headers.authorization).toBeUndefined();
    expect(handlerRuns()).toEqual({ 'GET /whoami': 1 });
  });

  it('response headers added or changed outside do not reach the caller; the protected ones do', async () => {
    proxy.onResponse = (r) => ({
      ...r,
      headers: addHeader(addHeader(addHeader(r.headers, 'set-cookie', 'session=evil'), 'x-order-id', 'evil'), 'location', 'http://evil.example/'),
    });
    const res = await call('/orders', postOrder);
    expect(res.status).toBe(201);
    expect(res.headers['x-order-id']).toBe('ord-1');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers.location).toBe('/orders/ord-1');
    expect(JSON.stringify(res.headers)).not.toMatch(/evil/);
  });

  it('the protected values are encrypted: none of them is on the wire', async () => {
    await call('/whoami?tenant=acme', { headers: { authorization: 'Bearer secret-token', 'x-api-key': 'key-1' } });
    const wire = proxy.exchanges[0]!.received;
    const everything = `${wire.method} ${wire.url} ${JSON.stringify(wire.headers)} ${wire.body.toString('latin1')}`;
    expect(everything).not.toMatch(/secret-token|key-1|whoami|tenant|acme|authorization|x-api-key/i);
  });
});

interface ResponseCase {
  name: string;
  tamper: (res: ProxiedResponse) => ProxiedResponse;
  error: abstract new (...args: never[]) => OscoreError;
  code: string;
  status?: number;
}

const responseCases: ResponseCase[] = [
  { name: 'body: one bit of the first byte flipped', tamper: (r) => ({ ...r, body: flipBit(r.body, 0, 0) }), error: DecryptionFailedError, code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'body: one bit of the last (tag) byte flipped', tamper: (r) => ({ ...r, body: flipBit(r.body, -1, 7) }), error: DecryptionFailedError, code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'body: one byte cut off', tamper: (r) => ({ ...r, body: r.body.subarray(0, -1) }), error: DecryptionFailedError, code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'body: emptied', tamper: (r) => ({ ...r, body: Buffer.alloc(0) }), error: MalformedCoseError, code: 'ERR_OSCORE_MALFORMED_COSE' },
  // "AA" is one zero byte: flip its lowest bit and the flags announce a 1-byte Partial IV that is not there.
  { name: 'OSCORE header: one bit flipped (AA → AQ)', tamper: (r) => ({ ...r, headers: setHeader(r.headers, 'oscore', encodeOscoreHeader(flipBit(Buffer.of(0), 0, 0))) }), error: MalformedOptionError, code: 'ERR_OSCORE_MALFORMED_OPTION' },
  { name: 'OSCORE header: claims a Partial IV of its own', tamper: (r) => ({ ...r, headers: setHeader(r.headers, 'oscore', encodeOscoreHeader(Uint8Array.of(0x01, 0x07))) }), error: DecryptionFailedError, code: 'ERR_OSCORE_DECRYPTION_FAILED' },
  { name: 'OSCORE header: not base64url', tamper: (r) => ({ ...r, headers: setHeader(r.headers, 'oscore', 'A!') }), error: MalformedOscoreHeaderError, code: 'ERR_OSCORE_HTTP_MALFORMED_HEADER' },
  { name: 'OSCORE header: removed', tamper: (r) => ({ ...r, headers: removeHeader(r.headers, 'oscore') }), error: UnprotectedResponseError, code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 200 },
  { name: 'outer status: 200 → 500', tamper: (r) => ({ ...r, status: 500, statusMessage: 'Internal Server Error' }), error: UnprotectedResponseError, code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 500 },
  { name: 'outer status: 200 → 201', tamper: (r) => ({ ...r, status: 201, statusMessage: 'Created' }), error: UnprotectedResponseError, code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 201 },
  { name: 'outer Content-Type: application/oscore → application/json', tamper: (r) => ({ ...r, headers: setHeader(r.headers, 'content-type', 'application/json') }), error: UnprotectedResponseError, code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 200 },
  { name: 'outer Content-Type: repeated', tamper: (r) => ({ ...r, headers: addHeader(r.headers, 'content-type', 'application/oscore') }), error: UnprotectedResponseError, code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 200 },
];

describe('a response changed on the way fails the call with a typed error, never a response', () => {
  it.each(responseCases)('$name → $error.name', async ({ tamper, error, code, status }) => {
    proxy.onResponse = (r) => tamper(r);
    const err = await failure('/orders', postOrder);
    expect(err).toBeInstanceOf(error);
    expect((err as OscoreError).code).toBe(code);
    if (status !== undefined) expect((err as UnprotectedResponseError).status).toBe(status);
    const exchange = proxy.exchanges[0]!;
    expect(exchange.upstream!.status).toBe(200);
    expect(JSON.stringify(exchange.returned)).not.toBe(JSON.stringify(exchange.upstream)); // the change was made
    // The request itself was genuine: its handler ran once, on the server.
    expect(handlerRuns()).toEqual({ 'POST /orders': 1 });
  });

  it('not a rejection, by design: a kid or kid context added to the response OSCORE option is unused in response processing (RFC 8613 §8.4) — the caller gets the genuine verified response', async () => {
    for (const value of [Uint8Array.of(0x08, 0x05), Uint8Array.of(0x18, 0x01, 0x07, 0x03)]) {
      proxy.onResponse = (r) => ({ ...r, headers: setHeader(r.headers, 'oscore', encodeOscoreHeader(value)) });
      const res = await call('/orders', postOrder);
      expect(res.status).toBe(201);
      expect(JSON.parse(res.body)).toEqual({ id: 'ord-1', received: { item: 'book', qty: 1 } });
    }
  });

  it('a response forged by the proxy without asking the server → UnprotectedResponseError; no handler ran', async () => {
    proxy.onRequest = (r, exchange) => {
      exchange.answer = { status: 200, statusMessage: 'OK', headers: [['content-type', 'application/json']], body: Buffer.from('{"id":"ord-1","received":{"item":"book","qty":1}}') };
      return r;
    };
    const err = await failure('/orders', postOrder);
    expect(err).toBeInstanceOf(UnprotectedResponseError);
    expect((err as UnprotectedResponseError).status).toBe(200);
    expect(handlerRuns()).toEqual({});
    expect(routed).toBe(0);
  });

  it('a response from an earlier exchange returned for a new request → DecryptionFailedError', async () => {
    await call('/a');
    const old = proxy.exchanges[0]!.upstream!;
    proxy.onResponse = () => old;
    const err = await failure('/a');
    expect(err).toBeInstanceOf(DecryptionFailedError);
    expect(handlerRuns()).toEqual({ 'GET /a': 2 });
  });
});

/** A response hook that holds two responses and then releases them with `release`. */
function holdTwo(release: (held: { response: ProxiedResponse; exchange: Exchange; resolve: (r: ProxiedResponse) => void }[]) => void): (r: ProxiedResponse, e: Exchange) => Promise<ProxiedResponse> {
  const held: { response: ProxiedResponse; exchange: Exchange; resolve: (r: ProxiedResponse) => void }[] = [];
  return (response, exchange) =>
    new Promise((resolve) => {
      held.push({ response, exchange, resolve });
      if (held.length === 2) release(held);
    });
}

describe('two responses swapped between concurrent requests', () => {
  it('control: both held, released in reverse order, each to its own request → both succeed', async () => {
    proxy.onResponse = holdTwo(([first, second]) => {
      second!.resolve(second!.response);
      first!.resolve(first!.response);
    });
    const [a, b] = await Promise.all([call('/a'), call('/b')]);
    expect(JSON.parse(a.body).route).toBe('a');
    expect(JSON.parse(b.body).route).toBe('b');
    expect(handlerRuns()).toEqual({ 'GET /a': 1, 'GET /b': 1 });
  });

  it('each gets the other one’s response → both fail with DecryptionFailedError (a response is bound to its request)', async () => {
    proxy.onResponse = holdTwo(([first, second]) => {
      first!.resolve(second!.response);
      second!.resolve(first!.response);
    });
    const [a, b] = await Promise.allSettled([call('/a'), call('/b')]);
    expect(a.status).toBe('rejected');
    expect(b.status).toBe('rejected');
    expect((a as PromiseRejectedResult).reason).toBeInstanceOf(DecryptionFailedError);
    expect((b as PromiseRejectedResult).reason).toBeInstanceOf(DecryptionFailedError);
    // Both were genuine requests on two connections; each handler ran once; the responses really were crossed.
    expect(handlerRuns()).toEqual({ 'GET /a': 1, 'GET /b': 1 });
    const [x, y] = proxy.exchanges;
    expect(x!.upstream!.body.equals(y!.upstream!.body)).toBe(false);
    expect(x!.returned!.body.equals(y!.upstream!.body)).toBe(true);
    expect(y!.returned!.body.equals(x!.upstream!.body)).toBe(true);
  });
});

describe('a replayed request', () => {
  it('the proxy sends a captured request to the server again → 401 "Replay detected"; the handler ran exactly once', async () => {
    const first = await call('/orders', postOrder);
    expect(first.status).toBe(201);
    const captured = proxy.exchanges[0]!.forwarded!;
    const replay = await proxy.send(captured);
    expect(replay.status).toBe(401);
    expect(text(replay.body)).toBe('Replay detected');
    expect(getHeader(replay.headers, 'www-authenticate')).toBe('OSCORE');
    expect(getHeader(replay.headers, 'oscore')).toBeUndefined();
    expect(serverLog.map((r) => r.oscore?.code)).toEqual(['ERR_OSCORE_REPLAY']);
    expect(handlerRuns()).toEqual({ 'POST /orders': 1 });
    expect(routed).toBe(1);
  });

  it('a replay through the proxy in place of a later request → the client gets UnprotectedResponseError 401 "Replay detected"; no second run', async () => {
    await call('/orders', postOrder);
    const captured = proxy.exchanges[0]!.forwarded!;
    proxy.onRequest = () => captured;
    const err = await failure('/orders', postOrder);
    expect(err).toBeInstanceOf(UnprotectedResponseError);
    expect((err as UnprotectedResponseError).status).toBe(401);
    expect((err as UnprotectedResponseError).diagnostic).toBe('Replay detected');
    expect(handlerRuns()).toEqual({ 'POST /orders': 1 });
  });

  it('the same request forwarded twice at once → exactly one is accepted, the other is 401 "Replay detected"; the handler ran exactly once', async () => {
    let duplicate: Promise<ProxiedResponse> | undefined;
    proxy.onRequest = (r) => {
      duplicate = proxy.send(r);
      return r;
    };
    const original = await call('/orders', postOrder).then(
      (res) => ({ status: res.status, reason: undefined as string | undefined }),
      (err: unknown) => ({ status: (err as UnprotectedResponseError).status, reason: (err as UnprotectedResponseError).diagnostic }),
    );
    const copy = await duplicate!;
    const outcomes = [original.status === 201 ? 'accepted' : `${original.status} ${original.reason}`, copy.status === 200 ? 'accepted' : `${copy.status} ${text(copy.body)}`];
    expect(outcomes.sort()).toEqual(['401 Replay detected', 'accepted']);
    expect(handlerRuns()).toEqual({ 'POST /orders': 1 });
  });
});

// Sanity of the helpers the cases rely on.
describe('the tamper helpers', () => {
  it('flip exactly one bit and keep every other byte', () => {
    const bytes = Buffer.from('0123456789');
    const flipped = flipBit(bytes, 4, 2);
    expect([...flipped].filter((b, i) => b !== bytes[i])).toHaveLength(1);
    expect(flipped[4]).toBe(bytes[4]! ^ 4);
    expect(decodeOscoreOption(Uint8Array.of(0x09, 0x05, 0x01)).kid).toEqual(Uint8Array.of(0x01));
  });
});
