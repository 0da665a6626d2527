/**
 * The store serves only from a Redis that keeps what it acknowledged (RFC 8613
 * Appendix B.1.1: a reserved sequence number must never be handed out again): it reads
 * appendonly / appendfsync / maxmemory-policy at every (re)connection. Real redis-servers
 * with the settings under test.
 */

import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisStateStore, RedisDurabilityError, type RedisStoreWarning } from '../src/index.js';
import { startRedisServer, type RedisServer } from './support/redis-server.js';
import { sequenceNumber } from '@oscore-http/core';

const servers: RedisServer[] = [];
async function server(...args: string[]): Promise<RedisServer> {
  const s = await startRedisServer({ args });
  servers.push(s);
  return s;
}

afterEach(async () => {
  for (const s of servers.splice(0)) await s.destroy();
});

/** Connections the store left open on `s` (it names them `oscore-http`). */
async function storeConnections(s: RedisServer): Promise<number> {
  const admin = new Redis(s.url);
  try {
    const list = (await admin.client('LIST')) as string;
    return list.split('\n').filter((line) => line.includes(' name=oscore-http ')).length;
  } finally {
    admin.disconnect();
  }
}

describe('refuses a server that may lose acknowledged writes (requireDurability, the default)', () => {
  it.each([
    [['--appendonly', 'no'], 'appendonly is "no", not "yes"'],
    [['--appendfsync', 'everysec'], 'appendfsync is "everysec", not "always"'],
    [['--appendfsync', 'no'], 'appendfsync is "no", not "always"'],
    [['--maxmemory-policy', 'allkeys-lru'], 'maxmemory-policy is "allkeys-lru", which may evict counters and windows'],
    [['--no-appendfsync-on-rewrite', 'yes'], 'no-appendfsync-on-rewrite is "yes", not "no"'],
  ])('%j → RedisDurabilityError, and no connection is left open', async (args, problem) => {
    const s = await server(...args);
    const err = await createRedisStateStore({ url: s.url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisDurabilityError);
    expect(err).toMatchObject({ code: 'ERR_OSCORE_REDIS_NOT_DURABLE', problems: [problem] });
    expect((err as Error).message).toContain('appendfsync always');
    expect(await storeConnections(s)).toBe(0);
  });

  it('accepts AOF with appendfsync always and a volatile-* or noeviction policy (the store sets no TTL)', async () => {
    const s = await server('--maxmemory-policy', 'volatile-lru');
    const warnings: RedisStoreWarning[] = [];
    const store = await createRedisStateStore({ url: s.url, onWarning: (w) => warnings.push(w) });
    expect(await store.reserve('a/seq', 10)).toBe(0);
    expect(warnings).toEqual([]);
    await store.close();
    expect(await storeConnections(s)).toBe(0);
  });
});

describe('requireDurability: false (tests, development)', () => {
  it('warns and serves', async () => {
    const s = await server('--appendonly', 'no');
    const warnings: RedisStoreWarning[] = [];
    const store = await createRedisStateStore({ url: s.url, requireDurability: false, onWarning: (w) => warnings.push(w) });
    expect(warnings.map((w) => w.code)).toEqual(['OSCORE_REDIS_NOT_DURABLE']);
    expect(await store.reserve('a/seq', 10)).toBe(0);
    await store.close();
  });
});

describe('a server whose CONFIG command is disabled (managed Redis)', () => {
  it('cannot be verified: the store warns and serves', async () => {
    const s = await server('--rename-command', 'CONFIG', '');
    const warnings: RedisStoreWarning[] = [];
    const store = await createRedisStateStore({ url: s.url, onWarning: (w) => warnings.push(w) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'OSCORE_REDIS_DURABILITY_UNVERIFIED' });
    expect(warnings[0]!.message).toMatch(/unknown command/i);
    expect(await store.replayWindow('w', 64).checkAndUpdate(sequenceNumber(1))).toBe('accepted');
    await store.close();
  });

  it('an ACL user without +config: the same', async () => {
    const s = await server();
    const admin = new Redis(s.url);
    await admin.call('ACL', 'SETUSER', 'svc', 'on', '>svc-password', '~*', '+@all', '-config');
    admin.disconnect();
    const warnings: RedisStoreWarning[] = [];
    const store = await createRedisStateStore({ url: `redis://svc:svc-password@127.0.0.1:${s.port}`, onWarning: (w) => warnings.push(w) });
    expect(warnings.map((w) => w.code)).toEqual(['OSCORE_REDIS_DURABILITY_UNVERIFIED']);
    expect(warnings[0]!.message).not.toContain('svc-password');
    expect(await store.reserve('a/seq', 1)).toBe(0);
    await store.close();
  });
});

describe('a reconnection to a server that is no longer durable', () => {
  it('fails closed with the durability error as the cause, warns, and serves again once the server is fixed', async () => {
    const s = await server();
    const admin = new Redis(s.url);
    const warnings: RedisStoreWarning[] = [];
    const store = await createRedisStateStore({ url: s.url, onWarning: (w) => warnings.push(w) });
    try {
      expect(await store.reserve('a/seq', 10)).toBe(0);
      // Someone turns fsync down and the connection drops (a failover, a restart with another config).
      await admin.config('SET', 'appendfsync', 'everysec');
      await admin.call('CLIENT', 'KILL', 'SKIPME', 'yes', 'TYPE', 'normal');
      await expect.poll(() => warnings.some((w) => w.code === 'OSCORE_REDIS_NOT_DURABLE'), { timeout: 5000 }).toBe(true);
      const err = await store.reserve('a/seq', 10).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE', cause: { code: 'ERR_OSCORE_REDIS_NOT_DURABLE' } });
      await expect(store.replayWindow('w', 64).checkAndUpdate(sequenceNumber(1))).rejects.toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
      expect(store.available).toBe(false);
      expect(warnings.map((w) => w.code)).toEqual(['OSCORE_REDIS_UNAVAILABLE', 'OSCORE_REDIS_NOT_DURABLE']);
      // Still refused a while later (checked again, warned once).
      await new Promise((r) => setTimeout(r, 1200));
      await expect(store.reserve('a/seq', 10)).rejects.toMatchObject({ cause: { code: 'ERR_OSCORE_REDIS_NOT_DURABLE' } });
      // Fixed in place (no reconnection): the store checks again and serves.
      await admin.config('SET', 'appendfsync', 'always');
      await expect.poll(() => store.available, { timeout: 5000 }).toBe(true);
      expect(await store.reserve('a/seq', 10)).toBe(10);
    } finally {
      await store.close();
      admin.disconnect();
    }
  });
});

describe('waitForReplicas: replication stands in for the local fsync', () => {
  it('serves while a replica acknowledges every write, and fails closed when none does', async () => {
    const primary = await server('--appendonly', 'no');
    const replica = await server('--appendonly', 'no');
    const replicaAdmin = new Redis(replica.url);
    await replicaAdmin.call('REPLICAOF', '127.0.0.1', String(primary.port));
    await expect.poll(async () => /master_link_status:up/.test(await replicaAdmin.info('replication')), { timeout: 10_000 }).toBe(true);
    replicaAdmin.disconnect();

    // Without WAIT the same server is refused: it has no AOF.
    await expect(createRedisStateStore({ url: primary.url })).rejects.toBeInstanceOf(RedisDurabilityError);

    const store = await createRedisStateStore({ url: primary.url, waitForReplicas: { replicas: 1, timeout: 300 } });
    try {
      expect(await store.reserve('a/seq', 100)).toBe(0);
      const w = store.replayWindow('r', 64);
      expect(await w.checkAndUpdate(sequenceNumber(7))).toBe('accepted');
      expect(await w.checkAndUpdate(sequenceNumber(7))).toBe('replayed');
      // The replica has the writes.
      const onReplica = new Redis(replica.url);
      expect(await onReplica.get('oscore:n:{a}/seq')).toBe('100');
      onReplica.disconnect();

      await replica.stop('SIGKILL');
      const err = await store.reserve('a/seq', 100).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
      // WAIT gave up after its 300 ms (before the 1 s commandTimeout) and the store refused the block.
      expect(String((err as { cause: Error }).cause.message)).toMatch(/only 0 of 1 replicas acknowledged the write within 300 ms/);
      await expect(w.checkAndUpdate(sequenceNumber(8))).rejects.toMatchObject({ code: 'ERR_OSCORE_STATE_UNAVAILABLE' });
    } finally {
      await store.close();
    }
  });

  it('rejects a WAIT timeout that is not below commandTimeout', async () => {
    await expect(createRedisStateStore({ url: 'redis://127.0.0.1:1', waitForReplicas: { replicas: 1, timeout: 1000 } })).rejects.toThrow(RangeError);
  });
});
