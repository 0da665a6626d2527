#!/usr/bin/env node
/**
 * State stores side by side: request/response exchanges per second with the memory,
 * file and Redis stores, in one run, interleaved, and the I/O each store does per exchange.
 *
 *   npx tsc -b && node bench/stores.mjs [--quick] [--seconds 2] [--rounds 3] [--concurrency 32] [--json <file>]
 *
 * One exchange is what a client and a server do for one request: protectRequest (sequence
 * number and count_q from the client's store), verifyRequest (replay window of the server's
 * store), protectResponse and verifyResponse. With the Redis store every verifyRequest is a
 * round trip (one Lua check-and-update); with the file store nothing but a block reservation
 * every 4,096 sequence numbers touches the disk — the table shows the durable writes per
 * exchange to prove it. Redis runs locally (redis-server from Debian, started here on a free
 * port with AOF and appendfsync always, as the store requires).
 */

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { coapCode, createSecurityContext, MemoryStateStore, protectRequest, protectResponse, verifyRequest, verifyResponse } from '@oscore-http/core';
import { openFileStateStore } from '@oscore-http/core/file-store';
import { createRedisStateStore } from '@oscore-http/redis';
import { environment, printTable, writeJson } from './lib/report.mjs';

const o = { seconds: 3, rounds: 3, concurrency: 32, json: undefined };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--quick') Object.assign(o, { seconds: 1, rounds: 2 });
  else if (a === '--seconds') o.seconds = Number(argv[++i]);
  else if (a === '--rounds') o.rounds = Number(argv[++i]);
  else if (a === '--concurrency') o.concurrency = Number(argv[++i]);
  else if (a === '--json') o.json = argv[++i];
  else {
    console.error(`unknown option ${a}`);
    process.exit(2);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startRedis(dir) {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error('redis-server is not installed: run .ci/install-redis.sh (Debian: apt-get install -y redis-server)');
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('Ready to accept connections')) resolve();
    });
  });
  return { port, child, version: probe.stdout.trim() };
}

const masterSecret = new Uint8Array(32).fill(7);
const request = { code: coapCode(0, 2), options: [], payload: new Uint8Array(1024).fill(0x61) };
const response = { code: coapCode(2, 4), options: [], payload: new Uint8Array(1024).fill(0x62) };

/** A client/server pair whose state lives in `store` (the same store for both sides, as in one process). */
function pair(store, n) {
  const id = (x) => Uint8Array.of(n >> 8, n & 0xff, x);
  // High usage limits: this measures the stores, not the AEAD limits of draft-ietf-core-oscore-key-limits.
  const common = { masterSecret, state: store, replayWindowSize: 1024, usageLimits: { q: 2 ** 40 } };
  return {
    client: createSecurityContext({ ...common, senderId: id(1), recipientId: id(2) }),
    server: createSecurityContext({ ...common, senderId: id(2), recipientId: id(1) }),
  };
}

async function exchange({ client, server }) {
  const sent = await protectRequest(client, request);
  const received = await verifyRequest(server, sent.option, sent.payload);
  const answer = await protectResponse(received.binding, response);
  await verifyResponse(sent.binding, answer.option, answer.payload);
}

/** Runs `concurrency` exchange loops for `seconds`; returns exchanges per second. */
async function measure(p, seconds) {
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < end) {
        await exchange(p);
        count++;
      }
    }),
  );
  return count / seconds;
}

const work = mkdtempSync(path.join(os.tmpdir(), 'oscore-bench-stores-'));
const redis = await startRedis(path.join(work));
const stores = {
  memory: new MemoryStateStore(),
  file: openFileStateStore(path.join(work, 'file')),
  redis: await createRedisStateStore({ url: `redis://127.0.0.1:${redis.port}` }),
};

try {
  const env = environment();
  console.log('State stores side by side (bench/stores.mjs)');
  for (const [k, v] of Object.entries({ ...env, redis: redis.version, concurrency: o.concurrency, timing: `${o.rounds} rounds × ${o.seconds} s per store, interleaved; medians` })) console.log(`  ${k.padEnd(12)} ${v}`);
  const results = Object.fromEntries(Object.keys(stores).map((k) => [k, { rates: [], exchanges: 0 }]));
  let n = 0;
  const pairs = Object.fromEntries(Object.entries(stores).map(([k, s]) => [k, pair(s, n++)]));
  // Warm-up: first reservations, JIT.
  for (const p of Object.values(pairs)) await measure(p, 0.3);
  const writesBefore = stores.file.writes;
  for (let round = 0; round < o.rounds; round++) {
    const order = Object.keys(stores);
    for (let i = 0; i < round; i++) order.push(order.shift()); // rotate the order every round
    for (const k of order) {
      const rate = await measure(pairs[k], o.seconds);
      results[k].rates.push(rate);
      results[k].exchanges += Math.round(rate * o.seconds);
      process.stderr.write(`  round ${round + 1}: ${k.padEnd(6)} ${Math.round(rate)} exchanges/s\n`);
    }
  }
  const fileWrites = stores.file.writes - writesBefore;
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(results.memory.rates);
  const rows = Object.entries(results).map(([k, r]) => {
    const m = median(r.rates);
    const io =
      k === 'memory' ? 'none' : k === 'file' ? `${fileWrites} durable writes / ${r.exchanges} exchanges = ${(fileWrites / r.exchanges).toFixed(5)} per exchange` : '1 round trip per verifyRequest (Lua) + 1 INCRBY per 4,096 numbers';
    return [k, Math.round(m).toLocaleString('en-US'), `±${Math.round(((Math.max(...r.rates) - Math.min(...r.rates)) / 2 / m) * 100)}%`, `${(m / base).toFixed(2)}x`, io];
  });
  console.log('\n1 KiB request and response, protect + verify on both sides');
  printTable(
    [
      { header: 'store', align: 'left' },
      { header: 'exchanges/s', align: 'right' },
      { header: 'spread', align: 'right' },
      { header: '× memory', align: 'right' },
      { header: 'I/O on the hot path', align: 'left' },
    ],
    rows,
  );
  const fileExchanges = results.file.exchanges;
  console.log(`\nfile store: ${fileWrites} writes of state.json while ${fileExchanges} exchanges took ${fileExchanges} client sequence numbers and counted ${2 * fileExchanges} encryptions (count_q, both sides) — reservations in blocks of 4,096, written together; no write per message.`);
  if (o.json) writeJson(o.json, { env, options: o, results, fileWrites });
} finally {
  await stores.redis.close();
  await stores.file.close();
  redis.child.kill('SIGTERM');
  await new Promise((r) => redis.child.once('exit', r));
  rmSync(work, { recursive: true, force: true });
}
