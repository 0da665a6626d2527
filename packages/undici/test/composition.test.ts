/**
 * The interceptor composed with undici's own interceptors and driven by handlers that use
 * the controller as undici allows. Real fastify server and undici client on loopback.
 */

import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, cacheStores, Client, errors, interceptors, Pool, type Dispatcher } from 'undici';
import { createSecurityContext, fromHex } from '@oscore-http/core';
import { ContextConfigError, createContextSet, HostMismatchError, type ContextSet } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { startFastify, type TestServer } from '../../fastify/test/support/fastify-server.js';
import { heapHeld } from '../../fastify/test/support/memory.js';
import { thrownBy } from '../../fastify/test/support/thrown.js';
import { clientContextA, Resources, SECRET_A, serverContextA } from '../../fastify/test/support/oscore-peers.js';

const resources = new Resources();
let server: TestServer;
let port: string;
/** One sequence number space per server, shared by every agent of this file. */
let contexts: ContextSet;

beforeAll(async () => {
  server = resources.add(
    await startFastify({ contexts: [serverContextA(), serverContextA({ name: 'client-a-by-name', senderId: '04', recipientId: '03' }), serverContextA({ name: 'client-a-name-only', senderId: '06', recipientId: '05' }), serverContextA({ name: 'client-a-made', senderId: '08', recipientId: '07' }), serverContextA({ name: 'client-a-made-once', senderId: '0a', recipientId: '09' })] }, (app, s) => {
      app.get('/hello', async (req) => {
        s.record(req);
        return { host: req.headers.host ?? null };
      });
      app.get('/bytes/:n', async (req, reply) => {
        s.record(req);
        return reply.type('application/octet-stream').send(Buffer.alloc(Number((req.params as { n: string }).n), 0x61));
      });
      // 503 (with Retry-After: 0) to the first `fail` requests for a key, then 200.
      const attempts = new Map<string, number>();
      app.get('/flaky/:key/:fail', async (req, reply) => {
        s.record(req);
        const { key, fail } = req.params as { key: string; fail: string };
        const n = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, n);
        if (n <= Number(fail)) return reply.code(503).header('retry-after', '0').send(`busy ${n}`);
        return reply.type('text/plain').send(`ok after ${n}`);
      });
      let version = 0;
      app.get('/cached/:mode', async (req, reply) => {
        s.record(req);
        const etag = `"v${version}"`;
        reply.header('etag', etag).header('cache-control', (req.params as { mode: string }).mode === 'fresh' ? 'max-age=60' : 'no-cache');
        if (req.headers['if-none-match'] === etag) return reply.code(304).send();
        version++;
        return reply.header('etag', `"v${version}"`).type('text/plain').send(`version ${version}`);
      });
      app.get('/gzip', async (req, reply) => {
        s.record(req);
        return reply.header('content-encoding', 'gzip').type('text/plain').send(gzipSync('inflated inside'));
      });
      app.get('/status/:code', async (req, reply) => {
        s.record(req);
        const code = Number((req.params as { code: string }).code);
        return reply.code(code).type('application/json').send({ status: code });
      });
    }),
    (s) => s.close(),
  );
  port = new URL(server.origin).port;
  contexts = createContextSet([clientContextA(server.origin), clientContextA(`http://localhost:${port}`, { senderId: '03', recipientId: '04' })], { store: 'memory' });
});

afterAll(() => resources.closeAll());

function compose(...chain: Dispatcher.DispatcherComposeInterceptor[]): Dispatcher {
  return resources.add(new Agent({ keepAliveTimeout: 1_000 }), (a) => a.close()).compose(chain);
}

type Call = string;

/** Dispatches with a controller-style handler; `onStart`/`onData` may act on the controller. */
function dispatchRecording(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, act: { onStart?: (c: Dispatcher.DispatchController) => void; onData?: (c: Dispatcher.DispatchController, chunk: Buffer) => void }): Promise<Call[]> {
  const calls: Call[] = [];
  return new Promise((resolve) => {
    const settle = () => setTimeout(() => resolve(calls), 50); // later callbacks would be recorded too
    dispatcher.dispatch(opts, {
      onRequestStart: () => void calls.push('start'),
      onResponseStart: (c, status) => {
        calls.push(`headers ${status}`);
        act.onStart?.(c);
      },
      onResponseData: (c, chunk) => {
        calls.push('data');
        act.onData?.(c, chunk);
      },
      onResponseEnd: () => {
        calls.push('end');
        settle();
      },
      onResponseError: (_c, err) => {
        calls.push(`error ${err.message}`);
        settle();
      },
    });
  });
}

describe('the caller’s controller', () => {
  it('an abort in onResponseStart ends the exchange with the reason: no data, no end', async () => {
    const calls = await dispatchRecording(compose(oscore({ contexts })), { origin: server.origin, path: '/hello', method: 'GET' }, { onStart: (c) => c.abort(new Error('not wanted')) });
    expect(calls).toEqual(['start', 'headers 200', 'error not wanted']);
  });

  it('an abort in onResponseData ends the exchange with the reason: no end', async () => {
    const calls = await dispatchRecording(compose(oscore({ contexts })), { origin: server.origin, path: '/bytes/100', method: 'GET' }, { onData: (c) => c.abort(new Error('enough')) });
    expect(calls).toEqual(['start', 'headers 200', 'data', 'error enough']);
  });

  it('pause/resume/abort after the outer response ended never reach its transport (the connection serves other requests by then)', async () => {
    const late: string[] = [];
    // Composed inside oscore: it sees the outer exchange and watches the controller undici gives it.
    const watch: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
      let ended = false;
      return dispatch(opts, {
        onRequestStart: (c, ctx) =>
          handler.onRequestStart?.(
            {
              get aborted() { return c.aborted; },
              get paused() { return c.paused; },
              get reason() { return c.reason; },
              pause: () => (ended ? late.push('pause') : c.pause()),
              resume: () => (ended ? late.push('resume') : c.resume()),
              abort: (reason: Error) => (ended ? late.push('abort') : c.abort(reason)),
            } as Dispatcher.DispatchController,
            ctx,
          ),
        onResponseStart: (c, ...rest) => handler.onResponseStart?.(c, ...rest),
        onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
        onResponseEnd: (c, trailers) => {
          ended = true;
          handler.onResponseEnd?.(c, trailers);
        },
        onResponseError: (c, err) => handler.onResponseError?.(c, err),
      });
    };
    const calls = await dispatchRecording(compose(watch, oscore({ contexts })), { origin: server.origin, path: '/bytes/100', method: 'GET' }, {
      onStart: (c) => {
        c.pause();
        setTimeout(() => c.resume(), 20);
      },
      onData: (c) => {
        c.pause();
        c.resume();
        c.abort(new Error('late'));
      },
    });
    expect(calls).toEqual(['start', 'headers 200', 'data', 'error late']);
    expect(late).toEqual([]);
  });
});

describe('undici’s retry interceptor', () => {
  const retryOptions = { minTimeout: 10, maxTimeout: 50, maxRetries: 3 };

  for (const throwOnError of [true, false]) {
    it(`outside oscore (throwOnError ${throwOnError}): an inner 503 is retried, each attempt a newly protected request`, async () => {
      server.seen.length = 0;
      server.traffic.reset();
      const key = `k-${throwOnError}`;
      const body: Buffer[] = [];
      const calls = await dispatchRecording(
        compose(oscore({ contexts }), interceptors.retry({ ...retryOptions, throwOnError })),
        { origin: server.origin, path: `/flaky/${key}/2`, method: 'GET' },
        { onData: (_c, chunk) => body.push(chunk) },
      );
      // The caller sees one response: the one that was not retried (the retry handler
      // starts the caller's handler again for each attempt, as it does without OSCORE).
      expect(calls.filter((c) => c !== 'start')).toEqual(['headers 200', 'data', 'end']);
      expect(Buffer.concat(body).toString()).toBe('ok after 3');
      expect(server.traffic.seen).toHaveLength(3);
      for (const outer of server.traffic.seen) expect(outer).toMatchObject({ method: 'POST', url: '/oscore', contentType: 'application/oscore' });
      // Never the same ciphertext twice (a resent one would be a replay): a new Partial IV each time.
      expect(new Set(server.traffic.seen.map((t) => t.oscore)).size).toBe(3);
      expect(new Set(server.seen.map((r) => r.sequenceNumber)).size).toBe(3);
    });
  }
});

describe('undici’s responseError, dump, cache, decompress and deduplicate interceptors', () => {
  it('responseError outside oscore throws on the inner status with the verified body; inside, it lets the outer 200 through', async () => {
    const outside = await compose(oscore({ contexts }), interceptors.responseError())
      .request({ origin: server.origin, path: '/status/404', method: 'GET' })
      .then(
        () => undefined,
        (e: unknown) => e as errors.ResponseError,
      );
    expect(outside).toBeInstanceOf(errors.ResponseError);
    expect(outside).toMatchObject({ statusCode: 404, body: { status: 404 } });
    const inside = await compose(interceptors.responseError(), oscore({ contexts })).request({ origin: server.origin, path: '/status/404', method: 'GET' });
    expect(inside.statusCode).toBe(404);
    expect(await inside.body.json()).toEqual({ status: 404 });
  });

  it('dump outside oscore discards the verified body; over its maxSize the call fails', async () => {
    const dumper = compose(oscore({ contexts }), interceptors.dump({ maxSize: 100 }));
    const res = await dumper.request({ origin: server.origin, path: '/bytes/100', method: 'GET' });
    expect(res.statusCode).toBe(200);
    expect((await res.body.arrayBuffer()).byteLength).toBe(0);
    const err = await dumper.request({ origin: server.origin, path: '/bytes/101', method: 'GET' }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(errors.RequestAbortedError);
  });

  it('cache outside oscore: a fresh verified response is served from the cache; a stale one is revalidated by a protected conditional request', async () => {
    const cached = compose(oscore({ contexts }), interceptors.cache({ store: new cacheStores.MemoryCacheStore() }));
    server.traffic.reset();
    const texts: string[] = [];
    for (let i = 0; i < 2; i++) texts.push(await (await cached.request({ origin: server.origin, path: '/cached/fresh', method: 'GET' })).body.text());
    expect(texts[1]).toBe(texts[0]);
    expect(server.traffic.requests).toBe(1);

    server.traffic.reset();
    server.seen.length = 0;
    const first = await cached.request({ origin: server.origin, path: '/cached/revalidate', method: 'GET' });
    const firstText = await first.body.text();
    const second = await cached.request({ origin: server.origin, path: '/cached/revalidate', method: 'GET' });
    expect(second.statusCode).toBe(200);
    expect(await second.body.text()).toBe(firstText);
    expect(server.seen.map((r) => [r.method, r.headers['if-none-match'] ?? null, r.protected])).toEqual([
      ['GET', null, true],
      ['GET', first.headers.etag, true],
    ]);
    expect(server.traffic.seen.every((t) => t.method === 'POST' && t.contentType === 'application/oscore')).toBe(true);
  });

  it('decompress outside oscore decodes the inner Content-Encoding', async () => {
    const res = await compose(oscore({ contexts }), interceptors.decompress()).request({ origin: server.origin, path: '/gzip', method: 'GET' });
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(await res.body.text()).toBe('inflated inside');
  });

  it('deduplicate outside oscore: identical concurrent GETs share one protected request and its verified answer', async () => {
    server.traffic.reset();
    const dedup = compose(oscore({ contexts }), interceptors.deduplicate());
    const bodies = await Promise.all(Array.from({ length: 5 }, async () => (await dedup.request({ origin: server.origin, path: '/bytes/64', method: 'GET' })).body.text()));
    expect(bodies).toEqual(Array(5).fill('a'.repeat(64)));
    expect(server.traffic.requests).toBe(1);
  });
});

describe('undici’s dns interceptor', () => {
  const lookup = (_origin: URL, _opts: unknown, cb: (err: Error | null, addresses: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]);

  for (const [order, chain] of [
    ['inside oscore (it sees the outer request)', () => [interceptors.dns({ lookup } as never), oscore({ contexts })]],
    ['outside oscore (oscore sees the IP address as origin)', () => [oscore({ contexts }), interceptors.dns({ lookup } as never)]],
  ] as const) {
    it(`${order}: a request to a configured host name is protected with that host's context`, async () => {
      server.seen.length = 0;
      server.traffic.reset();
      const res = await compose(...chain()).request({ origin: `http://localhost:${port}`, path: '/hello', method: 'GET' });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ host: `localhost:${port}` });
      expect(server.traffic.seen).toEqual([expect.objectContaining({ method: 'POST', url: '/oscore', contentType: 'application/oscore' })]);
      expect(server.seen[0]).toMatchObject({ protected: true, peer: 'client-a-by-name' });
    });
  }

  it('outside oscore, no context for the address: the host name’s context is found — never sent in clear (pass), never refused (refuse)', async () => {
    const byName = createContextSet([clientContextA(`http://localhost:${port}`, { senderId: '05', recipientId: '06' })], { store: 'memory' });
    for (const unprotectedOrigins of ['pass', 'refuse'] as const) {
      server.seen.length = 0;
      server.traffic.reset();
      const res = await compose(oscore({ contexts: byName, unprotectedOrigins }), interceptors.dns({ lookup } as never)).request({ origin: `http://localhost:${port}`, path: '/hello', method: 'GET' });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      expect(server.traffic.seen).toEqual([expect.objectContaining({ method: 'POST', url: '/oscore', contentType: 'application/oscore' })]);
      expect(server.seen[0]).toMatchObject({ protected: true, peer: 'client-a-name-only' });
    }
  });
});

describe('a Host field naming a configured peer on a request addressed elsewhere', () => {
  it('is refused with HostMismatchError, nothing sent anywhere: a protected request must not reach a server the caller named, which could relay it', async () => {
    // What a webhook sender does with a user's URL and headers: the URL is another server's.
    let received = 0;
    const other = resources.add(createHttpServer((_req, res) => (received++, res.end('thanks'))), (s) => s.close());
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const elsewhere = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    for (const unprotectedOrigins of ['pass', 'refuse'] as const) {
      server.traffic.reset();
      for (const origin of [elsewhere, `http://127.0.0.2:${port}`, `http://unknown.invalid:${port}`]) {
        const err = await compose(oscore({ contexts, unprotectedOrigins }))
          .request({ origin, path: '/hello', method: 'GET', headers: { host: `localhost:${port}` } })
          .then(() => undefined, (e: unknown) => e);
        expect(err, `${unprotectedOrigins} ${origin}`).toBeInstanceOf(HostMismatchError);
        expect((err as HostMismatchError).code).toBe('ERR_OSCORE_HTTP_HOST_MISMATCH');
      }
      expect(received).toBe(0);
      expect(server.traffic.requests).toBe(0);
    }
  });

  it('a request to a destination with a context of its own is protected with that one (the Host-named peer’s addresses do not include it)', async () => {
    // The file's contexts (their sequence numbers go on), with one more peer: a name that resolves nowhere.
    const both = (origin: string) => contexts.contextFor(origin === `http://peer.invalid:${port}` ? `http://localhost:${port}` : origin);
    server.seen.length = 0;
    const res = await compose(oscore({ contexts: both, unprotectedOrigins: 'refuse' })).request({ origin: server.origin, path: '/hello', method: 'GET', headers: { host: `peer.invalid:${port}` } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(server.seen[0]).toMatchObject({ protected: true, peer: 'client-a' });
  });

  it('a Host that spells the request’s own origin differently (case, spaces) is no other origin', async () => {
    server.seen.length = 0;
    const res = await compose(oscore({ contexts, unprotectedOrigins: 'refuse' })).request({ origin: `http://localhost:${port}`, path: '/hello', method: 'GET', headers: { host: ` LOCALHOST:${port} ` } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(server.seen[0]).toMatchObject({ protected: true, peer: 'client-a-by-name' });
  });

  it('counts when the request goes to an address of that name, on its port: protected with its context', async () => {
    server.seen.length = 0;
    const res = await compose(oscore({ contexts, unprotectedOrigins: 'refuse' })).request({ origin: `http://127.0.0.1:${port}`, path: '/hello', method: 'GET', headers: { host: `localhost:${port}` } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(server.seen[0]).toMatchObject({ protected: true, peer: 'client-a-by-name' });
  });
});

describe('a dispatcher that does not name the origin', () => {
  it('Client/Pool.compose without `origin` in the request: a typed error, nothing sent (its origin may be a configured peer)', async () => {
    for (const Kind of [Client, Pool]) {
      for (const unprotectedOrigins of ['pass', 'refuse'] as const) {
        server.traffic.reset();
        const dispatcher = resources.add(new Kind(server.origin), (d) => d.close()).compose(oscore({ contexts, unprotectedOrigins }));
        const err = await dispatcher.request({ path: '/hello', method: 'GET' } as Dispatcher.RequestOptions).then(
          () => undefined,
          (e: unknown) => e as { code?: string },
        );
        expect(err?.code, `${Kind.name} ${unprotectedOrigins}`).toBe('ERR_OSCORE_HTTP_UNMAPPABLE');
        expect(server.traffic.requests).toBe(0);
        // With the origin named, the same dispatcher protects as usual.
        const res = await dispatcher.request({ origin: server.origin, path: '/hello', method: 'GET' });
        expect(res.statusCode).toBe(200);
        await res.body.dump();
      }
    }
  });
});

describe('maxResponseSize', () => {
  it('bounds the inner response body as documented: one byte over fails with BodyTooLargeError naming the configured limit', async () => {
    const dispatcher = compose(oscore({ contexts, maxResponseSize: 1_000 }));
    const ok = await dispatcher.request({ origin: server.origin, path: '/bytes/1000', method: 'GET' });
    expect((await ok.body.arrayBuffer()).byteLength).toBe(1_000);
    const err = await dispatcher.request({ origin: server.origin, path: '/bytes/1001', method: 'GET' }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; limit?: number; message?: string },
    );
    expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_BODY_TOO_LARGE', limit: 1_000 });
    expect(err?.message).toMatch(/raise maxResponseSize on the client/);
  });
});

describe('a response declaring a length beyond the limit (found in review)', () => {
  it('fails at once with BodyTooLargeError and the connection closed, not after bodyTimeout waiting for bytes it would refuse', async () => {
    // The head of an OSCORE response declaring 100 MB, ten bytes of it, then nothing.
    let closed = false;
    const onPath = resources.add(
      createNetServer((socket) => {
        socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/oscore\r\noscore: AA\r\ncontent-length: 100000000\r\n\r\n0123456789'));
        socket.on('close', () => (closed = true));
        socket.on('error', () => {});
      }),
      (s) => new Promise<void>((resolve) => s.close(() => resolve())),
    );
    await new Promise<void>((resolve) => onPath.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(onPath.address() as AddressInfo).port}`;
    const set = resources.add(createContextSet([clientContextA(origin)], { store: 'memory' }), (c) => c.close());
    const dispatcher = resources.add(new Agent({ bodyTimeout: 20_000 }), (a) => a.close()).compose(oscore({ contexts: set, maxResponseSize: 1_000 }));
    const started = Date.now();
    const err = await dispatcher.request({ origin, path: '/x', method: 'GET' }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_BODY_TOO_LARGE', limit: 1_000 });
    expect(Date.now() - started).toBeLessThan(5_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(true);
  });
});

describe('a response body in 1-byte chunks (an on-path attacker)', () => {
  it('costs the client memory of its size while it arrives, not an object per chunk, and fails typed once over the limit', async () => {
    // Answers every request with the head of an OSCORE response and 100,000 one-byte chunks,
    // then holds the connection: 200 KB of body for two requests, some 40 MB as chunk objects.
    const head = 'HTTP/1.1 200 OK\r\ncontent-type: application/oscore\r\noscore: AA\r\ntransfer-encoding: chunked\r\n\r\n';
    const chunks = '1\r\nx\r\n'.repeat(100_000);
    const onPath = resources.add(
      createNetServer((socket) => {
        socket.once('data', () => socket.write(head + chunks));
        socket.on('error', () => {});
      }),
      (s) => new Promise<void>((resolve) => s.close(() => resolve())),
    );
    await new Promise<void>((resolve) => onPath.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(onPath.address() as AddressInfo).port}`;
    const set = resources.add(createContextSet([clientContextA(origin)], { store: 'memory' }), (c) => c.close());
    const dispatcher = compose(oscore({ contexts: set, maxResponseSize: 150_000 }));
    const before = heapHeld();
    const abort = new AbortController();
    const pending = [0, 1].map(() => dispatcher.request({ origin, path: '/x', method: 'GET', signal: abort.signal }).then(() => 'answered', (e: unknown) => e));
    try {
      await new Promise((r) => setTimeout(r, 700));
      expect(heapHeld() - before).toBeLessThan(8 * 1024 * 1024);
    } finally {
      abort.abort();
    }
    for (const outcome of await Promise.all(pending)) expect(outcome).toMatchObject({ name: 'AbortError' });
    // Past the limit: BodyTooLargeError, not a response.
    const small = compose(oscore({ contexts: set, maxResponseSize: 1_000 }));
    const err = await small.request({ origin, path: '/x', method: 'GET' }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_BODY_TOO_LARGE', limit: 1_000 });
  });
});

describe('the contexts option', () => {
  it('made contexts without their origin, or a key that is not an origin: a ContextConfigError that says what to give, when the interceptor is made', async () => {
    const made = await contexts.contextFor(server.origin);
    expect(made).toBeDefined();
    const errorOf = (option: unknown) => thrownBy(() => oscore({ contexts: option as ContextSet })) as ContextConfigError | undefined;
    // An array of made contexts, as a server takes them: a client cannot tell their peers.
    expect(errorOf([made])).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: 'contexts' });
    expect(errorOf([made])?.message).toMatch(/peer origin/);
    expect(errorOf(null)).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: 'contexts' });
    expect(errorOf(42)).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: 'contexts' });
    const badKey = errorOf({ 'billing:8080': made });
    expect(badKey).toBeInstanceOf(ContextConfigError);
    expect(badKey).toMatchObject({ path: 'contexts["billing:8080"]' });
    expect(badKey?.message).toMatch(/scheme \(http or https\), host and port/);
  });

  it('an object keyed by origin, spelt in any way the origin allows: the request is protected with that context', async () => {
    const made = await contexts.contextFor(server.origin);
    const dispatcher = compose(oscore({ contexts: { [`${server.origin.toUpperCase()}/`]: made! }, unprotectedOrigins: 'refuse' }));
    server.traffic.reset();
    const res = await dispatcher.request({ origin: server.origin, path: '/hello', method: 'GET' });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ host: expect.any(String) });
    expect(server.traffic.seen).toEqual([expect.objectContaining({ method: 'POST', url: '/oscore', contentType: 'application/oscore', oscore: expect.any(String) })]);
  });
});

describe('a contexts function that makes a new context per call (found in review)', () => {
  // Made without a store: each such context counts its sequence numbers in memory from 0.
  const made = () => createSecurityContext({ masterSecret: fromHex(SECRET_A), senderId: fromHex('07'), recipientId: fromHex('08') });

  it('is refused before it reuses a Partial IV: a typed error that says to return the same object, nothing sent', async () => {
    const fresh = compose(oscore({ contexts: (origin) => (origin === server.origin ? made() : undefined) }));
    server.traffic.reset();
    expect((await fresh.request({ origin: server.origin, path: '/hello', method: 'GET' })).statusCode).toBe(200);
    // A second context for the same sender would send Partial IV 0 again: the same nonce, another plaintext.
    const err = await fresh.request({ origin: server.origin, path: '/hello', method: 'GET' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ContextConfigError);
    expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', message: expect.stringMatching(/return the same SecurityContext object/) });
    expect(server.traffic.requests).toBe(1);
    // Another interceptor in the process, its own new context for that sender: refused too.
    const other = compose(oscore({ contexts: { [server.origin]: made() } }));
    await expect(other.request({ origin: server.origin, path: '/hello', method: 'GET' })).rejects.toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG' });
    expect(server.traffic.requests).toBe(1);
  });

  it('the same made object every time, in one interceptor or two, is used as is: its numbers go on', async () => {
    const once = createSecurityContext({ masterSecret: fromHex(SECRET_A), senderId: fromHex('09'), recipientId: fromHex('0a') });
    const first = compose(oscore({ contexts: (origin) => (origin === server.origin ? once : undefined) }));
    const second = compose(oscore({ contexts: { [server.origin]: once } }));
    for (const dispatcher of [first, second, first, second]) expect((await dispatcher.request({ origin: server.origin, path: '/hello', method: 'GET' })).statusCode).toBe(200);
  });
});

describe('options that would fail open (found in review)', () => {
  it('a limit that is NaN, a string or negative, a window below 1, or unprotectedOrigins other than pass/refuse: a ContextConfigError naming the option, when the interceptor is made', () => {
    const errorOf = (extra: Record<string, unknown>) => thrownBy(() => oscore({ contexts, ...extra }));
    for (const [name, value] of [
      ['maxBodySize', Number(undefined)],
      ['maxBodySize', '1048576'],
      ['maxHeaderSize', -1],
      ['maxResponseSize', 1.5],
      ['peerReplayWindow', 0],
      ['unprotectedOrigins', 'Refuse'],
      ['unprotectedOrigins', true],
    ] as const) {
      expect(errorOf({ [name]: value }), `${name}: ${String(value)}`).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: name });
    }
    expect(errorOf({ maxBodySize: 0, unprotectedOrigins: 'refuse', peerReplayWindow: 1 })).toBeUndefined();
  });
});

describe('dispatch options undici would refuse (found in review)', () => {
  it('no method or no path: undici’s own InvalidArgumentError, nothing sent', async () => {
    const dispatcher = compose(oscore({ contexts }));
    server.traffic.reset();
    for (const opts of [{ path: '/hello' }, { method: 'GET' }]) {
      const err = await dispatcher.request({ origin: server.origin, ...opts } as Dispatcher.RequestOptions).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(errors.InvalidArgumentError);
      expect((err as Error).message).toMatch(/^(method|path) must be a string$/);
    }
    expect(server.traffic.seen).toEqual([]);
  });
});

describe("headers: { host: 'protect' } (found in review)", () => {
  it('puts the request’s authority inside, so the server’s application sees it and not a Host rewritten on the path', async () => {
    const hostSeen = resources.add(
      await startFastify({ contexts: [serverContextA({ senderId: '41', recipientId: '42' })], headers: { host: 'protect' } }, (app) => {
        app.get('/host', async (req) => ({ host: req.headers.host ?? null, hostname: req.hostname }));
      }),
      (s) => s.close(),
    );
    const pair = createContextSet([clientContextA(hostSeen.origin, { senderId: '42', recipientId: '41' })], { store: 'memory' });
    // Below oscore (called after it): an on-path party that rewrites the outer Host — the fault injected.
    const rewriteHost: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
      dispatch({ ...opts, headers: { ...(opts.headers as Record<string, string>), host: 'evil.example' } }, handler);
    for (const [policy, expected] of [[{ host: 'protect' as const }, new URL(hostSeen.origin).host], [{}, 'evil.example']] as const) {
      const dispatcher = compose(rewriteHost, oscore({ contexts: pair, headers: policy }));
      const res = await dispatcher.request({ origin: hostSeen.origin, path: '/host', method: 'GET' });
      expect(res.statusCode).toBe(200);
      // Without Host inside, the server takes the outer one: the path chose it.
      expect(await res.body.json()).toEqual({ host: expected, hostname: expected.replace(/:\d+$/, '') });
    }
  });
});

describe('undici’s redirect interceptor inside oscore (found in review)', () => {
  it('never follows an unverified 3xx from the path: the protected request goes nowhere else, and the caller gets a typed error', async () => {
    let stolen = 0;
    const collector = resources.add(createHttpServer((req, res) => (stolen++, req.resume(), res.end('thanks'))), (s) => s.close());
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const collectorOrigin = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    // Something on the path answers every OSCORE request with a redirect of its choosing.
    const redirector = resources.add(createHttpServer((req, res) => (req.resume(), res.writeHead(Number(req.headers['x-code'] ?? 307), { location: `${collectorOrigin}/stolen` }).end())), (s) => s.close());
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
    const dispatcher = resources.add(
      new Agent().compose(interceptors.redirect({ maxRedirections: 3 }), oscore({ contexts: createContextSet([clientContextA(origin)], { store: 'memory' }), headers: { 'x-code': 'outer' } })),
      (a) => a.close(),
    );
    for (const code of ['301', '302', '303', '307', '308']) {
      const err = await dispatcher.request({ origin, path: '/x', method: 'POST', body: 'secret', headers: { 'x-code': code } }).then(() => undefined, (e: unknown) => e);
      expect((err as { code?: string }).code, code).toBe('ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE');
    }
    expect(stolen).toBe(0);
  });
});
