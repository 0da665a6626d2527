/**
 * A server whose Sender Key reached its usage limit (draft-ietf-core-oscore-key-limits
 * §2.3.1): it can protect no answer, so no request may be acted upon, and what is reported
 * is the limit, for the operator to rotate the context.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { oscore } from '@oscore-http/undici';
import { Agent, request } from 'undici';
import { afterEach, expect, it } from 'vitest';
import { createContextSet, createOscoreHandler, type OscoreServerEvent } from '../src/index.js';

const masterSecret = { hex: '0f'.repeat(16) };
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** `directory`: the state of both sides lives there, for a restart of both (else each starts in memory). */
async function serve(q: number, bodyOf: (path: string) => Buffer, directory?: string) {
  const executed: string[] = [];
  const events: OscoreServerEvent[] = [];
  // A128GCM: a message of up to 16 KiB is one use of q.
  const contexts = createContextSet([{ name: 'client', masterSecret, senderId: '00', recipientId: '01', aeadAlgorithm: 1, usageLimits: { q } }], { store: directory === undefined ? 'memory' : { directory: join(directory, 'server') } });
  const server = createServer(
    createOscoreHandler({ contexts, onEvent: (e) => void events.push(e) }, (req, res) => {
      executed.push(req.url!);
      res.end(bodyOf(req.url!));
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientSet = createContextSet([{ peer: origin, masterSecret, senderId: '01', recipientId: '00', aeadAlgorithm: 1 }], {
    store: directory === undefined ? 'memory' : { directory: join(directory, 'client') },
  });
  const dispatcher = new Agent().compose(oscore({ contexts: clientSet }));
  closers.push(() => dispatcher.close(), () => new Promise((resolve) => server.close(resolve)), () => contexts.close(), () => clientSet.close());
  const send = (path: string) =>
    request(`${origin}${path}`, { method: 'POST', body: 'x', dispatcher }).then(
      async (r) => `${r.statusCode} ${await r.body.text()}`,
      (err: { code?: string; status?: number }) => `${err.code} ${err.status}`,
    );
  return { executed, events, send };
}

it('refuses requests once its Sender Key is used up, before the application acts on them, with 503 and the limit reported', async () => {
  const { executed, events, send } = await serve(2, () => Buffer.from('done'));
  expect(await send('/one')).toBe('200 done');
  expect(await send('/two')).toBe('200 done');
  // No third answer could be protected: the request is refused, not executed.
  expect(await send('/three')).toBe('ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE 503');
  expect(await send('/four')).toBe('ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE 503');
  expect(executed).toEqual(['/one', '/two']);
  expect(events.map((e) => [e.type, e.error.code, e.status, e.protected])).toEqual([
    ['rejected', 'ERR_OSCORE_USAGE_LIMIT', 503, false],
    ['rejected', 'ERR_OSCORE_USAGE_LIMIT', 503, false],
  ]);
});

it('reports the limit, not a binding error, when an answer needs more uses than are left', async () => {
  // The second answer is just over 2 × 16 KiB: three uses, of the two left.
  const { executed, events, send } = await serve(3, (path) => Buffer.alloc(path === '/big' ? 2 * 16384 : 4, 0x61));
  expect(await send('/small')).toBe('200 aaaa');
  expect(await send('/big')).toBe('ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE 503');
  expect(events.map((e) => [e.type, e.error.code, e.status, e.protected])).toEqual([['response-failed', 'ERR_OSCORE_USAGE_LIMIT', 503, false]]);
  // From then on nothing more is acted upon.
  expect(await send('/after')).toBe('ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE 503');
  expect(executed).toEqual(['/small', '/big']);
});

it('after a restart with its state directory, refuses before the application runs, from the first request on', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'oscore-q-'));
  const first = await serve(2, () => Buffer.from('done'), directory);
  expect(await first.send('/one')).toBe('200 done');
  expect(await first.send('/two')).toBe('200 done');
  for (const close of closers.splice(0)) await close();
  // The next process knows count_q only from the store: its first check reads it.
  const next = await serve(2, () => Buffer.from('done'), directory);
  const answers = await Promise.all(['/a', '/b', '/c'].map((path) => next.send(path)));
  expect(answers).toEqual(Array(3).fill('ERR_OSCORE_HTTP_UNPROTECTED_RESPONSE 503'));
  expect(next.executed).toEqual([]);
  expect(next.events.map((e) => e.error.code)).toEqual(Array(3).fill('ERR_OSCORE_USAGE_LIMIT'));
  for (const close of closers.splice(0)) await close();
  rmSync(directory, { recursive: true, force: true });
});
