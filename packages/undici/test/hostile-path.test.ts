/**
 * The client behind a hop that changes the outer response without being able to forge one:
 * a real fastify server with @oscore-http/fastify, the tamper proxy in front of it, undici
 * clients with the interceptor, all on 127.0.0.1.
 */

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
    await startFastify({ contexts: [serverContextA({ usageLimits: { v: 2 } })] }, (app) => {
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
});
