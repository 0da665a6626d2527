/**
 * A caller's abort works at every stage of an OSCORE request, as it does without OSCORE:
 * while the body is still being read, while the request waits for the replay-window gate,
 * and once it is on the wire. The request fails with the abort reason, a stream body is
 * destroyed, nothing half-done reaches the server, and later requests are not refused as
 * replays (the sequence number of a request given up before dispatch is skipped, never
 * reused). Real node:http server and undici client on loopback. (fetch enforces its own
 * signal whatever the dispatcher does, so only undici.request shows the interceptor's part.)
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContextSet, createOscoreHandler, oscoreInfoOf, type OscoreServerEvent } from '@oscore-http/http';
import { clientContextA, closeServer, countTraffic, listen, oscoreAgent, Resources, serverContextA, type OscoreClient, type TrafficCounter } from '../../fastify/test/support/oscore-peers.js';

const resources = new Resources();
const events: OscoreServerEvent[] = [];
const served: string[] = [];
/** The Sender Sequence Number each served request carried, by path. */
const sequenceOf = new Map<string, number | undefined>();
let origin: string;
let traffic: TrafficCounter;
let client: OscoreClient;

beforeAll(async () => {
  const server = createServer(
    createOscoreHandler({ contexts: createContextSet([serverContextA(), serverContextA({ name: 'client-b', senderId: '51', recipientId: '52' })], { store: 'memory' }), onEvent: (e) => events.push(e) }, (req: IncomingMessage, res: ServerResponse) => {
      served.push(req.url ?? '');
      sequenceOf.set(req.url ?? '', oscoreInfoOf(req)?.sequenceNumber);
      const delay = req.url === '/slow' ? 1_500 : 0;
      setTimeout(() => res.end(`done ${req.url}`), delay);
    }),
  );
  origin = await listen(resources.add(server, closeServer));
  traffic = countTraffic(server);
  // A replay window of 2: a third concurrent request waits at the gate.
  client = resources.add(oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin)], { store: 'memory' }), interceptor: { peerReplayWindow: 2 } }), (c) => c.close());
});

afterAll(() => resources.closeAll());

/** Resolves with how the call ended and how long it took. */
async function timed(call: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = Date.now();
  const error = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, ms: Date.now() - start };
}

describe('aborting an OSCORE request', () => {
  it('at once, as dispatch returns, with a body in memory: nothing spent — no sequence number, no encryption (found in review)', async () => {
    const fresh = oscoreAgent(origin, { contexts: createContextSet([clientContextA(origin, { senderId: '52', recipientId: '51' })], { store: 'memory' }) });
    try {
      const aborted = new AbortController();
      const call = fresh.dispatcher.request({ origin, path: '/given-up', method: 'POST', body: 'hello', signal: aborted.signal });
      aborted.abort();
      expect(((await timed(call)).error as Error).name).toBe('AbortError');
      const next = await fresh.dispatcher.request({ origin, path: '/after-abort', method: 'GET' });
      await next.body.text();
      // The given-up request took no Sender Sequence Number: the next one is still the first.
      expect(sequenceOf.get('/after-abort')).toBe(0);
      expect(sequenceOf.has('/given-up')).toBe(false);
    } finally {
      await fresh.close();
    }
  });

  it('while its body is still being read: fails at once with the reason, destroys the body, sends nothing', async () => {
    traffic.reset();
    const body = new Readable({ read() {} }); // never ends
    body.push('a first chunk');
    const { error, ms } = await timed(client.dispatcher.request({ origin, path: '/upload', method: 'POST', body, signal: AbortSignal.timeout(100) }));
    expect((error as Error).name).toBe('TimeoutError');
    expect(ms).toBeLessThan(1_000);
    expect(body.destroyed).toBe(true);
    expect(traffic.requests).toBe(0);
  });

  it('while an async-iterable body is still being read: fails at once, and the source is read no further and closed (its finally runs)', async () => {
    traffic.reset();
    let produced = 0;
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          await new Promise((r) => setTimeout(r, 5));
          produced++;
          yield new Uint8Array(1024);
        }
      } finally {
        closed = true;
      }
    }
    const { error, ms } = await timed(client.dispatcher.request({ origin, path: '/upload', method: 'POST', body: source(), signal: AbortSignal.timeout(100) }));
    expect((error as Error).name).toBe('TimeoutError');
    expect(ms).toBeLessThan(1_000);
    await expect.poll(() => closed).toBe(true);
    const atClose = produced;
    await new Promise((r) => setTimeout(r, 100));
    expect(produced).toBe(atClose);
    expect(produced).toBeLessThan(60); // about 20 chunks in 100 ms; without the stop, up to maxBodySize (1,024 chunks)
    expect(traffic.requests).toBe(0);
  });

  it('while it waits for the replay-window gate: fails at once; the requests ahead are unaffected and later ones are not replays', async () => {
    events.length = 0;
    served.length = 0;
    const ahead = [client.dispatcher.request({ origin, path: '/slow', method: 'GET' }), client.dispatcher.request({ origin, path: '/slow', method: 'GET' })];
    const held = timed(client.dispatcher.request({ origin, path: '/held', method: 'GET', signal: AbortSignal.timeout(200) }));
    const { error, ms } = await held;
    expect((error as Error).name).toBe('TimeoutError');
    expect(ms).toBeLessThan(1_000);
    for (const res of await Promise.all(ahead)) expect(await res.body.text()).toBe('done /slow');
    const after = await client.dispatcher.request({ origin, path: '/after', method: 'GET' });
    expect(after.statusCode).toBe(200);
    await after.body.text();
    expect(served.sort()).toEqual(['/after', '/slow', '/slow']);
    expect(events).toEqual([]);
  });

  it('once on the wire: fails with the reason and the server still answers the next request', async () => {
    const { error } = await timed(client.dispatcher.request({ origin, path: '/slow', method: 'GET', signal: AbortSignal.timeout(200) }));
    expect((error as Error).name).toBe('TimeoutError');
    const next = await client.dispatcher.request({ origin, path: '/next', method: 'GET' });
    expect(await next.body.text()).toBe('done /next');
  });
});
