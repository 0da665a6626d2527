/**
 * The Redis store against the state-store contract (a second store on the same server is
 * a second replica), the Lua window against the in-memory ReplayWindow, and what the store
 * does when Redis lost state. A real redis-server, started by the test.
 */

import { MAX_SEQUENCE_NUMBER, ReplayWindow, sequenceNumber, type ReplayVerdict } from '@oscore-http/core';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateStoreContract, type StoreHarness } from '../../core/test/state-store.contract.js';
import { createRedisStateStore, KeyLayout, RedisStateStore, type RedisStoreWarning } from '../src/index.js';
import { startRedisServer, type RedisServer } from './support/redis-server.js';

const seq = sequenceNumber;
let redis: RedisServer;
let admin: Redis;
let prefixes = 0;
/** A key prefix no other test uses: tests share one server but never state. */
const freshPrefix = () => `t${process.pid}-${++prefixes}:`;

beforeAll(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.destroy();
});

stateStoreContract('redis', async () => {
  const keyPrefix = freshPrefix();
  const store = await createRedisStateStore({ url: redis.url, keyPrefix });
  const peers: RedisStateStore[] = [];
  return {
    // The contract is typed against core's sources, this package against its build: the same types.
    store: store as unknown as StoreHarness['store'],
    // A second replica: its own connection to the same server and prefix.
    peer: async () => {
      const peer = await createRedisStateStore({ url: redis.url, keyPrefix });
      peers.push(peer);
      return peer as unknown as StoreHarness['store'];
    },
    cleanup: async () => {
      await store.close();
      for (const peer of peers) await peer.close();
    },
  };
});

describe('the Lua replay window', () => {
  it('gives the same verdict as the in-memory ReplayWindow for any sequence of numbers, window sizes and jumps', async () => {
    const store = await createRedisStateStore({ url: redis.url, keyPrefix: freshPrefix() });
    let windows = 0;
    try {
      // Numbers near the highest (reordering), far jumps (a whole window and more), old ones, and duplicates.
      const step = fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: -40, max: 40 }).map((d) => ({ kind: 'near' as const, d })) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 3000 }).map((d) => ({ kind: 'jump' as const, d })) },
        { weight: 1, arbitrary: fc.nat(5000).map((d) => ({ kind: 'abs' as const, d })) },
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(1, 7, 8, 13, 32, 64, 100, 1024), fc.array(step, { minLength: 1, maxLength: 120 }), async (size, steps) => {
          const local = new ReplayWindow(size);
          const shared = store.replayWindow(`equiv-${++windows}`, size);
          let top = 0;
          for (const s of steps) {
            const n = s.kind === 'near' ? Math.max(0, top + s.d) : s.kind === 'jump' ? top + s.d : s.d;
            top = Math.max(top, n);
            const expected = local.checkAndUpdate(seq(n));
            expect(await shared.checkAndUpdate(seq(n)), `size ${size}, seq ${n}`).toBe(expected);
          }
        }),
        { numRuns: 150 },
      );
    } finally {
      await store.close();
    }
  });

  it('clears exactly the skipped bits when it slides, wherever the run starts and ends in the ring (single bits, whole bytes, wrap-around)', async () => {
    const store = await createRedisStateStore({ url: redis.url, keyPrefix: freshPrefix() });
    try {
      for (const size of [64, 1000, 4096]) {
        const local = new ReplayWindow(size);
        const shared = store.replayWindow(`ring-${size}`, size);
        // One connection executes commands in the order they were sent, so a whole phase can be in flight at once.
        const run = async (numbers: number[]) => {
          const expected = numbers.map((n) => local.checkAndUpdate(seq(n)));
          const actual = await Promise.all(numbers.map((n) => shared.checkAndUpdate(seq(n))));
          for (let i = 0; i < numbers.length; i++) expect(actual[i], `size ${size}, highest ${local.highest}, seq ${numbers[i]}`).toBe(expected[i]);
        };
        const distances = size === 4096 ? [3, 8, 100, 4095, 4096] : [1, 2, 5, 7, 8, 9, 15, 16, 17, 63, size - 1, size, size + 1];
        for (const d of distances) {
          // Fill the window, slide by d, then ask about every number of the new window and around it.
          const top = Math.max(local.highest, size);
          await run(Array.from({ length: size }, (_, i) => top - i));
          const highest = local.highest + d;
          await run([highest]);
          await run(Array.from({ length: size + 3 }, (_, i) => highest + 1 - i));
        }
      }
    } finally {
      await store.close();
    }
  });

  it('handles sequence numbers up to 2^40 - 1 exactly (Lua doubles)', async () => {
    const store = await createRedisStateStore({ url: redis.url, keyPrefix: freshPrefix() });
    try {
      const w = store.replayWindow('big', 64);
      const top = MAX_SEQUENCE_NUMBER;
      expect(await w.checkAndUpdate(seq(top - 100))).toBe('accepted');
      expect(await w.checkAndUpdate(seq(top - 1))).toBe('accepted');
      expect(await w.checkAndUpdate(seq(top - 1))).toBe('replayed');
      expect(await w.checkAndUpdate(seq(top - 64))).toBe('accepted');
      expect(await w.checkAndUpdate(seq(top - 65))).toBe('replayed'); // = highest − size: too old
      expect(await w.checkAndUpdate(seq(top))).toBe('accepted');
      expect(await w.checkAndUpdate(seq(top - 1))).toBe('replayed');
      await expect(w.checkAndUpdate((top + 1) as never)).rejects.toThrow(RangeError);
    } finally {
      await store.close();
    }
  });

  it('shares one window between replicas: of 200 concurrent deliveries of 50 numbers spread over 4 stores, each number is accepted exactly once', async () => {
    const keyPrefix = freshPrefix();
    const stores = await Promise.all(Array.from({ length: 4 }, () => createRedisStateStore({ url: redis.url, keyPrefix })));
    try {
      const windows = stores.map((s) => s.replayWindow('shared', 1024));
      const deliveries = Array.from({ length: 200 }, (_, i) => ({ n: i % 50, replica: (i * 7) % 4 }));
      const verdicts = await Promise.all(deliveries.map(({ n, replica }) => windows[replica]!.checkAndUpdate(seq(n)).then((v) => ({ n, v }))));
      for (let n = 0; n < 50; n++) expect(verdicts.filter((x) => x.n === n && x.v === 'accepted')).toHaveLength(1);
      expect(verdicts.filter((x) => x.v === 'replayed')).toHaveLength(150);
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it('after a resize, counts everything at or below the highest as received (never accepts a replay)', async () => {
    const keyPrefix = freshPrefix();
    const store = await createRedisStateStore({ url: redis.url, keyPrefix });
    try {
      const small = store.replayWindow('resized', 64);
      expect(await small.checkAndUpdate(seq(100))).toBe('accepted');
      expect(await small.checkAndUpdate(seq(90))).toBe('accepted');
      const large = store.replayWindow('resized', 1024);
      expect(await large.checkAndUpdate(seq(90))).toBe('replayed');
      expect(await large.checkAndUpdate(seq(95))).toBe('replayed'); // never received, but cannot be told apart any more
      expect(await large.checkAndUpdate(seq(101))).toBe('accepted');
      expect(await large.checkAndUpdate(seq(101))).toBe('replayed');
    } finally {
      await store.close();
    }
  });

  it('keeps a window in two keys with the same Redis Cluster hash tag, under the prefix, apart from the counters of the same state id', async () => {
    const keyPrefix = freshPrefix();
    const store = await createRedisStateStore({ url: redis.url, keyPrefix });
    try {
      await store.replayWindow('9f86d081884c7d65', 64).checkAndUpdate(seq(3));
      await store.reserve('9f86d081884c7d65/seq', 10);
      const keys = (await admin.keys(`${keyPrefix}*`)).sort();
      expect(keys).toEqual([`${keyPrefix}b:{9f86d081884c7d65}`, `${keyPrefix}epoch`, `${keyPrefix}n:{9f86d081884c7d65}/seq`, `${keyPrefix}w:{9f86d081884c7d65}`]);
      expect(await admin.hgetall(`${keyPrefix}w:{9f86d081884c7d65}`)).toEqual({ highest: '3', size: '64' });
      expect(await admin.get(`${keyPrefix}n:{9f86d081884c7d65}/seq`)).toBe('10');
      expect(() => new KeyLayout('bad{prefix}:')).toThrow(TypeError);
    } finally {
      await store.close();
    }
  });
});

describe('when Redis lost state', () => {
  it('a counter that went backwards is refused for good in this process: no sequence number is handed out twice', async () => {
    const keyPrefix = freshPrefix();
    const warnings: RedisStoreWarning[] = [];
    const store = await createRedisStateStore({ url: redis.url, keyPrefix, onWarning: (w) => warnings.push(w) });
    try {
      expect(await store.reserve('ctx/seq', 1024)).toBe(0);
      expect(await store.reserve('ctx/seq', 1024)).toBe(1024);
      await admin.del(`${keyPrefix}n:{ctx}/seq`); // what a restart without the AOF would do
      const lost = await store.reserve('ctx/seq', 1024).catch((e: unknown) => e);
      expect(lost).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE', cause: { code: 'ERR_OSCORE_REDIS_STATE_LOST' } });
      // Even once Redis counts past the old values again, this process does not trust the counter.
      await admin.set(`${keyPrefix}n:{ctx}/seq`, '100000');
      await expect(store.reserve('ctx/seq', 1024)).rejects.toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE', cause: { code: 'ERR_OSCORE_REDIS_STATE_LOST' } });
      expect(warnings.map((w) => w.code)).toEqual(['OSCORE_REDIS_STATE_LOST']);
      // Other counters are unaffected.
      expect(await store.reserve('other/seq', 10)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('a window this process used that is gone answers "unknown" until freshness is proved (Appendix B.1.2); a never-seen window starts fresh', async () => {
    const keyPrefix = freshPrefix();
    const warnings: RedisStoreWarning[] = [];
    const store = await createRedisStateStore({ url: redis.url, keyPrefix, onWarning: (w) => warnings.push(w) });
    try {
      const w = store.replayWindow('r', 64);
      expect(await w.checkAndUpdate(seq(10))).toBe('accepted');
      expect(await w.checkAndUpdate(seq(11))).toBe('accepted');
      await admin.del(`${keyPrefix}w:{r}`, `${keyPrefix}b:{r}`);
      expect(await w.checkAndUpdate(seq(10))).toBe('unknown'); // not accepted: it may be a replay
      expect(await w.checkAndUpdate(seq(12))).toBe('unknown');
      expect(warnings.map((x) => x.code)).toEqual(['OSCORE_REDIS_STATE_LOST']);
      // An Echo exchange proved 20 fresh: it becomes the lower limit of the window.
      expect(await w.establish(seq(20))).toBe('accepted');
      expect(await w.checkAndUpdate(seq(20))).toBe('replayed');
      expect(await w.checkAndUpdate(seq(11))).toBe('replayed');
      expect(await w.checkAndUpdate(seq(19))).toBe('replayed');
      expect(await w.checkAndUpdate(seq(21))).toBe('accepted');
      // Another replica sees the re-established window.
      const other = await createRedisStateStore({ url: redis.url, keyPrefix });
      expect(await other.replayWindow('r', 64).checkAndUpdate(seq(21))).toBe('replayed');
      expect(await other.replayWindow('fresh', 64).checkAndUpdate(seq(0))).toBe('accepted');
      await other.close();
      // establish on a known window is an ordinary check, as in ReplayWindow.
      expect(await w.establish(seq(21))).toBe('replayed');
    } finally {
      await store.close();
    }
  });
});

describe('when Redis lost all its data (its data marker changed)', () => {
  /** The code of the cause of `operation`'s rejection, or "ok". */
  const outcome = (operation: () => Promise<unknown>) =>
    operation().then(
      () => 'ok',
      (e: unknown) => String((e as { cause?: { code?: string } }).cause?.code ?? (e as { code?: string }).code),
    );

  it('after Redis came back empty, every process that saw its data refuses to serve, whichever replica touches a key first', { timeout: 60_000 }, async () => {
    const own = await startRedisServer();
    const a = await createRedisStateStore({ url: own.url, onWarning: () => {} });
    const b = await createRedisStateStore({ url: own.url, onWarning: () => {} });
    try {
      expect(await a.reserve('ctx/seq', 20)).toBe(0);
      expect(await a.replayWindow('r', 64).checkAndUpdate(seq(5))).toBe('accepted');
      await own.stop('SIGKILL');
      for (const entry of readdirSync(own.dir)) rmSync(join(own.dir, entry), { recursive: true, force: true }); // the AOF is gone
      await own.start();
      // B reaches the window first and would have started it afresh; then A replays 5.
      await expect.poll(() => outcome(() => b.replayWindow('r', 64).checkAndUpdate(seq(5))), { timeout: 10_000 }).toBe('ERR_OSCORE_REDIS_STATE_LOST');
      expect(await outcome(() => a.replayWindow('r', 64).checkAndUpdate(seq(5)))).toBe('ERR_OSCORE_REDIS_STATE_LOST');
      expect(await outcome(() => a.reserve('ctx/seq', 20))).toBe('ERR_OSCORE_REDIS_STATE_LOST');
    } finally {
      await a.close();
      await b.close();
      await own.destroy();
    }
  });

  it('a flush without a restart is noticed within about a second', async () => {
    const keyPrefix = freshPrefix();
    const store = await createRedisStateStore({ url: redis.url, keyPrefix, onWarning: () => {} });
    try {
      expect(await store.reserve('ctx/seq', 10)).toBe(0);
      const keys = await admin.keys(`${keyPrefix}*`);
      expect(keys).toContain(`${keyPrefix}epoch`);
      await admin.del(...keys);
      await expect.poll(() => outcome(() => store.reserve('other/seq', 10)), { timeout: 5_000, interval: 200 }).toBe('ERR_OSCORE_REDIS_STATE_LOST');
    } finally {
      await store.close();
    }
  });
});

describe('the store object', () => {
  it('names the server without credentials, rejects bad arguments, and refuses everything after close', async () => {
    const store = await createRedisStateStore({ url: `redis://default:s3cret-password@127.0.0.1:${redis.port}/0`, keyPrefix: freshPrefix() });
    expect(store.name).toBe(`redis:127.0.0.1:${redis.port}/0`);
    expect(store.available).toBe(true);
    await expect(store.reserve('x', 0)).rejects.toThrow(RangeError);
    expect(() => store.replayWindow('x', 0)).toThrow(RangeError);
    expect(() => store.replayWindow('x', 65_537)).toThrow(RangeError);
    await store.close();
    expect(store.available).toBe(false);
    const err = await store.reserve('x', 1).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
    expect(JSON.stringify(err)).not.toContain('s3cret');
    expect(String((err as Error).message)).not.toContain('s3cret');
    const verdict: Promise<ReplayVerdict> = store.replayWindow('x', 64).checkAndUpdate(seq(1));
    await expect(verdict).rejects.toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
  });

  it('uses a given ioredis client without closing it', async () => {
    const client = new Redis(redis.url, { enableOfflineQueue: false, lazyConnect: true });
    const store = await createRedisStateStore({ client, keyPrefix: freshPrefix() });
    expect(await store.reserve('c/seq', 5)).toBe(0);
    expect(await store.replayWindow('c', 64).checkAndUpdate(seq(1))).toBe('accepted');
    await store.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });
});
