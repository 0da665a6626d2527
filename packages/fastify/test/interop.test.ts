/**
 * Interoperability with an independent RFC 8613 peer (support/independent-peer.ts: node:crypto
 * and cbor-x only, no engine or mapping code), over real loopback sockets:
 *
 *  - an independent client, speaking CoAP inside and RFC 8613 §11 outside, against a real
 *    fastify server with the plugin;
 *  - the real undici client with the interceptor against an independent node:http server
 *    answering with pure CoAP inner responses, as a CoAP server behind an RFC 8075 proxy does.
 *
 * Every expectation is taken from the RFCs (cited per test), never from our own output.
 */

import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ReplayWindow } from '@oscore-http/core';
import { createContextSet, UnprotectedResponseError } from '@oscore-http/http';
import { startFastify, type TestServer } from './support/fastify-server.js';
import { clientContextA, closeServer, listen, oscoreAgent, rejectionOf, Resources, SALT_B, SECRET_A, SECRET_B, serverContextA, serverContextB, type OscoreClient } from './support/oscore-peers.js';
import {
  code,
  codeString,
  deriveContext,
  headerOf,
  IndependentClient,
  IndependentServer,
  opt,
  Opt,
  optionOf,
  decodeOption,
  readUint,
  text,
  uint,
  values,
  type CoapMessage,
} from './support/independent-peer.js';

const hexBytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const EMPTY = new Uint8Array(0);
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
/** Media types compared as RFC 9110 §8.3.1 does: case-insensitive type and parameter names, optional whitespace. */
const mediaType = (v: unknown) => String(v).toLowerCase().replace(/\s+/g, '');

const GET = code(0, 1);
const POST = code(0, 2);
const PUT = code(0, 3);
const DELETE = code(0, 4);

const resources = new Resources();
afterAll(() => resources.closeAll());

// ---------------------------------------------------------------------------------
// The independent peer itself, against RFC 8613 Appendix C
// ---------------------------------------------------------------------------------

describe('independent peer (self-check against RFC 8613 Appendix C)', () => {
  it('derives the C.1.1 context and protects the C.4 request byte for byte', () => {
    const ctx = deriveContext({ secret: hexBytes('0102030405060708090a0b0c0d0e0f10'), salt: hexBytes('9e7ca92223786340'), senderId: EMPTY, recipientId: hexBytes('01') });
    expect(Buffer.from(ctx.senderKey).toString('hex')).toBe('f0910ed7295e6ad4b54fc793154302ff');
    expect(Buffer.from(ctx.recipientKey).toString('hex')).toBe('ffb14e093c94c9cac9471648b4f98710');
    expect(Buffer.from(ctx.commonIv).toString('hex')).toBe('4622d4dd6d944168eefb54987c');
    // C.4: GET coap://server/tv1, Sender Sequence Number 20.
    const sent = new IndependentClient(ctx).protect({ code: GET, options: [opt(Opt.UriPath, 'tv1')], payload: EMPTY }, 20);
    expect(Buffer.from(sent.option).toString('hex')).toBe('0914');
    expect(Buffer.from(sent.payload).toString('hex')).toBe('612f1092f1776f1c1668b3825e');
    expect(headerOf(sent.option)).toBe('CRQ');
  });
});

// ---------------------------------------------------------------------------------
// Independent client → our fastify server
// ---------------------------------------------------------------------------------

interface Outer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function post(origin: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<Outer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${origin}${path}`, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** An RFC 8613 §11.6 outer request: POST to the server root, application/oscore, OSCORE header. */
function sendProtected(origin: string, option: Uint8Array, payload: Uint8Array): Promise<Outer> {
  return post(origin, '/', { 'content-type': 'application/oscore', oscore: headerOf(option) }, payload);
}

describe('independent client → fastify server', () => {
  let server: TestServer;
  let peer: IndependentClient;
  const ctx = () => deriveContext({ secret: hexBytes(SECRET_A), senderId: hexBytes('02'), recipientId: hexBytes('01') });

  beforeAll(async () => {
    server = await startFastify({ contexts: createContextSet([serverContextA(), serverContextB()], { store: 'memory' }) }, (app, s) => {
      app.get('/orders/:id', async (req, reply) => {
        s.record(req);
        return reply.header('etag', '"v42"').header('cache-control', 'max-age=30').send({ id: (req.params as { id: string }).id });
      });
      app.post('/orders', async (req, reply) => {
        s.record(req);
        return reply.code(201).header('location', '/orders/43').send({ created: req.body });
      });
      app.post('/orders/42/actions', async (req) => {
        s.record(req);
        return { done: true };
      });
      app.post('/orders/42/touch', async (req, reply) => {
        s.record(req);
        return reply.code(200).send();
      });
      app.get('/no-content', async (req, reply) => {
        s.record(req);
        return reply.code(204).send();
      });
      app.get('/validated', async (req, reply) => {
        s.record(req);
        // Validation as RFC 9110 §13.1.2 has it: 304 when a listed entity tag is current.
        const tags = String(req.headers['if-none-match'] ?? '').split(/\s*,\s*/);
        reply.header('etag', '"v42"');
        return tags.includes('"v42"') ? reply.code(304).send() : reply.send('representation v42');
      });
      app.get('/cache/:policy', async (req, reply) => {
        s.record(req);
        const policies: Record<string, string> = { 'no-store': 'no-store', 'no-cache': 'no-cache', listed: 'public, max-age=30, must-revalidate', upper: 'Max-Age=5' };
        return reply.header('cache-control', policies[(req.params as { policy: string }).policy]!).send('x');
      });
      app.put('/orders/42', async (req, reply) => {
        s.record(req);
        if (req.headers['if-match'] !== '"v42"') return reply.code(412).send();
        return reply.code(204).send();
      });
      app.put('/orders/new', async (req, reply) => {
        s.record(req);
        return reply.code(req.headers['if-none-match'] === '*' ? 201 : 400).send();
      });
      app.delete('/orders/42', async (req, reply) => {
        s.record(req);
        return reply.code(204).send();
      });
    });
    resources.add(server, (s) => s.close());
    peer = new IndependentClient(ctx());
  });

  async function exchange(message: CoapMessage): Promise<{ outer: Outer; inner: CoapMessage; piv: Uint8Array | undefined }> {
    const sent = peer.protect(message);
    const outer = await sendProtected(server.origin, sent.option, sent.payload);
    // RFC 8613 §11.1: a protected response is 200 with Content-Type application/oscore and the OSCORE field.
    expect(outer.status).toBe(200);
    expect(mediaType(outer.headers['content-type'])).toBe('application/oscore');
    expect(outer.headers.oscore).toMatch(/^[A-Za-z0-9_-]{2,}$/);
    const { message: inner, piv } = peer.verify(sent.binding, optionOf(outer.headers.oscore as string), outer.body);
    return { outer, inner, piv };
  }

  it('GET with several Uri-Path and Uri-Query options → 2.05 Content, Content-Format 50, ETag, Max-Age (RFC 7252 §5.8.1, §5.10)', async () => {
    const { outer, inner, piv } = await exchange({
      code: GET,
      options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '42'), opt(Opt.UriQuery, 'verbose=1'), opt(Opt.UriQuery, 'note=a b')],
      payload: EMPTY,
    });
    // §11.2: the response uses the request's nonce, so its OSCORE option is empty, written AA.
    expect(outer.headers.oscore).toBe('AA');
    expect(piv).toBeUndefined();
    const seen = server.seen.at(-1)!;
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/orders/42?verbose=1&note=a%20b');
    expect(seen.query).toEqual({ verbose: '1', note: 'a b' });
    expect(codeString(inner.code)).toBe('2.05');
    expect(values(inner, Opt.ContentFormat).map(readUint)).toEqual([50]);
    expect(values(inner, Opt.ETag).map((v) => text(v))).toEqual(['v42']);
    expect(values(inner, Opt.MaxAge).map(readUint)).toEqual([30]);
    expect(JSON.parse(text(inner.payload))).toEqual({ id: '42' });
  });

  it('also at the outer target /oscore', async () => {
    const sent = peer.protect({ code: GET, options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '7')], payload: EMPTY });
    const outer = await post(server.origin, '/oscore', { 'content-type': 'application/oscore', oscore: headerOf(sent.option) }, sent.payload);
    expect(outer.status).toBe(200);
    expect(codeString(peer.verify(sent.binding, optionOf(outer.headers.oscore as string), outer.body).message.code)).toBe('2.05');
  });

  it('POST with Content-Format 50 creating a resource → 2.01 Created with Location-Path (RFC 7252 §5.8.2, §5.10.7)', async () => {
    const { inner } = await exchange({ code: POST, options: [opt(Opt.UriPath, 'orders'), opt(Opt.ContentFormat, uint(50))], payload: utf8('{"item":"tea"}') });
    const seen = server.seen.at(-1)!;
    expect(seen.method).toBe('POST');
    expect(mediaType(seen.headers['content-type'])).toBe('application/json');
    expect(seen.body).toEqual({ item: 'tea' });
    expect(codeString(inner.code)).toBe('2.01');
    expect(values(inner, Opt.LocationPath).map(text)).toEqual(['orders', '43']);
    expect(values(inner, Opt.ContentFormat).map(readUint)).toEqual([50]);
  });

  it('POST that creates nothing → 2.04 Changed, never 2.05 (RFC 7252 §5.8.2, §5.9.1.5, §10.1.4)', async () => {
    const { inner } = await exchange({ code: POST, options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '42'), opt(Opt.UriPath, 'actions')], payload: EMPTY });
    expect(codeString(inner.code)).toBe('2.04');
    expect(JSON.parse(text(inner.payload))).toEqual({ done: true });
  });

  it('POST answered 200 without content → 2.04 Changed, with no critical option a CoAP peer would have to reject (RFC 7252 §5.4.1, §5.8.2)', async () => {
    const { inner } = await exchange({ code: POST, options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '42'), opt(Opt.UriPath, 'touch')], payload: EMPTY });
    expect(codeString(inner.code)).toBe('2.04');
    expect(inner.options.filter((o) => (o.number & 1) === 1)).toEqual([]);
  });

  it('GET answered 204 → 2.05 Content without payload, not 2.04, which answers only POST and PUT (RFC 7252 §5.9.1.4, §5.9.1.5); no critical option', async () => {
    const { inner } = await exchange({ code: GET, options: [opt(Opt.UriPath, 'no-content')], payload: EMPTY });
    expect(codeString(inner.code)).toBe('2.05');
    expect(inner.payload.length).toBe(0);
    expect(inner.options.filter((o) => (o.number & 1) === 1)).toEqual([]);
  });

  it('GET with ETag options validates stored representations: a current one → 2.03 Valid with that ETag, none current → 2.05 with the representation (RFC 7252 §5.10.6.2, §5.9.1.3)', async () => {
    const valid = await exchange({ code: GET, options: [opt(Opt.ETag, 'v41'), opt(Opt.UriPath, 'validated'), opt(Opt.ETag, 'v42')].sort((a, b) => a.number - b.number), payload: EMPTY });
    expect(codeString(valid.inner.code)).toBe('2.03');
    expect(values(valid.inner, Opt.ETag).map((v) => text(v))).toEqual(['v42']);
    expect(valid.inner.payload.length).toBe(0);
    const stale = await exchange({ code: GET, options: [opt(Opt.ETag, 'v41'), opt(Opt.UriPath, 'validated')], payload: EMPTY });
    expect(codeString(stale.inner.code)).toBe('2.05');
    expect(text(stale.inner.payload)).toBe('representation v42');
  });

  it.each([
    ['no-store', 0],
    ['no-cache', 0],
    ['listed', 30],
    ['upper', 5],
  ])('Cache-Control %s → a Max-Age no greater than the freshness HTTP allows (RFC 7252 §10.1.1, §5.10.5: absent means 60 s)', async (policy, maxAge) => {
    const { inner } = await exchange({ code: GET, options: [opt(Opt.UriPath, 'cache'), opt(Opt.UriPath, policy)], payload: EMPTY });
    expect(codeString(inner.code)).toBe('2.05');
    expect(values(inner, Opt.MaxAge).map(readUint)).toEqual([maxAge]);
  });

  it('PUT with a matching If-Match → 2.04 Changed; with a stale one → 4.12 (RFC 7252 §5.8.3, §5.10.8.1)', async () => {
    const ok = await exchange({ code: PUT, options: [opt(Opt.IfMatch, 'v42'), opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '42'), opt(Opt.ContentFormat, uint(50))], payload: utf8('{}') });
    expect(server.seen.at(-1)!.headers['if-match']).toBe('"v42"');
    expect(codeString(ok.inner.code)).toBe('2.04');
    expect(ok.inner.payload.length).toBe(0);
    const stale = await exchange({ code: PUT, options: [opt(Opt.IfMatch, [0x01, 0xff]), opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '42'), opt(Opt.ContentFormat, uint(50))], payload: utf8('{}') });
    expect(codeString(stale.inner.code)).toBe('4.12');
  });

  it('PUT with If-None-Match → the application sees If-None-Match: *, answers 2.01 Created (RFC 7252 §5.10.8.2, §5.8.3)', async () => {
    const { inner } = await exchange({ code: PUT, options: [opt(Opt.IfNoneMatch, EMPTY), opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, 'new'), opt(Opt.ContentFormat, uint(50))], payload: utf8('{}') });
    expect(codeString(inner.code)).toBe('2.01');
  });

  it('a request with a kid context (§6.1, flag h) and an ID Context in the key derivation is served', async () => {
    const idContext = hexBytes('37cbf3210017a2d3');
    const b = new IndependentClient(deriveContext({ secret: hexBytes(SECRET_B), salt: hexBytes(SALT_B), senderId: hexBytes('0b0c'), recipientId: hexBytes('0a'), idContext }), idContext);
    const sent = b.protect({ code: GET, options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, 'b')], payload: EMPTY });
    const outer = await sendProtected(server.origin, sent.option, sent.payload);
    expect(outer.status).toBe(200);
    const { message } = b.verify(sent.binding, optionOf(outer.headers.oscore as string), outer.body);
    expect(codeString(message.code)).toBe('2.05');
    expect(server.seen.at(-1)!.peer).toBe('client-b');
  });

  it('a request code with no method → protected 4.05 Method Not Allowed (RFC 7252 §5.8)', async () => {
    const { inner } = await exchange({ code: code(0, 10), options: [opt(Opt.UriPath, 'orders')], payload: EMPTY });
    expect(codeString(inner.code)).toBe('4.05');
  });

  it('DELETE → 2.02 Deleted (RFC 7252 §5.8.4, §10.1.3)', async () => {
    const { inner } = await exchange({ code: DELETE, options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '42')], payload: EMPTY });
    expect(server.seen.at(-1)!.method).toBe('DELETE');
    expect(codeString(inner.code)).toBe('2.02');
  });

  it('Accept 50 reaches the application as Accept: application/json (RFC 8075 §6.1)', async () => {
    const { inner } = await exchange({ code: GET, options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '1'), opt(Opt.Accept, uint(50))], payload: EMPTY });
    expect(mediaType(server.seen.at(-1)!.headers.accept)).toBe('application/json');
    expect(codeString(inner.code)).toBe('2.05');
  });

  it('unknown elective options (Observe without support, Size2, 65000) are ignored (RFC 7252 §5.4.1, RFC 7641 §2)', async () => {
    const { inner } = await exchange({
      code: GET,
      options: [opt(Opt.Observe, EMPTY), opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '5'), opt(Opt.Size2, EMPTY), opt(65000, 'x')],
      payload: EMPTY,
    });
    expect(codeString(inner.code)).toBe('2.05');
    // A server that does not support Observe answers without it (RFC 7641 §4.1 / §2: the client then knows it is not registered).
    expect(values(inner, Opt.Observe)).toEqual([]);
  });

  it.each([
    ['Block2 (23)', Opt.Block2, uint(2)],
    ['Block1 (27)', Opt.Block1, uint(0)],
    ['experimental critical 65001', 65001, utf8('x')],
  ])('an unsupported critical option, %s → protected 4.02 Bad Option, the application not called (RFC 7252 §5.4.1, RFC 8613 §8.3)', async (_name, number, value) => {
    const before = server.seen.length;
    const { inner } = await exchange({ code: GET, options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '9'), opt(number, value)], payload: EMPTY });
    expect(codeString(inner.code)).toBe('4.02');
    expect(server.seen.length).toBe(before);
  });

  it('an unknown resource → protected 4.04', async () => {
    const { inner } = await exchange({ code: GET, options: [opt(Opt.UriPath, 'nothing')], payload: EMPTY });
    expect(codeString(inner.code)).toBe('4.04');
  });

  describe('errors before verification are unprotected (RFC 8613 §8.2, §8.3: "OSCORE errors ... without OSCORE processing")', () => {
    const expectUnprotected = (outer: Outer, status: number, diagnostic: string) => {
      expect(outer.status).toBe(status);
      expect(outer.headers.oscore).toBeUndefined();
      expect(mediaType(outer.headers['content-type'])).not.toBe('application/oscore');
      expect(outer.body.toString('utf8')).toContain(diagnostic);
    };

    it('unknown kid → 4.01 "Security context not found", as HTTP 401 (§8.2 step 2)', async () => {
      const stranger = new IndependentClient(deriveContext({ secret: hexBytes(SECRET_A), senderId: hexBytes('77'), recipientId: hexBytes('01') }));
      const sent = stranger.protect({ code: GET, options: [opt(Opt.UriPath, 'orders')], payload: EMPTY });
      expectUnprotected(await sendProtected(server.origin, sent.option, sent.payload), 401, 'Security context not found');
    });

    it('a replay → 4.01 "Replay detected", as HTTP 401 (§7.4); the first copy was served', async () => {
      const sent = peer.protect({ code: GET, options: [opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '3')], payload: EMPTY });
      const first = await sendProtected(server.origin, sent.option, sent.payload);
      expect(first.status).toBe(200);
      expectUnprotected(await sendProtected(server.origin, sent.option, sent.payload), 401, 'Replay detected');
    });

    it('a tampered ciphertext → 4.00 "Decryption failed", as HTTP 400 (§8.2 step 6)', async () => {
      const sent = peer.protect({ code: GET, options: [opt(Opt.UriPath, 'orders')], payload: EMPTY });
      const body = Buffer.from(sent.payload);
      body[0]! ^= 0x01;
      expectUnprotected(await sendProtected(server.origin, sent.option, body), 400, 'Decryption failed');
    });

    it('an undecodable OSCORE option → 4.02 "Failed to decode COSE", as HTTP 400 (§8.2 step 2)', async () => {
      const sent = peer.protect({ code: GET, options: [opt(Opt.UriPath, 'orders')], payload: EMPTY });
      expectUnprotected(await sendProtected(server.origin, Uint8Array.of(0xe9, 0x00), sent.payload), 400, 'Failed to decode COSE');
    });
  });

  it('a response with its own Partial IV verifies with the nonce from that Partial IV and the server Sender ID (§8.3, Appendix B.1.2)', async () => {
    // A server whose replay window was lost answers with a protected 4.01 + Echo using its own Partial IV.
    const lost = await startFastify(
      { contexts: createContextSet([serverContextA()], { store: 'memory', state: () => ({ replayProtection: ReplayWindow.lost(1024) }) }) },
      (app, s) => {
        app.get('/orders/:id', async (req) => {
          s.record(req);
          return { id: (req.params as { id: string }).id };
        });
      },
    );
    resources.add(lost, (s) => s.close());
    const client = new IndependentClient(ctx());
    const get = (echo?: Uint8Array): CoapMessage => ({ code: GET, options: [...(echo ? [opt(252, echo)] : []), opt(Opt.UriPath, 'orders'), opt(Opt.UriPath, '8')], payload: EMPTY });
    const first = client.protect(get());
    const challenged = await sendProtected(lost.origin, first.option, first.payload);
    expect(challenged.status).toBe(200);
    const option = optionOf(challenged.headers.oscore as string);
    expect(decodeOption(option).piv).toBeDefined();
    const { message } = client.verify(first.binding, option, challenged.body);
    expect(codeString(message.code)).toBe('4.01');
    const [echo] = values(message, 252);
    expect(echo).toBeDefined();
    // The same ciphertext does not verify with the request nonce: the Partial IV makes the nonce (§5.2, §8.4 step 5).
    expect(() => client.verify(first.binding, EMPTY, challenged.body)).toThrow();
    const second = client.protect(get(echo));
    const served = await sendProtected(lost.origin, second.option, second.payload);
    const answer = client.verify(second.binding, optionOf(served.headers.oscore as string), served.body);
    expect(codeString(answer.message.code)).toBe('2.05');
    expect(JSON.parse(text(answer.message.payload))).toEqual({ id: '8' });
  });
});

// ---------------------------------------------------------------------------------
// Our undici client → an independent server
// ---------------------------------------------------------------------------------

describe('undici client → independent server', () => {
  let origin: string;
  let client: OscoreClient;
  const received: CoapMessage[] = [];
  const outerRequests: { method: string; url: string; contentType: string | undefined }[] = [];

  /** The inner response for each path (joined Uri-Path), as a CoAP server would answer. */
  const routes: Record<string, { message: CoapMessage; ownPiv?: boolean; withKid?: boolean; outerStatus?: number }> = {
    kid: { message: { code: code(2, 5), options: [], payload: utf8('with kid') }, ownPiv: true, withKid: true },
    text: { message: { code: code(2, 5), options: [opt(Opt.ContentFormat, uint(0))], payload: utf8('Exterminate! Exterminate!') } },
    json: { message: { code: code(2, 5), options: [opt(Opt.ContentFormat, uint(50)), opt(Opt.MaxAge, uint(10))], payload: utf8('{"a":1}') } },
    changed: { message: { code: code(2, 4), options: [], payload: EMPTY } },
    'changed-body': { message: { code: code(2, 4), options: [opt(Opt.ContentFormat, uint(50))], payload: utf8('{"ok":true}') } },
    deleted: { message: { code: code(2, 2), options: [], payload: EMPTY } },
    created: { message: { code: code(2, 1), options: [opt(Opt.LocationPath, 'orders'), opt(Opt.LocationPath, '9')], payload: EMPTY } },
    missing: { message: { code: code(4, 4), options: [], payload: utf8('no such order') } },
    busy: { message: { code: code(5, 3), options: [opt(Opt.MaxAge, uint(120))], payload: EMPTY } },
    piv: { message: { code: code(2, 5), options: [opt(Opt.ContentFormat, uint(0))], payload: utf8('own nonce') }, ownPiv: true },
    binary: { message: { code: code(2, 5), options: [opt(Opt.ETag, [0x00, 0x9a, 0x22, 0xff]), opt(Opt.ContentFormat, uint(60))], payload: Uint8Array.of(0xa0) } },
    unknown: { message: { code: code(2, 5), options: [opt(Opt.ContentFormat, uint(11050))], payload: utf8('x') } },
    block2: { message: { code: code(2, 5), options: [opt(Opt.Block2, uint(0x0e))], payload: utf8('part') } },
    observe: { message: { code: code(2, 5), options: [opt(Opt.Observe, uint(5)), opt(Opt.ContentFormat, uint(0))], payload: utf8('hi') } },
    'outer-201': { message: { code: code(2, 5), options: [], payload: utf8('x') }, outerStatus: 201 },
  };

  beforeAll(async () => {
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        outerRequests.push({ method: req.method!, url: req.url!, contentType: req.headers['content-type'] });
        const peer = new IndependentServer(deriveContext({ secret: hexBytes(SECRET_A), senderId: hexBytes('01'), recipientId: hexBytes('02') }));
        peer.seq = 100 + outerRequests.length;
        let verified;
        try {
          verified = peer.verify(optionOf(String(req.headers.oscore)), Buffer.concat(chunks));
        } catch {
          // RFC 8075 §7 maps an unprotected 4.01 to HTTP 403.
          res.writeHead(403, { 'content-type': 'text/plain;charset=utf-8' }).end('Security context not found');
          return;
        }
        received.push(verified.message);
        const path = values(verified.message, Opt.UriPath).map(text).join('/');
        const route = routes[path] ?? { message: { code: code(4, 4), options: [], payload: EMPTY } };
        const sent = peer.protect(verified.binding, route.message, route.ownPiv === true, route.withKid === true);
        // RFC 8613 §11.2: outer 2.04 Changed maps to HTTP 200 with the OSCORE field and application/oscore.
        res.writeHead(route.outerStatus ?? 200, { 'content-type': 'application/oscore', oscore: headerOf(sent.option) }).end(sent.payload);
      });
    });
    origin = await listen(server);
    resources.add(server, closeServer);
    client = resources.add(oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin)], { store: 'memory' }) }), (c) => c.close());
  });

  async function call(path: string, options: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; headers?: Record<string, string>; body?: string } = {}) {
    const res = await request(`${origin}${path}`, { dispatcher: client.dispatcher, method: options.method ?? 'GET', headers: options.headers, body: options.body });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  it('sends a CoAP request a CoAP server reads: code, Uri-Path, Uri-Query, Accept, Content-Format (RFC 8613 §11.4, RFC 8075)', async () => {
    await call('/json?x=1&y=2', { headers: { accept: 'application/json' } });
    const m = received.at(-1)!;
    expect(codeString(m.code)).toBe('0.01');
    expect(values(m, Opt.UriPath).map(text)).toEqual(['json']);
    expect(values(m, Opt.UriQuery).map(text)).toEqual(['x=1', 'y=2']);
    expect(values(m, Opt.Accept).map(readUint)).toEqual([50]);
    // Every critical option in it is one a CoAP server knows (RFC 7252 §5.4.1).
    const knownCritical = new Set([Opt.IfMatch, Opt.UriHost, Opt.IfNoneMatch, Opt.UriPath, Opt.UriQuery, Opt.Accept]);
    expect(m.options.filter((o) => (o.number & 1) === 1 && !knownCritical.has(o.number as never))).toEqual([]);
    const outer = outerRequests.at(-1)!;
    expect(outer.method).toBe('POST');
    expect(mediaType(outer.contentType)).toBe('application/oscore');
    await call('/changed', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"b":2}' });
    expect(codeString(received.at(-1)!.code)).toBe('0.02');
    expect(values(received.at(-1)!, Opt.ContentFormat).map(readUint)).toEqual([50]);
  });

  it('2.05 with Content-Format 0 → 200, Content-Type text/plain;charset=utf-8 (RFC 8075 §6, §7; RFC 8613 §11.5)', async () => {
    const res = await call('/text');
    expect(res.status).toBe(200);
    expect(mediaType(res.headers['content-type'])).toBe('text/plain;charset=utf-8');
    expect(res.body.toString()).toBe('Exterminate! Exterminate!');
  });

  it('2.05 with Content-Format 50 and Max-Age → 200, application/json, Cache-Control max-age (RFC 7252 §5.10.5)', async () => {
    const res = await call('/json');
    expect(res.status).toBe(200);
    expect(mediaType(res.headers['content-type'])).toBe('application/json');
    expect(res.headers['cache-control']).toBe('max-age=10');
    expect(res.body.toString()).toBe('{"a":1}');
  });

  it('2.04 without payload → 204, with payload → 200; 2.02 without payload → 204 (RFC 8075 §7 note 2)', async () => {
    expect((await call('/changed', { method: 'POST' })).status).toBe(204);
    const withBody = await call('/changed-body', { method: 'PUT', body: '{}' });
    expect(withBody.status).toBe(200);
    expect(withBody.body.toString()).toBe('{"ok":true}');
    expect((await call('/deleted', { method: 'DELETE' })).status).toBe(204);
  });

  it('2.01 with Location-Path → 201 with Location (RFC 8075 §7, RFC 7252 §5.10.7)', async () => {
    const res = await call('/created', { method: 'POST', body: 'x' });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe('/orders/9');
  });

  it('4.04 with a diagnostic payload → 404, the payload as text/plain;charset=utf-8 (RFC 8075 §6.6, RFC 7252 §5.5.2)', async () => {
    const res = await call('/missing');
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('no such order');
    expect(mediaType(res.headers['content-type'])).toBe('text/plain;charset=utf-8');
  });

  it('5.03 with Max-Age → 503 with Retry-After (RFC 8075 §7 note 8)', async () => {
    const res = await call('/busy');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('120');
  });

  it('a response with its own Partial IV is verified and delivered (RFC 8613 §8.3: "MAY ... use its own Partial IV")', async () => {
    const res = await call('/piv');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('own nonce');
  });

  it('a response whose OSCORE option also carries the server kid is verified (kid is optional in responses, §6.1)', async () => {
    const res = await call('/kid');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('with kid');
  });

  it('a binary ETag and Content-Format 60 → a strong entity tag and application/cbor (RFC 7252 §5.10.6, RFC 8075 §6)', async () => {
    const res = await call('/binary');
    expect(res.status).toBe(200);
    expect(mediaType(res.headers['content-type'])).toBe('application/cbor');
    expect(String(res.headers.etag)).toMatch(/^"[\x21\x23-\x7e]+"$/);
  });

  it('an unknown Content-Format → application/coap-payload;cf=N (RFC 8075 §6.2)', async () => {
    const res = await call('/unknown');
    expect(mediaType(res.headers['content-type'])).toBe('application/coap-payload;cf=11050');
  });

  it('an elective option it does not support (Observe) is ignored (RFC 7252 §5.4.1)', async () => {
    const res = await call('/observe');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hi');
  });

  it('an unrecognized critical option in the response (Block2) makes it fail, never delivered (RFC 7252 §5.4.1)', async () => {
    await expect(call('/block2')).rejects.toThrow();
  });

  it('a protected response needs outer 200 (RFC 8613 §11.1: the OSCORE field is used only in responses with 200)', async () => {
    const err = await rejectionOf(call('/outer-201'));
    expect(err).toBeInstanceOf(UnprotectedResponseError);
  });

  it('an unprotected error (the peer cannot verify, RFC 8075 maps 4.01 to 403) is an error, with its status', async () => {
    const stranger = resources.add(oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin, { senderId: '05' })], { store: 'memory' }) }), (c) => c.close());
    const err = await rejectionOf(request(`${origin}/text`, { dispatcher: stranger.dispatcher }));
    expect(err).toBeInstanceOf(UnprotectedResponseError);
    expect((err as UnprotectedResponseError & { status?: number }).status ?? (err as { statusCode?: number }).statusCode).toBe(403);
  });
});
