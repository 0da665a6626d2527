#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Independent OSCORE (RFC 8613) test-vector generator.
//
// This file is a second, separate implementation of the parts of RFC 8613
// needed to compute test vectors. It deliberately imports NOTHING from
// packages/ (not @oscore-http/core, not its dist/, not its src/). Its only
// dependencies are:
//   - node:crypto  (HKDF, HMAC, AES-CCM, AES-GCM, ChaCha20/Poly1305)
//   - cbor-x       (CBOR arrays; cross-checked below against a tiny
//                   hand-written encoder of the same five CBOR types)
//   - ajv          (JSON Schema validation of the files before writing)
//
// Run from the repository root:
//   node conformance/generator/generate.mjs           (writes conformance/vectors/)
//   node conformance/generator/generate.mjs --check   (only compares; exit 1 if they differ)
//
// Output is fully deterministic: every "random-looking" byte string comes
// from SHA-256 in counter mode over a fixed label (see detBytes), so running
// the generator twice produces byte-identical files.
//
// Order of work:
//   1. self-test against RFC 8613 Appendix C (rfc8613-appendix-c.json), the
//      Section 5.4 AAD example and the Section 6.3 compression examples;
//      any difference aborts before anything is written;
//   2. build the positive and negative vectors;
//   3. check every vector against the reference verifier in this file
//      (positives must verify to their message, negatives must fail with
//      exactly their error code);
//   4. validate each file against oscore-vectors.schema.json with ajv;
//   5. write the files and print a summary.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Encoder } from 'cbor-x';
import Ajv2020 from 'ajv/dist/2020.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VECTOR_DIR = path.resolve(HERE, '..', 'vectors');
/** `--check`: compare with the committed files instead of writing them (exit 1 on any difference). */
const CHECK_ONLY = process.argv.includes('--check');
const SCHEMA_FILE = path.join(VECTOR_DIR, 'oscore-vectors.schema.json');
const APPENDIX_C_FILE = path.join(VECTOR_DIR, 'rfc8613-appendix-c.json');
const GENERATOR_NAME = 'conformance/generator/generate.mjs';

// Whether response-rejection vectors carry expect.outcome. RFC 8613 Section
// 8.4 step 8 only says the client "SHALL stop processing the response"; no
// CoAP error code is sent, so by default no outcome is attached.
const OUTCOME_ON_RESPONSE_REJECTIONS = false;

// Whether generated-large.json also gets an AES-CCM request whose plaintext is
// exactly 65535 bytes (the CCM limit for a 13-byte nonce). It adds ~260 KB
// (all generated files together stay just under 3 MB); set to false to drop it.
const INCLUDE_CCM_MAX = true;

// ===========================================================================
// Byte helpers
// ===========================================================================

/** A plain Uint8Array copy (never a Buffer subclass, never a shared pool). */
function u8(x) {
  if (typeof x === 'string') return unhex(x);
  return Uint8Array.from(x);
}

function unhex(s) {
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`bad hex: ${s}`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function hex(b) {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function concat(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const EMPTY = new Uint8Array(0);
const utf8 = (s) => u8(Buffer.from(s, 'utf8'));

/**
 * Deterministic pseudo-random bytes: SHA-256(label || "|" || counter) blocks,
 * concatenated and truncated to n bytes. No Math.random anywhere.
 */
function detBytes(label, n) {
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; o < n; i++) {
    const block = crypto.createHash('sha256').update(`oscore-vectors/1|${label}|${i}`).digest();
    const take = Math.min(block.length, n - o);
    out.set(block.subarray(0, take), o);
    o += take;
  }
  return out;
}

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

// ===========================================================================
// CBOR (RFC 8949) — cbor-x configured for COSE-exact output
// ===========================================================================

const cborEncoder = new Encoder({
  useRecords: false,
  tagUint8Array: false,
  useTag259ForMaps: false,
  variableMapSize: true,
  mapsAsObjects: false,
});

/**
 * A minimal, independent CBOR encoder for exactly the types OSCORE puts in
 * its arrays: unsigned/negative integers (major types 0/1), byte strings (2),
 * text strings (3), arrays (4) and null (simple value 22 = 0xf6). Every
 * RFC 8949 Section 3 "argument" uses the shortest form (Section 4.2.1).
 * Used only to cross-check cbor-x.
 */
function cborManual(x) {
  const head = (major, n) => {
    const mt = major << 5;
    if (n < 24) return Uint8Array.of(mt | n);
    if (n < 0x100) return Uint8Array.of(mt | 24, n);
    if (n < 0x10000) return Uint8Array.of(mt | 25, n >> 8, n & 0xff);
    if (n < 0x100000000) return Uint8Array.of(mt | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    throw new Error('cborManual: argument too large');
  };
  if (x === null) return Uint8Array.of(0xf6);
  if (typeof x === 'number') {
    assert(Number.isInteger(x), 'cborManual: integer');
    return x >= 0 ? head(0, x) : head(1, -1 - x);
  }
  if (typeof x === 'string') {
    const b = utf8(x);
    return concat(head(3, b.length), b);
  }
  if (x instanceof Uint8Array) return concat(head(2, x.length), x);
  if (Array.isArray(x)) return concat(head(4, x.length), ...x.map(cborManual));
  throw new Error(`cborManual: unsupported ${typeof x}`);
}

/** CBOR-encode with cbor-x, and insist it agrees with cborManual. */
function cbor(x) {
  const viaCborX = u8(cborEncoder.encode(x));
  const viaManual = cborManual(x);
  if (!bytesEqual(viaCborX, viaManual)) {
    throw new Error(`cbor-x output ${hex(viaCborX)} differs from manual encoding ${hex(viaManual)}`);
  }
  return viaCborX;
}

// ===========================================================================
// Algorithms (RFC 9053 Sections 4.1-4.3, RFC 8613 Section 5)
// ===========================================================================

/** COSE AEAD algorithm id -> parameters. nonceLen - 6 is the maximum Sender ID length (RFC 8613 Section 3.3). */
const AEAD = {
  10: { name: 'AES-CCM-16-64-128', cipher: 'aes-128-ccm', keyLen: 16, nonceLen: 13, tagLen: 8, ccm: true },
  11: { name: 'AES-CCM-16-64-256', cipher: 'aes-256-ccm', keyLen: 32, nonceLen: 13, tagLen: 8, ccm: true },
  30: { name: 'AES-CCM-16-128-128', cipher: 'aes-128-ccm', keyLen: 16, nonceLen: 13, tagLen: 16, ccm: true },
  31: { name: 'AES-CCM-16-128-256', cipher: 'aes-256-ccm', keyLen: 32, nonceLen: 13, tagLen: 16, ccm: true },
  1: { name: 'A128GCM', cipher: 'aes-128-gcm', keyLen: 16, nonceLen: 12, tagLen: 16, ccm: false },
  2: { name: 'A192GCM', cipher: 'aes-192-gcm', keyLen: 24, nonceLen: 12, tagLen: 16, ccm: false },
  3: { name: 'A256GCM', cipher: 'aes-256-gcm', keyLen: 32, nonceLen: 12, tagLen: 16, ccm: false },
  24: { name: 'ChaCha20/Poly1305', cipher: 'chacha20-poly1305', keyLen: 32, nonceLen: 12, tagLen: 16, ccm: false },
};
const ALG_IDS = [10, 11, 30, 31, 1, 2, 3, 24];
const HKDF_HASH = { 'HKDF-SHA-256': 'sha256', 'HKDF-SHA-512': 'sha512' };

class OscoreError extends Error {
  constructor(code, detail) {
    super(`${code}: ${detail}`);
    this.code = code;
  }
}

const OUTCOME = {
  ERR_OSCORE_MALFORMED_OPTION: '4.02',
  ERR_OSCORE_MALFORMED_COSE: '4.02',
  ERR_OSCORE_CONTEXT_NOT_FOUND: '4.01',
  ERR_OSCORE_REPLAY: '4.01',
  ERR_OSCORE_DECRYPTION_FAILED: '4.00',
  ERR_OSCORE_MALFORMED_PLAINTEXT: '4.00',
};

// ===========================================================================
// HKDF (RFC 5869) and key derivation (RFC 8613 Section 3.2.1)
// ===========================================================================

/** RFC 5869 HKDF via node:crypto.hkdfSync, cross-checked with an explicit HMAC Extract/Expand. */
function hkdf(hashName, salt, ikm, info, length) {
  const viaNode = u8(new Uint8Array(crypto.hkdfSync(hashName, ikm, salt, info, length)));
  // RFC 5869 Section 2.2: PRK = HMAC-Hash(salt, IKM); an absent salt is
  // HashLen zero bytes, which as an HMAC key is the same as the empty key.
  const prk = crypto.createHmac(hashName, salt).update(ikm).digest();
  // Section 2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i)
  let t = Buffer.alloc(0);
  const okm = [];
  for (let i = 1; Buffer.concat(okm).length < length; i++) {
    t = crypto.createHmac(hashName, prk).update(Buffer.concat([t, Buffer.from(info), Buffer.of(i)])).digest();
    okm.push(t);
  }
  const manual = u8(Buffer.concat(okm).subarray(0, length));
  if (!bytesEqual(viaNode, manual)) throw new Error('hkdfSync disagrees with manual HMAC HKDF');
  return viaNode;
}

/**
 * info = [ id : bstr, id_context : bstr / nil, alg_aead : int / tstr, type : tstr, L : uint ]
 * (RFC 8613 Section 3.2.1)
 */
function hkdfInfo(id, idContext, alg, type, L) {
  return cbor([u8(id), idContext == null ? null : u8(idContext), alg, type, L]);
}

/** deriveContext from a vector's `input` (hex strings; an absent salt or ID Context stays absent). */
function deriveContextFromInput(i) {
  return deriveContext({
    masterSecret: unhex(i.masterSecret),
    masterSalt: i.masterSalt === undefined ? undefined : unhex(i.masterSalt),
    idContext: i.idContext == null ? null : unhex(i.idContext),
    aeadAlgorithm: i.aeadAlgorithm,
    hkdfAlgorithm: i.hkdfAlgorithm,
    senderId: unhex(i.senderId),
    recipientId: unhex(i.recipientId),
  });
}

/**
 * Derives one endpoint's view of a security context.
 * p: { masterSecret, masterSalt, idContext, aeadAlgorithm, hkdfAlgorithm, senderId, recipientId } (Uint8Array / null / numbers)
 */
function deriveContext(p) {
  const alg = p.aeadAlgorithm ?? 10;
  const a = AEAD[alg];
  if (!a) throw new OscoreError('ERR_OSCORE_UNSUPPORTED_ALGORITHM', `AEAD algorithm ${alg}`);
  const hkdfName = p.hkdfAlgorithm ?? 'HKDF-SHA-256';
  const hash = HKDF_HASH[hkdfName];
  if (!hash) throw new OscoreError('ERR_OSCORE_UNSUPPORTED_ALGORITHM', `HKDF ${hkdfName}`);
  const maxId = a.nonceLen - 6; // Section 3.3
  if (p.senderId.length > maxId) throw new OscoreError('ERR_OSCORE_INVALID_CONTEXT', 'Sender ID too long');
  if (p.recipientId.length > maxId) throw new OscoreError('ERR_OSCORE_INVALID_CONTEXT', 'Recipient ID too long');
  if (bytesEqual(p.senderId, p.recipientId)) throw new OscoreError('ERR_OSCORE_INVALID_CONTEXT', 'Sender ID equals Recipient ID');
  const salt = p.masterSalt ?? EMPTY; // Section 3.1: default Master Salt is the empty byte string
  const idContext = p.idContext ?? null;
  const senderKeyInfo = hkdfInfo(p.senderId, idContext, alg, 'Key', a.keyLen);
  const recipientKeyInfo = hkdfInfo(p.recipientId, idContext, alg, 'Key', a.keyLen);
  const commonIvInfo = hkdfInfo(EMPTY, idContext, alg, 'IV', a.nonceLen);
  return {
    alg,
    aead: a,
    senderId: u8(p.senderId),
    recipientId: u8(p.recipientId),
    idContext,
    senderKeyInfo,
    recipientKeyInfo,
    commonIvInfo,
    senderKey: hkdf(hash, salt, p.masterSecret, senderKeyInfo, a.keyLen),
    recipientKey: hkdf(hash, salt, p.masterSecret, recipientKeyInfo, a.keyLen),
    commonIv: hkdf(hash, salt, p.masterSecret, commonIvInfo, a.nonceLen),
  };
}

// ===========================================================================
// Partial IV and nonce (RFC 8613 Sections 5 and 5.2)
// ===========================================================================

/** Sender Sequence Number -> Partial IV: big-endian, leading zero bytes removed, 0 -> 0x00 (Section 5). */
function encodePiv(seq) {
  let v = BigInt(seq);
  assert(v >= 0n && v <= 0xffffffffffn, 'sequence number range');
  if (v === 0n) return Uint8Array.of(0);
  const bytes = [];
  while (v > 0n) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return Uint8Array.from(bytes);
}

/**
 * Section 5.2: S || ID_PIV left-padded to nonceLen-6 || PIV left-padded to 5,
 * XORed with the Common IV.
 */
function buildNonce(commonIv, idPiv, piv) {
  const n = commonIv.length;
  assert(idPiv.length <= n - 6, 'ID_PIV too long');
  assert(piv.length <= 5, 'PIV too long');
  const block = new Uint8Array(n);
  block[0] = idPiv.length; // S
  block.set(idPiv, 1 + (n - 6) - idPiv.length);
  block.set(piv, n - piv.length);
  for (let i = 0; i < n; i++) block[i] ^= commonIv[i];
  return block;
}

// ===========================================================================
// Plaintext (RFC 8613 Section 5.3, RFC 7252 Section 3.1)
// ===========================================================================

function extNibble(v) {
  if (v < 13) return [v, EMPTY];
  if (v < 269) return [13, Uint8Array.of(v - 13)];
  assert(v < 269 + 65536, 'delta/length too large');
  return [14, Uint8Array.of((v - 269) >> 8, (v - 269) & 0xff)];
}

/** options: [{number, value(Uint8Array)}] in non-decreasing option number order. */
function encodeOptions(options) {
  const parts = [];
  let prev = 0;
  for (const o of options) {
    assert(o.number >= prev, 'options must be sorted by number');
    const [dn, dext] = extNibble(o.number - prev);
    const [ln, lext] = extNibble(o.value.length);
    parts.push(Uint8Array.of((dn << 4) | ln), dext, lext, o.value);
    prev = o.number;
  }
  return concat(...parts);
}

/** Figure 9: Code | Class E options | 0xFF Payload (only if there is payload). */
function encodePlaintext(msg) {
  const parts = [Uint8Array.of(msg.code), encodeOptions(msg.options)];
  if (msg.payload.length > 0) parts.push(Uint8Array.of(0xff), msg.payload);
  return concat(...parts);
}

/** Inverse of encodePlaintext with the RFC 7252 Section 3.1 message-format-error rules. */
function parsePlaintext(pt) {
  const bad = (why) => new OscoreError('ERR_OSCORE_MALFORMED_PLAINTEXT', why);
  if (pt.length < 1) throw bad('no code byte');
  const code = pt[0];
  const options = [];
  let i = 1;
  let number = 0;
  const ext = (nib) => {
    if (nib < 13) return nib;
    if (nib === 13) {
      if (i + 1 > pt.length) throw bad('truncated extended field');
      return pt[i++] + 13;
    }
    if (nib === 14) {
      if (i + 2 > pt.length) throw bad('truncated extended field');
      const v = ((pt[i] << 8) | pt[i + 1]) + 269;
      i += 2;
      return v;
    }
    throw bad('nibble 15');
  };
  while (i < pt.length) {
    const b = pt[i++];
    if (b === 0xff) {
      if (i === pt.length) throw bad('payload marker followed by zero-length payload');
      return { code, options, payload: pt.subarray(i) };
    }
    const delta = ext(b >> 4);
    const len = ext(b & 0x0f);
    number += delta;
    if (number > 0xffff) throw bad('option number above 65535');
    if (i + len > pt.length) throw bad('truncated option value');
    options.push({ number, value: pt.subarray(i, i + len) });
    i += len;
  }
  return { code, options, payload: EMPTY };
}

const isRequestCode = (c) => c >> 5 === 0 && (c & 0x1f) !== 0; // 0.01 - 0.31
const isResponseCode = (c) => [2, 4, 5].includes(c >> 5);

// ===========================================================================
// AAD (RFC 8613 Section 5.4)
// ===========================================================================

/** aad_array = [1, [alg_aead], request_kid, request_piv, options(Class I; none defined -> h'')] */
function buildAadArray(alg, requestKid, requestPiv) {
  return cbor([1, [alg], u8(requestKid), u8(requestPiv), EMPTY]);
}

/** AAD = Enc_structure = ["Encrypt0", h'', external_aad = bstr .cbor aad_array] (RFC 9052 Section 5.3) */
function buildAad(aadArray) {
  return cbor(['Encrypt0', EMPTY, u8(aadArray)]);
}

// ===========================================================================
// AEAD (RFC 9053 Section 4; ciphertext = encrypted plaintext || tag)
// ===========================================================================

function aeadSeal(a, key, nonce, aad, plaintext) {
  if (a.ccm && plaintext.length > 0xffff) {
    // 13-byte nonce => L = 2 => at most 2^16 - 1 plaintext bytes (RFC 3610 / RFC 9053 Section 4.2)
    throw new OscoreError('ERR_OSCORE_MESSAGE_TOO_LARGE', 'CCM plaintext above 65535 bytes');
  }
  const c = crypto.createCipheriv(a.cipher, key, nonce, { authTagLength: a.tagLen });
  c.setAAD(aad, a.ccm ? { plaintextLength: plaintext.length } : undefined);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return u8(Buffer.concat([body, c.getAuthTag()]));
}

function aeadOpen(a, key, nonce, aad, ciphertext) {
  const fail = () => new OscoreError('ERR_OSCORE_DECRYPTION_FAILED', 'AEAD verification failed');
  if (ciphertext.length < a.tagLen) throw fail();
  const body = ciphertext.subarray(0, ciphertext.length - a.tagLen);
  const tag = ciphertext.subarray(ciphertext.length - a.tagLen);
  try {
    const d = crypto.createDecipheriv(a.cipher, key, nonce, { authTagLength: a.tagLen });
    d.setAuthTag(tag);
    d.setAAD(aad, a.ccm ? { plaintextLength: body.length } : undefined);
    const pt = d.update(body);
    d.final();
    return u8(pt);
  } catch {
    throw fail();
  }
}

// ===========================================================================
// OSCORE option (RFC 8613 Section 6.1)
// ===========================================================================

/** f: { piv?: Uint8Array, kidContext?: Uint8Array, kid?: Uint8Array } */
function encodeOscoreOption(f) {
  const n = f.piv ? f.piv.length : 0;
  assert(n <= 5, 'PIV length');
  const flags = n | (f.kid !== undefined ? 0x08 : 0) | (f.kidContext !== undefined ? 0x10 : 0);
  if (flags === 0) return EMPTY; // Section 2: all-zero flag bits => empty option value
  const parts = [Uint8Array.of(flags)];
  if (n) parts.push(f.piv);
  if (f.kidContext !== undefined) {
    assert(f.kidContext.length <= 255, 'kid context length');
    parts.push(Uint8Array.of(f.kidContext.length), f.kidContext);
  }
  if (f.kid !== undefined) parts.push(f.kid);
  return concat(...parts);
}

function decodeOscoreOption(v) {
  const bad = (why) => new OscoreError('ERR_OSCORE_MALFORMED_OPTION', why);
  if (v.length === 0) return {};
  const flags = v[0];
  if (flags & 0xe0) throw bad('reserved flag bit set');
  if (flags === 0) throw bad('all-zero flag byte must be sent as an empty value');
  const n = flags & 0x07;
  if (n > 5) throw bad('reserved Partial IV length');
  let i = 1;
  const out = {};
  if (n > 0) {
    if (i + n > v.length) throw bad('truncated Partial IV');
    out.piv = v.subarray(i, i + n);
    // Leading zero bytes are the sender's mistake (Section 5 binds the encoder), not a decoding failure.
    i += n;
  }
  if (flags & 0x10) {
    if (i + 1 > v.length) throw bad('missing kid context length');
    const s = v[i++];
    if (i + s > v.length) throw bad('kid context longer than the option');
    out.kidContext = v.subarray(i, i + s);
    i += s;
  }
  if (flags & 0x08) {
    out.kid = v.subarray(i);
    i = v.length;
  }
  if (i !== v.length) throw bad('bytes after the last field');
  return out;
}

// ===========================================================================
// Protecting (RFC 8613 Sections 8.1 and 8.3)
// ===========================================================================

/** The resolved parameters of one client/server pair (vector "context"). */
function resolvePair(c) {
  const common = {
    masterSecret: unhex(c.masterSecret),
    masterSalt: c.masterSalt === undefined ? undefined : unhex(c.masterSalt),
    idContext: c.idContext == null ? null : unhex(c.idContext),
    aeadAlgorithm: c.aeadAlgorithm ?? 10,
    hkdfAlgorithm: c.hkdfAlgorithm ?? 'HKDF-SHA-256',
  };
  const clientId = unhex(c.clientId);
  const serverId = unhex(c.serverId);
  return {
    common,
    clientId,
    serverId,
    sendKidContext: c.sendKidContext ?? common.idContext !== null,
    client: deriveContext({ ...common, senderId: clientId, recipientId: serverId }),
    server: deriveContext({ ...common, senderId: serverId, recipientId: clientId }),
  };
}

/** Section 8.1. Returns the wire form, all intermediates, and the request binding. */
function protectRequest(pair, seq, msg) {
  const ctx = pair.client;
  const piv = encodePiv(seq);
  const plaintext = encodePlaintext(msg);
  const aadArray = buildAadArray(ctx.alg, ctx.senderId, piv);
  const aad = buildAad(aadArray);
  const nonce = buildNonce(ctx.commonIv, ctx.senderId, piv);
  const payload = aeadSeal(ctx.aead, ctx.senderKey, nonce, aad, plaintext);
  const option = encodeOscoreOption({
    piv,
    kid: ctx.senderId,
    kidContext: pair.sendKidContext && ctx.idContext !== null ? ctx.idContext : undefined,
  });
  return { plaintext, partialIv: piv, aadArray, aad, nonce, option, payload, binding: { kid: ctx.senderId, piv, nonce } };
}

/** Section 8.3. serverSeq undefined => reuse the request nonce, no Partial IV in the option. */
function protectResponse(pair, binding, serverSeq, msg) {
  const ctx = pair.server;
  const plaintext = encodePlaintext(msg);
  const aadArray = buildAadArray(ctx.alg, binding.kid, binding.piv);
  const aad = buildAad(aadArray);
  let piv;
  let nonce;
  if (serverSeq === undefined) {
    nonce = binding.nonce;
  } else {
    piv = encodePiv(serverSeq);
    nonce = buildNonce(ctx.commonIv, ctx.senderId, piv);
  }
  const payload = aeadSeal(ctx.aead, ctx.senderKey, nonce, aad, plaintext);
  const option = encodeOscoreOption({ piv });
  return { plaintext, partialIv: piv, aadArray, aad, nonce, option, payload };
}

// ===========================================================================
// Reference verifier (RFC 8613 Sections 7.4, 8.2 and 8.4)
// Only used to check that the vectors mean what they say.
// ===========================================================================

class ReferenceServer {
  constructor(pair, windowSize = 64) {
    this.pair = pair;
    this.windowSize = windowSize;
    this.highest = -1n;
    this.seen = new Set();
  }

  /** Section 8.2 steps 2-7. Returns the decrypted message or throws OscoreError. */
  verifyRequest(wire) {
    const f = decodeOscoreOption(wire.option); // step 2: decompress
    if (wire.payload.length === 0) throw new OscoreError('ERR_OSCORE_MALFORMED_COSE', 'OSCORE message without payload (Section 2)');
    if (f.piv === undefined) throw new OscoreError('ERR_OSCORE_MALFORMED_COSE', 'request without Partial IV');
    if (f.kid === undefined) throw new OscoreError('ERR_OSCORE_MALFORMED_COSE', 'request without kid');
    const ctx = this.pair.server;
    const kidMatches = bytesEqual(f.kid, ctx.recipientId);
    const contextMatches = f.kidContext === undefined || (ctx.idContext !== null && bytesEqual(f.kidContext, ctx.idContext));
    if (!kidMatches || !contextMatches) throw new OscoreError('ERR_OSCORE_CONTEXT_NOT_FOUND', 'no Recipient Context');
    // step 3: replay window (sliding window, Section 7.4 / RFC 6347 4.1.2.6)
    const seq = BigInt('0x' + hex(f.piv));
    if (this.seen.has(seq)) throw new OscoreError('ERR_OSCORE_REPLAY', 'Partial IV already received');
    if (this.highest >= 0n && seq <= this.highest - BigInt(this.windowSize)) {
      throw new OscoreError('ERR_OSCORE_REPLAY', 'Partial IV left of the replay window');
    }
    // steps 4-6
    const aad = buildAad(buildAadArray(ctx.alg, f.kid, f.piv));
    const nonce = buildNonce(ctx.commonIv, ctx.recipientId, f.piv);
    const plaintext = aeadOpen(ctx.aead, ctx.recipientKey, nonce, aad, wire.payload);
    this.seen.add(seq);
    if (seq > this.highest) this.highest = seq;
    // step 7
    const msg = parsePlaintext(plaintext);
    if (!isRequestCode(msg.code)) throw new OscoreError('ERR_OSCORE_MALFORMED_PLAINTEXT', 'inner code is not a request code');
    if (msg.options.some((o) => o.number === 9)) throw new OscoreError('ERR_OSCORE_MALFORMED_PLAINTEXT', 'inner OSCORE option');
    return msg;
  }
}

/** Section 8.4 steps 2-6, at the client that sent the request with `binding`. */
function verifyResponse(pair, binding, wire) {
  const ctx = pair.client;
  const f = decodeOscoreOption(wire.option);
  if (wire.payload.length === 0) throw new OscoreError('ERR_OSCORE_MALFORMED_COSE', 'OSCORE message without payload (Section 2)');
  const aad = buildAad(buildAadArray(ctx.alg, binding.kid, binding.piv));
  const nonce = f.piv === undefined ? binding.nonce : buildNonce(ctx.commonIv, ctx.recipientId, f.piv);
  const plaintext = aeadOpen(ctx.aead, ctx.recipientKey, nonce, aad, wire.payload);
  const msg = parsePlaintext(plaintext);
  if (!isResponseCode(msg.code)) throw new OscoreError('ERR_OSCORE_MALFORMED_PLAINTEXT', 'inner code is not a response code');
  if (msg.options.some((o) => o.number === 9)) throw new OscoreError('ERR_OSCORE_MALFORMED_PLAINTEXT', 'inner OSCORE option');
  return msg;
}

function expectError(fn, code, what) {
  try {
    fn();
  } catch (e) {
    if (e instanceof OscoreError && e.code === code) return;
    throw new Error(`${what}: expected ${code}, got ${e.code ?? e.message}`);
  }
  throw new Error(`${what}: expected ${code}, but it succeeded`);
}

// ===========================================================================
// JSON <-> internal forms
// ===========================================================================

const msgFromJson = (m) => ({ code: m.code, options: m.options.map((o) => ({ number: o.number, value: unhex(o.value) })), payload: unhex(m.payload) });
const msgToJson = (m) => ({ code: m.code, options: m.options.map((o) => ({ number: o.number, value: hex(o.value) })), payload: hex(m.payload) });
const wireFromJson = (w) => ({ option: unhex(w.option), payload: unhex(w.payload) });

function sameMessage(a, b) {
  return (
    a.code === b.code &&
    bytesEqual(a.payload, b.payload) &&
    a.options.length === b.options.length &&
    a.options.every((o, i) => o.number === b.options[i].number && bytesEqual(o.value, b.options[i].value))
  );
}

function expectJson(r, { withPlaintext = true } = {}) {
  const e = {};
  if (withPlaintext) e.plaintext = hex(r.plaintext);
  if (r.partialIv) e.partialIv = hex(r.partialIv);
  e.aadArray = hex(r.aadArray);
  e.aad = hex(r.aad);
  e.nonce = hex(r.nonce);
  e.option = hex(r.option);
  e.payload = hex(r.payload);
  return e;
}

// ===========================================================================
// Self-test: RFC 8613 Appendix C, Section 5.4 and Section 6.3
// ===========================================================================

function selfTest() {
  const file = JSON.parse(fs.readFileSync(APPENDIX_C_FILE, 'utf8'));
  const mismatches = [];
  const check = (id, field, got, want) => {
    if (got !== want) mismatches.push(`${id}.${field}: computed ${got}, expected ${want}`);
  };
  let checked = 0;
  for (const v of file.vectors) {
    if (v.kind === 'derivation') {
      const i = v.input;
      const ctx = deriveContextFromInput(i);
      for (const k of ['senderKeyInfo', 'recipientKeyInfo', 'commonIvInfo', 'senderKey', 'recipientKey', 'commonIv']) {
        if (v.expect[k] !== undefined) check(v.id, k, hex(ctx[k]), v.expect[k]);
      }
      if (v.expect.nonces) {
        const piv = unhex(v.expect.nonces.partialIv);
        check(v.id, 'nonces.sender', hex(buildNonce(ctx.commonIv, ctx.senderId, piv)), v.expect.nonces.sender);
        check(v.id, 'nonces.recipient', hex(buildNonce(ctx.commonIv, ctx.recipientId, piv)), v.expect.nonces.recipient);
      }
    } else if (v.kind === 'request' || v.kind === 'response') {
      const pair = resolvePair(v.context);
      const req = protectRequest(pair, v.request.sequenceNumber, msgFromJson(v.request.message));
      const r = v.kind === 'request' ? req : protectResponse(pair, req.binding, v.response.sequenceNumber, msgFromJson(v.response.message));
      for (const [k, want] of Object.entries(v.expect)) {
        check(v.id, k, r[k] === undefined ? '(absent)' : hex(r[k]), want);
      }
      if (v.kind === 'response' && v.expect.partialIv === undefined && r.partialIv !== undefined) mismatches.push(`${v.id}: unexpected partialIv`);
      // And backwards, through the reference verifier.
      const server = new ReferenceServer(pair);
      const got = server.verifyRequest({ option: req.option, payload: req.payload });
      if (!sameMessage(got, msgFromJson(v.request.message))) mismatches.push(`${v.id}: request did not verify back`);
      if (v.kind === 'response') {
        const back = verifyResponse(pair, req.binding, { option: r.option, payload: r.payload });
        if (!sameMessage(back, msgFromJson(v.response.message))) mismatches.push(`${v.id}: response did not verify back`);
      }
    } else {
      throw new Error(`unexpected kind ${v.kind} in Appendix C file`);
    }
    checked++;
  }

  // Section 5.4 example: AES-CCM-16-64-128, request_kid 0x00, request_piv 0x25.
  const ex = buildAadArray(10, unhex('00'), unhex('25'));
  check('s5.4', 'aad_array', hex(ex), '8501810a4100412540');
  check('s5.4', 'external_aad', hex(cbor(ex)), '498501810a4100412540');
  check('s5.4', 'AAD', hex(buildAad(ex)), '8368456e63727970743040498501810a4100412540');

  // Section 6.3 compression examples 1-5.
  check('s6.3-1', 'option', hex(encodeOscoreOption({ piv: unhex('05'), kid: unhex('25') })), '090525');
  check('s6.3-2', 'option', hex(encodeOscoreOption({ piv: unhex('00'), kid: EMPTY })), '0900');
  check('s6.3-3', 'option', hex(encodeOscoreOption({ piv: unhex('05'), kid: EMPTY, kidContext: unhex('44616c656b') })), '19050544616c656b');
  check('s6.3-4', 'option', hex(encodeOscoreOption({})), '');
  check('s6.3-5', 'option', hex(encodeOscoreOption({ piv: unhex('07') })), '0107');

  // Section 5 Partial IV encoding and RFC 7252 Section 3.1 extended nibbles.
  check('piv', '0', hex(encodePiv(0)), '00');
  check('piv', '256', hex(encodePiv(256)), '0100');
  check('piv', '2^40-1', hex(encodePiv(2 ** 40 - 1)), 'ffffffffff');
  check('opt', 'len13', hex(encodeOptions([{ number: 11, value: new Uint8Array(13) }])).slice(0, 4), 'bd00');
  check('opt', 'len269', hex(encodeOptions([{ number: 11, value: new Uint8Array(269) }])).slice(0, 6), 'be0000');
  check('opt', 'delta268', hex(encodeOptions([{ number: 268, value: EMPTY }])), 'd0ff');
  check('opt', 'delta269', hex(encodeOptions([{ number: 269, value: EMPTY }])), 'e00000');

  if (mismatches.length) {
    throw new Error(`self-test against RFC 8613 Appendix C FAILED:\n  ${mismatches.join('\n  ')}`);
  }
  return checked;
}

// ===========================================================================
// Vector building blocks
// ===========================================================================

const SEQS = [0, 1, 255, 256, 65535, 2 ** 32, 2 ** 40 - 1];
const METHODS = { get: 1, post: 2, put: 3, delete: 4, fetch: 5, patch: 6 };
const OPT = {
  IF_MATCH: 1, ETAG: 4, IF_NONE_MATCH: 5, LOCATION_PATH: 8, URI_PATH: 11, CONTENT_FORMAT: 12, MAX_AGE: 14,
  URI_QUERY: 15, ACCEPT: 17, LOCATION_QUERY: 20, SIZE1: 60, NO_RESPONSE: 258,
};

/** RFC 7252 Section 3.2 uint: minimal big-endian, 0 is the empty string. */
function coapUint(v) {
  const out = [];
  while (v > 0) {
    out.unshift(v & 0xff);
    v = Math.floor(v / 256);
  }
  return Uint8Array.from(out);
}

const opt = (number, value) => ({ number, value: typeof value === 'string' ? utf8(value) : u8(value) });
const uriPath = (...segs) => segs.map((s) => opt(OPT.URI_PATH, s));
const sortOptions = (opts) => opts.map((o, i) => [o, i]).sort((a, b) => a[0].number - b[0].number || a[1] - b[1]).map(([o]) => o);
const message = (code, options, payload = EMPTY) => ({ code, options: sortOptions(options), payload: u8(payload) });

function algTag(alg, hkdfName) {
  return `a${alg}${hkdfName === 'HKDF-SHA-512' ? '-h512' : ''}`;
}

/**
 * Builds a vector "context" object. Keys appear in a fixed order.
 * o: { alg, hkdf, secret, salt, idContext (hex|null|undefined), clientId, serverId, sendKidContext, explicitNull }
 */
function contextJson(o) {
  const c = { masterSecret: o.secret };
  if (o.salt !== undefined) c.masterSalt = o.salt;
  if (o.idContext !== undefined && o.idContext !== null) c.idContext = o.idContext;
  else if (o.explicitNull) c.idContext = null;
  c.aeadAlgorithm = o.alg;
  c.hkdfAlgorithm = o.hkdf ?? 'HKDF-SHA-256';
  c.clientId = o.clientId;
  c.serverId = o.serverId;
  if (o.sendKidContext !== undefined) c.sendKidContext = o.sendKidContext;
  assert(c.clientId !== c.serverId, 'clientId must differ from serverId');
  return c;
}

/** Identifier layouts per algorithm: empty, 1 byte, maximum length (nonceLen - 6). */
function idProfiles(alg) {
  const max = AEAD[alg].nonceLen - 6;
  return [
    { tag: 'sid0', clientId: '', serverId: '01' },
    { tag: 'sid1', clientId: '42', serverId: '' },
    { tag: `sid${max}`, clientId: hex(detBytes(`client-id/${alg}`, max)), serverId: hex(detBytes(`server-id/${alg}`, max)) },
  ];
}

const SECRET_LENGTHS = [16, 32, 35, 64];
const SALT_LENGTHS = [undefined, 8, 0, 32, 100]; // undefined = absent (default empty)

const ID_CONTEXTS = [
  { tag: 'noctx', idContext: undefined },
  { tag: 'ctx8-kc', idContext: 8, sendKidContext: true },
  { tag: 'ctx8-nokc', idContext: 8, sendKidContext: false },
  { tag: 'ctx0-kc', idContext: 0, sendKidContext: true },
  { tag: 'ctx40-kc', idContext: 40, sendKidContext: true },
];

function makeContext(alg, hkdf, ids, ctxVariant, label, pick) {
  const secretLen = SECRET_LENGTHS[pick % SECRET_LENGTHS.length];
  const saltLen = SALT_LENGTHS[pick % SALT_LENGTHS.length];
  return contextJson({
    alg,
    hkdf,
    secret: hex(detBytes(`master-secret/${label}`, secretLen)),
    salt: saltLen === undefined ? undefined : hex(detBytes(`master-salt/${label}`, saltLen)),
    idContext: ctxVariant.idContext === undefined ? undefined : hex(detBytes(`id-context/${label}`, ctxVariant.idContext)),
    explicitNull: ctxVariant.idContext === undefined && pick % 3 === 1,
    clientId: ids.clientId,
    serverId: ids.serverId,
    sendKidContext: ctxVariant.sendKidContext,
  });
}

// Collected vectors, per output file.
const files = {
  positive: [],
  large: [],
  negative: [],
};

function describeCtx(c) {
  const a = AEAD[c.aeadAlgorithm];
  const parts = [`${a.name}`, c.hkdfAlgorithm];
  parts.push(`client Sender ID ${c.clientId === '' ? 'empty' : `${c.clientId.length / 2} byte(s)`}`);
  parts.push(`server Sender ID ${c.serverId === '' ? 'empty' : `${c.serverId.length / 2} byte(s)`}`);
  if (c.idContext != null) parts.push(`ID Context ${c.idContext.length / 2} byte(s), kid context ${c.sendKidContext === false ? 'not sent' : 'sent'}`);
  else parts.push('no ID Context');
  parts.push(c.masterSalt === undefined ? 'no Master Salt' : `Master Salt ${c.masterSalt.length / 2} byte(s)`);
  return parts.join(', ');
}

function addRequest(target, id, reference, description, context, seq, msg, opts = {}) {
  const pair = resolvePair(context);
  const r = protectRequest(pair, seq, msg);
  target.push({
    id,
    kind: 'request',
    reference,
    description: `${description} [${describeCtx(context)}]`,
    context,
    request: { sequenceNumber: seq, message: msgToJson(msg) },
    expect: expectJson(r, opts),
  });
}

function addResponse(target, id, reference, description, context, seq, reqMsg, serverSeq, respMsg, opts = {}) {
  const pair = resolvePair(context);
  const req = protectRequest(pair, seq, reqMsg);
  const r = protectResponse(pair, req.binding, serverSeq, respMsg);
  const response = {};
  if (serverSeq !== undefined) response.sequenceNumber = serverSeq;
  response.message = msgToJson(respMsg);
  target.push({
    id,
    kind: 'response',
    reference,
    description: `${description} [${describeCtx(context)}]`,
    context,
    request: { sequenceNumber: seq, message: msgToJson(reqMsg) },
    response,
    expect: expectJson(r, opts),
  });
}

// ===========================================================================
// Positive vectors
// ===========================================================================

function buildPositive() {
  const P = files.positive;

  // --- Derivation, every algorithm x HKDF -------------------------------
  for (const [ai, alg] of ALG_IDS.entries()) {
    for (const hkdfName of ['HKDF-SHA-256', 'HKDF-SHA-512']) {
      const ids = idProfiles(alg)[2];
      const label = `derive/${alg}/${hkdfName}`;
      const withCtx = ai % 2 === 0;
      const input = {
        masterSecret: hex(detBytes(`master-secret/${label}`, 16 + 8 * ai)),
        masterSalt: hex(detBytes(`master-salt/${label}`, 8)),
        senderId: ids.clientId,
        recipientId: ids.serverId,
      };
      if (withCtx) input.idContext = hex(detBytes(`id-context/${label}`, 8));
      input.aeadAlgorithm = alg;
      input.hkdfAlgorithm = hkdfName;
      const ctx = deriveContext({
        masterSecret: unhex(input.masterSecret),
        masterSalt: unhex(input.masterSalt),
        idContext: withCtx ? unhex(input.idContext) : null,
        aeadAlgorithm: alg,
        hkdfAlgorithm: hkdfName,
        senderId: unhex(input.senderId),
        recipientId: unhex(input.recipientId),
      });
      const piv = encodePiv(2 ** 40 - 1);
      P.push({
        id: `derive-${algTag(alg, hkdfName)}-sid${ids.clientId.length / 2}${withCtx ? '-ctx8' : ''}`,
        kind: 'derivation',
        reference: 'RFC 8613 Section 3.2.1, Section 5.2',
        description: `Key derivation for ${AEAD[alg].name} with ${hkdfName}, maximum-length Sender and Recipient IDs${withCtx ? ', 8-byte ID Context' : ''}; nonces for Partial IV 2^40-1.`,
        input,
        expect: {
          senderKeyInfo: hex(ctx.senderKeyInfo),
          recipientKeyInfo: hex(ctx.recipientKeyInfo),
          commonIvInfo: hex(ctx.commonIvInfo),
          senderKey: hex(ctx.senderKey),
          recipientKey: hex(ctx.recipientKey),
          commonIv: hex(ctx.commonIv),
          nonces: {
            partialIv: hex(piv),
            sender: hex(buildNonce(ctx.commonIv, ctx.senderId, piv)),
            recipient: hex(buildNonce(ctx.commonIv, ctx.recipientId, piv)),
          },
        },
      });
    }
  }

  // --- Context matrix: alg x Sender ID layout x ID Context variant --------
  // Every Sender ID layout with and without an 8-byte ID Context (kid context
  // sent); the other ID Context variants (not sent, 0 bytes, 40 bytes) each on
  // one Sender ID layout, rotating per algorithm.
  let pick = 0;
  for (const [ai, alg] of ALG_IDS.entries()) {
    const combos = [];
    for (const [ii, ids] of idProfiles(alg).entries()) {
      combos.push([ids, ID_CONTEXTS[0]], [ids, ID_CONTEXTS[1]]);
      for (const [ci, cv] of ID_CONTEXTS.slice(2).entries()) if ((ai + ci) % 3 === ii) combos.push([ids, cv]);
    }
    for (const [ids, cv] of combos) {
      {
        const seq = SEQS[pick % SEQS.length];
        const label = `matrix/${alg}/${ids.tag}/${cv.tag}`;
        const ctx = makeContext(alg, 'HKDF-SHA-256', ids, cv, label, pick);
        const msg = message(METHODS.get, uriPath('sensors', 'temp'));
        addRequest(P, `req-a${alg}-${ids.tag}-${cv.tag}-seq${seq}-get`, 'RFC 8613 Sections 3.2, 5, 6.1, 8.1',
          `GET /sensors/temp, Sender Sequence Number ${seq}.`, ctx, seq, msg);
        pick++;
      }
    }
  }

  // --- HKDF-SHA-512 on every algorithm ----------------------------------
  for (const alg of ALG_IDS) {
    for (const [k, cv] of [ID_CONTEXTS[0], ID_CONTEXTS[1]].entries()) {
      const ids = idProfiles(alg)[k === 0 ? 1 : 2];
      const label = `h512/${alg}/${cv.tag}`;
      const ctx = makeContext(alg, 'HKDF-SHA-512', ids, cv, label, pick++);
      const seq = [3, 70000][k];
      const body = detBytes(`payload/${label}`, 100);
      const msg = message(METHODS.post, [...uriPath('h512'), opt(OPT.CONTENT_FORMAT, coapUint(60))], body);
      addRequest(P, `req-${algTag(alg, 'HKDF-SHA-512')}-${ids.tag}-${cv.tag}-seq${seq}-post-100b`, 'RFC 8613 Section 3.2.1 (HKDF SHA-512), Section 8.1',
        `POST /h512 with Content-Format 60 and a 100-byte payload, keys derived with HKDF-SHA-512.`, ctx, seq, msg);
    }
  }

  // --- Sequence numbers on every algorithm --------------------------------
  // All of them on AES-CCM-16-64-128 (13-byte nonce) and A128GCM (12-byte
  // nonce); the smallest, a two-byte and the largest on the others.
  for (const alg of ALG_IDS) {
    const ids = idProfiles(alg)[1];
    const ctx = makeContext(alg, 'HKDF-SHA-256', ids, ID_CONTEXTS[0], `seq/${alg}`, 1);
    for (const seq of alg === 10 || alg === 1 ? SEQS : [0, 256, 2 ** 40 - 1]) {
      const msg = message(METHODS.get, uriPath('seq'));
      addRequest(P, `req-a${alg}-sid1-seq${seq}-get`, 'RFC 8613 Sections 5 (Partial IV encoding), 5.2, 6.1',
        `GET /seq with Sender Sequence Number ${seq} (Partial IV ${hex(encodePiv(seq))}).`, ctx, seq, msg);
    }
  }

  // --- Methods and payload sizes ----------------------------------------
  const methodNames = ['post', 'put', 'patch', 'delete', 'fetch'];
  const sizes = [0, 1, 100, 1024];
  for (const [ai, alg] of ALG_IDS.entries()) {
    const ids = idProfiles(alg)[ai % 3];
    const ctx = makeContext(alg, ai % 4 === 3 ? 'HKDF-SHA-512' : 'HKDF-SHA-256', ids, ID_CONTEXTS[ai % 2], `methods/${alg}`, ai);
    const full = alg === 10; // every method x size on the mandatory-to-implement algorithm
    const combos = [];
    for (const [mi, m] of methodNames.entries()) {
      if (full) for (const s of sizes) combos.push([m, s]);
      else combos.push([m, sizes[(mi + ai) % sizes.length]]);
    }
    for (const [ci, [m, size]] of combos.entries()) {
      const seq = 1000 + ci;
      const body = detBytes(`payload/methods/${alg}/${m}/${size}`, size);
      const options = [...uriPath('store', m)];
      if (size > 0 && m !== 'delete') options.push(opt(OPT.CONTENT_FORMAT, coapUint(42)));
      const msg = message(METHODS[m], options, body);
      addRequest(P, `req-${algTag(alg, ctx.hkdfAlgorithm)}-${ids.tag}-seq${seq}-${m}-${size}b`, 'RFC 8613 Sections 5.3, 8.1',
        `${m.toUpperCase()} (code ${METHODS[m]}) /store/${m} with a ${size}-byte payload${size === 0 ? ' (no payload marker)' : ''}.`, ctx, seq, msg);
    }
  }

  // --- Option mixes ------------------------------------------------------
  const big = (label, n) => detBytes(`option-value/${label}`, n);
  const scenarios = [
    ['uripath-3seg', 'Uri-Path with three segments', 1, [...uriPath('api', 'v1', 'sensors')]],
    ['uripath-empty-seg', 'Uri-Path with an empty segment (trailing slash)', 1, [...uriPath('dir', '')]],
    ['uriquery-rep', 'Uri-Path and Uri-Query repeated three times (delta 0)', 1, [...uriPath('q'), opt(OPT.URI_QUERY, 'a=1'), opt(OPT.URI_QUERY, 'b=2'), opt(OPT.URI_QUERY, 'c=3')]],
    ['cf0', 'Content-Format 0 (uint 0 = empty value)', 2, [...uriPath('cf'), opt(OPT.CONTENT_FORMAT, coapUint(0))], utf8('hello')],
    ['cf50', 'Content-Format 50 (application/json)', 2, [...uriPath('cf'), opt(OPT.CONTENT_FORMAT, coapUint(50))], utf8('{"a":1}')],
    ['cf60', 'Content-Format 60 (application/cbor)', 2, [...uriPath('cf'), opt(OPT.CONTENT_FORMAT, coapUint(60))], u8('a1616101')],
    ['accept', 'Accept 50', 1, [...uriPath('acc'), opt(OPT.ACCEPT, coapUint(50))]],
    ['accept0', 'Accept 0 (empty value)', 1, [...uriPath('acc'), opt(OPT.ACCEPT, coapUint(0))]],
    ['etag', 'two ETag options (validation request)', 1, [...uriPath('res'), opt(OPT.ETAG, u8('a1b2c3d4')), opt(OPT.ETAG, u8('00'))]],
    ['ifmatch', 'If-Match twice (one empty), Content-Format', 3, [opt(OPT.IF_MATCH, u8('0102030405060708')), opt(OPT.IF_MATCH, EMPTY), ...uriPath('res'), opt(OPT.CONTENT_FORMAT, coapUint(0))], utf8('new')],
    ['ifnonematch', 'If-None-Match (empty value)', 3, [opt(OPT.IF_NONE_MATCH, EMPTY), ...uriPath('res')], utf8('create')],
    ['optlen12', 'Uri-Path segment of 12 bytes (length nibble 12)', 1, [...uriPath('abcdefghijkl')]],
    ['optlen13', 'Uri-Path segment of 13 bytes (length nibble 13, extension 0)', 1, [...uriPath('abcdefghijklm')]],
    ['optlen268', 'experimental option 65000 with a 268-byte value (nibble 13, extension 255)', 1, [opt(65000, big('268', 268))]],
    ['optlen269', 'experimental option 65000 with a 269-byte value (nibble 14, extension 0)', 1, [opt(65000, big('269', 269))]],
    ['optlen300', 'experimental option 65000 with a 300-byte value (nibble 14, extension 31)', 1, [opt(65000, big('300', 300))]],
    ['delta12', 'first option Content-Format 12 (delta nibble 12)', 2, [opt(OPT.CONTENT_FORMAT, coapUint(50))], utf8('[]')],
    ['delta13', 'ETag then Accept (delta 13: nibble 13, extension 0)', 1, [opt(OPT.ETAG, u8('01')), opt(OPT.ACCEPT, coapUint(60))]],
    ['delta268', 'ETag then option 272 (delta 268: nibble 13, extension 255)', 1, [opt(OPT.ETAG, u8('02')), opt(272, u8('abcd'))]],
    ['delta269', 'Uri-Query then option 284 (delta 269: nibble 14, extension 0)', 1, [opt(OPT.URI_QUERY, 'x'), opt(284, u8('ef'))]],
    ['delta1000', 'Content-Format then option 1012 (delta 1000)', 2, [opt(OPT.CONTENT_FORMAT, coapUint(0)), opt(1012, utf8('v'))], utf8('p')],
    ['opt65000-long', 'Uri-Path then experimental option 65000 with a 1000-byte value (delta 64989)', 1, [...uriPath('x'), opt(65000, big('1000', 1000))]],
    ['opt65534', 'single option 65534 (largest even delta, nibble 14, extension 65265)', 1, [opt(65534, u8('00'))]],
    ['noresponse', 'No-Response (258, Class E and U) and Size1', 2, [...uriPath('nr'), opt(OPT.CONTENT_FORMAT, coapUint(0)), opt(OPT.SIZE1, coapUint(4)), opt(OPT.NO_RESPONSE, coapUint(26))], utf8('ping')],
    ['all-mix', 'If-Match, ETag, If-None-Match, Uri-Path x2, Content-Format, Uri-Query x2, Accept, Size1, No-Response, 2052, 65000', 5,
      [opt(OPT.IF_MATCH, u8('aa')), opt(OPT.ETAG, u8('bb')), opt(OPT.IF_NONE_MATCH, EMPTY), ...uriPath('a', 'b'), opt(OPT.CONTENT_FORMAT, coapUint(60)),
        opt(OPT.URI_QUERY, 'k=v'), opt(OPT.URI_QUERY, 'flag'), opt(OPT.ACCEPT, coapUint(60)), opt(OPT.SIZE1, coapUint(300)), opt(OPT.NO_RESPONSE, coapUint(2)),
        opt(2052, big('2052', 20)), opt(65000, big('mix', 300))], detBytes('payload/all-mix', 300)],
  ];
  for (const [si, [tag, text, code, options, payload]] of scenarios.entries()) {
    for (const alg of [10, ALG_IDS[1 + (si % (ALG_IDS.length - 1))]]) {
      const ids = idProfiles(alg)[(si + (alg === 10 ? 0 : 1)) % 3];
      const cv = ID_CONTEXTS[si % 2 === 0 || alg === 10 ? 0 : 1];
      const ctx = makeContext(alg, 'HKDF-SHA-256', ids, cv, `options/${alg}/${tag}`, si);
      const seq = 20 + si;
      const msg = message(code, options, payload ?? EMPTY);
      const mname = Object.keys(METHODS).find((k) => METHODS[k] === code);
      addRequest(P, `req-a${alg}-${ids.tag}-seq${seq}-${mname}-opt-${tag}`, 'RFC 8613 Section 5.3; RFC 7252 Section 3.1',
        `${mname.toUpperCase()} with ${text}.`, ctx, seq, msg);
    }
  }

  // --- Responses ---------------------------------------------------------
  const responses = [
    ['201', 65, 'Location-Path items/42', [opt(OPT.LOCATION_PATH, 'items'), opt(OPT.LOCATION_PATH, '42')], EMPTY, METHODS.post],
    ['204', 68, 'no options, no payload', [], EMPTY, METHODS.put],
    ['205', 69, 'Content-Format 50, ETag, Max-Age 60, JSON payload', [opt(OPT.ETAG, u8('0a0b0c')), opt(OPT.CONTENT_FORMAT, coapUint(50)), opt(OPT.MAX_AGE, coapUint(60))], utf8('{"temp":21.5}'), METHODS.get],
    ['404', 132, 'diagnostic payload, Content-Format 0', [opt(OPT.CONTENT_FORMAT, coapUint(0))], utf8('Not Found'), METHODS.get],
    ['500', 160, 'Max-Age 0 (empty value) and a diagnostic payload', [opt(OPT.MAX_AGE, coapUint(0))], utf8('oops'), METHODS.delete],
  ];
  const serverSeqs = [0, 1, 255, 65535, 2 ** 32, 2 ** 40 - 1];
  let rp = 0;
  for (const [ai, alg] of ALG_IDS.entries()) {
    const list = alg === 10 ? responses.flatMap((r) => [[r, false], [r, true]]) : [[responses[ai % 5], false], [responses[(ai + 1) % 5], true], [responses[(ai + 2) % 5], false], [responses[(ai + 3) % 5], true]];
    for (const [[tag, code, text, options, payload, reqCode], ownPiv] of list) {
      const ids = idProfiles(alg)[rp % 3];
      const cv = ID_CONTEXTS[rp % ID_CONTEXTS.length];
      const hkdfName = rp % 5 === 4 ? 'HKDF-SHA-512' : 'HKDF-SHA-256';
      const ctx = makeContext(alg, hkdfName, ids, cv, `responses/${alg}/${tag}/${ownPiv}`, rp);
      const seq = SEQS[rp % SEQS.length];
      const serverSeq = ownPiv ? serverSeqs[rp % serverSeqs.length] : undefined;
      const reqMsg = message(reqCode, uriPath('r', tag), reqCode === METHODS.post || reqCode === METHODS.put ? utf8('body') : EMPTY);
      const respMsg = message(code, options, payload);
      addResponse(P, `resp-${algTag(alg, hkdfName)}-${ids.tag}-${cv.tag}-req${seq}-${tag}-${ownPiv ? `piv${serverSeq}` : 'nopiv'}`,
        ownPiv ? 'RFC 8613 Sections 5.2, 5.4, 8.3 (response with its own Partial IV)' : 'RFC 8613 Sections 5.2, 5.4, 8.3 (response using the request nonce)',
        `Response ${code >> 5}.${String(code & 31).padStart(2, '0')} with ${text}, ${ownPiv ? `own Partial IV from server Sender Sequence Number ${serverSeq}` : 'no Partial IV (request nonce)'}; request Sender Sequence Number ${seq}.`,
        ctx, seq, reqMsg, serverSeq, respMsg);
      rp++;
    }
  }
  // Responses with larger payloads, both nonce modes, a few algorithms.
  for (const [i, alg] of [10, 31, 1, 24].entries()) {
    const ids = idProfiles(alg)[2];
    const ctx = makeContext(alg, 'HKDF-SHA-256', ids, ID_CONTEXTS[i % 2 ? 4 : 0], `responses-1k/${alg}`, i);
    for (const ownPiv of [false, true]) {
      const respMsg = message(69, [opt(OPT.CONTENT_FORMAT, coapUint(60)), opt(OPT.MAX_AGE, coapUint(3600))], detBytes(`payload/resp1k/${alg}`, 1024));
      const reqMsg = message(METHODS.fetch, [...uriPath('big'), opt(OPT.CONTENT_FORMAT, coapUint(60)), opt(OPT.ACCEPT, coapUint(60))], u8('a0'));
      const serverSeq = ownPiv ? 7 : undefined;
      addResponse(P, `resp-a${alg}-${ids.tag}-req9-205-1024b-${ownPiv ? 'piv7' : 'nopiv'}`, 'RFC 8613 Sections 5.3, 8.3',
        `FETCH answered by 2.05 Content with a 1024-byte CBOR payload, ${ownPiv ? 'own Partial IV 7' : 'request nonce'}.`, ctx, 9, reqMsg, serverSeq, respMsg);
    }
  }

  // --- Near-64-KiB payloads (separate file; plaintext intermediate omitted to keep the size down)
  for (const [ai, alg] of ALG_IDS.entries()) {
    const ids = idProfiles(alg)[ai % 3];
    const ctx = makeContext(alg, ai % 2 ? 'HKDF-SHA-512' : 'HKDF-SHA-256', ids, ID_CONTEXTS[0], `large/${alg}`, ai);
    const size = AEAD[alg].ccm ? 65000 : 65536;
    const m = ai % 2 ? 'put' : 'post';
    const msg = message(METHODS[m], [...uriPath('upload'), opt(OPT.CONTENT_FORMAT, coapUint(42))], detBytes(`payload/large/${alg}`, size));
    const seq = 4096 + ai;
    addRequest(files.large, `req-a${alg}-${ids.tag}-seq${seq}-${m}-${size}b`, 'RFC 8613 Section 5.3; RFC 9053 Section 4',
      `${m.toUpperCase()} /upload with a ${size}-byte payload (plaintext ${encodePlaintext(msg).length} bytes${AEAD[alg].ccm ? ', under the 65535-byte CCM limit for a 13-byte nonce' : ''}). The plaintext intermediate is omitted for size; it is code || options || 0xff || payload.`,
      ctx, seq, msg, { withPlaintext: false });
  }
  if (INCLUDE_CCM_MAX) {
    // Exactly at the AES-CCM limit: plaintext = 1 (code) + 1 (marker) + 65533 = 65535 bytes.
    const ids = idProfiles(10)[1];
    const ctx = makeContext(10, 'HKDF-SHA-256', ids, ID_CONTEXTS[0], 'large/ccm-max', 0);
    const msg = message(METHODS.post, [], detBytes('payload/large/ccm-max', 65533));
    assert(encodePlaintext(msg).length === 65535, 'ccm-max size');
    addRequest(files.large, 'req-a10-sid1-seq4200-post-65533b-ccm-max', 'RFC 8613 Section 5.3; RFC 9053 Section 4.2 (L = 2)',
      'POST without options and a 65533-byte payload: the plaintext is exactly 65535 bytes, the largest AES-CCM allows with a 13-byte nonce. The plaintext intermediate is omitted for size.',
      ctx, 4200, msg, { withPlaintext: false });
  }
}

// ===========================================================================
// Negative vectors
// ===========================================================================

function flipBit(bytes, index, bit = 0) {
  const out = u8(bytes);
  out[index] ^= 1 << bit;
  return out;
}

function buildNegative() {
  const N = files.negative;
  const wire = (r) => ({ option: hex(r.option), payload: hex(r.payload) });
  const reqRejection = (id, reference, description, context, received, error, extra = {}) => {
    N.push({
      id,
      kind: 'request-rejection',
      reference,
      description,
      context,
      ...(extra.replayWindowSize !== undefined ? { replayWindowSize: extra.replayWindowSize } : {}),
      received,
      expect: { error, outcome: OUTCOME[error] },
    });
  };
  const respRejection = (id, reference, description, context, seq, reqMsg, received, error) => {
    const expect = { error };
    if (OUTCOME_ON_RESPONSE_REJECTIONS && OUTCOME[error]) expect.outcome = OUTCOME[error];
    N.push({ id, kind: 'response-rejection', reference, description, context, request: { sequenceNumber: seq, message: msgToJson(reqMsg) }, received, expect });
  };

  const baseCtx = contextJson({ alg: 10, secret: '0102030405060708090a0b0c0d0e0f10', salt: '9e7ca92223786340', clientId: '42', serverId: '01' });
  const basePair = resolvePair(baseCtx);
  const getTv1 = message(METHODS.get, uriPath('tv1'));
  const valid20 = protectRequest(basePair, 20, getTv1); // option 091442

  // --- Tampering on every algorithm -------------------------------------
  for (const [ai, alg] of ALG_IDS.entries()) {
    const ids = idProfiles(alg)[ai % 3];
    const ctx = makeContext(alg, 'HKDF-SHA-256', ids, ID_CONTEXTS[ai % 2], `negative/${alg}`, ai);
    const pair = resolvePair(ctx);
    const msg = message(METHODS.post, [...uriPath('t')], detBytes(`payload/negative/${alg}`, 10));
    const r = protectRequest(pair, 5, msg);
    const tagLen = AEAD[alg].tagLen;
    const a = `a${alg}`;
    const ref = 'RFC 8613 Section 8.2 step 6';
    reqRejection(`rej-${a}-truncated-1`, ref, 'Ciphertext with its last byte removed.', ctx,
      [{ option: hex(r.option), payload: hex(r.payload.subarray(0, r.payload.length - 1)) }], 'ERR_OSCORE_DECRYPTION_FAILED');
    reqRejection(`rej-${a}-shorter-than-tag`, ref, `Ciphertext truncated to ${tagLen - 1} bytes, shorter than the ${tagLen}-byte tag.`, ctx,
      [{ option: hex(r.option), payload: hex(r.payload.subarray(0, tagLen - 1)) }], 'ERR_OSCORE_DECRYPTION_FAILED');
    reqRejection(`rej-${a}-bitflip-body`, ref, 'One bit flipped in the first byte of the encrypted body.', ctx,
      [{ option: hex(r.option), payload: hex(flipBit(r.payload, 0, 3)) }], 'ERR_OSCORE_DECRYPTION_FAILED');
    reqRejection(`rej-${a}-bitflip-tag`, ref, 'One bit flipped in the last byte of the authentication tag.', ctx,
      [{ option: hex(r.option), payload: hex(flipBit(r.payload, r.payload.length - 1, 7)) }], 'ERR_OSCORE_DECRYPTION_FAILED');
  }

  const ref82 = 'RFC 8613 Section 8.2';
  reqRejection('rej-a10-empty-payload', 'RFC 8613 Section 2', 'Valid OSCORE option but a zero-length payload: a message with an OSCORE option and no payload is malformed.', baseCtx,
    [{ option: hex(valid20.option), payload: '' }], 'ERR_OSCORE_MALFORMED_COSE');

  // Partial IV bit flips, kept minimally encoded.
  {
    const opt1 = flipBit(valid20.option, 1, 0); // 0x14 -> 0x15
    reqRejection('rej-a10-piv-bitflip', 'RFC 8613 Sections 5.2, 5.4, 8.2', `Partial IV 0x14 changed to 0x15 in the option (${hex(opt1)}); nonce and AAD no longer match.`, baseCtx,
      [{ option: hex(opt1), payload: hex(valid20.payload) }], 'ERR_OSCORE_DECRYPTION_FAILED');
    const r256 = protectRequest(basePair, 256, getTv1); // option 0a010042
    const opt2 = flipBit(r256.option, 2, 0); // 0x0100 -> 0x0101
    reqRejection('rej-a10-piv2-bitflip', 'RFC 8613 Sections 5.2, 5.4, 8.2', `Two-byte Partial IV 0x0100 changed to 0x0101 (${hex(opt2)}).`, baseCtx,
      [{ option: hex(opt2), payload: hex(r256.payload) }], 'ERR_OSCORE_DECRYPTION_FAILED');
  }

  // Context lookup.
  {
    const other = resolvePair({ ...baseCtx, clientId: '43' });
    const r = protectRequest(other, 20, getTv1);
    reqRejection('rej-a10-wrong-kid', `${ref82} step 2`, 'kid 0x43 (a correctly protected request from a client whose Sender ID the server does not know; the server knows only 0x42).', baseCtx,
      [wire(r)], 'ERR_OSCORE_CONTEXT_NOT_FOUND');
    const other2 = resolvePair({ ...baseCtx, clientId: '' });
    const r2 = protectRequest(other2, 20, getTv1);
    reqRejection('rej-a10-wrong-kid-empty', `${ref82} step 2`, 'Empty kid (option 0914) while the server only knows Recipient ID 0x42.', baseCtx,
      [wire(r2)], 'ERR_OSCORE_CONTEXT_NOT_FOUND');

    const ctxCtx = { ...baseCtx, idContext: '37cbf3210017a2d3', sendKidContext: true };
    const wrongCtx = resolvePair({ ...ctxCtx, idContext: '37cbf3210017a2d4' });
    const r3 = protectRequest(wrongCtx, 20, getTv1);
    reqRejection('rej-a10-wrong-kid-context', `RFC 8613 Section 5 ('kid context'), ${ref82} step 2`,
      'kid context 37cbf3210017a2d4 (request protected with that ID Context) while the server has only ID Context 37cbf3210017a2d3 for kid 0x42.', ctxCtx,
      [wire(r3)], 'ERR_OSCORE_CONTEXT_NOT_FOUND');
    const r4 = protectRequest(resolvePair(ctxCtx), 20, getTv1);
    reqRejection('rej-a10-kid-context-server-has-none', `RFC 8613 Section 5 ('kid context'), ${ref82} step 2`,
      "Request carrying kid context 37cbf3210017a2d3, but the server's only context for kid 0x42 has no ID Context ('If kid context is present in the request, then the server SHALL use a security context with that ID Context').",
      baseCtx, [wire(r4)], 'ERR_OSCORE_CONTEXT_NOT_FOUND');
  }

  // Malformed option values. Payload is always the valid ciphertext of valid20.
  const badOption = (id, reference, text, optionHex, error) =>
    reqRejection(`rej-a10-${id}`, reference, `${text} Option value ${optionHex === '' ? '(empty)' : optionHex}.`, baseCtx,
      [{ option: optionHex, payload: hex(valid20.payload) }], error);
  const ref61 = 'RFC 8613 Section 6.1, Section 8.2 step 2';
  for (const bit of [0x20, 0x40, 0x80]) {
    badOption(`reserved-flag-${bit.toString(16)}`, ref61, `Reserved flag bit 0x${bit.toString(16)} set on an otherwise valid option.`, hex(concat(Uint8Array.of(valid20.option[0] | bit), valid20.option.subarray(1))), 'ERR_OSCORE_MALFORMED_OPTION');
  }
  badOption('piv-len-6', ref61, 'Partial IV length n = 6 (reserved).', '0e01020304050642', 'ERR_OSCORE_MALFORMED_OPTION');
  badOption('piv-len-7', ref61, 'Partial IV length n = 7 (reserved).', '0f0102030405060742', 'ERR_OSCORE_MALFORMED_OPTION');
  // Section 5 binds the sender ("All leading bytes of value zero SHALL be removed when
  // encoding the Partial IV"); it gives a receiver no rule to refuse such a value. The AAD
  // carries request_piv as sent (Section 5.4), so a Partial IV re-encoded on the path
  // (0x14 as 0x0014) authenticates nothing: the message fails to decrypt.
  badOption('piv-leading-zero', 'RFC 8613 Section 5 (Partial IV encoding), Section 5.4 (request_piv), Section 8.2 step 6', 'Partial IV 0x14 of a valid request re-encoded as 0x0014 (n = 2): the same nonce, but the AAD carries the bytes as sent, so decryption fails.', '0a001442', 'ERR_OSCORE_DECRYPTION_FAILED');
  badOption('kidctx-len-overflow', ref61, 'h = 1 with kid context length s = 5 but only 1 byte left in the option.', '19140542', 'ERR_OSCORE_MALFORMED_OPTION');
  badOption('kidctx-len-missing', ref61, 'h = 1 but the option ends right after the Partial IV (no s byte).', '1114', 'ERR_OSCORE_MALFORMED_OPTION');
  badOption('truncated-piv', ref61, 'n = 3 but only 2 Partial IV bytes follow.', '0b0001', 'ERR_OSCORE_MALFORMED_OPTION');
  badOption('truncated-piv-flags-only', ref61, 'n = 1, k = 1 and nothing after the flag byte.', '09', 'ERR_OSCORE_MALFORMED_OPTION');
  badOption('zero-flag-byte', 'RFC 8613 Section 2, Section 6.1', 'A single 0x00 byte: all-zero flag bits SHALL be sent as an empty option value.', '00', 'ERR_OSCORE_MALFORMED_OPTION');
  badOption('trailing-bytes-k0', ref61, 'n = 1, k = 0, h = 0 followed by an extra byte: bytes after the last field (decompression fails before the missing kid is noticed).', '011442', 'ERR_OSCORE_MALFORMED_OPTION');
  badOption('no-piv', 'RFC 8613 Section 5 (Partial IV SHALL be present in requests), Section 8.2 step 2', 'Request option with kid but no Partial IV (n = 0, k = 1).', '0842', 'ERR_OSCORE_MALFORMED_COSE');
  badOption('no-kid', 'RFC 8613 Section 5 (kid SHALL be present in requests), Section 8.2 step 2', 'Request option with Partial IV but no kid (n = 1, k = 0).', '0114', 'ERR_OSCORE_MALFORMED_COSE');
  badOption('empty-option', 'RFC 8613 Section 5, Section 8.2 step 2', 'Request with an empty OSCORE option (no Partial IV, no kid).', '', 'ERR_OSCORE_MALFORMED_COSE');

  // Replay.
  {
    const ref74 = 'RFC 8613 Section 7.4, Section 8.2 step 3';
    reqRejection('rej-a10-replay', ref74, 'The same request (Partial IV 20) received twice.', baseCtx, [wire(valid20), wire(valid20)], 'ERR_OSCORE_REPLAY');
    const r0 = protectRequest(basePair, 0, getTv1);
    reqRejection('rej-a10-replay-seq0', ref74, 'The first possible request (Partial IV 0) received twice.', baseCtx, [wire(r0), wire(r0)], 'ERR_OSCORE_REPLAY');
    const rMax = protectRequest(basePair, 2 ** 40 - 1, getTv1);
    reqRejection('rej-a10-replay-seqmax', ref74, 'A request with Partial IV 2^40-1 received twice.', baseCtx, [wire(rMax), wire(rMax)], 'ERR_OSCORE_REPLAY');
    const rA = protectRequest(basePair, 7, getTv1);
    const rB = protectRequest(basePair, 9, getTv1);
    reqRejection('rej-a10-replay-inside-window', ref74, 'Partial IVs 7, 9, then 7 again: a replay inside the window.', baseCtx, [wire(rA), wire(rB), wire(rA)], 'ERR_OSCORE_REPLAY');
    const r100 = protectRequest(basePair, 100, getTv1);
    const r30 = protectRequest(basePair, 30, getTv1);
    reqRejection('rej-a10-reorder-outside-window-64', ref74, 'Partial IV 100 then 30: 30 is left of the default 64-entry window (and of a 32-entry one).', baseCtx, [wire(r100), wire(r30)], 'ERR_OSCORE_REPLAY');
    const r40 = protectRequest(basePair, 40, getTv1);
    const r8 = protectRequest(basePair, 8, getTv1);
    reqRejection('rej-a10-reorder-outside-window-32', ref74, 'Window size 32: Partial IV 40 then 8 (40 - 8 = 32, so 8 is just left of the window [9, 40]).', baseCtx, [wire(r40), wire(r8)], 'ERR_OSCORE_REPLAY', { replayWindowSize: 32 });
    const gcmCtx = makeContext(1, 'HKDF-SHA-256', idProfiles(1)[2], ID_CONTEXTS[1], 'negative/replay-gcm', 0);
    const gp = resolvePair(gcmCtx);
    const g = protectRequest(gp, 65535, getTv1);
    reqRejection('rej-a1-replay-kidctx', ref74, 'A1GCM, kid context present: Partial IV 65535 received twice.', gcmCtx, [wire(g), wire(g)], 'ERR_OSCORE_REPLAY');
  }

  // Correctly encrypted, but the plaintext is not a valid CoAP message.
  {
    const ref53 = 'RFC 8613 Section 5.3, Section 8.2 step 7; RFC 7252 Section 3.1';
    const cases = [
      ['pt-marker-no-payload', 'GET /tv1 followed by a payload marker and no payload', '01b3747631ff'],
      ['pt-delta-nibble-15', 'option byte 0xf3 (delta nibble 15 that is not the payload marker)', '01f3616263'],
      ['pt-length-nibble-15', 'option byte 0xbf (length nibble 15)', '01bf616263'],
      ['pt-truncated-option-value', 'Uri-Path with length 5 but only 2 value bytes', '01b57476'],
      ['pt-truncated-ext-delta', 'delta nibble 13 without its extension byte', '01d0'],
      ['pt-truncated-ext-length', 'length nibble 14 with only one of its two extension bytes', '01be00'],
      ['pt-empty', 'an empty plaintext (no code byte)', ''],
      ['pt-response-code', 'a request whose inner code is 2.05 Content', '45ff6869'],
      ['pt-inner-oscore-option', 'an inner OSCORE option (9) before Uri-Path', '019023747631'],
    ];
    for (const [tag, text, ptHex] of cases) {
      const ctx = basePair.client;
      const piv = encodePiv(20);
      const aad = buildAad(buildAadArray(ctx.alg, ctx.senderId, piv));
      const nonce = buildNonce(ctx.commonIv, ctx.senderId, piv);
      const payload = aeadSeal(ctx.aead, ctx.senderKey, nonce, aad, unhex(ptHex));
      reqRejection(`rej-a10-${tag}`, ref53, `Authenticated plaintext ${ptHex === '' ? '(empty)' : ptHex}: ${text}.`, baseCtx,
        [{ option: hex(valid20.option), payload: hex(payload) }], 'ERR_OSCORE_MALFORMED_PLAINTEXT');
    }
  }

  // Responses.
  {
    const ref84 = 'RFC 8613 Section 8.4';
    const req5 = protectRequest(basePair, 5, getTv1);
    const req6 = protectRequest(basePair, 6, getTv1);
    const content = message(69, [opt(OPT.CONTENT_FORMAT, coapUint(0))], utf8('Hello World!'));
    const resp5 = protectResponse(basePair, req5.binding, undefined, content);
    const resp5piv = protectResponse(basePair, req5.binding, 3, content);
    const resp6 = protectResponse(basePair, req6.binding, undefined, content);
    const resp6piv = protectResponse(basePair, req6.binding, 3, content);
    respRejection('resprej-a10-wrong-request', `${ref84} steps 3-5, Section 7.1`, 'Response computed (with the request nonce) for the request with Partial IV 5; the client sent Partial IV 6.', baseCtx, 6, getTv1, wire(resp5), 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-wrong-request-piv', `${ref84} steps 3-5, Section 7.1`, 'Response with its own Partial IV 3, computed for the request with Partial IV 5 (AAD binding); the client sent Partial IV 6.', baseCtx, 6, getTv1, wire(resp5piv), 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-bitflip-body', `${ref84} step 5`, 'Response (request nonce) with one bit flipped in the ciphertext body.', baseCtx, 6, getTv1, { option: '', payload: hex(flipBit(resp6.payload, 2, 5)) }, 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-bitflip-tag', `${ref84} step 5`, 'Response (request nonce) with one bit flipped in the tag.', baseCtx, 6, getTv1, { option: '', payload: hex(flipBit(resp6.payload, resp6.payload.length - 1, 0)) }, 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-piv-bitflip', `${ref84} steps 4-5`, 'Response with own Partial IV 3 changed to 2 in the option (0102).', baseCtx, 6, getTv1, { option: '0102', payload: hex(resp6piv.payload) }, 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-piv-added', `${ref84} step 4`, 'Response protected with the request nonce, but an option claiming Partial IV 0 was added (0100).', baseCtx, 6, getTv1, { option: '0100', payload: hex(resp6.payload) }, 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-piv-removed', `${ref84} step 4`, 'Response protected with its own Partial IV 3, delivered with an empty option (so the client uses the request nonce).', baseCtx, 6, getTv1, { option: '', payload: hex(resp6piv.payload) }, 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-truncated', `${ref84} step 5`, 'Response ciphertext with its last byte removed.', baseCtx, 6, getTv1, { option: '', payload: hex(resp6.payload.subarray(0, resp6.payload.length - 1)) }, 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-shorter-than-tag', `${ref84} step 5`, 'Response ciphertext of 7 bytes, shorter than the 8-byte tag.', baseCtx, 6, getTv1, { option: '', payload: hex(resp6.payload.subarray(0, 7)) }, 'ERR_OSCORE_DECRYPTION_FAILED');
    respRejection('resprej-a10-empty-payload', 'RFC 8613 Section 2, Section 8.4 step 2', 'Response with an (empty) OSCORE option and a zero-length payload.', baseCtx, 6, getTv1, { option: '', payload: '' }, 'ERR_OSCORE_MALFORMED_COSE');
    for (const bit of [0x20, 0x40, 0x80]) {
      respRejection(`resprej-a10-reserved-flag-${bit.toString(16)}`, 'RFC 8613 Section 6.1, Section 8.4 step 2', `Response option with reserved flag bit 0x${bit.toString(16)} and Partial IV 3 (${hex(Uint8Array.of(0x01 | bit, 3))}).`, baseCtx, 6, getTv1,
        { option: hex(Uint8Array.of(0x01 | bit, 3)), payload: hex(resp6piv.payload) }, 'ERR_OSCORE_MALFORMED_OPTION');
    }
    respRejection('resprej-a10-reserved-flag-only', 'RFC 8613 Section 6.1, Section 8.4 step 2', 'Response option consisting of the flag byte 0x20 alone (reserved bit, no Partial IV).', baseCtx, 6, getTv1, { option: '20', payload: hex(resp6.payload) }, 'ERR_OSCORE_MALFORMED_OPTION');
    respRejection('resprej-a10-piv-len-6', 'RFC 8613 Section 6.1, Section 8.4 step 2', 'Response option with Partial IV length n = 6 (reserved).', baseCtx, 6, getTv1, { option: '06010203040506', payload: hex(resp6piv.payload) }, 'ERR_OSCORE_MALFORMED_OPTION');
    respRejection('resprej-a10-zero-flag-byte', 'RFC 8613 Section 2, Section 6.1', 'Response option 00 (a single all-zero flag byte instead of an empty value).', baseCtx, 6, getTv1, { option: '00', payload: hex(resp6.payload) }, 'ERR_OSCORE_MALFORMED_OPTION');
    respRejection('resprej-a10-trailing-bytes-k0', 'RFC 8613 Section 6.1, Section 8.4 step 2', 'Response option 0103ff: Partial IV 3, k = 0, and an extra byte after the last field.', baseCtx, 6, getTv1, { option: '0103ff', payload: hex(resp6piv.payload) }, 'ERR_OSCORE_MALFORMED_OPTION');
    // Plaintext errors in responses.
    const seal6 = (ptHex) => {
      const c = basePair.server;
      const aad = buildAad(buildAadArray(c.alg, req6.binding.kid, req6.binding.piv));
      return hex(aeadSeal(c.aead, c.senderKey, req6.binding.nonce, aad, unhex(ptHex)));
    };
    respRejection('resprej-a10-pt-request-code', 'RFC 8613 Section 5.3, Section 8.4 step 6', 'Authenticated response whose inner code is 0.01 GET (plaintext 01ff6869).', baseCtx, 6, getTv1, { option: '', payload: seal6('01ff6869') }, 'ERR_OSCORE_MALFORMED_PLAINTEXT');
    respRejection('resprej-a10-pt-marker-no-payload', 'RFC 8613 Section 5.3; RFC 7252 Section 3', 'Authenticated response plaintext 45ff: payload marker followed by nothing.', baseCtx, 6, getTv1, { option: '', payload: seal6('45ff') }, 'ERR_OSCORE_MALFORMED_PLAINTEXT');
    respRejection('resprej-a10-pt-inner-oscore-option', 'RFC 8613 Sections 4.1, 5.3', 'Authenticated response plaintext 4590: 2.05 with an inner OSCORE option.', baseCtx, 6, getTv1, { option: '', payload: seal6('4590') }, 'ERR_OSCORE_MALFORMED_PLAINTEXT');

    // One algorithm-spread response tamper check (GCM / ChaCha tag lengths).
    for (const alg of [31, 3, 24]) {
      const ctx = makeContext(alg, 'HKDF-SHA-256', idProfiles(alg)[2], ID_CONTEXTS[1], `negative/resp/${alg}`, 2);
      const pair = resolvePair(ctx);
      const rq = protectRequest(pair, 12, getTv1);
      const rs = protectResponse(pair, rq.binding, 12, content);
      respRejection(`resprej-a${alg}-bitflip-tag-piv`, `${ref84} step 5`, 'Response with own Partial IV 12 and one bit flipped in the tag.', ctx, 12, getTv1,
        { option: hex(rs.option), payload: hex(flipBit(rs.payload, rs.payload.length - 1, 4)) }, 'ERR_OSCORE_DECRYPTION_FAILED');
    }
  }

  // Derivation errors.
  {
    const d = (id, text, input, error) => N.push({ id, kind: 'derivation', reference: 'RFC 8613 Sections 3.2, 3.3', description: text, input, expect: { error } });
    const base = { masterSecret: '0102030405060708090a0b0c0d0e0f10', masterSalt: '9e7ca92223786340' };
    d('derive-unknown-alg-99', 'AEAD algorithm 99 is not a registered COSE AEAD algorithm.', { ...base, senderId: '', recipientId: '01', aeadAlgorithm: 99 }, 'ERR_OSCORE_UNSUPPORTED_ALGORITHM');
    d('derive-signature-alg-es256', 'AEAD algorithm -7 (ES256) is a signature algorithm, not an AEAD.', { ...base, senderId: '', recipientId: '01', aeadAlgorithm: -7 }, 'ERR_OSCORE_UNSUPPORTED_ALGORITHM');
    d('derive-a10-sender-id-too-long', 'AES-CCM-16-64-128: 8-byte Sender ID exceeds nonce length - 6 = 7.', { ...base, senderId: '0102030405060708', recipientId: '01', aeadAlgorithm: 10 }, 'ERR_OSCORE_INVALID_CONTEXT');
    d('derive-a1-sender-id-too-long', 'A128GCM: 7-byte Sender ID exceeds nonce length - 6 = 6.', { ...base, senderId: '01020304050607', recipientId: '01', aeadAlgorithm: 1 }, 'ERR_OSCORE_INVALID_CONTEXT');
    d('derive-a24-sender-id-too-long', 'ChaCha20/Poly1305: 7-byte Sender ID exceeds nonce length - 6 = 6.', { ...base, senderId: '01020304050607', recipientId: '', aeadAlgorithm: 24 }, 'ERR_OSCORE_INVALID_CONTEXT');
    d('derive-a10-recipient-id-too-long', 'AES-CCM-16-64-128: 8-byte Recipient ID (the peer\'s Sender ID) exceeds 7 bytes.', { ...base, senderId: '01', recipientId: '0102030405060708', aeadAlgorithm: 10 }, 'ERR_OSCORE_INVALID_CONTEXT');
    d('derive-sender-equals-recipient', 'Sender ID 0x01 equal to Recipient ID 0x01.', { ...base, senderId: '01', recipientId: '01' }, 'ERR_OSCORE_INVALID_CONTEXT');
    d('derive-sender-equals-recipient-empty', 'Sender ID and Recipient ID both empty.', { ...base, senderId: '', recipientId: '', aeadAlgorithm: 1 }, 'ERR_OSCORE_INVALID_CONTEXT');
  }
}

// ===========================================================================
// Cross-check every generated vector with the reference verifier
// ===========================================================================

function crossCheck(v) {
  if (v.kind === 'derivation') {
    const i = v.input;
    const run = () => deriveContextFromInput(i);
    if (v.expect.error) expectError(run, v.expect.error, v.id);
    else assert(hex(run().senderKey) === v.expect.senderKey, `${v.id}: derivation`);
    return;
  }
  const pair = resolvePair(v.context);
  if (v.kind === 'request' || v.kind === 'response') {
    const reqMsg = msgFromJson(v.request.message);
    const server = new ReferenceServer(pair);
    const protectedReq = protectRequest(pair, v.request.sequenceNumber, reqMsg);
    const wireReq = v.kind === 'request' ? wireFromJson(v.expect) : { option: protectedReq.option, payload: protectedReq.payload };
    assert(sameMessage(server.verifyRequest(wireReq), reqMsg), `${v.id}: request verifies to its message`);
    if (v.kind === 'response') {
      const back = verifyResponse(pair, protectedReq.binding, wireFromJson(v.expect));
      assert(sameMessage(back, msgFromJson(v.response.message)), `${v.id}: response verifies to its message`);
      assert((v.expect.partialIv !== undefined) === (v.response.sequenceNumber !== undefined), `${v.id}: partialIv iff response.sequenceNumber`);
    }
    for (const o of [...v.request.message.options, ...(v.response?.message.options ?? [])]) {
      assert(o.number !== 9, `${v.id}: no inner OSCORE option`);
    }
    return;
  }
  if (v.kind === 'request-rejection') {
    const server = new ReferenceServer(pair, v.replayWindowSize ?? 64);
    v.received.forEach((w, idx) => {
      if (idx < v.received.length - 1) server.verifyRequest(wireFromJson(w));
      else expectError(() => server.verifyRequest(wireFromJson(w)), v.expect.error, v.id);
    });
    return;
  }
  if (v.kind === 'response-rejection') {
    const req = protectRequest(pair, v.request.sequenceNumber, msgFromJson(v.request.message));
    expectError(() => verifyResponse(pair, req.binding, wireFromJson(v.received)), v.expect.error, v.id);
    return;
  }
  throw new Error(`unknown kind ${v.kind}`);
}

// ===========================================================================
// Output
// ===========================================================================

/** JSON in the layout of rfc8613-appendix-c.json: one line per vector field. */
function inline(x) {
  if (Array.isArray(x)) return x.length ? `[${x.map(inline).join(', ')}]` : '[]';
  if (x !== null && typeof x === 'object') {
    const entries = Object.entries(x);
    return entries.length ? `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')} }` : '{}';
  }
  return JSON.stringify(x);
}

function formatFile(doc) {
  const lines = ['{'];
  const keys = Object.keys(doc).filter((k) => k !== 'vectors');
  for (const k of keys) lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(doc[k])},`);
  lines.push('  "vectors": [');
  doc.vectors.forEach((v, i) => {
    lines.push('    {');
    const ks = Object.keys(v);
    ks.forEach((k, j) => lines.push(`      ${JSON.stringify(k)}: ${inline(v[k])}${j < ks.length - 1 ? ',' : ''}`));
    lines.push(`    }${i < doc.vectors.length - 1 ? ',' : ''}`);
  });
  lines.push('  ]');
  lines.push('}');
  return lines.join('\n') + '\n';
}

function main() {
  const appendixChecked = selfTest();

  buildPositive();
  buildNegative();

  const source = `Computed by ${GENERATOR_NAME}, an implementation of RFC 8613 independent of the engine under test (node:crypto + cbor-x only); self-checked against RFC 8613 Appendix C before writing.`;
  const docs = {
    'generated-positive.json': {
      $schema: './oscore-vectors.schema.json',
      format: 'oscore-vectors/1',
      title: 'Generated OSCORE vectors: key derivation, protected requests and responses',
      description: 'Every AEAD algorithm of RFC 8613 / RFC 9053 (10, 11, 30, 31, 1, 2, 3, 24) with HKDF-SHA-256 and HKDF-SHA-512; empty, 1-byte and maximum-length Sender IDs; with and without ID Context and kid context; Sender Sequence Numbers up to 2^40-1; all request methods with payloads; CoAP option encodings with extended deltas and lengths; responses with and without their own Partial IV. Intermediates (plaintext, Partial IV, aad_array, AAD, nonce) are included.',
      source,
      vectors: files.positive,
    },
    'generated-large.json': {
      $schema: './oscore-vectors.schema.json',
      format: 'oscore-vectors/1',
      title: 'Generated OSCORE vectors: near-64-KiB payloads',
      description: 'One request per AEAD algorithm with a 65000-byte (AES-CCM) or 65536-byte (AES-GCM, ChaCha20/Poly1305) payload, and one AES-CCM request whose plaintext is exactly 65535 bytes. The plaintext intermediate is omitted to keep the file small.',
      source,
      vectors: files.large,
    },
    'generated-negative.json': {
      $schema: './oscore-vectors.schema.json',
      format: 'oscore-vectors/1',
      title: 'Generated OSCORE vectors: rejections',
      description: 'Requests and responses that must be rejected (tampering, malformed OSCORE option values, malformed COSE objects, unknown contexts, replays, malformed inner CoAP messages) and security contexts that must be refused. Request rejections: a fresh server verifies every element of "received" in order; all but the last succeed.',
      source,
      vectors: files.negative,
    },
  };

  // Unique ids across all generated files.
  const ids = new Set();
  for (const d of Object.values(docs)) {
    for (const v of d.vectors) {
      assert(!ids.has(v.id), `duplicate id ${v.id}`);
      ids.add(v.id);
    }
  }

  for (const d of Object.values(docs)) d.vectors.forEach(crossCheck);

  const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'));
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  const validate = ajv.compile(schema);
  const appendixC = JSON.parse(fs.readFileSync(APPENDIX_C_FILE, 'utf8'));
  if (!validate(appendixC)) throw new Error(`rfc8613-appendix-c.json does not validate: ${ajv.errorsText(validate.errors)}`);

  const outputs = [];
  for (const [name, doc] of Object.entries(docs)) {
    const text = formatFile(doc);
    const reparsed = JSON.parse(text);
    if (!validate(reparsed)) {
      throw new Error(`${name} does not validate against the schema:\n${ajv.errorsText(validate.errors, { separator: '\n' })}`);
    }
    outputs.push([name, text, doc]);
  }
  if (CHECK_ONLY) {
    // --check: the committed files must be exactly what this generator produces.
    const stale = outputs.filter(([name, text]) => !fs.existsSync(path.join(VECTOR_DIR, name)) || fs.readFileSync(path.join(VECTOR_DIR, name), 'utf8') !== text).map(([name]) => name);
    if (stale.length > 0) {
      console.error(`conformance/vectors differs from the generator's output: ${stale.join(', ')}. Run: node conformance/generator/generate.mjs`);
      process.exit(1);
    }
  } else {
    for (const [name, text] of outputs) fs.writeFileSync(path.join(VECTOR_DIR, name), text);
  }

  // Summary.
  console.log(`Self-test: ${appendixChecked} RFC 8613 Appendix C vectors + Section 5.4 / 6.3 examples reproduced exactly.`);
  let total = 0;
  let bytes = 0;
  for (const [name, text, doc] of outputs) {
    const byKind = {};
    const byAlg = {};
    for (const v of doc.vectors) {
      byKind[v.kind] = (byKind[v.kind] ?? 0) + 1;
      const alg = v.context?.aeadAlgorithm ?? v.input?.aeadAlgorithm ?? 10;
      const h = v.context?.hkdfAlgorithm ?? v.input?.hkdfAlgorithm ?? 'HKDF-SHA-256';
      const key = `${alg}${AEAD[alg] ? ` ${AEAD[alg].name}` : ' (unsupported)'}`;
      byAlg[key] ??= { 'HKDF-SHA-256': 0, 'HKDF-SHA-512': 0 };
      byAlg[key][h]++;
    }
    total += doc.vectors.length;
    bytes += Buffer.byteLength(text);
    console.log(`\nconformance/vectors/${name}: ${doc.vectors.length} vectors, ${Buffer.byteLength(text)} bytes`);
    console.log(`  by kind: ${Object.entries(byKind).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    for (const [alg, n] of Object.entries(byAlg)) console.log(`  alg ${alg}: SHA-256 ${n['HKDF-SHA-256']}, SHA-512 ${n['HKDF-SHA-512']}`);
  }
  console.log(`\nTotal: ${total} vectors, ${bytes} bytes; all validated against oscore-vectors.schema.json and cross-checked with the reference verifier.`);
}

main();
