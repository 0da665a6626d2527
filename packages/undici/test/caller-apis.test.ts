/**
 * Every way a caller uses undici, through the interceptor, against a real fastify server
 * with @oscore-http/fastify on 127.0.0.1: `undici.stream()` and `undici.pipeline()` with
 * slow consumers, handlers that pause and resume their controller, `fetch` (undici's and
 * the global one) with redirects, body kinds and timeouts, the errors a caller gets, and
 * concurrent requests to two servers with different contexts through one Agent.
 */

import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, connect, type AddressInfo } from 'node:net';
import { Readable, Writable, pipeline as streamPipeline } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent, fetch as undiciFetch, FormData as UndiciFormData, interceptors, pipeline as undiciPipeline, stream as undiciStream, type Dispatcher } from 'undici';
import { DecryptionFailedError } from '@oscore-http/core';
import { BodyTooLargeError, createContextSet, UnprotectedResponseError, type ContextSet } from '@oscore-http/http';
import { flipBit, TamperProxy } from '../../fastify/test/proxy/tamper-proxy.js';
import { oscore } from '@oscore-http/undici';
import { startFastify, type TestServer } from '../../fastify/test/support/fastify-server.js';
import { clientContextA, clientContextB, closeServer, listen, patternBytes, Resources, serverContextA, serverContextB } from '../../fastify/test/support/oscore-peers.js';

const KiB = 1024;
const resources = new Resources();
let server: TestServer;
let other: TestServer;
let contexts: ContextSet;
let dispatcher: Dispatcher;

/** Process-level failures while a test ran: none may fire. */
const escaped: unknown[] = [];
const onEscaped = (err: unknown) => void escaped.push(err);

beforeAll(async () => {
  process.on('unhandledRejection', onEscaped);
  process.on('uncaughtException', onEscaped);
  const routes = (name: string) => (app: TestServer['app'], s: Pick<TestServer, 'record'>) => {
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.get('/bytes/:n', async (req, reply) => {
      s.record(req);
      return reply.type('application/octet-stream').send(patternBytes(Number((req.params as { n: string }).n), 3));
    });
    app.all('/echo', async (req, reply) => {
      s.record(req);
      const body = req.body;
      return reply.type('application/json').send({
        server: name,
        method: req.method,
        url: req.raw.url,
        contentType: req.headers['content-type'] ?? null,
        body: body === undefined || body === null ? null : Buffer.isBuffer(body) ? body.toString('latin1') : typeof body === 'string' ? body : JSON.stringify(body),
      });
    });
    app.route({
      method: ['GET', 'POST', 'PUT'],
      url: '/redirect/:code',
      handler: async (req, reply) => {
        s.record(req);
        return reply.redirect(`/echo?from=${(req.params as { code: string }).code}`, Number((req.params as { code: string }).code));
      },
    });
    app.get('/slow/:ms', async (req) => {
      s.record(req);
      await new Promise((r) => setTimeout(r, Number((req.params as { ms: string }).ms)));
      return 'late';
    });
    app.get('/id/:i', async (req, reply) => {
      await new Promise((r) => setTimeout(r, Number((req.params as { i: string }).i) % 7));
      return reply.type('text/plain').send(`${name} ${(req.params as { i: string }).i} ${req.oscore?.peer}`);
    });
  };
  // Distinct IDs for the clients that reach the server through a proxy (one sequence number space each).
  server = resources.add(
    await startFastify({ contexts: [serverContextA(), serverContextA({ name: 'via-tamper', senderId: '31', recipientId: '32' }), serverContextA({ name: 'via-cutter', senderId: '33', recipientId: '34' }), serverContextA({ name: 'via-retry', senderId: '35', recipientId: '36' })] }, routes('main')),
    (s) => s.close(),
  );
  other = resources.add(await startFastify({ contexts: [serverContextB()] }, routes('other')), (s) => s.close());
  contexts = createContextSet([clientContextA(server.origin), clientContextB(other.origin)], { store: 'memory' });
  dispatcher = resources.add(new Agent({ keepAliveTimeout: 1_000 }), (a) => a.close()).compose(oscore({ contexts }));
});

afterAll(async () => {
  await resources.closeAll();
  process.off('unhandledRejection', onEscaped);
  process.off('uncaughtException', onEscaped);
});

beforeEach(() => {
  escaped.length = 0;
  for (const s of [server, other]) {
    s.seen.length = 0;
    s.traffic.reset();
  }
});

afterEach(async () => {
  await new Promise((r) => setTimeout(r, 20)); // let late rejections surface
  expect(escaped).toEqual([]);
});

/** A writable that takes `delayMs` per chunk and holds at most `highWaterMark` bytes. */
function slowSink(delayMs: number, highWaterMark = 1024): { sink: Writable; received: () => Buffer; writes: () => number } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      setTimeout(cb, delayMs);
    },
  });
  return { sink, received: () => Buffer.concat(chunks), writes: () => chunks.length };
}

describe('undici.stream()', () => {
  it('a 60 KiB response into a slow, back-pressuring writable arrives whole; the callback resolves after it finished', async () => {
    const { sink, received } = slowSink(5, 512);
    let finished = false;
    sink.on('finish', () => (finished = true));
    const data = await undiciStream<string>(`${server.origin}/bytes/${60 * KiB}`, { dispatcher, method: 'GET', opaque: 'op' }, ({ statusCode, headers }) => {
      expect(statusCode).toBe(200);
      expect(headers['content-length']).toBe(String(60 * KiB));
      return sink;
    });
    expect(finished).toBe(true);
    expect(data.opaque).toBe('op');
    expect(Buffer.compare(received(), patternBytes(60 * KiB, 3))).toBe(0);
    expect(server.traffic.seen).toEqual([expect.objectContaining({ method: 'POST', url: '/oscore', contentType: 'application/oscore' })]);
  });

  it('a factory that throws fails the call with that error', async () => {
    const err = await undiciStream(`${server.origin}/bytes/10`, { dispatcher, method: 'GET' }, () => {
      throw new Error('no sink');
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe('no sink');
  });
});

describe('undici.pipeline()', () => {
  it('a streamed request body and a 60 KiB response through a slow consumer', async () => {
    const { sink, received } = slowSink(3, 256);
    const payload = patternBytes(20 * KiB, 5);
    await promisify(streamPipeline)(
      Readable.from([payload.subarray(0, 10 * KiB), payload.subarray(10 * KiB)]),
      undiciPipeline(`${server.origin}/echo`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, ({ statusCode, body }) => {
        expect(statusCode).toBe(200);
        return body;
      }),
      sink,
    );
    const answer = JSON.parse(received().toString()) as { method: string; body: string };
    expect(answer.method).toBe('POST');
    expect(Buffer.from(answer.body, 'latin1').equals(payload)).toBe(true);

    const big = slowSink(3, 256);
    await promisify(streamPipeline)(
      Readable.from([]),
      undiciPipeline(`${server.origin}/bytes/${60 * KiB}`, { dispatcher, method: 'GET' }, ({ body }) => body),
      big.sink,
    );
    expect(Buffer.compare(big.received(), patternBytes(60 * KiB, 3))).toBe(0);
  });
});

/** Dispatches with a controller-style handler that records callbacks and their times. */
function dispatchRecording(
  opts: Dispatcher.DispatchOptions,
  act: { onRequest?: (c: Dispatcher.DispatchController) => void; onStart?: (c: Dispatcher.DispatchController, log: string[]) => void; onData?: (c: Dispatcher.DispatchController, log: string[]) => void },
  via: Dispatcher = dispatcher,
): Promise<string[]> {
  const log: string[] = [];
  return new Promise((resolve) => {
    via.dispatch(opts, {
      onRequestStart: (c) => {
        log.push('start');
        act.onRequest?.(c);
      },
      onResponseStart: (c, status) => {
        log.push(`headers ${status}`);
        act.onStart?.(c, log);
      },
      onResponseData: (c, chunk) => {
        log.push(`data ${chunk.length}`);
        act.onData?.(c, log);
      },
      onResponseEnd: () => {
        log.push('end');
        resolve(log);
      },
      onResponseError: (_c, err) => {
        log.push(`error ${err.message}`);
        resolve(log);
      },
    });
  });
}

describe('a handler that uses its controller', () => {
  it('gets no data and no end until it resumes (as undici’s own client: a paused parser delivers nothing)', async () => {
    const log = await dispatchRecording(
      { origin: server.origin, path: '/bytes/100', method: 'GET' },
      {
        onStart: (c, log) => {
          c.pause();
          setTimeout(() => {
            log.push('resume');
            c.resume();
          }, 50);
        },
        onData: (c, log) => {
          c.pause();
          setTimeout(() => {
            log.push('resume');
            c.resume();
          }, 50);
        },
      },
    );
    expect(log).toEqual(['start', 'headers 200', 'resume', 'data 100', 'resume', 'end']);
  });

  it('an abort while paused ends the exchange with the reason, nothing else', async () => {
    const log = await dispatchRecording(
      { origin: server.origin, path: '/bytes/100', method: 'GET' },
      {
        onStart: (c) => {
          c.pause();
          setTimeout(() => c.abort(new Error('gave up')), 30);
        },
      },
    );
    expect(log).toEqual(['start', 'headers 200', 'error gave up']);
  });

  it('an abort without a reason (as undici.pipeline() and undici.stream() call it) is a RequestAbortedError, as from undici itself', async () => {
    const act = { onStart: (c: Dispatcher.DispatchController) => (c.abort as (reason?: Error) => void)() };
    const plain = resources.add(new Agent(), (a) => a.close());
    const expected = ['start', 'headers 401', 'error Request aborted'];
    expect(await dispatchRecording({ origin: server.origin, path: '/bytes/100', method: 'GET' }, act, plain)).toEqual(expected);
    expect(await dispatchRecording({ origin: server.origin, path: '/bytes/100', method: 'GET' }, act)).toEqual(['start', 'headers 200', 'error Request aborted']);
  });

  it('paused before the response: still gets the response start, then data once it resumes (the outer response is read regardless)', async () => {
    const act = {
      onRequest: (c: Dispatcher.DispatchController) => c.pause(),
      onStart: (c: Dispatcher.DispatchController) => c.resume(),
    };
    // undici itself, without OSCORE (the server refuses the unprotected request with a 401):
    const plain = resources.add(new Agent(), (a) => a.close());
    expect(await dispatchRecording({ origin: server.origin, path: '/bytes/100', method: 'GET' }, act, plain)).toEqual(['start', 'headers 401', expect.stringMatching(/^data /), 'end']);
    const log = await Promise.race([dispatchRecording({ origin: server.origin, path: '/bytes/100', method: 'GET' }, act), new Promise((r) => setTimeout(() => r('stuck'), 2_000))]);
    expect(log).toEqual(['start', 'headers 200', 'data 100', 'end']);
  });
});

describe('fetch', () => {
  const fetches = [
    ['undici.fetch', (url: string, init: RequestInit = {}) => undiciFetch(url, { ...init, dispatcher } as never) as unknown as Promise<Response>],
    ['global fetch', (url: string, init: RequestInit = {}) => fetch(url, { ...init, dispatcher } as RequestInit)],
  ] as const;

  for (const [name, doFetch] of fetches) {
    describe(name, () => {
      it('redirect: follow — every hop is a new protected request; 301/302 and 303 turn POST into GET, 307/308 keep method and body', async () => {
        for (const code of [301, 302, 303, 307, 308]) {
          server.seen.length = 0;
          server.traffic.reset();
          const res = await doFetch(`${server.origin}/redirect/${code}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `body ${code}` });
          expect(res.status, String(code)).toBe(200);
          expect(res.redirected).toBe(true);
          const answer = (await res.json()) as { method: string; url: string; body: string | null };
          const keeps = code === 307 || code === 308;
          expect(answer, String(code)).toMatchObject({ method: keeps ? 'POST' : 'GET', url: `/echo?from=${code}`, body: keeps ? `body ${code}` : null });
          expect(server.traffic.seen.map((t) => [t.method, t.url, t.contentType])).toEqual([
            ['POST', '/oscore', 'application/oscore'],
            ['POST', '/oscore', 'application/oscore'],
          ]);
          expect(server.traffic.seen[0]!.oscore).not.toBe(server.traffic.seen[1]!.oscore);
          expect(server.seen[1]!.sequenceNumber).toBeGreaterThan(server.seen[0]!.sequenceNumber!);
        }
      });

      it('redirect: manual — the caller sees the verified 3xx and its Location, nothing is followed', async () => {
        for (const code of [301, 302, 303, 307, 308]) {
          server.traffic.reset();
          const res = await doFetch(`${server.origin}/redirect/${code}`, { redirect: 'manual' });
          expect(res.status).toBe(code);
          expect(res.headers.get('location')).toBe(`/echo?from=${code}`);
          await res.arrayBuffer();
          expect(server.traffic.requests).toBe(1);
        }
      });

      it('request bodies: ReadableStream, URLSearchParams, Blob, FormData, ArrayBuffer', async () => {
        const stream = new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('streamed, '));
            c.enqueue(new TextEncoder().encode('in two chunks'));
            c.close();
          },
        });
        const viaStream = (await (await doFetch(`${server.origin}/echo`, { method: 'POST', body: stream, headers: { 'content-type': 'text/plain' }, duplex: 'half' } as RequestInit)).json()) as { body: string };
        expect(viaStream.body).toBe('streamed, in two chunks');

        const params = (await (await doFetch(`${server.origin}/echo`, { method: 'POST', body: new URLSearchParams({ a: '1', b: 'x y' }) })).json()) as { body: string; contentType: string };
        expect(params.contentType).toBe('application/x-www-form-urlencoded;charset=UTF-8');
        expect(params.body).toBe('a=1&b=x+y');

        const blob = (await (await doFetch(`${server.origin}/echo`, { method: 'PUT', body: new Blob(['blob bytes'], { type: 'application/x-blob' }) })).json()) as { body: string; contentType: string };
        expect(blob).toMatchObject({ method: 'PUT', body: 'blob bytes', contentType: 'application/x-blob' });

        const form = new (name === 'global fetch' ? FormData : (UndiciFormData as unknown as typeof FormData))();
        form.append('field', 'value');
        form.append('file', new Blob(['file content'], { type: 'text/plain' }), 'f.txt');
        const multipart = (await (await doFetch(`${server.origin}/echo`, { method: 'POST', body: form })).json()) as { body: string; contentType: string };
        expect(multipart.contentType).toMatch(/^multipart\/form-data; boundary=/);
        expect(multipart.body).toContain('name="field"\r\n\r\nvalue');
        expect(multipart.body).toContain('filename="f.txt"');
        expect(multipart.body).toContain('file content');

        const bytes = (await (await doFetch(`${server.origin}/echo`, { method: 'POST', body: new Uint8Array([0, 1, 255]).buffer, headers: { 'content-type': 'application/octet-stream' } })).json()) as { body: string };
        expect(Buffer.from(bytes.body, 'latin1')).toEqual(Buffer.from([0, 1, 255]));
        expect(server.traffic.seen.every((t) => t.method === 'POST' && t.url === '/oscore')).toBe(true);
      });

      it('response.body read as a stream: a 60 KiB body, intact', async () => {
        const res = await doFetch(`${server.origin}/bytes/${60 * KiB}`);
        const chunks: Uint8Array[] = [];
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
        expect(Buffer.compare(Buffer.concat(chunks), patternBytes(60 * KiB, 3))).toBe(0);
      });

      it('an abort while the request body is still streaming, while waiting for the response, and with the response body unread', async () => {
        const endless = new ReadableStream({ pull: () => new Promise((r) => setTimeout(r, 10)) });
        const start = Date.now();
        const duringBody = await doFetch(`${server.origin}/echo`, { method: 'POST', body: endless, duplex: 'half', signal: AbortSignal.timeout(100) } as RequestInit).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(duringBody?.name).toBe('TimeoutError');
        expect(Date.now() - start).toBeLessThan(1_000);
        expect(server.traffic.requests).toBe(0);

        const duringWait = await doFetch(`${server.origin}/slow/1000`, { signal: AbortSignal.timeout(100) }).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(duringWait?.name).toBe('TimeoutError');

        // After the response started, while its 60 KiB body is still unread (the caller
        // holds it back: its body stream is full): reading fails with the reason (Node 20's
        // bundled fetch reports an AbortError instead, with or without OSCORE).
        const controller = new AbortController();
        const started = await doFetch(`${server.origin}/bytes/${60 * KiB}`, { signal: controller.signal });
        expect(started.status).toBe(200);
        controller.abort(new Error('not reading this'));
        const duringBodyRead = await started.arrayBuffer().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(duringBodyRead?.message === 'not reading this' || duringBodyRead?.name === 'AbortError', String(duringBodyRead)).toBe(true);

        // A body cancelled unread ends the exchange quietly.
        const cancelled = await doFetch(`${server.origin}/bytes/${60 * KiB}`);
        await cancelled.body!.cancel();
        // The connection pool still serves the next request.
        const next = await doFetch(`${server.origin}/bytes/3`);
        expect(next.status).toBe(200);
        await next.arrayBuffer();
      });
    });
  }
});

describe('two servers, two contexts, one Agent', () => {
  it('400 concurrent requests, interleaved between the servers: each answer verified against its own request', async () => {
    const N = 400;
    const results = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const target = i % 2 === 0 ? server : other;
        const res = await dispatcher.request({ origin: target.origin, path: `/id/${i}`, method: 'GET' });
        return { i, status: res.statusCode, text: await res.body.text() };
      }),
    );
    for (const { i, status, text } of results) {
      expect(status).toBe(200);
      expect(text).toBe(i % 2 === 0 ? `main ${i} client-a` : `other ${i} client-b`);
    }
    expect(server.traffic.requests).toBe(N / 2);
    expect(other.traffic.requests).toBe(N / 2);
  });
});

/** A TCP relay that can cut the response of the connections it is told to. */
interface Cutter {
  readonly origin: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Cut the next `n` connections (default: every one). */
  cutNext(n: number): void;
}

/**
 * A TCP relay to `upstreamPort` that resets both sides once `cutAfter` bytes of the
 * response have reached the client: a connection reset mid-response (the fault it
 * injects). Connections it is not told to cut are relayed untouched.
 */
async function startCutter(upstreamPort: number, cutAfter: number): Promise<Cutter> {
  let connections = 0;
  let toCut = Infinity;
  const relay = createNetServer((client) => {
    connections++;
    const upstream = connect(upstreamPort, '127.0.0.1');
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    if (toCut-- <= 0) {
      upstream.pipe(client);
      return;
    }
    let sent = 0;
    upstream.on('data', (chunk: Buffer) => {
      const room = cutAfter - sent;
      if (room > 0) client.write(chunk.subarray(0, room));
      sent += chunk.length;
      if (sent >= cutAfter) {
        upstream.destroy();
        client.resetAndDestroy();
      }
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  resources.add(relay, (r) => new Promise((resolve) => r.close(resolve)));
  return {
    origin: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    get connections() {
      return connections;
    },
    cutNext: (n) => void (toCut = n),
  };
}

describe('errors reach the caller, typed, through every API — never as an unhandled rejection', () => {
  let tamper: TamperProxy;
  let cutterOrigin: string;
  let downOrigin: string;
  let errorDispatcher: Dispatcher;

  beforeAll(async () => {
    tamper = resources.add(await TamperProxy.start(Number(new URL(server.origin).port)), (p) => p.close());
    cutterOrigin = (await startCutter(Number(new URL(server.origin).port), 500)).origin;
    // A port that was just listening and is now closed: nothing answers there.
    const gone = createNetServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    downOrigin = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await new Promise((r) => gone.close(r));
    const errorContexts = createContextSet(
      [
        clientContextA(tamper.origin, { senderId: '32', recipientId: '31' }),
        clientContextA(cutterOrigin, { senderId: '34', recipientId: '33' }),
        clientContextA(downOrigin, { senderId: '37', recipientId: '38' }),
      ],
      { store: 'memory' },
    );
    errorDispatcher = resources.add(new Agent({ keepAliveTimeout: 1_000 }), (a) => a.close()).compose(oscore({ contexts: errorContexts, maxResponseSize: 1_000 }));
  });

  beforeEach(() => tamper.reset());

  type Api = (url: string) => Promise<unknown>;
  const apis: Array<[string, Api]> = [
    ['undici.request', async (url) => (await errorDispatcher.request({ origin: new URL(url).origin, path: new URL(url).pathname, method: 'GET' })).body.arrayBuffer()],
    ['undici.stream', (url) => undiciStream(url, { dispatcher: errorDispatcher, method: 'GET' }, () => new Writable({ write: (_c, _e, cb) => cb() }))],
    ['undici.fetch', async (url) => (await undiciFetch(url, { dispatcher: errorDispatcher })).arrayBuffer()],
    ['global fetch', async (url) => (await fetch(url, { dispatcher: errorDispatcher } as RequestInit)).arrayBuffer()],
  ];

  /** The error the call failed with; fetch reports it as the cause of its TypeError. */
  async function failure(api: Api, url: string, viaFetch: boolean): Promise<Error & { code?: string }> {
    const err = await api(url).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err, 'the call must fail').toBeInstanceOf(Error);
    if (!viaFetch) return err as Error & { code?: string };
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).cause as Error & { code?: string };
  }

  for (const [name, api] of apis) {
    const viaFetch = name.endsWith('fetch');

    it(`${name}: server down → ECONNREFUSED`, async () => {
      expect((await failure(api, `${downOrigin}/bytes/10`, viaFetch)).code).toBe('ECONNREFUSED');
    });

    it(`${name}: connection reset mid-response → undici's socket error`, async () => {
      const err = await failure(api, `${cutterOrigin}/bytes/2000`, viaFetch);
      expect(['UND_ERR_SOCKET', 'ECONNRESET']).toContain(err.code);
    });

    it(`${name}: an unprotected 502 from a proxy → UnprotectedResponseError with its status and diagnostic`, async () => {
      tamper.onRequest = (r, exchange) => {
        exchange.answer = { status: 502, statusMessage: 'Bad Gateway', headers: [['content-type', 'text/plain']], body: Buffer.from('upstream unavailable') };
        return r;
      };
      const err = await failure(api, `${tamper.origin}/bytes/10`, viaFetch);
      expect(err).toBeInstanceOf(UnprotectedResponseError);
      expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE', status: 502, diagnostic: 'upstream unavailable' });
    });

    it(`${name}: a response over maxResponseSize → BodyTooLargeError`, async () => {
      const err = await failure(api, `${tamper.origin}/bytes/1001`, viaFetch);
      expect(err).toBeInstanceOf(BodyTooLargeError);
      expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_BODY_TOO_LARGE', limit: 1_000 });
    });

    it(`${name}: a tampered response → DecryptionFailedError`, async () => {
      tamper.onResponse = (r) => ({ ...r, body: flipBit(r.body, 3) });
      const err = await failure(api, `${tamper.origin}/bytes/10`, viaFetch);
      expect(err).toBeInstanceOf(DecryptionFailedError);
      expect(err.code).toBe('ERR_OSCORE_DECRYPTION_FAILED');
    });
  }
});

describe('undici’s retry interceptor and a connection reset mid-response', () => {
  let cutter: Cutter;
  let retryContexts: ContextSet;

  beforeAll(async () => {
    cutter = await startCutter(Number(new URL(server.origin).port), 500);
    retryContexts = createContextSet([clientContextA(cutter.origin, { senderId: '36', recipientId: '35' })], { store: 'memory' });
  });

  /** A fresh Agent each time, so the first request opens the connection that is cut. */
  const composed = (...chain: Dispatcher.DispatcherComposeInterceptor[]) => resources.add(new Agent({ keepAliveTimeout: 1_000 }), (a) => a.close()).compose(chain);

  it('outside oscore: the request is retried as a newly protected one, never the same ciphertext again', async () => {
    cutter.cutNext(1);
    const res = await composed(oscore({ contexts: retryContexts }), interceptors.retry({ minTimeout: 10 })).request({ origin: cutter.origin, path: '/bytes/2000', method: 'GET' });
    expect(res.statusCode).toBe(200);
    expect(Buffer.compare(Buffer.from(await res.body.arrayBuffer()), patternBytes(2000, 3))).toBe(0);
    // Both attempts reached the server (the first one's answer was cut on the way back).
    expect(server.traffic.seen).toHaveLength(2);
    expect(server.traffic.seen[0]!.oscore).not.toBe(server.traffic.seen[1]!.oscore);
    expect(server.seen.map((r) => r.sequenceNumber)).toEqual([expect.any(Number), expect.any(Number)]);
    expect(server.seen[1]!.sequenceNumber).toBeGreaterThan(server.seen[0]!.sequenceNumber!);
  });

  it('inside oscore: the outer POST is not retried (a resent ciphertext would be a replay); the caller gets the socket error', async () => {
    cutter.cutNext(1);
    const err = await composed(interceptors.retry({ minTimeout: 10 }), oscore({ contexts: retryContexts }))
      .request({ origin: cutter.origin, path: '/bytes/2000', method: 'GET' })
      .then(
        () => undefined,
        (e: unknown) => e as Error & { code?: string },
      );
    expect(['UND_ERR_SOCKET', 'ECONNRESET']).toContain(err?.code);
    expect(server.traffic.requests).toBe(1);
  });
});

describe('request bodies and queries as undici takes them (found in review)', () => {
  let limited: Dispatcher;
  beforeAll(() => {
    limited = resources.add(new Agent({ keepAliveTimeout: 1_000 }), (a) => a.close()).compose(oscore({ contexts, maxBodySize: 1024 }));
  });
  beforeEach(() => server.traffic.reset());

  const bodies: Array<[string, () => BodyInit]> = [
    ['a string', () => 'x'.repeat(2048)],
    ['bytes', () => new Uint8Array(2048)],
    ['a ReadableStream', () => new ReadableStream({ pull: (c) => (c.enqueue(new Uint8Array(512)), undefined) })],
  ];
  for (const [name, call] of [
    ['undici.fetch', (url: string, init: object) => undiciFetch(url, init)],
    ['global fetch', (url: string, init: object) => fetch(url, init as RequestInit)],
  ] as const) {
    it.each(bodies)(`${name} with %s over maxBodySize settles, failing with BodyTooLargeError, nothing sent`, async (_kind, body) => {
      const err = await call(`${server.origin}/echo`, { method: 'POST', body: body(), duplex: 'half', dispatcher: limited }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(TypeError);
      expect(err!.cause).toBeInstanceOf(BodyTooLargeError);
      expect(server.traffic.requests).toBe(0);
    });
  }

  it('a FormData with a file over maxBodySize is refused before the file is read', async () => {
    const { closeSync, openSync, ftruncateSync, openAsBlob, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = `${tmpdir()}/oscore-form-${process.pid}.bin`;
    const fd = openSync(file, 'w');
    ftruncateSync(fd, 512 * KiB * KiB); // sparse: 512 MiB that occupy no disk
    closeSync(fd);
    try {
      const form = new UndiciFormData();
      form.append('upload', await openAsBlob(file), 'big.bin');
      const before = process.memoryUsage().rss;
      const err = await limited.request({ origin: server.origin, path: '/echo', method: 'POST', body: form as never }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BodyTooLargeError);
      expect(process.memoryUsage().rss - before).toBeLessThan(64 * KiB * KiB);
      expect(server.traffic.requests).toBe(0);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('a body undici cannot send (a number, an object, a boolean, an iterable of numbers): undici\'s InvalidArgumentError with its code, as without the interceptor, nothing sent', async () => {
    for (const body of [42, { a: 1 }, true, [1, 2]]) {
      const err = await dispatcher.request({ origin: server.origin, path: '/echo', method: 'POST', body: body as never }).then(() => undefined, (e: unknown) => e);
      expect(err, JSON.stringify(body)).toMatchObject({ name: 'InvalidArgumentError', code: 'UND_ERR_INVALID_ARG' });
    }
    expect(server.traffic.requests).toBe(0);
  });

  it('headers as a one-shot iterable of pairs (a generator, a Map\'s entries()) all arrive, protected or passed in clear, as undici sends them', async () => {
    const fields = () => new Map([['x-one', '1'], ['authorization', 'Bearer t'], ['x-two', '2']]).entries();
    server.seen.length = 0;
    const res = await dispatcher.request({ origin: server.origin, path: '/echo', method: 'GET', headers: fields() as never });
    await res.body.dump();
    expect(server.seen[0]?.headers).toMatchObject({ 'x-one': '1', authorization: 'Bearer t', 'x-two': '2' });
    // An origin without a context: the request goes to undici as the caller gave it.
    const plain = createHttpServer((req, reply) => reply.end(JSON.stringify(req.headers)));
    const plainOrigin = await listen(plain);
    try {
      const passed = await dispatcher.request({ origin: plainOrigin, path: '/', method: 'GET', headers: fields() as never });
      expect(await passed.body.json()).toMatchObject({ 'x-one': '1', authorization: 'Bearer t', 'x-two': '2' });
    } finally {
      await closeServer(plain);
    }
    // An entry that is not a pair: undici's own error, nothing sent.
    const err = await dispatcher.request({ origin: server.origin, path: '/echo', method: 'GET', headers: [['x-one']].values() as never }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'UND_ERR_INVALID_ARG', message: 'headers must be in key-value pair format' });
  });

  it('query is serialized as undici serializes it (node:querystring), and with a path that has a query already, refused with undici\'s message (typed: InvalidArgumentError, where undici throws a bare Error)', async () => {
    const query = { a: 'x y', b: [1, 2], c: null, d: undefined, e: { n: 1 } };
    const res = await dispatcher.request({ origin: server.origin, path: '/echo', method: 'GET', query });
    // What undici's own client sends for this query (RFC 3986 percent-encoding, empty for null, undefined and objects).
    expect(((await res.body.json()) as { url: string }).url).toBe('/echo?a=x%20y&b=1&b=2&c=&d=&e=');
    server.traffic.reset();
    const err = await dispatcher.request({ origin: server.origin, path: '/echo?z=1', method: 'GET', query: { a: 1 } }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'UND_ERR_INVALID_ARG', message: 'Query params cannot be passed when url already contains "?" or "#".' });
    expect(server.traffic.requests).toBe(0);
  });
});
