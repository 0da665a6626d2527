/**
 * Replicas share one replay window through Redis (RFC 8613 §7.4; docs/scaling.md):
 * 4 server processes behind a round-robin balancer, 4 client processes of one replicated
 * sender (senderIdSuffix), 20,000 requests. The balancer re-sends 5% of the requests,
 * byte for byte, to a different replica after they were answered: not one of those copies
 * may be served, and not one legitimate request may be refused.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBalancer, type Balancer } from './support/balancer.js';
import { startRedisServer, type RedisServer } from './support/redis-server.js';

const SERVER = fileURLToPath(new URL('./fixtures/replica-server.mjs', import.meta.url));
const CLIENT = fileURLToPath(new URL('./fixtures/replica-client.mjs', import.meta.url));
const REPLICAS = 4;
const CLIENTS = 4;
const REQUESTS = 20_000;
const CONCURRENCY = 16; // per client instance
const REPLAY_RATE = 0.05;

interface ClientReport {
  name: string;
  ok: number;
  failed: number;
  failures: unknown[];
  kids: string[];
  senderId: string;
  ms: number;
}

let redis: RedisServer;
let balancer: Balancer | undefined;
const children: ChildProcess[] = [];

/** Runs a fixture; resolves with its first stdout line matching `pattern`. */
function run(script: string, args: string[], pattern: RegExp): { child: ChildProcess; line: Promise<RegExpExecArray> } {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const line = new Promise<RegExpExecArray>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (text) => {
      const m = pattern.exec(text);
      if (m) resolve(m);
    });
    child.once('exit', (code, signal) => reject(new Error(`${script} exited (${code ?? signal}) before printing ${pattern}`)));
  });
  return { child, line };
}

/** A seeded PRNG (mulberry32), so a failing run can be repeated with the logged seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await balancer?.close();
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  await redis?.destroy();
});

it(`${REPLICAS} server replicas, ${CLIENTS} client instances, ${REQUESTS} requests, ${REPLAY_RATE * 100}% replayed at another replica: no replay served, no legitimate request refused`, { timeout: 180_000 }, async () => {
  const started = Date.now();
  const servers = Array.from({ length: REPLICAS }, () => run(SERVER, [redis.url], /^listening (\d+)$/));
  const ports = await Promise.all(servers.map(async (s) => Number((await s.line)[1])));
  const seed = Number(process.env.REPLAY_SEED ?? Date.now() % 1_000_000);
  balancer = await startBalancer(ports, REPLAY_RATE, seeded(seed));

  const perClient = REQUESTS / CLIENTS;
  const clients = Array.from({ length: CLIENTS }, (_, i) => run(CLIENT, [redis.url, balancer!.origin, `client${i}`, String(perClient), String(CONCURRENCY)], /^(\{.*\})$/));
  const reports = await Promise.all(clients.map(async (c) => JSON.parse((await c.line)[1]!) as ClientReport));
  await balancer.settled();
  const stats = await Promise.all(ports.map(async (port) => (await (await fetch(`http://127.0.0.1:${port}/__stats`)).json()) as { handled: number; ids: string[] }));
  const elapsed = Date.now() - started;

  const replays = balancer.replays;
  const served = stats.flatMap((s) => s.ids);
  const summary = {
    seed,
    requests: reports.reduce((n, r) => n + r.ok + r.failed, 0),
    succeeded: reports.reduce((n, r) => n + r.ok, 0),
    failed: reports.reduce((n, r) => n + r.failed, 0),
    forwardedPerReplica: balancer.forwarded,
    handledPerReplica: stats.map((s) => s.handled),
    handlerRuns: served.length,
    distinctRequestsServed: new Set(served).size,
    replaysInjected: replays.length,
    replaysRefused401: replays.filter((r) => r.status === 401 && r.body === 'Replay detected').length,
    replaysServed: replays.filter((r) => r.status === 200).length,
    senderIds: reports.map((r) => r.senderId),
    clientMs: reports.map((r) => r.ms),
    totalMs: elapsed,
  };
  console.log(`replica test: ${JSON.stringify(summary)}`);

  // Every legitimate request succeeded, through its own instance's Sender ID.
  expect(reports.flatMap((r) => r.failures)).toEqual([]);
  expect(summary.failed).toBe(0);
  expect(summary.succeeded).toBe(REQUESTS);
  expect(new Set(summary.senderIds).size).toBe(CLIENTS);
  for (const r of reports) expect(r.kids).toEqual([r.senderId]);
  // Each was served exactly once, spread over all replicas.
  expect(summary.handlerRuns).toBe(REQUESTS);
  expect(summary.distinctRequestsServed).toBe(REQUESTS);
  for (const handled of summary.handledPerReplica) expect(handled).toBeGreaterThan(REQUESTS / REPLICAS / 2);
  expect(balancer.forwarded.reduce((a, b) => a + b, 0)).toBe(REQUESTS);
  // Every injected copy went to another replica and was refused there as a replay.
  expect(replays.length).toBeGreaterThan(REQUESTS * REPLAY_RATE * 0.8);
  expect(replays.every((r) => r.target !== r.original)).toBe(true);
  expect(replays.filter((r) => r.status !== 401 || r.body !== 'Replay detected')).toEqual([]);
  expect(summary.replaysServed).toBe(0);

  // The shared state: one window per client instance, in the servers' key space.
  const admin = new Redis(redis.url);
  const windows = await admin.keys('checkout:w:*');
  expect(windows).toHaveLength(CLIENTS);
  expect(await admin.get((await admin.keys('orders-client:n:*/instances'))[0]!)).toBe(String(CLIENTS));
  admin.disconnect();
});
