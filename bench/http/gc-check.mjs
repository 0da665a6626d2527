#!/usr/bin/env node
/**
 * A/B check of one suspected GC cost in the OSCORE server path: the per-request accessor
 * properties that the response capture defines on `res` with fresh closures. Runs the
 * oscore-ccm server as is (A) and with bench/http/shared-accessors-patch.mjs preloaded
 * (B: same getters' behaviour, one shared getter function), interleaved, and prints
 * server CPU, GC pause time and mark-compacts per request/second.
 *
 *   npx tsc -b && node bench/http/gc-check.mjs [--mode oscore-ccm] [--size 1k] [--rounds 3] [--seconds 3]
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './common.mjs';
import { runCell, startPair, tasksetStatus } from './procs.mjs';
import { parseSize, printTable } from '../lib/report.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const o = { mode: 'oscore-ccm', size: 1024, rounds: 3, seconds: 3 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--mode') o.mode = argv[++i];
  else if (argv[i] === '--size') o.size = parseSize(argv[++i]);
  else if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
  else if (argv[i] === '--seconds') o.seconds = Number(argv[++i]);
  else throw new Error(`unknown option ${argv[i]}`);
}
const pin = tasksetStatus().ok;
const variants = [
  { name: 'A: as built', nodeArgs: [] },
  { name: 'B: shared getter', nodeArgs: ['--import', path.join(here, 'shared-accessors-patch.mjs')] },
];
const pairs = [];
for (const v of variants) pairs.push(await startPair(o.mode, { pin, connections: 16, serverNodeArgs: v.nodeArgs }));
const cells = variants.map(() => []);
try {
  for (const p of pairs) await runCell(p, { size: o.size, warmupMs: 2000, durationMs: 200, concurrency: 16 });
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < pairs.length; k++) {
      const i = (k + r) % pairs.length;
      const c = await runCell(pairs[i], { size: o.size, warmupMs: 500, durationMs: o.seconds * 1000, concurrency: 16 });
      cells[i].push(c);
      console.log(`  round ${r + 1} ${variants[i].name.padEnd(17)} ${Math.round(c.rps)} req/s  srv ${c.serverCpuUsPerReq.toFixed(1)} µs/req  GC ${c.serverGcUsPerReq.toFixed(1)} µs/req  mark-compacts ${c.serverMajorGcs}`);
    }
  }
} finally {
  await Promise.allSettled(pairs.flatMap((p) => [p.server.exit(), p.client.exit()]));
}
console.log(`\n${o.mode}, ${o.size} B, median of ${o.rounds} rounds (server side):`);
printTable(
  [{ header: 'variant', align: 'left' }, { header: 'req/s', align: 'right' }, { header: 'srv µs/req', align: 'right' }, { header: 'GC µs/req', align: 'right' }, { header: 'mark-compacts/s', align: 'right' }, { header: 'failed', align: 'right' }],
  variants.map((v, i) => [
    v.name,
    String(Math.round(median(cells[i].map((c) => c.rps)))),
    median(cells[i].map((c) => c.serverCpuUsPerReq)).toFixed(1),
    median(cells[i].map((c) => c.serverGcUsPerReq)).toFixed(1),
    median(cells[i].map((c) => c.serverMajorGcs / c.serverSeconds)).toFixed(2),
    String(cells[i].reduce((s, c) => s + c.failed, 0)),
  ]),
);
