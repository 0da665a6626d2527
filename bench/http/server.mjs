#!/usr/bin/env node
/**
 * Server child of bench/http.mjs: a fastify app with `POST /echo` (answers with the
 * request body, same size, application/octet-stream) in one of four modes:
 *
 *   plain        fastify over HTTP/1.1
 *   https        fastify over HTTPS (TLS 1.3, keep-alive) — the hop-by-hop alternative
 *   oscore-ccm   fastify + @oscore-http/fastify, AES-CCM-16-64-128 (COSE 10)
 *   oscore-gcm   fastify + @oscore-http/fastify, A128GCM (COSE 1)
 *   structure    fastify behind the OSCORE handler's structure, no OSCORE (structure.mjs)
 *
 *   node bench/http/server.mjs <mode>        (started by bench/http.mjs over IPC)
 *
 * IPC protocol (parent → child):
 *   { cmd: 'stats' }                     → { type: 'stats', cpu: {user, system} µs, requests, ns, gc }
 *   { cmd: 'profile-start' | 'profile-stop', … }  (see profiler.mjs)
 *   { cmd: 'exit' }
 * On start the child sends { type: 'ready', port, pid }.
 *
 * The HTTPS key and certificate come from BENCH_TLS_KEY / BENCH_TLS_CERT (file paths),
 * generated per run by the parent in a temporary directory. OSCORE state goes to the
 * private OSCORE_STATE_DIR the parent gives each child; BENCH_STORE=memory asks for
 * in-memory state instead.
 */

import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { MODES, contextSetOptions, BENCH_MASTER_SECRET, BENCH_MASTER_SALT, MAX_BODY, gcTotals, importOscorePackage } from './common.mjs';
import { createProfilerIpc } from './profiler.mjs';

const mode = process.argv[2];
const spec = MODES[mode];
if (spec === undefined) {
  console.error(`server.mjs: unknown mode ${JSON.stringify(mode)} (one of ${Object.keys(MODES).join(', ')})`);
  process.exit(2);
}

const https =
  spec.tls === true
    ? { key: readFileSync(process.env.BENCH_TLS_KEY), cert: readFileSync(process.env.BENCH_TLS_CERT) }
    : undefined;

const app = Fastify({ logger: false, bodyLimit: MAX_BODY, ...(https ? { https } : {}) });

if (spec.aeadAlgorithm !== undefined) {
  const { default: oscore } = await importOscorePackage('fastify');
  const configs = [
    {
      name: 'client',
      masterSecret: { hex: BENCH_MASTER_SECRET },
      masterSalt: { hex: BENCH_MASTER_SALT },
      senderId: '01',
      recipientId: '02',
      aeadAlgorithm: spec.aeadAlgorithm,
    },
  ];
  // As a service would: the plugin makes (and closes) the context set, with the mode's
  // backend; BENCH_STORE=memory needs a set made here.
  const { store, backend } = await contextSetOptions(spec);
  const { createContextSet } = await importOscorePackage('http');
  await app.register(oscore, {
    ...(store === undefined ? { contexts: configs, ...(backend === undefined ? {} : { backend }) } : { contexts: createContextSet(configs, { store, backend }) }),
    maxBodySize: MAX_BODY,
  });
}

app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));
app.post('/echo', (request, reply) => {
  reply.type('application/octet-stream').send(request.body);
});

if (spec.structure) {
  const { installStructureOnly } = await import('./structure.mjs');
  await app.ready();
  installStructureOnly(app.server, MAX_BODY);
}

await app.listen({ host: '127.0.0.1', port: 0 });

// Counts requests as they reach the server (outer requests in the OSCORE modes). Added
// after the plugin replaced the listeners, so it is an extra listener, not a wrapper.
let requests = 0;
app.server.on('request', () => {
  requests++;
});

const gc = gcTotals();
const profiler = createProfilerIpc(() => requests);

process.on('message', async (msg) => {
  try {
    if (await profiler(msg)) return;
    if (msg.cmd === 'stats') {
      const cpu = process.cpuUsage();
      process.send({ type: 'stats', id: msg.id, cpu, requests, ns: Number(process.hrtime.bigint()), gc: { ...gc } });
    } else if (msg.cmd === 'exit') {
      await app.close();
      process.exit(0);
    }
  } catch (err) {
    process.send({ type: 'error', id: msg.id, message: String(err?.stack ?? err) });
  }
});
process.on('disconnect', () => process.exit(0));

process.send({ type: 'ready', port: app.server.address().port, pid: process.pid });
