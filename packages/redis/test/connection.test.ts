/**
 * Fail closed, fail fast, recover by itself: the store's operations while Redis is
 * unreachable, slow or back. A real redis-server that the test stops, pauses and restarts.
 */

import { sequenceNumber } from '@oscore-http/core';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisStateStore, type RedisStoreWarning } from '../src/index.js';
import { freePort, startRedisServer, type RedisServer } from './support/redis-server.js';

const seq = sequenceNumber;
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.destroy();
});

it('an unreachable server at start: createRedisStateStore rejects at once with StateStoreUnavailableError', async () => {
  const port = await freePort(); // nothing listens there
  const started = Date.now();
  const err = await createRedisStateStore({ url: `redis://127.0.0.1:${port}` }).catch((e: unknown) => e);
  expect(err).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE', outcome: '5.03' });
  expect((err as Error).cause).toBeDefined();
  expect(Date.now() - started).toBeLessThan(1000);
});

it('a refused login at start: the cause is the server’s reply (WRONGPASS), not a closed connection, and holds no password', async () => {
  const guarded = await startRedisServer({ args: ['--requirepass', 'right-password'] });
  try {
    const err = await createRedisStateStore({ url: `redis://:wrong-password@127.0.0.1:${guarded.port}` }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
    expect(String((err as Error).cause)).toMatch(/WRONGPASS|invalid username-password/);
    expect(JSON.stringify(err) + String((err as Error).cause) + (err as Error).stack + inspect(err, { depth: 8 })).not.toMatch(/right-password|wrong-password/);
  } finally {
    await guarded.destroy();
  }
});

it('a server that does not answer: each operation fails after commandTimeout, and the store serves again when it answers', async () => {
  const warnings: RedisStoreWarning[] = [];
  const store = await createRedisStateStore({ url: redis.url, commandTimeout: 300, keyPrefix: 'slow:', onWarning: (w) => warnings.push(w) });
  const admin = new Redis(redis.url);
  try {
    expect(await store.reserve('a/seq', 10)).toBe(0);
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const started = Date.now();
    const [reserve, check] = await Promise.all([store.reserve('a/seq', 10).catch((e: unknown) => e), store.replayWindow('w', 64).checkAndUpdate(seq(1)).catch((e: unknown) => e)]);
    const elapsed = Date.now() - started;
    expect(reserve).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
    expect(check).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1000); // the default commandTimeout; a loaded machine adds some latency
    // Once Redis answers again, so does the store (numbers of the timed-out reservation may be skipped, never reused).
    await expect.poll(() => store.reserve('a/seq', 10).then(() => true, () => false), { timeout: 6000, interval: 100 }).toBe(true);
    expect(await store.reserve('a/seq', 10)).toBeGreaterThanOrEqual(20);
    // The silent connection was dropped (socketTimeout) and re-established: reported once.
    expect(warnings.every((w) => w.code === 'OSCORE_REDIS_UNAVAILABLE')).toBe(true);
    expect(warnings.length).toBeLessThanOrEqual(1);
  } finally {
    await store.close();
    admin.disconnect();
  }
});

it('while the server is down, every operation fails at once (no queueing); after a restart the same store serves again, with its state', async () => {
  const warnings: RedisStoreWarning[] = [];
  const store = await createRedisStateStore({ url: redis.url, keyPrefix: 'down:', onWarning: (w) => warnings.push(w) });
  const w = store.replayWindow('w', 64);
  expect(await store.reserve('a/seq', 100)).toBe(0);
  expect(await w.checkAndUpdate(seq(5))).toBe('accepted');

  await redis.stop('SIGKILL'); // a crash: whatever was acknowledged is in the AOF (appendfsync always)
  await expect.poll(() => store.available, { timeout: 2000 }).toBe(false);
  for (let i = 0; i < 20; i++) {
    const started = Date.now();
    const results = await Promise.all([store.reserve('a/seq', 100).catch((e: unknown) => e), w.checkAndUpdate(seq(6)).catch((e: unknown) => e)]);
    expect(Date.now() - started).toBeLessThan(250); // no timeout (1 s) is waited for
    for (const r of results) expect(r).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
  }
  expect(warnings.map((x) => x.code)).toEqual(['OSCORE_REDIS_UNAVAILABLE']);

  await redis.start(); // same port, same directory
  const restarted = Date.now();
  await expect.poll(() => store.available, { timeout: 5000, interval: 20 }).toBe(true);
  expect(Date.now() - restarted).toBeLessThan(2000);
  // The state survived: the counter continues, the window remembers 5.
  expect(await store.reserve('a/seq', 100)).toBe(100);
  expect(await w.checkAndUpdate(seq(5))).toBe('replayed');
  expect(await w.checkAndUpdate(seq(6))).toBe('accepted');
  await store.close();
});
