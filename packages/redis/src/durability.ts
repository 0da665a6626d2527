/**
 * Whether a Redis server keeps what it acknowledged.
 *
 * The store's two promises rest on it: a reserved block of sequence numbers must never be
 * handed out again after a Redis crash (RFC 8613 Appendix B.1.1: "a crash may skip numbers,
 * never repeat one"), and an accepted Partial IV must stay in its replay window (§7.4).
 * Redis acknowledges a write before it is on disk unless `appendonly yes` and `appendfsync
 * always`; and it deletes keys to make room under an `allkeys-*` eviction policy. With
 * `waitForReplicas`, the replicas' acknowledgements stand in for the local fsync.
 *
 * The settings are read with CONFIG GET, which managed services often disable: then the
 * answer is "cannot verify", not "durable".
 */

import { Cluster, ReplyError, type Redis } from 'ioredis';

/** What a server's configuration says about durability. */
export interface DurabilityReport {
  /** What is missing; empty when the configuration is durable (or could not be read). */
  readonly problems: readonly string[];
  /** Why the configuration could not be read (CONFIG disabled or not permitted), if so. */
  readonly unverifiable: string | undefined;
}

async function configGet(client: Redis, name: string): Promise<string | undefined> {
  const reply = (await client.config('GET', name)) as unknown;
  // RESP2 and ioredis' "legacy" RESP3 mapping: [name, value]; "resp3" mapping: { name: value }.
  if (Array.isArray(reply)) return reply.length >= 2 ? String(reply[1]) : undefined;
  if (reply !== null && typeof reply === 'object') {
    const value = (reply as Record<string, unknown>)[name];
    return value === undefined ? undefined : String(value);
  }
  return undefined;
}

/**
 * Reads the persistence and eviction settings of the server `client` is connected to —
 * of every node, primaries and replicas, for a Redis Cluster client (a replica becomes a
 * primary on failover).
 * @param replicated whether writes are confirmed by replicas (WAIT), so the local AOF is not required.
 * @throws what the client throws for connection failures; a refused CONFIG is reported, not thrown.
 */
export async function checkDurability(client: Redis | Cluster, replicated: boolean): Promise<DurabilityReport> {
  if (!(client instanceof Cluster)) return checkNode(client, replicated);
  const nodes = client.nodes('all');
  if (nodes.length === 0) throw new Error('the Redis Cluster client knows no nodes');
  const reports = await Promise.all(nodes.map((node) => checkNode(node, replicated)));
  const at = (node: Redis) => `${node.options.host ?? '?'}:${node.options.port ?? '?'}`;
  return {
    problems: reports.flatMap((r, i) => r.problems.map((p) => `${at(nodes[i]!)}: ${p}`)),
    unverifiable: reports.map((r, i) => (r.unverifiable === undefined ? undefined : `${at(nodes[i]!)}: ${r.unverifiable}`)).find((u) => u !== undefined),
  };
}

async function checkNode(client: Redis, replicated: boolean): Promise<DurabilityReport> {
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  let eviction: string | undefined;
  let noFsyncOnRewrite: string | undefined;
  try {
    [appendonly, appendfsync, eviction, noFsyncOnRewrite] = await Promise.all([
      configGet(client, 'appendonly'),
      configGet(client, 'appendfsync'),
      configGet(client, 'maxmemory-policy'),
      configGet(client, 'no-appendfsync-on-rewrite'),
    ]);
  } catch (err) {
    // The server answered, but not with the settings: CONFIG renamed away or not permitted (ACL).
    if (err instanceof ReplyError) return { problems: [], unverifiable: `CONFIG GET failed: ${(err as Error).message.split('\n')[0]}` };
    throw err;
  }
  const problems: string[] = [];
  if (!replicated) {
    if (appendonly !== 'yes') problems.push(`appendonly is "${appendonly ?? 'unknown'}", not "yes"`);
    else if (appendfsync !== 'always') problems.push(`appendfsync is "${appendfsync ?? 'unknown'}", not "always"`);
    // With it, Redis skips fsync while an AOF rewrite or snapshot runs: acknowledged writes can be lost.
    else if (noFsyncOnRewrite === 'yes') problems.push('no-appendfsync-on-rewrite is "yes", not "no"');
  }
  // Keys without a TTL are evicted only by the allkeys-* policies; the store sets no TTL.
  if (eviction !== undefined && eviction.startsWith('allkeys-')) problems.push(`maxmemory-policy is "${eviction}", which may evict counters and windows`);
  return { problems, unverifiable: undefined };
}
