#!/usr/bin/env node
/**
 * CPU profile of the HTTP benchmark's server and load generator during a measured window
 * (node:inspector sampling, started after warm-up), with the samples attributed to
 * packages and functions in µs per request (see cpuprofile.mjs).
 *
 *   npx tsc -b && node bench/http/profile.mjs [--mode plain,oscore-ccm] [--size 1k]
 *        [--seconds 5] [--warmup 3] [--interval 100] [--out <dir>] [--top 20] [--no-pin] [--heap] [--store file|memory]
 *
 * --heap adds two sampling heap profiles per side and mode after the CPU profile: every
 * allocation, and only objects that survived a scavenge (promoted young garbage is what
 * makes mark-compacts frequent), in bytes per request by allocation site.
 *
 * The .cpuprofile files are kept in --out (default: a new temporary directory) and open
 * in Chrome DevTools or speedscope. Sampling costs some throughput; compare µs/request
 * between modes of one run, not with bench/http.mjs.
 */

import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODES } from './common.mjs';
import { analyseHeapProfile, analyseProfile } from './cpuprofile.mjs';
import { makeCertificate, runCell, startPair, tasksetStatus } from './procs.mjs';
import { formatSize, parseSize, printTable } from '../lib/report.mjs';

const o = { modes: ['plain', 'oscore-ccm'], size: 1024, seconds: 5, warmup: 3, interval: 100, out: undefined, top: 20, pin: true, concurrency: 16, connections: 16, heap: false, store: 'file' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = () => argv[++i];
  if (a === '--mode') o.modes = v().split(',');
  else if (a === '--size') o.size = parseSize(v());
  else if (a === '--seconds') o.seconds = Number(v());
  else if (a === '--warmup') o.warmup = Number(v());
  else if (a === '--interval') o.interval = Number(v());
  else if (a === '--out') o.out = v();
  else if (a === '--top') o.top = Number(v());
  else if (a === '--no-pin') o.pin = false;
  else if (a === '--heap') o.heap = true;
  else if (a === '--store') o.store = v();
  else {
    console.error(`unknown option ${a}`);
    process.exit(2);
  }
}
for (const m of o.modes) if (!(m in MODES)) throw new Error(`unknown mode ${m}`);
const out = o.out ?? mkdtempSync(path.join(os.tmpdir(), 'oscore-http-profile-'));
mkdirSync(out, { recursive: true });
const pin = o.pin && tasksetStatus().ok;
const tls = o.modes.some((m) => MODES[m].tls) ? makeCertificate() : undefined;

const us = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (x) => `${(x * 100).toFixed(1)}%`;

// What to look up inclusively (each sample counted once per function on its stack).
const KEY_FUNCTIONS = new RegExp(
  [
    '^oscoreRequestListener ', '^handle .*server/handler', '^readBody ', '^verifyRequest ', '^protectResponse ', '^protectRequest ', '^verifyResponse ',
    '^sendProtectedResponse ', '^writeProtected ', '^createInnerRequest ', '^captureResponse ', '^decodeRequest ', '^encodeResponse ', '^encodeRequest ', '^decodeResponse ',
    '^decodeOscoreHeader ', '^encodeOscoreHeader ', '^toHeaderList ', '^toHeaderObject ', '^split .*header-policy', '^passThrough ', '^encrypt .*node-backend', '^decrypt .*node-backend',
    '^createCipheriv ', '^createDecipheriv ', '^Cipheriv ', '^Decipheriv ', '^IncomingMessage .*_http_incoming', '^concat node:buffer', '^end .*response-capture', '^end node:_http_outgoing',
    '^writeHead node:_http_server', '^routing .*fastify', '^oscoreInterceptor ', '^protectAndDispatch ', '^collectBody ', '^#verify ', '^onResponseEnd .*response-handler', '^encodeInnerMessage ', '^decodeInnerMessage ',
    '^innerMessageOf ', '^plaintextOf ', '^encodeAad ', '^computeNonce ', '^checkAndUpdate ', '^next .*sender-sequence', '^emit node:events', '^processTicksAndRejections ',
  ].join('|'),
);

function report(name, a, cpu) {
  console.log(`\n=== ${name}: ${a.requests} requests in the profile, sampled busy ${us(a.busyUsPerReq)} µs/req (process CPU ${us(cpu.cpuUs / a.requests)} µs/req, ${(cpu.cpuUs / 1e6 / cpu.seconds).toFixed(2)} cores)`);
  console.log(`    ${a.file}`);
  console.log('  by owner package (samples charged to the nearest user-land frame; node internals count for their caller):');
  printTable(
    [{ header: 'owner', align: 'left' }, { header: 'µs/req', align: 'right' }, { header: 'share', align: 'right' }],
    a.byOwnerCategory.map((c) => [c.category, us(c.usPerReq), pct(c.share)]),
  );
  console.log(`  top ${o.top} owner functions (incl. the node internals they call; main leaves in brackets):`);
  printTable(
    [{ header: 'µs/req', align: 'right' }, { header: 'share', align: 'right' }, { header: 'function', align: 'left' }],
    a.byOwner.slice(0, o.top).map((f) => [us(f.usPerReq), pct(f.share), `${f.key}  [${f.leaves.filter((l) => l.key !== f.key.split(' ')[0] && l.usPerReq >= 0.05).slice(0, 3).map((l) => `${l.key.replace(/ node:.*$/, '')} ${us(l.usPerReq)}`).join(', ')}]`]),
  );
  console.log(`  top ${o.top} self time (leaf frames):`);
  printTable(
    [{ header: 'µs/req', align: 'right' }, { header: 'share', align: 'right' }, { header: 'category', align: 'left' }, { header: 'function', align: 'left' }],
    a.bySelf.slice(0, o.top).map((f) => [us(f.usPerReq), pct(f.share), f.category, f.key]),
  );
  const inc = a.inclusive(KEY_FUNCTIONS).filter((f) => f.usPerReq >= 0.1);
  if (inc.length) {
    console.log('  inclusive time of key functions:');
    printTable([{ header: 'µs/req', align: 'right' }, { header: 'share', align: 'right' }, { header: 'function', align: 'left' }], inc.map((f) => [us(f.usPerReq), pct(f.share), f.key]));
  }
}

const analyses = {};
try {
  for (const mode of o.modes) {
    const pair = await startPair(mode, { pin, tls, connections: o.connections, env: o.store === 'memory' ? { BENCH_STORE: 'memory' } : {} });
    try {
      await runCell(pair, { size: o.size, warmupMs: o.warmup * 1000, durationMs: 200, concurrency: o.concurrency });
      const files = { server: path.join(out, `server-${mode}-${o.size}.cpuprofile`), client: path.join(out, `client-${mode}-${o.size}.cpuprofile`) };
      let profiled;
      const off = pair.client.onMessage((msg) => {
        if (msg.type !== 'mark' || msg.which !== 'start' || profiled) return;
        profiled = (async () => {
          await Promise.all([pair.server.request({ cmd: 'profile-start', intervalUs: o.interval }), pair.client.request({ cmd: 'profile-start', intervalUs: o.interval })]);
          await new Promise((r) => setTimeout(r, o.seconds * 1000));
          const [s, c] = await Promise.all([pair.server.request({ cmd: 'profile-stop', file: files.server }), pair.client.request({ cmd: 'profile-stop', file: files.client })]);
          return { s, c };
        })();
      });
      const cell = await runCell(pair, { size: o.size, warmupMs: 500, durationMs: (o.seconds + 1.5) * 1000, concurrency: o.concurrency });
      off();
      const { s, c } = await profiled;
      if (cell.failed) console.warn(`WARNING: ${cell.failed} failed requests in ${mode}: ${cell.firstError}`);
      analyses[mode] = { server: analyseProfile(s.file, s.requests), client: analyseProfile(c.file, c.requests), serverCpu: s, clientCpu: c, rps: cell.rps };
      console.log(`${mode}: ${Math.round(cell.rps)} req/s under the profiler`);
      if (o.heap) {
        analyses[mode].heap = {};
        for (const survivorsOnly of [false, true]) {
          let sampled;
          const offHeap = pair.client.onMessage((msg) => {
            if (msg.type !== 'mark' || msg.which !== 'start' || sampled) return;
            sampled = (async () => {
              const kind = survivorsOnly ? 'survivors' : 'all';
              const file = (side) => path.join(out, `heap-${side}-${mode}-${o.size}-${kind}.heapprofile`);
              await Promise.all([pair.server.request({ cmd: 'heap-start', survivorsOnly, samplingInterval: 4096 }), pair.client.request({ cmd: 'heap-start', survivorsOnly, samplingInterval: 4096 })]);
              await new Promise((r) => setTimeout(r, o.seconds * 1000));
              const [hs, hc] = await Promise.all([pair.server.request({ cmd: 'heap-stop', file: file('server') }), pair.client.request({ cmd: 'heap-stop', file: file('client') })]);
              analyses[mode].heap[kind] = { server: analyseHeapProfile(hs.file, hs.requests), client: analyseHeapProfile(hc.file, hc.requests) };
            })();
          });
          await runCell(pair, { size: o.size, warmupMs: 500, durationMs: (o.seconds + 1.5) * 1000, concurrency: o.concurrency });
          offHeap();
          await sampled;
        }
      }
    } finally {
      await Promise.allSettled([pair.server.exit(), pair.client.exit()]);
    }
  }
} finally {
  tls?.cleanup();
}

console.log(`\nCPU profiles at ${formatSize(o.size)}, ${o.concurrency} in flight, sampling every ${o.interval} µs, ${o.seconds} s; files in ${out}`);
for (const mode of o.modes) {
  report(`server ${mode}`, analyses[mode].server, analyses[mode].serverCpu);
}
for (const mode of o.modes) {
  report(`client ${mode}`, analyses[mode].client, analyses[mode].clientCpu);
}

// Side by side: owner packages per mode.
for (const side of ['server', 'client']) {
  const cats = [...new Set(o.modes.flatMap((m) => analyses[m][side].byOwnerCategory.map((c) => c.category)))];
  console.log(`\n${side}: µs/request by owner package, side by side`);
  printTable(
    [{ header: 'owner', align: 'left' }, ...o.modes.map((m) => ({ header: m, align: 'right' }))],
    [
      ...cats.map((cat) => [cat, ...o.modes.map((m) => us(analyses[m][side].byOwnerCategory.find((c) => c.category === cat)?.usPerReq ?? 0))]),
      null,
      ['total (sampled busy)', ...o.modes.map((m) => us(analyses[m][side].busyUsPerReq))],
    ],
  );
}

if (o.heap) {
  for (const side of ['server', 'client']) {
    for (const kind of ['all', 'survivors']) {
      console.log(`\n${side}: heap ${kind === 'all' ? 'allocated' : 'surviving a scavenge'}, bytes per request (sampling, 4 KiB interval)`);
      for (const mode of o.modes) {
        const h = analyses[mode].heap?.[kind]?.[side];
        if (!h) continue;
        console.log(`  ${mode}: ${Math.round(h.bytesPerReq)} B/req; top sites (allocating frame < nearest user-land caller):`);
        for (const site of h.sites.slice(0, Math.min(o.top, 12))) console.log(`    ${String(Math.round(site.bytesPerReq)).padStart(6)}  ${site.key}`);
      }
    }
  }
}
