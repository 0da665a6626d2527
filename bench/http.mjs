#!/usr/bin/env node
/**
 * HTTP benchmark: fastify + undici end to end, in one run, for
 *
 *   plain        fastify / undici over HTTP/1.1 keep-alive
 *   https        fastify / undici over HTTPS keep-alive (TLS 1.3, the hop-by-hop alternative)
 *   oscore-ccm   @oscore-http/fastify + @oscore-http/undici, AES-CCM-16-64-128 (COSE 10)
 *   oscore-gcm   @oscore-http/fastify + @oscore-http/undici, A128GCM (COSE 1)
 *   (opt-in) structure: the OSCORE server's request handling without OSCORE, plain client
 *                (bench/http/structure.mjs): the best ratio that handling allows
 *   (opt-in) structure-client: the interceptor's shape without OSCORE, plain server
 *                (bench/http/structure-client.mjs); structure-both: both halves
 *
 * at 64 B, 1 KiB and 60 KiB echo bodies (60 KiB stays under AES-CCM-16-64-128's
 * 65,535-byte plaintext bound). The server (bench/http/server.mjs) is pinned to core 0,
 * the load generator (bench/http/load.mjs, closed loop, fixed concurrency) to core 1.
 * Each mode has its own long-lived server/client pair; cells (mode × size) are repeated
 * and interleaved, and ratios to plain are taken per repetition (same size, adjacent in
 * time) and summarised by their median. Not a test: it prints tables, it asserts nothing.
 *
 *   npx tsc -b && node bench/http.mjs [--quick] [--json <file>] [options]
 *
 * Columns
 *   req/s        completed requests per second in the measured window (median of repeats)
 *   p50/p99 ms   latency of one request as the caller sees it (request → whole body read)
 *   srv µs/req   server process CPU time (user+system) per request in the window
 *   cli µs/req   load generator CPU time per request: the undici client's cost, incl. OSCORE
 *   util s/c     CPU utilisation of the server / client process in the window (1.00 = one core)
 *   GC µs/req    garbage-collection pause time per request, server / client (wall clock)
 *   ×plain       ratios to plain fastify/undici of the same size and repetition (median)
 *
 * The 1 KiB summary also gives each side's CPU capacity ratio (plain µs/req ÷ mode µs/req):
 * with one core per side, whichever side is slower bounds req/s, so the client's own cost
 * is compared by CPU time per request rather than by req/s.
 *
 * Related: bench/http/profile.mjs (CPU and heap profiles of server and client, µs/request
 * by package and function) and bench/http/aead-floor.mjs (the AEAD floor printed after the
 * 1 KiB target lines). --baseline <dir> compares with another checkout's build in one run.
 * HTTPS keys and OSCORE state live in temporary directories removed at exit.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tlsModule from 'node:tls';
import { DEFAULT_MODES, MODES, median, spread } from './http/common.mjs';
import { makeCertificate, opensslCli, runCell, startPair, tasksetStatus } from './http/procs.mjs';
import { environment, formatRate, formatRatio, formatSize, parseSize, printEnvironment, printTable, writeJson } from './lib/report.mjs';

// ---------------------------------------------------------------------------------------
// Command line

function usage(exitCode) {
  console.log(`usage: node bench/http.mjs [options]      (build first: npx tsc -b)

  --quick               1 repetition, 0.3 s warm-up + 1.5 s per cell (about 40 s instead of about 3.5 min)
  --json <file>         also write the raw results (every cell) as JSON
  --mode <list>         modes, e.g. plain,oscore-ccm   (default: all but baseline and structure*)
  --size <list>         body sizes, e.g. 64,1k,60k      (default 64,1k,60k)
  --repeats <n>         repetitions of every cell        (default 3)
  --warmup <s>          warm-up before each measured window (default 1)
  --duration <s>        measured window per cell         (default 4)
  --concurrency <n>     requests in flight               (default 16)
  --connections <n>     undici connections per origin    (default 16, pipelining 1)
  --store <file|memory> OSCORE state store: the library default (file store, in a private
                        temporary directory per process) or in-memory state (default: file)
  --baseline <dir>      also run mode oscore-ccm-baseline (or the baseline modes named in --mode,
                        e.g. oscore-gcm-openssl-baseline): the @oscore-http packages built in
                        another checkout (git worktree add <dir> <rev>; cd <dir>; npm ci;
                        npx tsc -b), for a before/after comparison in one run
  --no-pin              do not pin server/client to cores 0/1
  -h, --help`);
  process.exit(exitCode);
}

function parseArgs(argv) {
  const o = {
    quick: false,
    json: undefined,
    modes: DEFAULT_MODES,
    baseline: undefined,
    sizes: [64, 1024, 60 * 1024],
    repeats: undefined,
    warmup: undefined,
    duration: undefined,
    concurrency: 16,
    connections: 16,
    pin: true,
    store: 'file',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(2);
      return argv[++i];
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--json') o.json = next();
    else if (a === '--mode') o.modes = next().split(',').map((s) => s.trim());
    else if (a === '--size') o.sizes = next().split(',').map(parseSize);
    else if (a === '--repeats') o.repeats = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--concurrency') o.concurrency = Number(next());
    else if (a === '--connections') o.connections = Number(next());
    else if (a === '--no-pin') o.pin = false;
    else if (a === '--store') o.store = next();
    else if (a === '--baseline') o.baseline = path.resolve(next());
    else if (a === '-h' || a === '--help') usage(0);
    else {
      console.error(`unknown option ${a}`);
      usage(2);
    }
  }
  for (const m of o.modes) if (!(m in MODES)) (console.error(`unknown mode ${m}`), usage(2));
  if (o.baseline !== undefined) {
    if (!existsSync(path.join(o.baseline, 'packages', 'core', 'dist', 'index.js'))) {
      console.error(`--baseline ${o.baseline}: no built checkout there (packages/core/dist/index.js is missing; run npm ci && npx tsc -b in it)`);
      process.exit(2);
    }
    if (!o.modes.some((m) => MODES[m]?.baseline)) o.modes = [...o.modes, 'oscore-ccm-baseline'];
  } else if (o.modes.some((m) => MODES[m].baseline)) {
    console.error('the baseline modes need --baseline <dir>');
    usage(2);
  }
  if (!o.modes.includes('plain')) console.warn('note: without --mode plain there are no ratios');
  for (const s of o.sizes) {
    if (s > 65535 && o.modes.includes('oscore-ccm')) console.warn(`note: ${formatSize(s)} exceeds AES-CCM-16-64-128's 65,535-byte plaintext bound; oscore-ccm will fail there`);
  }
  o.repeats ??= o.quick ? 1 : 3;
  o.warmup ??= o.quick ? 0.3 : 1;
  o.duration ??= o.quick ? 1.5 : 4;
  o.initialWarmup = o.quick ? 0.5 : 1; // per mode and size, once, before any measurement
  return o;
}

// ---------------------------------------------------------------------------------------
// Formatting

const fmtMs = (x) => (Number.isNaN(x) ? '' : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fmtUs = (x) => (Number.isNaN(x) ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fmtSpread = (x) => `±${Math.round((x * 100) / 2)}%`;
const fmtX = (x) => (x === undefined || Number.isNaN(x) ? '' : `${formatRatio(x)}x`);

/** The protocol and cipher suite the HTTPS server negotiates (as undici's connections do). */
function tlsInfo(origin, caFile) {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const socket = tlsModule.connect({ host: hostname, port: Number(port), ca: readFileSync(caFile), servername: 'localhost' }, () => {
      const cipher = socket.getCipher();
      const info = `${socket.getProtocol()} ${cipher.standardName ?? cipher.name}, self-signed P-256 certificate, keep-alive`;
      socket.end();
      resolve(info);
    });
    socket.once('error', reject);
  });
}

/** The short commit of a checkout, or 'unknown'. */
function commitOf(dir) {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------
// Main

const opts = parseArgs(process.argv.slice(2));
const modeWidth = Math.max(...opts.modes.map((m) => m.length));
const pinning = tasksetStatus();
const pin = opts.pin && pinning.ok;
if (opts.pin && !pinning.ok) console.warn(`WARNING: not pinning server/client to cores (${pinning.why}); numbers will be noisier.`);

const needsTls = opts.modes.some((m) => MODES[m].tls);
const tls = needsTls ? makeCertificate() : undefined;
if (needsTls && tls === undefined) {
  console.warn('WARNING: openssl CLI not available: cannot make a certificate, skipping https.');
  opts.modes = opts.modes.filter((m) => !MODES[m].tls);
}

const env = environment({
  opensslCli: opensslCli(),
  pinning: pin ? 'server on core 0, load generator on core 1 (taskset)' : `none (${opts.pin ? pinning.why : '--no-pin'})`,
  load: `closed loop, ${opts.concurrency} in flight, undici Agent ${opts.connections} connections, pipelining 1, keep-alive`,
  oscoreState: opts.store === 'memory' ? 'in-memory state (--store memory)' : 'library default state store (OSCORE_STATE_DIR = a private temporary directory per process)',
  timing: `${opts.repeats} repetition(s) × ${opts.warmup} s warm-up + ${opts.duration} s measured per cell; cells interleaved`,
  ...(opts.baseline ? { baseline: `${opts.baseline} (commit ${commitOf(opts.baseline)})` } : {}),
});

console.log('HTTP benchmark: fastify/undici plain vs HTTPS vs OSCORE (@oscore-http/fastify + @oscore-http/undici)');
printEnvironment(env, {
  date: 'date',
  node: 'node',
  v8: 'v8',
  openssl: 'openssl (node)',
  opensslCli: 'openssl (CLI)',
  cpuModel: 'CPU',
  cpuCount: 'CPUs',
  loadavg: 'load average',
  platform: 'platform',
  commit: 'commit',
  pinning: 'pinning',
  load: 'load',
  oscoreState: 'OSCORE state',
  timing: 'timing',
  baseline: 'baseline',
});
console.log('');

const pairs = new Map();
const cleanup = async () => {
  await Promise.allSettled([...pairs.values()].flatMap((p) => [p.server.exit(), p.client.exit()]));
  tls?.cleanup();
};
process.on('SIGINT', () => {
  cleanup().finally(() => process.exit(130));
});

const results = []; // every measured cell

// The AEAD floor: raw node:crypto encrypt + decrypt of the body, measured on the server's
// core right after each repetition of a size (the pairs idle meanwhile), so each plain cell
// is paired with a floor taken seconds after it.
const floorAlgs = [...new Set(opts.modes.map((m) => MODES[m].aeadAlgorithm).filter((a) => a !== undefined).map((a) => (a === 10 ? 'ccm' : 'gcm')))];
const floorScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'http', 'aead-floor.mjs');
const floors = []; // { repeat, size, us: { ccm?, gcm? } }
function measureFloor(size) {
  const algs = floorAlgs.filter((a) => a !== 'ccm' || size <= 65535);
  if (algs.length === 0 || !opts.modes.includes('plain')) return undefined;
  const command = [process.execPath, floorScript, String(size), algs.join(',')];
  if (pin) command.unshift('taskset', '-c', '0');
  return JSON.parse(execFileSync(command[0], command.slice(1), { encoding: 'utf8' }));
}
let totalFailed = 0;
let exitCode = 0;
const started = Date.now();

try {
  for (const mode of opts.modes) {
    pairs.set(mode, await startPair(mode, { pin, tls, connections: opts.connections, baseline: opts.baseline, env: opts.store === 'memory' ? { BENCH_STORE: 'memory' } : {} }));
  }
  if (pairs.has('https')) {
    const negotiated = await tlsInfo(pairs.get('https').origin, tls.cert).catch((err) => `unknown (${err.message})`);
    env.tls = negotiated;
    console.log(`  HTTPS: ${negotiated}\n`);
  }
  // Initial warm-up of every pair at every size (JIT, connections, TLS sessions).
  process.stdout.write('warming up');
  for (const mode of opts.modes) {
    for (const size of opts.sizes) {
      await runCell(pairs.get(mode), { size, warmupMs: opts.initialWarmup * 1000, durationMs: 200, concurrency: opts.concurrency });
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');

  const total = opts.repeats * opts.sizes.length * opts.modes.length;
  let done = 0;
  for (let rep = 0; rep < opts.repeats; rep++) {
    for (const size of opts.sizes) {
      // Rotate which mode goes first, so none always follows the same neighbour.
      const order = opts.modes.map((_, k) => opts.modes[(k + rep) % opts.modes.length]);
      for (const mode of order) {
        const r = await runCell(pairs.get(mode), { size, warmupMs: opts.warmup * 1000, durationMs: opts.duration * 1000, concurrency: opts.concurrency });
        r.repeat = rep;
        results.push(r);
        totalFailed += r.failed;
        done++;
        console.log(
          `  [${String(done).padStart(String(total).length)}/${total}] rep ${rep + 1} ${formatSize(size).padEnd(6)} ${mode.padEnd(modeWidth)} ${formatRate(r.rps).padStart(7)} req/s` +
            `  srv ${fmtUs(r.serverCpuUsPerReq).padStart(5)} µs/req  cli ${fmtUs(r.clientCpuUsPerReq).padStart(5)} µs/req  util ${r.serverUtil.toFixed(2)}/${r.clientUtil.toFixed(2)}` +
            (r.failed ? `  FAILED ${r.failed}: ${r.firstError}` : ''),
        );
      }
      const us = measureFloor(size);
      if (us !== undefined) floors.push({ repeat: rep, size, us });
    }
  }
  console.log('');
} catch (err) {
  console.error(`\nbenchmark aborted: ${err.stack ?? err}`);
  exitCode = 1;
} finally {
  await cleanup();
}


// ---------------------------------------------------------------------------------------
// Summaries

function summarise(size, mode) {
  const cells = results.filter((r) => r.size === size && r.mode === mode);
  if (cells.length === 0) return undefined;
  const plainOf = (r) => results.find((p) => p.size === size && p.mode === 'plain' && p.repeat === r.repeat);
  const ratios = (f) => {
    const xs = cells.map((r) => [r, plainOf(r)]).filter(([, p]) => p !== undefined).map(([r, p]) => f(r, p));
    return xs.length ? median(xs) : undefined;
  };
  const m = (f) => median(cells.map(f));
  return {
    size,
    mode,
    repeats: cells.length,
    rps: m((r) => r.rps),
    rpsSpread: spread(cells.map((r) => r.rps)),
    rpsSamples: cells.map((r) => r.rps),
    p50ms: m((r) => r.p50ms),
    p99ms: m((r) => r.p99ms),
    serverCpuUsPerReq: m((r) => r.serverCpuUsPerReq),
    clientCpuUsPerReq: m((r) => r.clientCpuUsPerReq),
    serverUtil: m((r) => r.serverUtil),
    clientUtil: m((r) => r.clientUtil),
    serverGcUsPerReq: m((r) => r.serverGcUsPerReq),
    clientGcUsPerReq: m((r) => r.clientGcUsPerReq),
    serverMajorGcsPerSec: m((r) => r.serverMajorGcs / r.serverSeconds),
    failed: cells.reduce((s, r) => s + r.failed, 0),
    requests: cells.reduce((s, r) => s + r.requests, 0),
    // ×plain, per repetition then median
    rpsVsPlain: ratios((r, p) => r.rps / p.rps),
    serverCpuVsPlain: ratios((r, p) => r.serverCpuUsPerReq / p.serverCpuUsPerReq),
    clientCpuVsPlain: ratios((r, p) => r.clientCpuUsPerReq / p.clientCpuUsPerReq),
    // capacity of one core = 1 / CPU per request, relative to plain: what req/s the side could reach if it were the bottleneck
    serverCapacityVsPlain: ratios((r, p) => p.serverCpuUsPerReq / r.serverCpuUsPerReq),
    clientCapacityVsPlain: ratios((r, p) => p.clientCpuUsPerReq / r.clientCpuUsPerReq),
  };
}

const summary = [];
if (results.length > 0) {
  const columns = [
    { header: 'mode', align: 'left' },
    { header: 'req/s', align: 'right' },
    { header: 'spread', align: 'right' },
    { header: 'p50 ms', align: 'right' },
    { header: 'p99 ms', align: 'right' },
    { header: 'srv µs/req', align: 'right' },
    { header: 'cli µs/req', align: 'right' },
    { header: 'util s/c', align: 'right' },
    { header: 'GC µs/req s/c', align: 'right' },
    { header: 'req/s ×plain', align: 'right' },
    { header: 'srv CPU ×plain', align: 'right' },
    { header: 'cli CPU ×plain', align: 'right' },
    { header: 'failed', align: 'right' },
  ];
  for (const size of opts.sizes) {
    console.log(`${formatSize(size)} body (request and response), ${opts.concurrency} in flight`);
    const rows = [];
    for (const mode of opts.modes) {
      const s = summarise(size, mode);
      if (s === undefined) continue;
      summary.push(s);
      rows.push([
        mode,
        formatRate(s.rps),
        fmtSpread(s.rpsSpread),
        fmtMs(s.p50ms),
        fmtMs(s.p99ms),
        fmtUs(s.serverCpuUsPerReq),
        fmtUs(s.clientCpuUsPerReq),
        `${s.serverUtil.toFixed(2)}/${s.clientUtil.toFixed(2)}`,
        `${fmtUs(s.serverGcUsPerReq)}/${fmtUs(s.clientGcUsPerReq)}`,
        mode === 'plain' ? '1' : fmtX(s.rpsVsPlain),
        mode === 'plain' ? '1' : fmtX(s.serverCpuVsPlain),
        mode === 'plain' ? '1' : fmtX(s.clientCpuVsPlain),
        String(s.failed),
      ]);
    }
    printTable(columns, rows);
    console.log('');
  }

  // The 1 KiB target lines.
  const at = (size, mode) => summary.find((s) => s.size === size && s.mode === mode);
  const target = 0.75;
  const verdict = (x) => (x === undefined ? 'n/a' : x >= target ? 'meets target' : 'BELOW target');
  if (opts.sizes.includes(1024) && at(1024, 'plain')) {
    console.log(`1 KiB target (≥ ${target}x plain; ratios are medians of per-repetition ratios):`);
    for (const mode of opts.modes.filter((m) => m !== 'plain')) {
      const s = at(1024, mode);
      if (!s) continue;
      const ref = MODES[mode].aeadAlgorithm === undefined ? '  (reference)' : '';
      console.log(
        `  ${mode.padEnd(modeWidth)} server: ${fmtX(s.rpsVsPlain).padStart(6)} plain req/s` +
          ` (server CPU capacity ${fmtX(s.serverCapacityVsPlain)})  ${ref || verdict(s.rpsVsPlain)}`,
      );
      console.log(
        `  ${''.padEnd(modeWidth)} client: ${fmtX(s.clientCapacityVsPlain).padStart(6)} plain undici capacity (1/CPU per request: ${fmtUs(at(1024, 'plain').clientCpuUsPerReq)} → ${fmtUs(s.clientCpuUsPerReq)} µs)  ${ref || verdict(s.clientCapacityVsPlain)}`,
      );
    }
    console.log('');
  }

  // What node:crypto alone allows: a server (or client) does one encrypt and one decrypt per request.
  if (floors.length > 0) {
    console.log('AEAD floor: raw node:crypto encrypt + decrypt of the body (one pair per side and request), CPU µs on core 0, and the');
    console.log('best req/s ratio an OSCORE layer on node:crypto could reach with no other cost: plain srv µs ÷ (plain srv µs + floor),');
    console.log('per repetition, then median');
    const rows = [];
    for (const size of opts.sizes) {
      for (const alg of floorAlgs) {
        const paired = floors
          .filter((f) => f.size === size && f.us[alg] !== undefined)
          .map((f) => [f.us[alg], results.find((r) => r.size === size && r.mode === 'plain' && r.repeat === f.repeat)])
          .filter(([, plain]) => plain !== undefined);
        if (paired.length === 0) continue;
        const floor = median(paired.map(([us]) => us));
        const plainUs = median(paired.map(([, plain]) => plain.serverCpuUsPerReq));
        const best = median(paired.map(([us, plain]) => plain.serverCpuUsPerReq / (plain.serverCpuUsPerReq + us)));
        rows.push([formatSize(size), alg === 'ccm' ? 'AES-CCM-16-64-128' : 'A128GCM', fmtUs(floor), fmtUs(plainUs), fmtX(best)]);
      }
    }
    printTable(
      [
        { header: 'body', align: 'left' },
        { header: 'algorithm', align: 'left' },
        { header: 'floor µs/req', align: 'right' },
        { header: 'plain srv µs/req', align: 'right' },
        { header: 'best ×plain', align: 'right' },
      ],
      rows,
    );
    console.log('');
  }
  console.log(`failed requests (non-200, wrong body, errors) in measured windows: ${totalFailed}${totalFailed === 0 ? '' : '  <-- results above are not valid'}`);
  console.log(`total time ${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

if (opts.json) {
  writeJson(opts.json, { env, options: opts, cells: results, summary, aeadFloor: floors });
  console.log(`raw results written to ${opts.json}`);
}
process.exit(exitCode || (totalFailed > 0 ? 1 : 0));
