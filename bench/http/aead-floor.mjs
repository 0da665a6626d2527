#!/usr/bin/env node
/**
 * The AEAD floor of one OSCORE exchange per side: CPU time of one raw node:crypto encrypt
 * plus one raw decrypt of `size` bytes (a server decrypts the request and encrypts the
 * response; a client the other way round), with nothing of this project involved.
 * bench/http.mjs runs it pinned to the server's core after each repetition and prints the best
 * req/s ratio any node:crypto OSCORE layer could reach with zero other overhead:
 * plain µs ÷ (plain µs + floor µs).
 *
 *   node bench/http/aead-floor.mjs <size> <alg,...>     prints JSON { "<alg>": µs per pair }
 *
 * alg: ccm (aes-128-ccm, 8-byte tag: COSE 10) or gcm (aes-128-gcm, 16-byte tag: COSE 1).
 * CPU time (user + system) includes garbage collection of the per-message cipher objects.
 */

import crypto from 'node:crypto';

// As OSCORE uses them: COSE 10 (13-byte nonce, 8-byte tag) and COSE 1 (12-byte nonce, 16-byte tag).
const CIPHERS = {
  ccm: { name: 'aes-128-ccm', nonce: 13, tag: 8, ccm: true },
  gcm: { name: 'aes-128-gcm', nonce: 12, tag: 16, ccm: false },
};

const size = Number(process.argv[2]);
const algs = (process.argv[3] ?? 'ccm').split(',');
if (!Number.isInteger(size) || size < 0 || algs.some((a) => !(a in CIPHERS))) {
  console.error('usage: node bench/http/aead-floor.mjs <size> <ccm|gcm,...>');
  process.exit(2);
}

function pairOnce({ name, tag, ccm }, key, nonce, aad, plaintext) {
  const options = { authTagLength: tag };
  const c = crypto.createCipheriv(name, key, nonce, options);
  c.setAAD(aad, ccm ? { plaintextLength: plaintext.length } : undefined);
  const body = c.update(plaintext);
  c.final();
  const d = crypto.createDecipheriv(name, key, nonce, options);
  d.setAuthTag(c.getAuthTag());
  d.setAAD(aad, ccm ? { plaintextLength: body.length } : undefined);
  const out = d.update(body);
  d.final();
  return out.length;
}

/** CPU µs per encrypt + decrypt pair over `ms` milliseconds of wall time. */
function measure(cipher, ms) {
  // As the node backend does: a long-lived key object, and a short AAD like a request's.
  const key = crypto.createSecretKey(crypto.randomBytes(16));
  const nonce = crypto.randomBytes(cipher.nonce);
  const aad = crypto.randomBytes(20);
  const plaintext = crypto.randomBytes(size);
  let n = 0;
  const cpu0 = process.cpuUsage();
  const end = performance.now() + ms;
  while (performance.now() < end) for (let i = 0; i < 200; i++, n++) pairOnce(cipher, key, nonce, aad, plaintext);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

const result = {};
for (const alg of algs) {
  measure(CIPHERS[alg], 200); // warm-up
  const runs = [measure(CIPHERS[alg], 300), measure(CIPHERS[alg], 300), measure(CIPHERS[alg], 300)].sort((a, b) => a - b);
  result[alg] = runs[1];
}
console.log(JSON.stringify(result));
