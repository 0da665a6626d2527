/**
 * The store on a Redis Cluster (3 primaries, real redis-servers): every key carries its
 * state id as a hash tag, so each Lua script touches one slot, and the state of different
 * contexts spreads over the nodes. The store contract holds, and the durability check
 * covers every node.
 */

import { sequenceNumber } from '@oscore-http/core';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateStoreContract, type StoreHarness } from '../../core/test/state-store.contract.js';
import { createRedisStateStore, failClosedRedisOptions, RedisDurabilityError, type RedisStateStore } from '../src/index.js';
import { startRedisCluster, type RedisServer } from './support/redis-server.js';

let nodes: RedisServer[];
const clients: Cluster[] = [];
let prefixes = 0;
const freshPrefix = () => `c${++prefixes}:`;

function cluster(): Cluster {
  const client = new Cluster(
    nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { enableOfflineQueue: false, lazyConnect: true, redisOptions: failClosedRedisOptions() },
  );
  clients.push(client);
  return client;
}

beforeAll(async () => {
  nodes = await startRedisCluster(3);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const n of nodes ?? []) await n.destroy();
});

stateStoreContract('redis cluster', async () => {
  const keyPrefix = freshPrefix();
  const store = await createRedisStateStore({ client: cluster(), keyPrefix });
  const peers: RedisStateStore[] = [];
  return {
    // The contract is typed against core's sources, this package against its build: the same types.
    store: store as unknown as StoreHarness['store'],
    peer: async () => {
      const peer = await createRedisStateStore({ client: cluster(), keyPrefix });
      peers.push(peer);
      return peer as unknown as StoreHarness['store'];
    },
    cleanup: async () => {
      await store.close();
      for (const p of peers) await p.close();
    },
  };
});

describe('on a Redis Cluster', () => {
  it('spreads the windows and counters of many contexts over the nodes, each window in one slot', async () => {
    const keyPrefix = freshPrefix();
    const store = await createRedisStateStore({ client: cluster(), keyPrefix });
    expect(store.name).toMatch(/^redis-cluster:127\.0\.0\.1:\d+$/);
    const ids = Array.from({ length: 60 }, (_, i) => `${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}${i}`);
    for (const id of ids) {
      const w = store.replayWindow(id, 64);
      expect(await w.checkAndUpdate(sequenceNumber(9))).toBe('accepted');
      expect(await w.checkAndUpdate(sequenceNumber(9))).toBe('replayed');
      expect(await store.reserve(`${id}/seq`, 4096)).toBe(0);
    }
    const perNode = await Promise.all(
      nodes.map(async (n) => {
        const direct = new Redis(n.url);
        const keys = await direct.keys(`${keyPrefix}*`);
        direct.disconnect();
        return keys;
      }),
    );
    // Three keys per context, and the store's data marker.
    expect(perNode.flat().filter((k) => k !== `${keyPrefix}epoch`)).toHaveLength(ids.length * 3);
    expect(perNode.flat()).toContain(`${keyPrefix}epoch`);
    for (const keys of perNode) expect(keys.length).toBeGreaterThan(0);
    // Both keys of a window are on the same node.
    for (const keys of perNode) for (const k of keys.filter((k) => k.startsWith(`${keyPrefix}w:`))) expect(keys).toContain(k.replace(`${keyPrefix}w:`, `${keyPrefix}b:`));
    await store.close();
  });

  it('checks every node: one node without fsync on every write refuses the store', async () => {
    const direct = new Redis(nodes[1]!.url);
    await direct.config('SET', 'appendfsync', 'everysec');
    try {
      const err = await createRedisStateStore({ client: cluster() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisDurabilityError);
      expect((err as RedisDurabilityError).problems).toEqual([`127.0.0.1:${nodes[1]!.port}: appendfsync is "everysec", not "always"`]);
    } finally {
      await direct.config('SET', 'appendfsync', 'always');
      direct.disconnect();
    }
  });

  it('refuses waitForReplicas with a Cluster client (not supported yet)', async () => {
    await expect(createRedisStateStore({ client: cluster(), waitForReplicas: { replicas: 1, timeout: 100 } })).rejects.toThrow(TypeError);
  });
});
