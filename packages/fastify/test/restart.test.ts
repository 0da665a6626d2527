/**
 * Freshness after a restart (RFC 8613 §7.5, Appendix B.1.2; RFC 9175): a server killed
 * mid-stream — between requests, and with requests in flight — comes back without its
 * replay windows; each client's next request passes through the Echo exchange and succeeds,
 * and replays of pre-restart requests are not served.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OscoreError } from '@oscore-http/core';
import { createContextSet } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, expect, it } from 'vitest';

const SERVER = fileURLToPath(new URL('./fixtures/stateful-server.mjs', import.meta.url));
const stateDir = mkdtempSync(join(tmpdir(), 'oscore-restart-'));
let server: ChildProcess | undefined;

async function start(port = 0, dir = stateDir): Promise<number> {
  server = spawn(process.execPath, [SERVER, String(port)], { env: { ...process.env, OSCORE_STATE_DIR: dir }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    server!.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    server!.stdout!.on('data', (chunk: Buffer) => {
      const m = /listening (\d+)/.exec(chunk.toString());
      if (m) resolve(Number(m[1]));
    });
  });
}

function running(): boolean {
  return server !== undefined && server.exitCode === null && server.signalCode === null;
}

function kill(): Promise<void> {
  return new Promise((resolve) => {
    server!.removeAllListeners('exit');
    server!.once('exit', () => resolve());
    server!.kill('SIGKILL');
  });
}

afterAll(async () => {
  if (running()) await kill();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Records every outer request and response the interceptor exchanges with the network. */
function recorder() {
  const exchanges: { oscore: string; body: Buffer; status?: number; echo?: boolean }[] = [];
  const interceptor: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
    const entry = { oscore: (opts.headers as Record<string, string>).oscore!, body: Buffer.from(opts.body as Buffer) } as (typeof exchanges)[number];
    exchanges.push(entry);
    return dispatch(opts, {
      ...handler,
      onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
      onResponseStart: (c, status, headers, message) => {
        entry.status = status;
        return handler.onResponseStart?.(c, status, headers, message);
      },
      onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
      onResponseEnd: (c, trailers) => handler.onResponseEnd?.(c, trailers),
      onResponseError: (c, err) => handler.onResponseError?.(c, err),
    });
  };
  return { exchanges, interceptor };
}

/** Three clients of the server at `origin`, each recording what its interceptor sends. */
function clientsOf(origin: string) {
  return [1, 2, 3].map((n) => {
    const rec = recorder();
    const set = createContextSet([{ name: 'orders', peer: origin, masterSecret: { hex: String(n).repeat(32) }, senderId: `0${n}`, recipientId: '00' }], { store: 'memory' });
    // The recorder sits between the OSCORE interceptor and the network (composed first = called last).
    const agent = new Agent().compose(rec.interceptor, oscore({ contexts: set }));
    return { n, agent, rec };
  });
}

type Client = ReturnType<typeof clientsOf>[number];

function post(origin: string, c: Client, i: number): Promise<{ status: number; body: { order: { client: number; i: number }; peer: string } }> {
  return request(`${origin}/orders`, { dispatcher: c.agent, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client: c.n, i }) }).then(async (r) => ({
    status: r.statusCode,
    body: (await r.body.json()) as { order: { client: number; i: number }; peer: string },
  }));
}

/** Sends a captured outer request again, as an attacker would; returns the status and body. */
async function replay(origin: string, old: { oscore: string; body: Buffer }): Promise<{ status: number; text: string }> {
  const r = await request(`${origin}/oscore`, { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: old.oscore }, body: old.body });
  return { status: r.statusCode, text: await r.body.text() };
}

async function handled(origin: string): Promise<number> {
  return ((await (await request(`${origin}/__handled`)).body.json()) as { handled: number }).handled;
}

it('after a SIGKILL, each client proves freshness once with Echo, and old requests are never served again', async () => {
  const port = await start();
  const origin = `http://127.0.0.1:${port}`;
  const clients = clientsOf(origin);
  const send = (c: Client, i: number) => post(origin, c, i);

  // Before the crash: traffic from every client.
  for (const c of clients) for (let i = 0; i < 5; i++) expect((await send(c, i)).status).toBe(200);
  expect(await handled(origin)).toBe(15);
  const captured = clients.map((c) => c.rec.exchanges.slice(0, 5)); // pre-restart requests, as sent

  // Crash: the windows are only in memory and the state file says "in use".
  await kill();
  await start(port);

  // Replays of pre-restart requests are not served: the server cannot tell them from new
  // requests yet, so it answers each with a protected Echo challenge (B.1.2), not the handler.
  for (const [k, list] of captured.entries()) {
    expect((await replay(origin, list[2]!)).status, `client ${k + 1}`).toBe(200); // outer 200: a protected 4.01 + Echo, opaque to an attacker
  }

  // Each client's next request passes through the Echo exchange and succeeds.
  for (const c of clients) {
    const sentBefore = c.rec.exchanges.length;
    const reply = await send(c, 100);
    expect(reply.status).toBe(200);
    expect(reply.body.order.i).toBe(100);
    expect(reply.body.peer).toBe(`client-${c.n}`);
    // Two exchanges: the challenged request and its retry with the Echo value.
    expect(c.rec.exchanges.length - sentBefore).toBe(2);
    // And then no more challenges.
    expect((await send(c, 101)).status).toBe(200);
    expect(c.rec.exchanges.length - sentBefore).toBe(3);
  }

  // Now the windows are re-established: every pre-restart request is a replay.
  for (const list of captured) {
    for (const old of list) {
      expect(await replay(origin, old)).toEqual({ status: 401, text: 'Replay detected' });
    }
  }
  // Only the six new requests ran after the restart.
  expect(await handled(origin)).toBe(6);
  for (const c of clients) await c.agent.close();
});

it('killed with requests in flight: each call gets its own answer or an error, never another; afterwards every client gets through Echo and nothing sent before is served again', async () => {
  if (running()) await kill();
  const dir = mkdtempSync(join(tmpdir(), 'oscore-restart-inflight-'));
  try {
    const port = await start(0, dir);
    const origin = `http://127.0.0.1:${port}`;
    const clients = clientsOf(origin);
    // Each client keeps four requests in flight until the server is killed.
    let killed = false;
    let answered = 0;
    const failures: unknown[] = [];
    const loops = clients.flatMap((c) =>
      [0, 1, 2, 3].map(async (lane) => {
        for (let i = lane * 10_000; !killed; i++) {
          try {
            const reply = await post(origin, c, i);
            // Verified against its own request: never another client's or another request's answer.
            expect(reply.status).toBe(200);
            expect(reply.body.order).toEqual({ client: c.n, i });
            expect(reply.body.peer).toBe(`client-${c.n}`);
            answered++;
          } catch (err) {
            if (!killed) throw err;
            failures.push(err);
          }
        }
      }),
    );
    while (answered < 150) await new Promise((r) => setTimeout(r, 5));
    killed = true;
    await kill();
    await Promise.all(loops);
    // What was on the way when the process died failed, with transport errors, not verification errors.
    expect(failures.length).toBeGreaterThan(0); // requests were in flight when it died
    for (const err of failures) {
      expect(err, String(err)).not.toBeInstanceOf(OscoreError);
      expect((err as { code?: string }).code, String(err)).toMatch(/^(ECONNRESET|ECONNREFUSED|EPIPE|UND_ERR_SOCKET)$/);
    }
    const captured = clients.map((c) => [...c.rec.exchanges]); // everything sent before the restart, in flight included

    await start(port, dir);
    // Each client, eight requests at once: each passes through its own Echo exchange and succeeds.
    for (const c of clients) {
      const replies = await Promise.all(Array.from({ length: 8 }, (_, k) => post(origin, c, 100_000 + k)));
      for (const [k, reply] of replies.entries()) {
        expect(reply.status).toBe(200);
        expect(reply.body.order).toEqual({ client: c.n, i: 100_000 + k });
      }
    }
    expect(await handled(origin)).toBe(24);
    // Every request sent before the kill, answered or cut off, is refused now as a replay and never served.
    for (const list of captured) for (const old of list) expect(await replay(origin, old)).toEqual({ status: 401, text: 'Replay detected' });
    expect(await handled(origin)).toBe(24);
    for (const c of clients) await c.agent.close();
  } finally {
    if (running()) await kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
