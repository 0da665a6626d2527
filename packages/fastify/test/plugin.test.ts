/**
 * The plugin as a fastify user meets it: where it can be reached from (every socket
 * fastify listens on), what hooks see, and what `ready()` reports for bad contexts.
 * Real fastify servers and real undici clients on loopback; the only mock is the DNS
 * answer for `localhost` (an injected environment: hosts files differ between machines).
 */

import dns from 'node:dns';
import { ServerResponse, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import oscore from '@oscore-http/fastify';
import { ContextConfigError } from '@oscore-http/http';
import { oscoreAgent, Resources, serverContextA } from './support/oscore-peers.js';

const resources = new Resources();
afterEach(() => resources.closeAll());

/** A fastify app whose log lines, parsed, are collected in `lines`. */
function loggedApp(level: string): { app: FastifyInstance; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const app = resources.add(Fastify({ logger: { level, stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } } }), (a) => a.close());
  return { app, lines };
}

function portOf(app: FastifyInstance): number {
  return (app.server.address() as { port: number }).port;
}

describe('listen() on localhost binds every address it resolves to; each one is protected', () => {
  it('a request to the extra ::1 socket is refused without OSCORE, served with it, and allow-listed routes still work', async () => {
    // `localhost` resolves to 127.0.0.1 and ::1 on most machines (/etc/hosts); fastify then
    // opens a second server for ::1 (lib/server.js, multipleBindings).
    const lookup = dns.lookup;
    const spy = vi.spyOn(dns, 'lookup').mockImplementation(((host: string, opts: unknown, cb: (err: null, a: unknown) => void) => {
      if (host === 'localhost' && typeof opts === 'object' && (opts as { all?: boolean }).all === true) {
        cb(null, [
          { address: '127.0.0.1', family: 4 },
          { address: '::1', family: 6 },
        ]);
        return;
      }
      (lookup as (...args: unknown[]) => void)(host, opts, cb);
    }) as unknown as typeof dns.lookup);
    const app = resources.add(Fastify(), (a) => a.close());
    let ran = 0;
    await app.register(oscore, { contexts: [serverContextA()], allowUnprotected: ['GET /health'] });
    app.get('/secret', async (req) => {
      ran++;
      return { peer: req.oscore?.peer ?? null };
    });
    app.get('/health', async (req) => ({ ok: true, protected: req.oscore !== null }));
    try {
      await app.listen({ port: 0, host: 'localhost' });
    } finally {
      spy.mockRestore();
    }
    expect(app.addresses().map((a) => a.address).sort()).toEqual(['127.0.0.1', '::1']);
    const port = portOf(app);
    for (const origin of [`http://127.0.0.1:${port}`, `http://[::1]:${port}`]) {
      const plain = await request(`${origin}/secret`);
      expect(plain.statusCode, origin).toBe(401);
      expect(plain.headers['www-authenticate']).toBe('OSCORE');
      expect(await plain.body.text()).toBe('OSCORE required');
      const health = await request(`${origin}/health`);
      expect(health.statusCode).toBe(200);
      expect(await health.body.json()).toEqual({ ok: true, protected: false });
      const client = resources.add(oscoreAgent(origin), (c) => c.close());
      const res = await request(`${origin}/secret`, { dispatcher: client.dispatcher });
      expect(res.statusCode, origin).toBe(200);
      expect(await res.body.json()).toEqual({ peer: 'client-a' });
    }
    expect(ran).toBe(2);
  });
});

describe('other ways into fastify’s router', () => {
  it('a request another listener hands to fastify.routing (as WebSocket plugins do on `upgrade`) goes through OSCORE too', async () => {
    const app = resources.add(Fastify(), (a) => a.close());
    await app.register(oscore, { contexts: [serverContextA()] });
    let ran = 0;
    app.get('/ws', async () => {
      ran++;
      return 'upgraded';
    });
    app.server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      const res = new ServerResponse(req);
      res.assignSocket(socket);
      res.on('finish', () => socket.destroy());
      app.routing(req, res);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    // What a client reads within a second (an upgrade leaves the socket to the application).
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(portOf(app), '127.0.0.1', () => socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
      let data = '';
      const done = () => {
        socket.destroy();
        resolve(data);
      };
      const timer = setTimeout(done, 1000);
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString('latin1');
        if (/\r\n\r\n[\s\S]*(OSCORE required|upgraded)/.test(data)) {
          clearTimeout(timer);
          done();
        }
      });
      socket.on('error', reject);
    });
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized');
    expect(answer.endsWith('OSCORE required')).toBe(true);
    expect(ran).toBe(0);
  });
});

describe('request.oscore', () => {
  it('is set for hooks added before the plugin, and null for inject()', async () => {
    const app = resources.add(Fastify(), (a) => a.close());
    const seen: unknown[] = [];
    app.addHook('onRequest', async (req) => {
      seen.push(req.oscore?.peer ?? req.oscore);
    });
    await app.register(oscore, { contexts: [serverContextA()] });
    app.get('/x', async (req) => ({ peer: req.oscore?.peer ?? null }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const origin = `http://127.0.0.1:${portOf(app)}`;
    const client = resources.add(oscoreAgent(origin), (c) => c.close());
    const res = await request(`${origin}/x`, { dispatcher: client.dispatcher });
    expect(await res.body.json()).toEqual({ peer: 'client-a' });
    const injected = await app.inject({ method: 'GET', url: '/x' });
    expect(injected.json()).toEqual({ peer: null });
    expect(seen).toEqual(['client-a', null]);
  });
});

describe('ready() with bad contexts', () => {
  it('two contexts with the same Recipient ID: ready() rejects with ContextConfigError, nothing is thrown past it', async () => {
    const app = resources.add(Fastify(), (a) => a.close());
    app.register(oscore, { contexts: [serverContextA(), serverContextA({ name: 'again' })] });
    const err = await app.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ContextConfigError);
    expect((err as ContextConfigError).code).toBe('ERR_OSCORE_HTTP_CONTEXT_CONFIG');
  });

  it('a context file that cannot be read: ready() rejects with ContextConfigError', async () => {
    const app = resources.add(Fastify(), (a) => a.close());
    app.register(oscore, { contexts: '/nonexistent/oscore-contexts.json' });
    const err = await app.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ContextConfigError);
  });
});

describe('what the application’s hooks see after the response', () => {
  it('onResponse and fastify’s "request completed" log report the application’s status, not the outer 200', async () => {
    const statuses: Array<[string, number]> = [];
    const completed: number[] = [];
    const app = resources.add(
      Fastify({
        logger: {
          level: 'info',
          stream: {
            write: (line: string) => {
              const entry = JSON.parse(line) as { msg: string; res?: { statusCode: number } };
              if (entry.msg === 'request completed') completed.push(entry.res!.statusCode);
            },
          },
        },
      }),
      (a) => a.close(),
    );
    await app.register(oscore, { contexts: [serverContextA()] });
    app.addHook('onResponse', async (req, reply) => {
      statuses.push([req.url, reply.statusCode]);
    });
    app.get('/created', async (_req, reply) => reply.code(201).send('made'));
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const origin = `http://127.0.0.1:${portOf(app)}`;
    const client = resources.add(oscoreAgent(origin), (c) => c.close());
    for (const path of ['/created', '/boom', '/missing']) {
      const res = await request(`${origin}${path}`, { dispatcher: client.dispatcher });
      await res.body.dump();
    }
    await sleep(20);
    expect(statuses).toEqual([
      ['/created', 201],
      ['/boom', 500],
      ['/missing', 404],
    ]);
    expect(completed).toEqual([201, 500, 404]);
  });

  it('a client that goes away before the answer aborts request.signal and runs onRequestAbort, as without OSCORE', async () => {
    const events: string[] = [];
    const app = resources.add(Fastify(), (a) => a.close());
    await app.register(oscore, { contexts: [serverContextA()] });
    app.addHook('onRequestAbort', async (req) => {
      events.push(`onRequestAbort ${req.url}`);
    });
    let finished!: () => void;
    const handlerDone = new Promise<void>((resolve) => (finished = resolve));
    app.get('/slow', async (req) => {
      req.signal.addEventListener('abort', () => events.push('signal aborted'));
      await sleep(300);
      finished();
      return 'too late';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const origin = `http://127.0.0.1:${portOf(app)}`;
    const client = resources.add(oscoreAgent(origin), (c) => c.close());
    const ac = new AbortController();
    const pending = request(`${origin}/slow`, { dispatcher: client.dispatcher, signal: ac.signal }).catch((e: Error) => e.name);
    await sleep(100);
    ac.abort();
    expect(await pending).toBe('AbortError');
    await sleep(20);
    expect(events.sort()).toEqual(['onRequestAbort /slow', 'signal aborted']);
    await handlerDone;
    // The late answer goes nowhere, and the server still serves.
    const res = await request(`${origin}/missing`, { dispatcher: client.dispatcher });
    expect(res.statusCode).toBe(404);
    await res.body.dump();
  });
});

describe('logging', () => {
  it('a response that cannot be protected is logged once through that request’s request.log (its reqId); a refused request once, with its code', async () => {
    const { app, lines } = loggedApp('info');
    await app.register(oscore, { contexts: [serverContextA()], maxResponseSize: 1024 });
    app.get('/big', async (req) => {
      req.log.info('route ran');
      return 'secret plaintext '.repeat(200);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const origin = `http://127.0.0.1:${portOf(app)}`;
    const client = resources.add(oscoreAgent(origin), (c) => c.close());
    const res = await request(`${origin}/big`, { dispatcher: client.dispatcher });
    expect(res.statusCode).toBe(500);
    await res.body.dump();
    const plain = await request(`${origin}/big`);
    expect(plain.statusCode).toBe(401);
    await plain.body.dump();
    await sleep(20);
    const routeLine = lines.find((l) => l.msg === 'route ran')!;
    const failed = lines.filter((l) => l.msg === 'OSCORE response could not be protected');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.reqId).toBe(routeLine.reqId);
    expect(failed[0]!.oscore).toEqual({ code: 'ERR_OSCORE_HTTP_RESPONSE_TOO_LARGE', status: 500, protected: true, kid: '02', peer: 'client-a' });
    const rejected = lines.filter((l) => l.msg === 'OSCORE request rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.oscore).toMatchObject({ code: 'ERR_OSCORE_HTTP_UNPROTECTED_REQUEST', status: 401, protected: false });
    expect(JSON.stringify(lines)).not.toContain('secret plaintext');
  });
});

describe('rejectionLogLevel', () => {
  /** One unprotected request to a protected route (a rejection), then time for the log line. */
  async function sendUnprotected(app: FastifyInstance): Promise<void> {
    app.get('/x', async () => 'x');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const plain = await request(`http://127.0.0.1:${portOf(app)}/x`);
    expect(plain.statusCode).toBe(401);
    await plain.body.dump();
    await sleep(20);
  }

  it.each([
    ['info', 30],
    ['debug', 20],
  ] as const)('logs rejected requests at %s (pino level %i) instead of warn', async (level, pinoLevel) => {
    const { app, lines } = loggedApp('trace');
    await app.register(oscore, { contexts: [serverContextA()], rejectionLogLevel: level });
    await sendUnprotected(app);
    const rejected = lines.filter((l) => l.msg === 'OSCORE request rejected');
    expect(rejected.map((l) => l.level)).toEqual([pinoLevel]);
  });

  it("'silent' logs no rejection line; an unknown level makes ready() reject with ContextConfigError", async () => {
    const { app, lines } = loggedApp('trace');
    await app.register(oscore, { contexts: [serverContextA()], rejectionLogLevel: 'silent' });
    await sendUnprotected(app);
    expect(lines.filter((l) => l.msg === 'OSCORE request rejected')).toEqual([]);

    const bad = resources.add(Fastify(), (a) => a.close());
    bad.register(oscore, { contexts: [serverContextA()], rejectionLogLevel: 'loud' as 'warn' });
    const err = await bad.ready().then(
      () => undefined,
      (e: unknown) => e as { code?: string; path?: string },
    );
    expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: 'rejectionLogLevel' });
  });
});

describe('registration', () => {
  it('maxBodySize: Number(process.env.UNSET) (NaN) makes ready() reject with ContextConfigError naming it, instead of a server without a body limit', async () => {
    const bad = resources.add(Fastify(), (a) => a.close());
    bad.register(oscore, { contexts: [serverContextA()], maxBodySize: Number(undefined) });
    const err = await bad.ready().then(
      () => undefined,
      (e: unknown) => e as { code?: string; path?: string },
    );
    expect(err).toMatchObject({ code: 'ERR_OSCORE_HTTP_CONTEXT_CONFIG', path: 'maxBodySize' });
  });

  it('a second registration on the same server (here in a child context) makes ready() reject with a clear message', async () => {
    const app = resources.add(Fastify(), (a) => a.close());
    await app.register(oscore, { contexts: [serverContextA()] });
    app.register(async (child) => {
      await child.register(oscore, { contexts: [serverContextA()] });
    });
    const err = await app.ready().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/already registered/);
  });

  it('an HTTP/2 server is refused at ready()', async () => {
    const app = resources.add(Fastify({ http2: true }), (a) => a.close());
    app.register(oscore, { contexts: [serverContextA()] });
    const err = await app.ready().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/HTTP\/1\.1/);
  });
});
