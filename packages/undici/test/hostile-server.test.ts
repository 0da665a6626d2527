/**
 * The client against a server that holds the key but answers what no well-behaved server
 * would: inner responses crafted with the independent RFC 8613 peer (written from the RFC,
 * without this project's engine), on node:http on 127.0.0.1. They verify — so they test
 * what the interceptor plays to the caller after verification, not the verification.
 */

import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent, stream as undiciStream, type Dispatcher } from 'undici';
import { createContextSet, HTTP_CODE_OPTION, HTTP_FIELD_OPTION } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { clientContextA, closeServer, Resources, SECRET_A } from '../../fastify/test/support/oscore-peers.js';
import { code, deriveContext, headerOf, IndependentServer, optionOf, type CoapMessage, type CoapOpt } from '../../fastify/test/support/independent-peer.js';

const resources = new Resources();
let origin: string;
let dispatcher: Dispatcher;
/** What the server answers, as a CoAP inner message, to each verified request. */
let answer: (request: CoapMessage) => CoapMessage;

const field = (name: string, value: string): CoapOpt => ({ number: HTTP_FIELD_OPTION, value: new Uint8Array(Buffer.from(`${name}:${value}`, 'latin1')) });
const httpCode = (n: number): CoapOpt => ({ number: HTTP_CODE_OPTION, value: n < 256 ? Uint8Array.of(n) : Uint8Array.of(n >> 8, n & 0xff) });
const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

const escaped: unknown[] = [];
const onEscaped = (err: unknown) => void escaped.push(err);

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

beforeAll(async () => {
  process.on('unhandledRejection', onEscaped);
  process.on('uncaughtException', onEscaped);
  // The server's view of client A (oscore-peers.ts): it receives kid 02 and sends with kid 01.
  const peer = new IndependentServer(deriveContext({ secret: Buffer.from(SECRET_A, 'hex'), senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2) }));
  const server: Server = createServer((req, res) => {
    readAll(req).then((body) => {
      const { message, binding } = peer.verify(optionOf(String(req.headers.oscore)), body);
      const out = peer.protect(binding, answer(message));
      res.writeHead(200, { 'content-type': 'application/oscore', oscore: headerOf(out.option) });
      res.end(Buffer.from(out.payload));
    }, () => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  resources.add(server, closeServer);
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dispatcher = resources.add(new Agent({ keepAliveTimeout: 1_000 }), (a) => a.close()).compose(oscore({ contexts: createContextSet([clientContextA(origin)], { store: 'memory' }) }));
});

afterAll(async () => {
  await resources.closeAll();
  process.off('unhandledRejection', onEscaped);
  process.off('uncaughtException', onEscaped);
});

beforeEach(() => {
  escaped.length = 0;
});

afterEach(async () => {
  await new Promise((r) => setTimeout(r, 20));
  expect(escaped).toEqual([]);
});

describe('a verified answer that must have no content, but has a payload (found in review)', () => {
  const cases: Array<[string, string, CoapMessage, number]> = [
    ['HEAD, answered 2.05 with a payload', 'HEAD', { code: code(2, 5), options: [field('content-length', '99')], payload: text('not for a HEAD') }, 200],
    ['GET, answered 204 (HTTP-Code) with a payload', 'GET', { code: code(2, 5), options: [httpCode(204)], payload: text('not in a 204') }, 204],
    ['GET, answered 2.03 Valid (304) with a payload', 'GET', { code: code(2, 3), options: [], payload: text('not in a 304') }, 304],
  ];

  for (const [name, method, message, status] of cases) {
    it(`${name}: the caller gets status and fields and no content, as from undici's own client`, async () => {
      answer = () => message;
      const res = await dispatcher.request({ origin, path: '/r', method });
      expect(res.statusCode).toBe(status);
      expect(Buffer.from(await res.body.arrayBuffer()).toString()).toBe('');
      // HEAD keeps the length the server protected (RFC 9110 §9.3.2); the others report what they carry.
      expect(res.headers['content-length']).toBe(method === 'HEAD' ? '99' : '0');

      const written: Buffer[] = [];
      await undiciStream(`${origin}/r`, { dispatcher, method }, () => new Writable({ write: (c: Buffer, _e, cb) => void (written.push(c), cb()) }));
      expect(Buffer.concat(written).length).toBe(0);
    });
  }
});

describe('verified fields named __proto__ and constructor (found in review)', () => {
  it('is a field like any other, as undici parses it — never the prototype of the headers object handlers get', async () => {
    answer = () => ({ code: code(2, 5), options: [field('__proto__', 'p1'), field('__proto__', 'p2'), field('constructor', 'c1'), field('x-a', '1')], payload: text('ok') });
    const seen = await new Promise<Record<string, unknown>>((resolve, reject) => {
      dispatcher.dispatch(
        { origin, path: '/r', method: 'GET' },
        {
          onRequestStart: () => {},
          onResponseStart: (_c, _status, headers) => resolve(headers as Record<string, unknown>),
          onResponseError: (_c, err) => reject(err),
        },
      );
    });
    expect(Object.getPrototypeOf(seen)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(seen, '__proto__')?.value).toEqual(['p1', 'p2']);
    expect(seen.constructor).toBe('c1');
    expect(seen['x-a']).toBe('1');

    const res = await dispatcher.request({ origin, path: '/r', method: 'GET' });
    await res.body.text();
    expect(Object.getPrototypeOf(res.headers)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(res.headers, '__proto__')?.value).toEqual(['p1', 'p2']);
  });
});
