#!/usr/bin/env node
/**
 * Load generator child of bench/http.mjs: a closed loop of `concurrency` workers, each
 * sending `POST /echo` with a fixed body through one undici Agent (keep-alive,
 * `connections` connections, pipelining 1) and reading the whole response body.
 *
 *   plain        undici Agent
 *   https        undici Agent over TLS (trusting the run's self-signed certificate)
 *   oscore-*     undici Agent composed with @oscore-http/undici: every request is
 *                protected and every response verified before the worker sees it
 *   structure-client, structure-both
 *                undici Agent composed with the interceptor's shape without OSCORE
 *                (structure-client.mjs)
 *
 * IPC protocol (parent → child):
 *   { cmd: 'init', mode, origin, connections, caFile }  → { type: 'ready' }
 *   { cmd: 'run', id, size, warmupMs, durationMs, concurrency }
 *       → { type: 'mark', id, which: 'start' | 'end' }   (parent snapshots the server)
 *       → { type: 'result', id, ... }                     (or { type: 'error' })
 *   { cmd: 'profile-start' | 'profile-stop', … }  (see profiler.mjs)
 *   { cmd: 'exit' }
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import { MODES, contextSetOptions, BENCH_MASTER_SECRET, BENCH_MASTER_SALT, MAX_BODY, gcTotals, percentile, importOscorePackage } from './common.mjs';
import { createProfilerIpc } from './profiler.mjs';

let dispatcher;
let origin;
let mode;
let totalCompleted = 0; // every successful request, for the profiler

async function init(msg) {
  mode = msg.mode;
  origin = msg.origin;
  const spec = MODES[mode];
  const connect = spec.tls ? { ca: readFileSync(msg.caFile), servername: 'localhost' } : undefined;
  const agent = new Agent({
    connections: msg.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    ...(connect ? { connect } : {}),
  });
  dispatcher = agent;
  if (spec.aeadAlgorithm !== undefined) {
    const { oscore } = await importOscorePackage('undici');
    const { createContextSet } = await importOscorePackage('http');
    const contexts = createContextSet([
      {
        name: 'server',
        peer: origin,
        masterSecret: { hex: BENCH_MASTER_SECRET },
        masterSalt: { hex: BENCH_MASTER_SALT },
        senderId: '02',
        recipientId: '01',
        aeadAlgorithm: spec.aeadAlgorithm,
      },
    ], await contextSetOptions(spec));
    dispatcher = agent.compose(oscore({ contexts, maxBodySize: MAX_BODY }));
  } else if (spec.structureClient) {
    const { structureInterceptor } = await import('./structure-client.mjs');
    dispatcher = agent.compose(structureInterceptor({ maxBodySize: MAX_BODY }));
  }
}

const gc = gcTotals();

const HEADERS = Object.freeze({ 'content-type': 'application/octet-stream' });

/** One request; resolves to the response body as a Buffer (throws on non-200). */
async function echo(body) {
  const res = await dispatcher.request({ origin, path: '/echo', method: 'POST', headers: HEADERS, body });
  const buf = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) {
    const err = new Error(`HTTP ${res.statusCode}: ${buf.subarray(0, 200).toString('latin1')}`);
    err.statusCode = res.statusCode;
    throw err;
  }
  return buf;
}

async function run(msg) {
  const { id, size, warmupMs, durationMs, concurrency } = msg;

  // Sanity: a distinct random body must come back byte for byte before anything is timed.
  const probe = randomBytes(size);
  const back = await echo(probe);
  if (!back.equals(probe)) throw new Error(`sanity check failed: sent ${size} B, got ${back.length} B back${back.length === size ? ' (different bytes)' : ''}`);

  const body = randomBytes(size);
  let phase = 'warmup'; // → 'measure' → 'stop'
  let latencies = new Float64Array(1 << 16);
  let n = 0; // completed OK in the measure window
  let failed = 0; // non-200, wrong length or error in the measure window
  let failedWarmup = 0;
  let firstError;
  let t0 = 0;
  let t1 = 0;
  let cpu0;
  let cpu1;

  async function worker() {
    while (phase !== 'stop') {
      const start = performance.now();
      let ok = false;
      try {
        const buf = await echo(body);
        ok = buf.length === size;
        totalCompleted++;
        if (!ok && firstError === undefined) firstError = `wrong body length ${buf.length} (expected ${size})`;
      } catch (err) {
        if (firstError === undefined) firstError = String(err?.message ?? err);
      }
      const end = performance.now();
      if (phase === 'measure' && start >= t0) {
        if (ok) {
          if (n === latencies.length) {
            const bigger = new Float64Array(latencies.length * 2);
            bigger.set(latencies);
            latencies = bigger;
          }
          latencies[n++] = end - start;
        } else failed++;
      } else if (!ok) failedWarmup++;
    }
  }

  const workers = [];
  for (let i = 0; i < concurrency; i++) workers.push(worker());

  await new Promise((r) => setTimeout(r, warmupMs));
  phase = 'measure';
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  const gc0 = { ...gc };
  process.send({ type: 'mark', id, which: 'start' });

  await new Promise((r) => setTimeout(r, durationMs));
  // Requests completing after this point are not counted (phase changes below).
  t1 = performance.now();
  cpu1 = process.cpuUsage(cpu0);
  const gc1 = { ...gc };
  const completed = n;
  const failedInWindow = failed;
  process.send({ type: 'mark', id, which: 'end' });
  phase = 'stop';
  await Promise.all(workers);

  const sorted = latencies.subarray(0, completed).sort();
  const seconds = (t1 - t0) / 1000;
  process.send({
    type: 'result',
    id,
    size,
    seconds,
    requests: completed,
    failed: failedInWindow,
    failedWarmup,
    firstError,
    rps: completed / seconds,
    p50ms: percentile(sorted, 50),
    p90ms: percentile(sorted, 90),
    p99ms: percentile(sorted, 99),
    maxms: completed > 0 ? sorted[completed - 1] : NaN,
    clientCpuUs: { user: cpu1.user, system: cpu1.system },
    clientCpuUsPerReq: (cpu1.user + cpu1.system) / completed,
    clientUtil: (cpu1.user + cpu1.system) / 1e6 / seconds,
    clientGcUsPerReq: ((gc1.ms - gc0.ms) * 1000) / completed,
    clientMajorGcs: gc1.major - gc0.major,
  });
}

const profiler = createProfilerIpc(() => totalCompleted);

process.on('message', async (msg) => {
  try {
    if (await profiler(msg)) return;
    if (msg.cmd === 'init') {
      await init(msg);
      process.send({ type: 'ready', pid: process.pid });
    } else if (msg.cmd === 'run') {
      await run(msg);
    } else if (msg.cmd === 'exit') {
      await dispatcher?.close?.().catch(() => {});
      process.exit(0);
    }
  } catch (err) {
    process.send({ type: 'error', id: msg.id, message: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));
