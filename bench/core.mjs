#!/usr/bin/env node
/**
 * Core engine micro-benchmark: OSCORE protect + verify of requests and responses per
 * AEAD algorithm, crypto backend and payload size, beside raw node:crypto AEAD of the
 * same size as the ceiling. Not a test: it prints tables, it asserts nothing about speed.
 *
 *   npx tsc -b && node bench/core.mjs [--quick] [--json <file>]
 *                                     [--alg 10,1,24] [--size 64,1k] [--backend node,noble,openssl]
 *
 * See bench/README.md for what the columns mean.
 */

import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { measureGroup, pairedRatio, PROFILES, spread } from './lib/measure.mjs';
import {
  environment,
  formatRate,
  formatRatio,
  formatSize,
  formatSpread,
  parseSize,
  printEnvironment,
  printTable,
  writeJson,
} from './lib/report.mjs';

// The engine, as the workspace links it. Imported dynamically to explain a missing build.
let core;
try {
  core = await import('@oscore-http/core');
} catch (err) {
  console.error(`cannot load @oscore-http/core (${err.code ?? err.message}); build it first: npx tsc -b`);
  process.exit(1);
}
const {
  AEAD_ALGORITHMS,
  CoapOptionNumber,
  MessageTooLargeError,
  coapCode,
  createSecurityContext,
  encodeAad,
  encodeInnerMessage,
  nobleBackend,
  nodeBackend,
  protectRequest,
  protectResponse,
  verifyRequest,
  verifyResponse,
} = core;

const DEFAULT_SIZES = [64, 1024, 64 * 1024, 1024 * 1024];
const EMPTY = new Uint8Array(0);
const utf8 = (s) => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------------------
// Command line

function usage(exitCode) {
  (exitCode === 0 ? console.log : console.error)(`usage: node bench/core.mjs [options]      (build first: npx tsc -b)

  --quick             shorter warm-up and batches, 3 rounds (about 20 s instead of about 1.5 min)
  --json <file>       also write the raw results (every batch sample) as JSON
  --alg <ids>         only these COSE AEAD ids, e.g. 10,1,24   (default 10,11,30,31,1,2,3,24)
  --size <sizes>      only these payload sizes, e.g. 64,1k,64k,1m (default 64,1k,64k,1m)
  --backend <names>   node, noble, openssl (@oscore-http/openssl), comma-separated (default all three)
  -h, --help          this text`);
  process.exit(exitCode);
}

function parseArgs(argv) {
  const opts = { quick: false, json: undefined, algs: undefined, sizes: DEFAULT_SIZES, backends: ['node', 'noble', 'openssl'] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) {
        console.error(`${arg} needs a value`);
        usage(2);
      }
      return v;
    };
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--json') opts.json = value();
    else if (arg === '--alg') opts.algs = value().split(',').map(Number);
    else if (arg === '--size') opts.sizes = value().split(',').map(parseSize);
    else if (arg === '--backend') opts.backends = value().split(',').map((s) => s.trim());
    else if (arg === '-h' || arg === '--help') usage(0);
    else {
      console.error(`unknown argument ${arg}`);
      usage(2);
    }
  }
  for (const b of opts.backends) {
    if (b !== 'node' && b !== 'noble' && b !== 'openssl') {
      console.error(`unknown backend ${b} (node, noble or openssl)`);
      usage(2);
    }
  }
  return opts;
}

// ---------------------------------------------------------------------------------------
// Fixtures

/** Byte equality that throws with a reason, for the pre-timing sanity checks. */
function assertSameBytes(actual, expected, what) {
  if (!(actual instanceof Uint8Array) || Buffer.compare(Buffer.from(actual.buffer, actual.byteOffset, actual.length), expected) !== 0) {
    throw new Error(`sanity check failed: ${what} did not round-trip (${actual?.length} vs ${expected.length} bytes)`);
  }
}

function assertSameMessage(actual, expected, what) {
  if (actual.code !== expected.code) throw new Error(`sanity check failed: ${what} code ${actual.code} != ${expected.code}`);
  if (actual.options.length !== expected.options.length) throw new Error(`sanity check failed: ${what} options differ`);
  expected.options.forEach((o, i) => {
    if (actual.options[i].number !== o.number) throw new Error(`sanity check failed: ${what} option ${i} number differs`);
    assertSameBytes(actual.options[i].value, Buffer.from(o.value), `${what} option ${o.number}`);
  });
  assertSameBytes(actual.payload, expected.payload, `${what} payload`);
}

/** A client/server pair of contexts (client Sender ID empty, server 0x01, as RFC 8613 C.1). */
function contextPair(alg, backend) {
  const masterSecret = randomBytes(16);
  const masterSalt = randomBytes(8);
  const common = { masterSecret, masterSalt, aeadAlgorithm: alg.id, backend };
  return {
    client: createSecurityContext({ ...common, senderId: new Uint8Array([]), recipientId: new Uint8Array([1]) }),
    server: createSecurityContext({ ...common, senderId: new Uint8Array([1]), recipientId: new Uint8Array([]) }),
  };
}

/** The inner messages: a POST carrying the payload, a GET for response bindings, a 2.05 carrying the payload. */
function messages(payload) {
  const uriPath = { number: CoapOptionNumber.UriPath, value: utf8('bench') };
  return {
    post: { code: coapCode(0, 2), options: [uriPath], payload },
    get: { code: coapCode(0, 1), options: [uriPath], payload: EMPTY },
    content: { code: coapCode(2, 5), options: [{ number: CoapOptionNumber.ContentFormat, value: new Uint8Array([42]) }], payload },
  };
}

const ccmBound = (alg) => `n/a (CCM bound ${alg.maxPlaintextLength.toLocaleString('en-US')} B)`;

// ---------------------------------------------------------------------------------------
// Variants (see bench/lib/measure.mjs for the contract)

/** protectRequest(client) then verifyRequest(server): one op. */
async function requestVariant(name, alg, backend, payload) {
  const { client, server } = contextPair(alg, backend);
  const { post } = messages(payload);
  // Sanity check once, before any timing.
  const p = await protectRequest(client, post);
  const v = await verifyRequest(server, p.option, p.payload);
  assertSameMessage(v.message, post, `${name} request`);
  let last;
  return {
    name,
    async run(_, n) {
      for (let i = 0; i < n; i++) {
        const req = await protectRequest(client, post);
        last = await verifyRequest(server, req.option, req.payload);
      }
      if (last.message.payload.length !== payload.length) throw new Error(`${name}: wrong payload length`);
    },
  };
}

/**
 * protectResponse(server binding) then verifyResponse(client binding): one op. Each
 * binding answers one response (no Partial IV), so `setup` builds `n` verified GET
 * requests outside the timed region, in sequence order (the replay window never rejects).
 */
async function responseVariant(name, alg, backend, payload) {
  const { client, server } = contextPair(alg, backend);
  const { get, content } = messages(payload);
  const bindings = async (n) => {
    const pairs = new Array(n);
    for (let i = 0; i < n; i++) {
      const req = await protectRequest(client, get);
      const ver = await verifyRequest(server, req.option, req.payload);
      pairs[i] = { server: ver.binding, client: req.binding };
    }
    return pairs;
  };
  const [pair] = await bindings(1);
  const r = await protectResponse(pair.server, content);
  const v = await verifyResponse(pair.client, r.option, r.payload);
  assertSameMessage(v.message, content, `${name} response`);
  let last;
  return {
    name,
    setup: bindings,
    async run(pairs, n) {
      for (let i = 0; i < n; i++) {
        const res = await protectResponse(pairs[i].server, content);
        last = await verifyResponse(pairs[i].client, res.option, res.payload);
      }
      if (last.message.payload.length !== payload.length) throw new Error(`${name}: wrong payload length`);
    },
  };
}

/** node:crypto name of the cipher, as the node backend picks it. */
function nodeCipherName(alg) {
  return alg.mode === 'chacha20-poly1305' ? 'chacha20-poly1305' : `aes-${alg.keyLength * 8}-${alg.mode}`;
}

/** AAD of a typical request (empty kid, 2-byte Partial IV), so the raw AEAD authenticates as many bytes. */
const typicalAad = (alg) => Buffer.from(encodeAad(alg, EMPTY, new Uint8Array([0x01, 0x00])));

/**
 * Raw node:crypto: createCipheriv + setAAD + update + final + getAuthTag, then the same
 * with createDecipheriv: one op. Key as a KeyObject (what the node backend imports),
 * ciphertext and tag kept apart (no concatenation), nonce fixed (benchmark only).
 */
function rawNodeVariant(name, alg, payload) {
  const cipherName = nodeCipherName(alg);
  const key = createSecretKey(randomBytes(alg.keyLength));
  const nonce = randomBytes(alg.nonceLength);
  const aad = typicalAad(alg);
  const options = { authTagLength: alg.tagLength };
  const ccm = alg.mode === 'ccm';
  const aadOptions = { plaintextLength: payload.length };
  const once = () => {
    const cipher = createCipheriv(cipherName, key, nonce, options);
    if (ccm) cipher.setAAD(aad, aadOptions);
    else cipher.setAAD(aad);
    const body = cipher.update(payload);
    cipher.final();
    const tag = cipher.getAuthTag();
    const decipher = createDecipheriv(cipherName, key, nonce, options);
    decipher.setAuthTag(tag);
    if (ccm) decipher.setAAD(aad, aadOptions);
    else decipher.setAAD(aad);
    const plain = decipher.update(body);
    decipher.final();
    return plain;
  };
  assertSameBytes(once(), payload, `${name} raw`);
  let last;
  return {
    name,
    run(_, n) {
      for (let i = 0; i < n; i++) last = once();
      if (last.length !== payload.length) throw new Error(`${name}: wrong length`);
    },
  };
}

/** Raw @noble/ciphers: gcm()/chacha20poly1305() encrypt then decrypt: one op. */
function rawNobleVariant(name, alg, payload, noble) {
  // Plain Uint8Arrays, as the engine's noble backend passes: feeding Buffers here as well
  // would make noble's inline caches polymorphic for both variants.
  const key = new Uint8Array(randomBytes(alg.keyLength));
  const nonce = new Uint8Array(randomBytes(alg.nonceLength));
  const aad = new Uint8Array(typicalAad(alg));
  payload = new Uint8Array(payload);
  const make = alg.mode === 'gcm' ? noble.gcm : noble.chacha20poly1305;
  const once = () => make(key, nonce, aad).decrypt(make(key, nonce, aad).encrypt(payload));
  assertSameBytes(once(), payload, `${name} raw`);
  let last;
  return {
    name,
    run(_, n) {
      for (let i = 0; i < n; i++) last = once();
      if (last.length !== payload.length) throw new Error(`${name}: wrong length`);
    },
  };
}

/** The noble primitives, resolved through the core package (they are its dependency). */
async function loadNoble() {
  try {
    const require = createRequire(createRequire(import.meta.url).resolve('@oscore-http/core'));
    const load = (spec) => import(pathToFileURL(require.resolve(spec)).href);
    const [{ gcm }, { chacha20poly1305 }] = await Promise.all([load('@noble/ciphers/aes.js'), load('@noble/ciphers/chacha.js')]);
    // package.json is not in the package's exports: read it next to aes.js.
    const manifest = path.join(path.dirname(require.resolve('@noble/ciphers/aes.js')), 'package.json');
    const { version } = JSON.parse(readFileSync(manifest, 'utf8'));
    return { gcm, chacha20poly1305, version };
  } catch (err) {
    console.error(`warning: raw @noble/ciphers ceiling skipped (${err.message})`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const profile = opts.quick ? PROFILES.quick : PROFILES.default;
  const algs = AEAD_ALGORITHMS.filter((a) => opts.algs === undefined || opts.algs.includes(a.id));
  if (algs.length === 0) {
    console.error(`no supported AEAD algorithm among ${opts.algs.join(', ')}`);
    usage(2);
  }
  const node = nodeBackend();
  if (node === undefined) throw new Error('node:crypto is not available');
  const backends = [
    { key: 'node', label: 'node:crypto', backend: node },
    { key: 'noble', label: '@noble/ciphers', backend: nobleBackend },
    ...(opts.backends.includes('openssl') ? [{ key: 'openssl', label: 'OpenSSL (kept contexts)', backend: (await import('@oscore-http/openssl')).opensslBackend() }] : []),
  ].filter((b) => opts.backends.includes(b.key));
  const noble = opts.backends.includes('noble') ? await loadNoble() : undefined;

  const env = environment({ nobleCiphers: noble?.version, profile: opts.quick ? 'quick' : 'default' });
  console.log('OSCORE core engine benchmark (bench/core.mjs)');
  printEnvironment(env, {
    date: 'date',
    node: 'node',
    v8: 'V8',
    openssl: 'OpenSSL',
    nobleCiphers: '@noble/ciphers',
    platform: 'platform',
    cpuModel: 'CPU',
    cpuCount: 'CPUs',
    loadavg: 'load avg',
    commit: 'commit',
    profile: 'profile',
  });
  console.log(
    `  timing   ${profile.rounds} rounds x ~${profile.batchMs} ms batch per cell after ${profile.warmupMs} ms warm-up; ` +
      'variants of one algorithm+size interleaved; medians shown',
  );
  console.log('');

  const started = process.hrtime.bigint();
  const results = []; // one per (operation, alg, backend, size)
  const raw = []; // one per (alg, size)
  const groups = algs.flatMap((alg) => opts.sizes.map((size) => ({ alg, size })));
  let done = 0;
  for (const { alg, size } of groups) {
    done++;
    if (process.stderr.isTTY) process.stderr.write(`\r  measuring ${done}/${groups.length}: ${alg.name} ${formatSize(size)}        `);
    const payload = randomBytes(size);
    const msgs = messages(payload);
    const variants = [];
    const rawEntry = { alg: alg.id, algName: alg.name, size };
    raw.push(rawEntry);

    // Raw ceilings: only the payload is encrypted, so the bound applies to `size` itself.
    if (size > alg.maxPlaintextLength) {
      rawEntry.node = { status: 'n/a', reason: ccmBound(alg) };
    } else {
      variants.push(rawNodeVariant(`raw node ${alg.name} ${size}`, alg, payload));
      rawEntry.node = { variant: variants.at(-1).name };
      if (noble !== undefined && nobleBackend.supports(alg)) {
        variants.push(rawNobleVariant(`raw noble ${alg.name} ${size}`, alg, payload, noble));
        rawEntry.noble = { variant: variants.at(-1).name };
      }
    }

    for (const b of backends) {
      if (!b.backend.supports(alg)) continue;
      for (const op of ['request', 'response']) {
        const entry = { op, alg: alg.id, algName: alg.name, backend: b.label, size, raw: rawEntry };
        results.push(entry);
        const msg = op === 'request' ? msgs.post : msgs.content;
        const plaintextLength = encodeInnerMessage(msg).length;
        entry.plaintextLength = plaintextLength;
        if (plaintextLength > alg.maxPlaintextLength) {
          entry.status = 'n/a';
          entry.reason = ccmBound(alg);
          // The engine must refuse it with MessageTooLargeError (and spend no sequence number).
          const { client, server } = contextPair(alg, b.backend);
          try {
            if (op === 'request') await protectRequest(client, msg);
            else {
              const req = await protectRequest(client, msgs.get);
              await protectResponse((await verifyRequest(server, req.option, req.payload)).binding, msg);
            }
            entry.status = 'unexpected';
            entry.reason = 'UNEXPECTED: engine accepted an over-long CCM plaintext';
          } catch (err) {
            if (!(err instanceof MessageTooLargeError)) throw err;
          }
          continue;
        }
        const name = `${op} ${b.key} ${alg.name} ${size}`;
        variants.push(op === 'request' ? await requestVariant(name, alg, b.backend, payload) : await responseVariant(name, alg, b.backend, payload));
        entry.variant = name;
      }
    }
    if (variants.length === 0) continue;

    const measured = new Map((await measureGroup(variants, profile)).map((m) => [m.name, m]));
    for (const side of ['node', 'noble']) {
      const r = rawEntry[side];
      if (r?.variant === undefined) continue;
      const m = measured.get(r.variant);
      Object.assign(r, { status: 'ok', opsPerSec: m.opsPerSec, mbPerSec: (m.opsPerSec * size) / 1e6, spread: spread(m.samples), samples: m.samples, opsPerBatch: m.opsPerBatch });
    }
    for (const entry of results) {
      if (entry.raw !== rawEntry || entry.variant === undefined) continue;
      const m = measured.get(entry.variant);
      entry.status = 'ok';
      entry.opsPerSec = m.opsPerSec;
      entry.mbPerSec = (m.opsPerSec * size) / 1e6;
      entry.spread = spread(m.samples);
      entry.samples = m.samples;
      entry.opsPerBatch = m.opsPerBatch;
      const rawNode = measured.get(rawEntry.node?.variant);
      if (rawNode !== undefined) entry.ratio = pairedRatio(m.samples, rawNode.samples);
      const rawNoble = measured.get(rawEntry.noble?.variant);
      if (entry.backend === '@noble/ciphers' && rawNoble !== undefined) entry.ratioOwnRaw = pairedRatio(m.samples, rawNoble.samples);
    }
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  // ---- Tables
  const rawColumns = [
    { header: 'algorithm', align: 'left' },
    { header: 'size', align: 'right' },
    { header: 'node:crypto ops/s', align: 'right' },
    { header: 'MB/s', align: 'right' },
    { header: '±', align: 'right' },
    { header: '@noble ops/s', align: 'right' },
    { header: 'MB/s', align: 'right' },
    { header: '±', align: 'right' },
  ];
  const rawRows = [];
  let previousAlg;
  for (const r of raw) {
    if (previousAlg !== undefined && previousAlg !== r.alg) rawRows.push(null);
    previousAlg = r.alg;
    const head = [`${r.algName} (${r.alg})`, formatSize(r.size)];
    if (r.node.status === 'n/a') rawRows.push([...head, { span: r.node.reason }]);
    else {
      const nb = r.noble?.status === 'ok' ? [formatRate(r.noble.opsPerSec), formatRate(r.noble.mbPerSec), formatSpread(r.noble.spread)] : ['-', '', ''];
      rawRows.push([...head, formatRate(r.node.opsPerSec), formatRate(r.node.mbPerSec), formatSpread(r.node.spread), ...nb]);
    }
  }
  console.log('Raw AEAD ceiling: encrypt + decrypt of the payload alone (no OSCORE), one op = both');
  printTable(rawColumns, rawRows);
  console.log('');

  const columns = [
    { header: 'algorithm', align: 'left' },
    { header: 'backend', align: 'left' },
    { header: 'size', align: 'right' },
    { header: 'ops/s', align: 'right' },
    { header: 'MB/s', align: 'right' },
    { header: 'raw node:crypto ops/s', align: 'right' },
    { header: 'ratio', align: 'right' },
    { header: '±', align: 'right' },
    { header: 'vs raw noble', align: 'right' },
  ];
  for (const op of ['request', 'response']) {
    const rows = [];
    previousAlg = undefined;
    for (const e of results.filter((x) => x.op === op)) {
      if (previousAlg !== undefined && previousAlg !== e.alg) rows.push(null);
      previousAlg = e.alg;
      const head = [`${e.algName} (${e.alg})`, e.backend, formatSize(e.size)];
      if (e.status !== 'ok') rows.push([...head, { span: e.reason }]);
      else {
        rows.push([
          ...head,
          formatRate(e.opsPerSec),
          formatRate(e.mbPerSec),
          e.raw.node.status === 'ok' ? formatRate(e.raw.node.opsPerSec) : '',
          formatRatio(e.ratio),
          formatSpread(e.spread),
          formatRatio(e.ratioOwnRaw),
        ]);
      }
    }
    console.log(
      op === 'request'
        ? 'Request: protectRequest(client) + verifyRequest(server), one op = both'
        : 'Response: protectResponse(server binding) + verifyResponse(client binding), one op = both (bindings made outside the timed region)',
    );
    printTable(columns, rows);
    console.log('');
  }
  console.log(
    '  ratio = engine ops/s / raw node:crypto ops/s (median of per-round ratios); ± = half the spread of the batches;\n' +
      '  vs raw noble = the same for @noble/ciphers rows against raw @noble/ciphers; MB/s = payload bytes x ops/s / 10^6.',
  );
  console.log(`  total ${seconds.toFixed(1)} s; load avg at end ${environment().loadavg.join(' ')}`);

  if (opts.json !== undefined) {
    const strip = ({ raw: _raw, variant: _v, ...rest }) => rest;
    const stripRaw = (r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v !== null && typeof v === 'object' && 'variant' in v ? (({ variant: _v, ...x }) => x)(v) : v]));
    writeJson(opts.json, {
      benchmark: 'core',
      env: { ...env, loadavgEnd: environment().loadavg },
      profile,
      seconds,
      raw: raw.map(stripRaw),
      results: results.map(strip),
    });
    console.log(`  raw results written to ${opts.json}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
