/**
 * Redis goes down mid-traffic (a SIGKILL: a crash) and comes back on the same port and
 * data directory. While it is down the server fails closed: every OSCORE request gets an
 * unprotected 503 "State store unavailable" and the handler never runs — a replay too.
 * When Redis is back, the same server process serves again by itself, and its replay
 * state survived: a request served before the crash is still refused as a replay.
 * And when Redis loses a window the server has used, the server does not start it afresh:
 * it proves freshness with Echo (RFC 8613 Appendix B.1.2) first. Killed under load, with
 * requests in flight, the same holds for each of them.
 */

import { createContextSet } from '@oscore-http/http';
import oscore from '@oscore-http/fastify';
import { oscore as oscoreClient } from '@oscore-http/undici';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisStateStore, type RedisStateStore, type RedisStoreWarning } from '../src/index.js';
import { startRedisServer, type RedisServer } from './support/redis-server.js';

const masterSecret = { hex: '3c'.repeat(16) };
const secondSecret = { hex: '4d'.repeat(16) };
const thirdSecret = { hex: '5e'.repeat(16) };
let redis: RedisServer;
let store: RedisStateStore;
let app: FastifyInstance;
let origin: string;
let handled = 0;
const warnings: RedisStoreWarning[] = [];

/** Records the outer requests the client interceptor sends (composed inside it: it sees the OSCORE bytes). */
function recorder() {
  const sent: { oscore: string; body: Buffer }[] = [];
  const interceptor: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
    const headers = opts.headers as Record<string, string>;
    sent.push({ oscore: headers.oscore!, body: Buffer.from(opts.body as Buffer) });
    return dispatch(opts, handler);
  };
  return { sent, interceptor };
}

beforeAll(async () => {
  redis = await startRedisServer();
  store = await createRedisStateStore({ url: redis.url, onWarning: (w) => warnings.push(w) });
  app = Fastify();
  await app.register(oscore, {
    contexts: createContextSet(
      [
        { name: 'client', masterSecret, senderId: '00', recipientId: '01' },
        { name: 'second', masterSecret: secondSecret, senderId: '00', recipientId: '02' },
        { name: 'third', masterSecret: thirdSecret, senderId: '00', recipientId: '03' },
      ],
      { store },
    ),
    allowUnprotected: ['GET /__handled'],
  });
  app.post('/orders', async (req) => {
    handled++;
    return { ok: true, body: req.body };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  await redis?.destroy();
});

it('fails closed with 503 while Redis is down, never runs the handler, and recovers by itself with its replay state intact', { timeout: 60_000 }, async () => {
  const rec = recorder();
  // The client is another service, with its own state store.
  const contexts = createContextSet([{ peer: origin, masterSecret, senderId: '01', recipientId: '00' }], { store: 'memory' });
  const agent = new Agent().compose(rec.interceptor, oscoreClient({ contexts }));
  const post = (i: number) => request(`${origin}/orders`, { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i }) });
  const replay = async (r: { oscore: string; body: Buffer }) => {
    const res = await request(`${origin}/oscore`, { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: r.oscore }, body: r.body });
    return { status: res.statusCode, body: await res.body.text(), oscore: res.headers.oscore };
  };
  const t0 = Date.now();
  const timeline: string[] = [];
  const mark = (event: string) => timeline.push(`+${Date.now() - t0} ms ${event}`);

  // Traffic before the crash.
  const before = await Promise.all(Array.from({ length: 50 }, (_, i) => post(i).then(async (r) => ({ status: r.statusCode, body: await r.body.json() }))));
  expect(before.every((r) => r.status === 200)).toBe(true);
  expect(handled).toBe(50);
  const served = rec.sent[10]!; // a request the server has served
  mark('50 requests served');

  await redis.stop('SIGKILL');
  mark('redis-server killed (SIGKILL)');

  // While down: every request fails closed, at once, and the client sees an unprotected 503.
  const downStarted = Date.now();
  const during = await Promise.all(Array.from({ length: 20 }, (_, i) => post(100 + i).then(() => undefined, (err: unknown) => err)));
  const downMs = Date.now() - downStarted;
  for (const err of during) expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 503, diagnostic: 'State store unavailable' });
  mark(`20 requests → 20 × 503 "State store unavailable" in ${downMs} ms`);
  // A replay of a served request: not served either (it cannot be checked).
  const replayWhileDown = await replay(served);
  expect(replayWhileDown).toMatchObject({ status: 503, body: 'State store unavailable', oscore: undefined });
  mark('replay of a served request → 503, not served');
  expect(handled).toBe(50);
  expect(store.available).toBe(false);

  // Still down a second later: nothing queued, nothing accepted unchecked.
  await new Promise((r) => setTimeout(r, 1000));
  await expect(post(200)).rejects.toMatchObject({ status: 503 });
  expect(handled).toBe(50);

  await redis.start(); // same port, same data directory (the AOF)
  const restarted = Date.now();
  mark('redis-server restarted');
  // The server process was not restarted: it reconnects and serves again.
  let first: number | undefined;
  for (let i = 0; first === undefined && Date.now() - restarted < 5000; i++) {
    const status = await post(300 + i).then(
      (r) => r.body.dump().then(() => r.statusCode),
      () => 503,
    );
    if (status === 200) first = Date.now() - restarted;
    else await new Promise((r) => setTimeout(r, 50));
  }
  expect(first, 'a request succeeds within 5 s of the restart').toBeDefined();
  mark(`first request served ${first} ms after the restart`);
  expect(first!).toBeLessThan(5000);

  // The window survived the crash (appendfsync always): the old request is still a replay.
  const replayAfter = await replay(served);
  expect(replayAfter).toMatchObject({ status: 401, body: 'Replay detected' });
  mark('replay of the pre-crash request → 401 "Replay detected"');
  const handledAfterRecovery = handled;
  const after = await Promise.all(Array.from({ length: 50 }, (_, i) => post(400 + i).then((r) => r.body.dump().then(() => r.statusCode))));
  expect(after.every((s) => s === 200)).toBe(true);
  expect(handled).toBe(handledAfterRecovery + 50);
  mark('50 more requests served');
  expect(warnings.map((w) => w.code)).toEqual(['OSCORE_REDIS_UNAVAILABLE']);
  console.log(`redis-down timeline:\n  ${timeline.join('\n  ')}`);
  await agent.close();
});

it('a replay window Redis lost is not started afresh: old requests get an Echo challenge, the client proves freshness once, then old requests are replays', async () => {
  const rec = recorder();
  const contexts = createContextSet([{ peer: origin, masterSecret: secondSecret, senderId: '02', recipientId: '00' }], { store: 'memory' });
  const agent = new Agent().compose(rec.interceptor, oscoreClient({ contexts }));
  const post = (i: number) => request(`${origin}/orders`, { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i }) }).then((r) => r.body.dump().then(() => r.statusCode));
  for (let i = 0; i < 5; i++) expect(await post(i)).toBe(200);
  const old = rec.sent.slice(0, 5);
  const handledBefore = handled;

  // Redis loses the windows (an eviction, a partial restore): the counters stay.
  const admin = new Redis(redis.url);
  const lost = [...(await admin.keys('oscore:w:*')), ...(await admin.keys('oscore:b:*'))];
  expect(lost.length).toBeGreaterThanOrEqual(4); // both pairs' windows
  await admin.del(...lost);
  admin.disconnect();

  // A replay of an old request: this process used the window, so it does not trust an empty
  // one — it answers with a protected Echo challenge (outer 200, opaque) and runs no handler.
  const challenged = await request(`${origin}/oscore`, { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: old[1]!.oscore }, body: old[1]!.body });
  expect(challenged.statusCode).toBe(200);
  expect(challenged.headers['content-type']).toBe('application/oscore');
  await challenged.body.dump();
  expect(handled).toBe(handledBefore);
  expect(warnings.map((w) => w.code)).toContain('OSCORE_REDIS_STATE_LOST');

  // The client's next request goes through the Echo exchange (two outer requests) and is served.
  const sentBefore = rec.sent.length;
  expect(await post(100)).toBe(200);
  expect(rec.sent.length - sentBefore).toBe(2);
  expect(handled).toBe(handledBefore + 1);
  // The window is re-established in Redis: every old request is a replay, for every replica.
  for (const r of old) {
    const res = await request(`${origin}/oscore`, { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: r.oscore }, body: r.body });
    expect(res.statusCode).toBe(401);
    expect(await res.body.text()).toBe('Replay detected');
  }
  expect(await post(101)).toBe(200);
  expect(rec.sent.length - sentBefore).toBe(3);
  await agent.close();
});

it('killed under load, with requests in flight: each request is served once with its own answer or refused 503, never served unchecked; after recovery nothing served before is served again', { timeout: 60_000 }, async () => {
  const rec = recorder();
  const contexts = createContextSet([{ peer: origin, masterSecret: thirdSecret, senderId: '03', recipientId: '00' }], { store: 'memory' });
  const agent = new Agent().compose(rec.interceptor, oscoreClient({ contexts }));
  const handledBefore = handled;
  const outcomes: { i: number; status: number }[] = [];
  let done = false;
  let served = 0;
  // Eight lanes, one request each in flight at all times, until the store has been back for a while.
  const lanes = Array.from({ length: 8 }, async (_, lane) => {
    for (let i = lane * 100_000; !done; i++) {
      try {
        const res = await request(`${origin}/orders`, { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i }) });
        const body = (await res.body.json()) as { ok: boolean; body: { i: number } };
        expect(res.statusCode).toBe(200);
        expect(body).toEqual({ ok: true, body: { i } }); // its own answer, verified against its request
        outcomes.push({ i, status: 200 });
        served++;
      } catch (err) {
        // The only other outcome: fail closed, unprotected 503, before anything ran.
        expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 503, diagnostic: 'State store unavailable' });
        outcomes.push({ i, status: 503 });
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  });
  while (served < 100) await new Promise((r) => setTimeout(r, 5));
  await redis.stop('SIGKILL'); // with up to eight requests between the client and the store
  await new Promise((r) => setTimeout(r, 300));
  await redis.start();
  const servedAtRestart = served;
  while (served < servedAtRestart + 100) await new Promise((r) => setTimeout(r, 5));
  done = true;
  await Promise.all(lanes);

  const ok = outcomes.filter((o) => o.status === 200).length;
  expect(outcomes.filter((o) => o.status === 503).length).toBeGreaterThan(0); // the outage was seen
  // Nothing accepted unchecked: the handler ran exactly once per 200 the client verified.
  expect(handled - handledBefore).toBe(ok);
  // The windows survived in Redis: every request sent before, served or refused, replayed now is
  // not served again. One refused with 503 never reached the window; it may be served once, late.
  const servedNow = handled;
  for (const r of rec.sent) {
    const first = await request(`${origin}/oscore`, { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: r.oscore }, body: r.body });
    await first.body.dump();
    const again = await request(`${origin}/oscore`, { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: r.oscore }, body: r.body });
    expect(again.statusCode).toBe(401);
    expect(await again.body.text()).toBe('Replay detected');
  }
  expect(handled - servedNow).toBeLessThanOrEqual(outcomes.length - ok);
  await agent.close();
});
