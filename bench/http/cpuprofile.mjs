/**
 * Reads a V8 .cpuprofile (node:inspector Profiler) and attributes its samples, in
 * microseconds per request, to
 *
 *  - owners: the nearest user-land frame above each sample (walking up from the leaf over
 *    node internals and native frames), so `new IncomingMessage()` called by
 *    createInnerRequest counts for createInnerRequest, and its package;
 *  - self time per function (the leaf frame, as DevTools' "Self Time");
 *  - inclusive time of functions (each sample counted once per function on its stack).
 */

import { readFileSync } from 'node:fs';

/** Which package or layer a script URL belongs to. */
export function categoryOf(url, functionName) {
  if (url === '' || url === undefined) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return '(program)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(root)') return '(root)';
    return 'native';
  }
  if (url.startsWith('node:')) return 'node';
  if (url.includes('/packages/core/')) return '@oscore-http/core';
  if (url.includes('/packages/http/')) return '@oscore-http/http';
  if (url.includes('/packages/fastify/')) return '@oscore-http/fastify';
  if (url.includes('/packages/undici/')) return '@oscore-http/undici';
  if (url.includes('/node_modules/undici/')) return 'undici';
  if (url.includes('/node_modules/')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    const pkg = m ? m[1] : 'node_modules';
    // fastify's own dependencies count as fastify
    return ['fastify', 'find-my-way', 'avvio', 'light-my-request', 'fast-json-stringify', 'secure-json-parse', 'fastq', 'reusify', 'process-warning', 'abstract-logging', 'pino', 'fast-querystring', 'fast-decode-uri-component', 'safe-regex2', 'ret', 'fastify-plugin', 'rfdc', 'toad-cache', '@fastify/error', '@fastify/fast-json-stringify-compiler', '@fastify/ajv-compiler', '@fastify/merge-json-schemas', '@fastify/forwarded', '@fastify/proxy-addr'].includes(pkg) || pkg.startsWith('@fastify/')
      ? 'fastify'
      : pkg;
  }
  if (url.includes('/bench/')) return 'bench harness';
  return 'other';
}

const USERLAND = (cat) => !['node', 'native', 'GC', '(program)', '(idle)', '(root)'].includes(cat);

function shortUrl(url) {
  if (!url) return '';
  if (url.startsWith('node:')) return url;
  const m = /(packages\/[^/]+\/(?:src|dist)\/.*)$/.exec(url) ?? /(node_modules\/.*)$/.exec(url) ?? /(bench\/.*)$/.exec(url);
  return m ? m[1].replace(/\/dist\/(.*)\.js$/, '/src/$1.ts(js)') : url;
}

/**
 * Analyses a profile. `requests` is how many requests completed during it.
 * @returns { totalUs, busyUs, requests, byOwnerCategory, byOwner, bySelf, inclusive(fnMatch) }
 */
export function analyseProfile(file, requests) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map();
  for (const n of profile.nodes) nodes.set(n.id, n);
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const keyOf = (n) => {
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    return cf.url ? `${name} ${shortUrl(cf.url)}:${cf.lineNumber + 1}` : name;
  };

  // Per-node: owner key/category, stack of distinct function keys.
  const ownerCache = new Map();
  function ownerOf(id) {
    let o = ownerCache.get(id);
    if (o) return o;
    let cur = id;
    o = undefined;
    while (cur !== undefined) {
      const n = nodes.get(cur);
      const cat = categoryOf(n.callFrame.url, n.callFrame.functionName);
      if (USERLAND(cat)) {
        o = { key: keyOf(n), category: cat };
        break;
      }
      cur = parent.get(cur);
    }
    const leaf = nodes.get(id);
    const leafCat = categoryOf(leaf.callFrame.url, leaf.callFrame.functionName);
    if (o === undefined) {
      // No user-land frame: node's own work (socket reads, HTTP parser, timers), GC, …
      o = { key: leafCat === 'node' || leafCat === 'native' ? `(node: ${keyOf(leaf)})` : keyOf(leaf), category: leafCat === 'native' ? 'node' : leafCat };
    }
    ownerCache.set(id, o);
    return o;
  }

  const stackCache = new Map();
  function stackKeys(id) {
    let s = stackCache.get(id);
    if (s) return s;
    const set = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) set.add(keyOf(nodes.get(cur)));
    s = [...set];
    stackCache.set(id, s);
    return s;
  }

  const byOwnerCategory = new Map();
  const byOwner = new Map(); // key → { us, category, leaves: Map(leafKey → us) }
  const bySelf = new Map(); // key → { us, category }
  const inclusiveMap = new Map();
  let totalUs = 0;
  let idleUs = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i + 1] is the time until the next sample: charge it to this one.
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    if (dt <= 0) continue;
    const id = samples[i];
    const n = nodes.get(id);
    totalUs += dt;
    if (n.callFrame.functionName === '(idle)') {
      idleUs += dt;
      continue;
    }
    const o = ownerOf(id);
    byOwnerCategory.set(o.category, (byOwnerCategory.get(o.category) ?? 0) + dt);
    let e = byOwner.get(o.key);
    if (!e) byOwner.set(o.key, (e = { us: 0, category: o.category, leaves: new Map() }));
    e.us += dt;
    const lk = keyOf(n);
    e.leaves.set(lk, (e.leaves.get(lk) ?? 0) + dt);
    const sk = keyOf(n);
    const se = bySelf.get(sk) ?? { us: 0, category: categoryOf(n.callFrame.url, n.callFrame.functionName) };
    se.us += dt;
    bySelf.set(sk, se);
    for (const k of stackKeys(id)) inclusiveMap.set(k, (inclusiveMap.get(k) ?? 0) + dt);
  }
  const busyUs = totalUs - idleUs;
  return {
    file,
    requests,
    totalUs,
    busyUs,
    busyUsPerReq: busyUs / requests,
    byOwnerCategory: [...byOwnerCategory].map(([category, us]) => ({ category, us, usPerReq: us / requests, share: us / busyUs })).sort((a, b) => b.us - a.us),
    byOwner: [...byOwner]
      .map(([key, e]) => ({
        key,
        category: e.category,
        us: e.us,
        usPerReq: e.us / requests,
        share: e.us / busyUs,
        leaves: [...e.leaves].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, us]) => ({ key: k, usPerReq: us / requests })),
      }))
      .sort((a, b) => b.us - a.us),
    bySelf: [...bySelf].map(([key, e]) => ({ key, category: e.category, us: e.us, usPerReq: e.us / requests, share: e.us / busyUs })).sort((a, b) => b.us - a.us),
    /** Inclusive µs/request of every function whose key matches `re`. */
    inclusive(re) {
      return [...inclusiveMap]
        .filter(([k]) => re.test(k))
        .map(([key, us]) => ({ key, usPerReq: us / requests, share: us / busyUs }))
        .sort((a, b) => b.usPerReq - a.usPerReq);
    },
  };
}

/**
 * Reads a sampling heap profile (HeapProfiler.stopSampling) and sums the sampled bytes by
 * allocation site: the allocating frame and its nearest user-land caller.
 */
export function analyseHeapProfile(file, requests) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const sites = new Map();
  let total = 0;
  const label = (cf) => `${cf.functionName || '(anonymous)'}${cf.url ? ` ${shortUrl(cf.url)}:${cf.lineNumber + 1}` : ''}`;
  const walk = (node, stack) => {
    const here = [...stack, node.callFrame];
    if (node.selfSize > 0) {
      total += node.selfSize;
      const leaf = node.callFrame;
      let caller;
      for (let i = here.length - (USERLAND(categoryOf(leaf.url, leaf.functionName)) ? 2 : 1); i >= 0; i--) {
        const cf = here[i];
        if (USERLAND(categoryOf(cf.url, cf.functionName))) {
          caller = cf;
          break;
        }
      }
      const key = caller && caller !== leaf ? `${label(leaf)} < ${label(caller)}` : label(leaf);
      sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    }
    for (const c of node.children ?? []) walk(c, here);
  };
  walk(profile.head, []);
  return {
    file,
    requests,
    bytesPerReq: total / requests,
    sites: [...sites].map(([key, bytes]) => ({ key, bytesPerReq: bytes / requests })).sort((a, b) => b.bytesPerReq - a.bytesPerReq),
  };
}
