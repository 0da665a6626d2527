import path from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

/**
 * Shared by bench/http.mjs and its children: the modes, the benchmark's (public, test
 * only) key material, and small statistics helpers.
 */

/** The compared configurations. `aeadAlgorithm` set = OSCORE plugin + interceptor. */
export const MODES = Object.freeze({
  plain: Object.freeze({ label: 'plain fastify', tls: false }),
  https: Object.freeze({ label: 'fastify HTTPS keep-alive', tls: true }),
  'oscore-ccm': Object.freeze({ label: 'OSCORE AES-CCM-16-64-128', tls: false, aeadAlgorithm: 10 }),
  'oscore-gcm': Object.freeze({ label: 'OSCORE A128GCM', tls: false, aeadAlgorithm: 'A128GCM' }),
  // The same with @oscore-http/openssl: one OpenSSL cipher context per key, kept across messages.
  'oscore-ccm-openssl': Object.freeze({ label: 'OSCORE AES-CCM-16-64-128, OpenSSL backend', tls: false, aeadAlgorithm: 10, openssl: true }),
  'oscore-gcm-openssl': Object.freeze({ label: 'OSCORE A128GCM, OpenSSL backend', tls: false, aeadAlgorithm: 'A128GCM', openssl: true }),
  // Opt-in: the OSCORE server's request handling without OSCORE (bench/http/structure.mjs), plain client.
  structure: Object.freeze({ label: 'structure only: outer body read, inner request, capture; no OSCORE', tls: false, structure: true }),
  // Opt-in: the interceptor's shape without OSCORE (bench/http/structure-client.mjs), plain server; then both halves.
  'structure-client': Object.freeze({ label: 'structure only, client: body collected, outer dispatch, response buffered and replayed', tls: false, structureClient: true }),
  'structure-both': Object.freeze({ label: 'structure only, server and client', tls: false, structure: true, structureClient: true }),
  // Only with --baseline <dir>: oscore-ccm as built in another checkout, for before/after in one run.
  'oscore-ccm-baseline': Object.freeze({ label: 'OSCORE AES-CCM-16-64-128, baseline checkout', tls: false, aeadAlgorithm: 10, baseline: true }),
  // The same for A128GCM through the baseline checkout's OpenSSL backend.
  'oscore-gcm-openssl-baseline': Object.freeze({ label: 'OSCORE A128GCM, OpenSSL backend, baseline checkout', tls: false, aeadAlgorithm: 'A128GCM', openssl: true, baseline: true }),
});

/** The modes run when none are asked for. */
export const DEFAULT_MODES = Object.keys(MODES).filter((m) => !MODES[m].baseline && !MODES[m].structure && !MODES[m].structureClient);

/**
 * Imports an @oscore-http package: this checkout's, or, in a baseline child, the one built
 * in the checkout named by BENCH_OSCORE_ROOT.
 */
export function importOscorePackage(name) {
  const root = process.env.BENCH_OSCORE_ROOT;
  return import(root ? pathToFileURL(path.join(root, 'packages', name, 'dist', 'index.js')).href : `@oscore-http/${name}`);
}

/**
 * Options of the context set of a mode: the state store (BENCH_STORE=memory: in memory;
 * else the library default) and, for the OpenSSL modes, the backend.
 */
export async function contextSetOptions(spec) {
  const options = {};
  if (process.env.BENCH_STORE === 'memory') options.store = 'memory';
  if (spec.openssl) options.backend = (await importOscorePackage('openssl')).opensslBackend();
  return options;
}

/** Test-only key material (RFC 8613 appendix C.1-like); never use outside the benchmark. */
export const BENCH_MASTER_SECRET = '0102030405060708090a0b0c0d0e0f10';
export const BENCH_MASTER_SALT = '9e7ca92223786340';

/** Largest body the benchmark sends; fastify's and the OSCORE layer's limits. */
export const MAX_BODY = 1024 * 1024;

/** Median of a non-empty array. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** (max − min) / median. */
export function spread(values) {
  if (values.length < 2) return 0;
  const med = median(values);
  return med === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / med;
}

/** Nearest-rank percentile of a sorted typed array (p in 0..100). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * Running totals of this process's garbage collections (PerformanceObserver 'gc'
 * entries: wall-clock pause time, so preemption on a busy machine inflates it a little).
 */
export function gcTotals() {
  const totals = { ms: 0, count: 0, major: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      totals.ms += e.duration;
      totals.count++;
      if ((e.detail?.kind ?? e.kind) === constants.NODE_PERFORMANCE_GC_MAJOR) totals.major++;
    }
  }).observe({ entryTypes: ['gc'] });
  return totals;
}
