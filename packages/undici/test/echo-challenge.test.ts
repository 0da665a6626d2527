/**
 * The interceptor's answer to an Echo challenge (RFC 9175 §2.4, RFC 8613 Appendix B.1.2):
 * a verified 4.01 with an Echo value is retried once with that value — but only a value
 * of 1-40 bytes (RFC 9175 §2.2.1). An Echo outside that range is an elective option out
 * of its range, ignored (RFC 7252 §5.4.3): the caller gets the 4.01 as it is.
 *
 * The server is a bare node:http listener on the engine (@oscore-http/core), which can
 * send any Echo value, so it stands for a peer that is not this project's server.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent, request, type Dispatcher } from 'undici';
import { coapCode, createSecurityContext, decodeOscoreOption, protectResponse, verifyRequest } from '@oscore-http/core';
import { decodeOscoreHeader, ECHO_OPTION, encodeOscoreHeader } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { closeServer, listen, Resources } from '../../fastify/test/support/oscore-peers.js';

const secret = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
const resources = new Resources();
const serverContext = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([2]) });

/** The Echo value the server challenges with; what each request carried as Echo (undefined: none). */
let challenge: Uint8Array;
let received: Array<string | undefined>;
let origin: string;

/** Challenges every request without Echo; serves one that carries Echo with 2.05 "fresh". */
async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const option = decodeOscoreHeader(req.headers.oscore);
  const { message, binding } = await verifyRequest(serverContext, option, Buffer.concat(await req.toArray()));
  const echo = message.options.find((o) => o.number === ECHO_OPTION)?.value;
  received.push(echo === undefined ? undefined : Buffer.from(echo).toString('hex'));
  const reply =
    echo === undefined
      ? await protectResponse(binding, { code: coapCode(4, 1), options: [{ number: ECHO_OPTION, value: challenge }], payload: new Uint8Array(0) }, { partialIV: true })
      : await protectResponse(binding, { code: coapCode(2, 5), options: [], payload: Buffer.from('fresh') });
  res.writeHead(200, { 'content-type': 'application/oscore', oscore: encodeOscoreHeader(reply.option), 'content-length': reply.payload.length });
  res.end(reply.payload);
}

let dispatcher: Dispatcher;

beforeAll(async () => {
  origin = await listen(
    resources.add(
      createServer((req, res) => {
        answer(req, res).catch(() => res.destroy());
      }),
      closeServer,
    ),
  );
  const client = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([2]), recipientId: new Uint8Array([1]) });
  const agent = new Agent();
  resources.add(agent, (a) => a.close());
  dispatcher = agent.compose(oscore({ contexts: { [origin]: client } }));
});

afterAll(() => resources.closeAll());

beforeEach(() => {
  received = [];
});

describe('an Echo challenge', () => {
  it.each([1, 20, 40])('with a %i-byte value: answered once, transparently, with that value', async (length) => {
    challenge = Buffer.alloc(length, 0xe5);
    const res = await request(`${origin}/resource`, { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('fresh');
    expect(received).toEqual([undefined, Buffer.from(challenge).toString('hex')]);
  });

  it.each([0, 41, 1024])('with a %i-byte value (outside 1-40, RFC 9175 §2.2.1): not answered; the caller gets the 401', async (length) => {
    challenge = Buffer.alloc(length, 0xe5);
    const res = await request(`${origin}/resource`, { dispatcher });
    expect(res.statusCode).toBe(401);
    await res.body.dump();
    expect(received).toEqual([undefined]);
  });
});

/**
 * A server that lost its replay window (RFC 8613 Appendix B.1.2) behind a network that
 * reorders: requests arriving close together are processed highest Partial IV first. It
 * challenges every request until one returns its Echo value; that request's Partial IV
 * becomes the window's lower limit, and a request below it is refused, unprotected, as a
 * replay — before decryption (§8.2 step 3), as this project's server does.
 */
describe('concurrent requests challenged after the server lost its window', () => {
  const context = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([3]), recipientId: new Uint8Array([4]) });
  const value = Buffer.alloc(8, 0xec);
  let lowerLimit: number | undefined;
  const log: string[] = [];
  let batch: { piv: number; req: IncomingMessage; res: ServerResponse; body: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;

  async function processOne({ piv, req, res, body }: (typeof batch)[number]): Promise<void> {
    if (lowerLimit !== undefined && piv < lowerLimit) {
      log.push(`${piv} replay`);
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' }).end('Replay detected');
      return;
    }
    const { message, binding } = await verifyRequest(context, decodeOscoreHeader(req.headers.oscore), body);
    const echo = message.options.find((o) => o.number === ECHO_OPTION)?.value;
    let reply;
    if (lowerLimit === undefined && (echo === undefined || !Buffer.from(echo).equals(value))) {
      log.push(`${piv} challenged`);
      reply = await protectResponse(binding, { code: coapCode(4, 1), options: [{ number: ECHO_OPTION, value }], payload: new Uint8Array(0) }, { partialIV: true });
    } else {
      if (lowerLimit === undefined) lowerLimit = piv; // "the Partial IV of the second request is set as the lower limit"
      log.push(`${piv} served`);
      reply = await protectResponse(binding, { code: coapCode(2, 5), options: [], payload: Buffer.from('fresh') });
    }
    res.writeHead(200, { 'content-type': 'application/oscore', oscore: encodeOscoreHeader(reply.option), 'content-length': reply.payload.length });
    res.end(reply.payload);
  }

  let reordering: Dispatcher;
  let reorderingOrigin: string;

  beforeAll(async () => {
    const server = createServer((req, res) => {
      void req.toArray().then((chunks) => {
        const piv = decodeOscoreOption(decodeOscoreHeader(req.headers.oscore)).partialIV!.reduce((n, b) => n * 256 + b, 0);
        batch.push({ piv, req, res, body: Buffer.concat(chunks) });
        clearTimeout(timer);
        timer = setTimeout(() => {
          const now = batch.sort((a, b) => b.piv - a.piv);
          batch = [];
          void (async () => {
            for (const entry of now) await processOne(entry).catch(() => entry.res.destroy());
          })();
        }, 30);
      });
    });
    reorderingOrigin = await listen(resources.add(server, closeServer));
    const client = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([4]), recipientId: new Uint8Array([3]) });
    const agent = new Agent();
    resources.add(agent, (a) => a.close());
    reordering = agent.compose(oscore({ contexts: { [reorderingOrigin]: client } }));
  });

  it('all succeed: one retry proves freshness alone, the others are protected after it, above the lower limit', async () => {
    const replies = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const res = await request(`${reorderingOrigin}/resource/${i}`, { dispatcher: reordering });
        return `${res.statusCode} ${await res.body.text()}`;
      }),
    );
    expect(replies).toEqual(['200 fresh', '200 fresh', '200 fresh', '200 fresh']);
    // The four first requests were challenged (highest first); one retry, with nothing else
    // outstanding, set the lower limit; the other three came after it, above it.
    expect(log.slice(0, 4)).toEqual(['3 challenged', '2 challenged', '1 challenged', '0 challenged']);
    expect(lowerLimit).toBe(4);
    expect(log.slice(4, 5)).toEqual(['4 served']);
    expect(log.slice(5).sort()).toEqual(['5 served', '6 served', '7 served']);
    expect(log.filter((l) => l.endsWith('replay'))).toEqual([]);
  });
});
