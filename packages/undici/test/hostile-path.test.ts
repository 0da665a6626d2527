/**
 * The client behind a hop that changes the outer response without being able to forge one:
 * a real fastify server with @oscore-http/fastify, the tamper proxy in front of it, undici
 * clients with the interceptor, all on 127.0.0.1.
 */

import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type Dispatcher } from 'undici';
import { createContextSet } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { setHeader, TamperProxy } from '../../fastify/test/proxy/tamper-proxy.js';
import { startFastify, type TestServer } from '../../fastify/test/support/fastify-server.js';
import { clientContextA, Resources, serverContextA } from '../../fastify/test/support/oscore-peers.js';

const resources = new Resources();
let server: TestServer;
let proxy: TamperProxy;

beforeAll(async () => {
  server = resources.add(
    // One identity per client below: each client's sequence numbers start at 0.
    await startFastify({ contexts: [serverContextA(), serverContextA({ name: 'via-hop', senderId: '41', recipientId: '42' })] }, (app) => {
      app.get('/hello', async () => 'hello');
    }),
    (s) => s.close(),
  );
  proxy = resources.add(await TamperProxy.start(Number(new URL(server.origin).port)), (p) => p.close());
});

afterAll(() => resources.closeAll());

describe('an outer response content-coded on the way (a compressing proxy or mesh; found in review)', () => {
  it('is refused before decryption with a code that names the cause, and costs the Recipient Key nothing: once the hop stops, the context still works', async () => {
    // limit_v 2: three failed decryptions would retire the Recipient Key (draft-ietf-core-oscore-key-limits §2.2).
    const set = resources.add(createContextSet([clientContextA(proxy.origin, { usageLimits: { v: 2 } })], { store: 'memory' }), (c) => c.close());
    const dispatcher: Dispatcher = resources.add(new Agent({ keepAliveTimeout: 1_000 }), (a) => a.close()).compose(oscore({ contexts: set }));
    proxy.onResponse = (r) => ({ ...r, headers: setHeader(r.headers, 'content-encoding', 'gzip'), body: gzipSync(r.body) });
    for (let i = 0; i < 4; i++) {
      const err = await dispatcher.request({ origin: proxy.origin, path: '/hello', method: 'GET' }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_OUTER_CONTENT_ENCODING' });
      expect(err!.message).toMatch(/not to (compress|encode)/);
    }
    proxy.reset();
    const res = await dispatcher.request({ origin: proxy.origin, path: '/hello', method: 'GET' });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('hello');
  });

  it('a transfer coding other than chunked (undici does not decode it) is refused the same way, the Recipient Key untouched', async () => {
    // A raw hop: forwards the request, then returns the server's answer — while `coding`,
    // with its body gzipped under Transfer-Encoding: gzip, chunked.
    let coding = true;
    const hop = resources.add(
      createNetServer((client) => {
        client.on('error', () => {});
        client.once('data', (request: Buffer) => {
          const upstream = connect(Number(new URL(server.origin).port), '127.0.0.1');
          upstream.on('error', () => {});
          let answer = Buffer.alloc(0);
          upstream.on('data', (d: Buffer) => {
            answer = Buffer.concat([answer, d]);
            const end = answer.indexOf('\r\n\r\n');
            const length = /\r\ncontent-length: *(\d+)/i.exec(answer.subarray(0, end).toString('latin1'));
            if (end === -1 || length === null || answer.length < end + 4 + Number(length[1])) return;
            upstream.destroy();
            if (!coding) return void client.end(answer);
            const head = answer.subarray(0, end).toString('latin1').split('\r\n').filter((l) => !/^(content-length|connection|keep-alive):/i.test(l));
            const body = gzipSync(answer.subarray(end + 4));
            client.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n${body.length.toString(16)}\r\n`, 'latin1'), body, Buffer.from('\r\n0\r\n\r\n')]));
          });
          upstream.write(request);
        });
      }),
      (s) => new Promise<void>((resolve) => s.close(() => resolve())),
    );
    await new Promise<void>((resolve) => hop.listen(0, '127.0.0.1', resolve));
    const hopOrigin = `http://127.0.0.1:${(hop.address() as AddressInfo).port}`;
    const set = resources.add(createContextSet([clientContextA(hopOrigin, { senderId: '42', recipientId: '41', usageLimits: { v: 2 } })], { store: 'memory' }), (c) => c.close());
    const dispatcher: Dispatcher = resources.add(new Agent({ keepAliveTimeout: 1_000 }), (a) => a.close()).compose(oscore({ contexts: set }));
    for (let i = 0; i < 4; i++) {
      const err = await dispatcher.request({ origin: hopOrigin, path: '/hello', method: 'GET' }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_OUTER_CONTENT_ENCODING' });
    }
    coding = false;
    const res = await dispatcher.request({ origin: hopOrigin, path: '/hello', method: 'GET' });
    expect(await res.body.text()).toBe('hello');
  });
});
