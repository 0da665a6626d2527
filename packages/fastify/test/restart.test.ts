/**
 * Freshness after a restart (RFC 8613 §7.5, Appendix B.1.2; RFC 9175): a server killed
 * mid-stream comes back without its replay windows; each client's next request passes
 * through the Echo exchange and succeeds, and replays of pre-restart requests are not served.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContextSet } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, expect, it } from 'vitest';

const SERVER = fileURLToPath(new URL('./fixtures/stateful-server.mjs', import.meta.url));
const stateDir = mkdtempSync(join(tmpdir(), 'oscore-restart-'));
let server: ChildProcess | undefined;

async function start(port = 0): Promise<number> {
  server = spawn(process.execPath, [SERVER, String(port)], { env: { ...process.env, OSCORE_STATE_DIR: stateDir }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    server!.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    server!.stdout!.on('data', (chunk: Buffer) => {
      const m = /listening (\d+)/.exec(chunk.toString());
      if (m) resolve(Number(m[1]));
    });
  });
}

function kill(): Promise<void> {
  return new Promise((resolve) => {
    server!.removeAllListeners('exit');
    server!.once('exit', () => resolve());
    server!.kill('SIGKILL');
  });
}

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) await kill();
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

it('after a SIGKILL, each client proves freshness once with Echo, and old requests are never served again', async () => {
  const port = await start();
  const origin = `http://127.0.0.1:${port}`;
  const clients = [1, 2, 3].map((n) => {
    const rec = recorder();
    const set = createContextSet([{ name: 'orders', peer: origin, masterSecret: { hex: String(n).repeat(32) }, senderId: `0${n}`, recipientId: '00' }], { store: 'memory' });
    // The recorder sits between the OSCORE interceptor and the network (composed first = called last).
    const agent = new Agent().compose(rec.interceptor, oscore({ contexts: set }));
    return { n, agent, rec };
  });
  const post = (c: (typeof clients)[number], i: number) =>
    request(`${origin}/orders`, { dispatcher: c.agent, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client: c.n, i }) }).then(async (r) => ({ status: r.statusCode, body: (await r.body.json()) as { order: { i: number }; peer: string } }));

  // Before the crash: traffic from every client.
  for (const c of clients) for (let i = 0; i < 5; i++) expect((await post(c, i)).status).toBe(200);
  const handledBefore = ((await (await request(`${origin}/__handled`)).body.json()) as { handled: number }).handled;
  expect(handledBefore).toBe(15);
  const captured = clients.map((c) => c.rec.exchanges.slice(0, 5)); // pre-restart requests, as sent

  // Crash: the windows are only in memory and the state file says "in use".
  await kill();
  await start(port);

  // Replays of pre-restart requests are not served: the server cannot tell them from new
  // requests yet, so it answers each with a protected Echo challenge (B.1.2), not the handler.
  for (const [k, list] of captured.entries()) {
    const r = await request(`${origin}/oscore`, { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: list[2]!.oscore }, body: list[2]!.body });
    expect(r.statusCode, `client ${k + 1}`).toBe(200); // outer 200: a protected 4.01 + Echo, opaque to an attacker
    await r.body.dump();
  }

  // Each client's next request passes through the Echo exchange and succeeds.
  for (const c of clients) {
    const sentBefore = c.rec.exchanges.length;
    const reply = await post(c, 100);
    expect(reply.status).toBe(200);
    expect(reply.body.order.i).toBe(100);
    expect(reply.body.peer).toBe(`client-${c.n}`);
    // Two exchanges: the challenged request and its retry with the Echo value.
    expect(c.rec.exchanges.length - sentBefore).toBe(2);
    // And then no more challenges.
    expect((await post(c, 101)).status).toBe(200);
    expect(c.rec.exchanges.length - sentBefore).toBe(3);
  }

  // Now the windows are re-established: every pre-restart request is a replay.
  for (const list of captured) {
    for (const old of list) {
      const r = await request(`${origin}/oscore`, { method: 'POST', headers: { 'content-type': 'application/oscore', oscore: old.oscore }, body: old.body });
      expect(r.statusCode).toBe(401);
      expect(await r.body.text()).toBe('Replay detected');
    }
  }
  // Only the six new requests ran after the restart.
  expect(((await (await request(`${origin}/__handled`)).body.json()) as { handled: number }).handled).toBe(6);
  for (const c of clients) await c.agent.close();
});
