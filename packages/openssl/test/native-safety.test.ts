/**
 * The native addon (native/aead.c) at its boundary and inside OpenSSL: what JavaScript can
 * hand it, whether a kept cipher context is reset for every message, what a failure leaves
 * behind (output bytes, OpenSSL's error queue, memory), and threads.
 *
 * Crashes are caught in child processes: the property-based fuzzer runs in
 * fixtures/addon-fuzz-child.mjs, the memory checks in fixtures/addon-memory-child.cjs.
 */

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AEAD_ALGORITHMS, DEFAULT_AEAD, aeadAlgorithm } from '@oscore-http/core';
import { opensslBackend, OpensslOperationError } from '../src/index.js';

const ADDON = fileURLToPath(new URL('../build/Release/oscore_aead.node', import.meta.url));
const FUZZ_CHILD = fileURLToPath(new URL('./fixtures/addon-fuzz-child.mjs', import.meta.url));
const MEMORY_CHILD = fileURLToPath(new URL('./fixtures/addon-memory-child.cjs', import.meta.url));
const WORKER = new URL('./fixtures/addon-worker.mjs', import.meta.url);

interface Addon {
  importKey(...args: unknown[]): object;
  encrypt(...args: unknown[]): number;
  decrypt(...args: unknown[]): number;
}
const addon = createRequire(import.meta.url)(ADDON) as Addon;

/** The engine's algorithms as the addon names them. */
const MODES = [
  { name: 'aes-128-ccm', keyLength: 16, nonceLength: 13, tagLength: 8 },
  { name: 'aes-256-ccm', keyLength: 32, nonceLength: 13, tagLength: 16 },
  { name: 'aes-128-gcm', keyLength: 16, nonceLength: 12, tagLength: 16 },
  { name: 'aes-192-gcm', keyLength: 24, nonceLength: 12, tagLength: 16 },
  { name: 'chacha20-poly1305', keyLength: 32, nonceLength: 12, tagLength: 16 },
] as const;
type Mode = (typeof MODES)[number];

function reference(mode: Mode, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = crypto.createCipheriv(mode.name as crypto.CipherCCMTypes, key, nonce, { authTagLength: mode.tagLength });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([cipher.update(new Uint8Array(plaintext)), cipher.final(), cipher.getAuthTag()]);
}

function sealWith(key: object, mode: Mode, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): { result: number; sealed: Uint8Array } {
  const sealed = new Uint8Array(plaintext.length + mode.tagLength);
  return { result: addon.encrypt(key, nonce, aad, plaintext, sealed), sealed };
}

describe('the addon at its boundary', () => {
  it('makes keys only for AES-CCM, AES-GCM and ChaCha20-Poly1305, not for other ciphers OpenSSL flags as AEAD', () => {
    for (const name of ['aes-128-ccm', 'aes-192-ccm', 'aes-256-ccm', 'aes-128-gcm', 'aes-192-gcm', 'aes-256-gcm', 'chacha20-poly1305']) {
      const keyLength = name === 'chacha20-poly1305' ? 32 : Number(name.slice(4, 7)) / 8;
      expect(addon.importKey(name, new Uint8Array(keyLength), name.endsWith('ccm') ? 13 : 12, 16), name).toBeTypeOf('object');
    }
    // AES-CBC-HMAC-SHA* always reads a 16-byte IV: a key made with nonce length 7 made OpenSSL
    // read 9 bytes past every 7-byte nonce (valgrind: "Invalid read ... 1 bytes after a block of size 7").
    for (const name of ['aes-128-cbc-hmac-sha1', 'aes-128-cbc-hmac-sha256', 'aes-128-ocb', 'aria-128-gcm', 'aria-128-ccm', 'id-aes128-GCM', 'aes-128-cbc']) {
      expect(() => addon.importKey(name, new Uint8Array(16), 7, 16), name).toThrow(TypeError);
      expect(() => addon.importKey(name, new Uint8Array(16), 12, 16), name).toThrow(TypeError);
    }
  });

  it('takes nonce and tag lengths only as integers in range, never truncated or wrapped', () => {
    for (const [nonceLength, tagLength] of [[12.5, 16], [12, 15.9], [2 ** 32 + 12, 16], [12, 2 ** 32 + 16], [NaN, 16], [12, Infinity], [-12, 16], [6, 16], [12, 17]])
      expect(() => addon.importKey('aes-128-gcm', new Uint8Array(16), nonceLength, tagLength), `${nonceLength}, ${tagLength}`).toThrow(RangeError);
    for (const [nonceLength, tagLength] of [['12', 16], [12, 16n], [{ valueOf: () => 12 }, 16]])
      expect(() => addon.importKey('aes-128-gcm', new Uint8Array(16), nonceLength, tagLength)).toThrow(TypeError);
    expect(() => addon.importKey('chacha20-poly1305', new Uint8Array(32), 8, 16)).toThrow(RangeError); // OpenSSL's refusal
  });

  it('reads a Uint8Array at its offset in any memory, and refuses every other kind of view', () => {
    const mode = MODES[2];
    const raw = crypto.randomBytes(mode.keyLength);
    const key = addon.importKey(mode.name, raw, mode.nonceLength, mode.tagLength);
    const nonce = crypto.randomBytes(mode.nonceLength);
    const aad = crypto.randomBytes(11);
    const plaintext = crypto.randomBytes(100);
    const expected = reference(mode, raw, nonce, aad, plaintext);
    const placed = (bytes: Uint8Array, memory: 'offset' | 'shared' | 'resizable' | 'pool'): Uint8Array => {
      const size = bytes.length + 13;
      const buffer = memory === 'shared' ? new SharedArrayBuffer(size) : memory === 'resizable' ? new ArrayBuffer(size, { maxByteLength: size * 2 }) : new ArrayBuffer(size);
      const view = memory === 'pool' ? Buffer.allocUnsafe(bytes.length) : new Uint8Array(buffer, 13 - (memory === 'resizable' ? 0 : 5), bytes.length);
      view.set(bytes);
      return view;
    };
    for (const memory of ['offset', 'shared', 'resizable', 'pool'] as const) {
      const out = placed(new Uint8Array(expected.length), memory);
      expect(addon.encrypt(key, placed(nonce, memory), placed(aad, memory), placed(plaintext, memory), out), memory).toBe(expected.length);
      expect(Buffer.from(out).equals(expected), memory).toBe(true);
      const back = placed(new Uint8Array(plaintext.length), memory);
      expect(addon.decrypt(key, placed(nonce, memory), placed(aad, memory), placed(expected, memory), back), memory).toBe(plaintext.length);
      expect(Buffer.from(back).equals(plaintext), memory).toBe(true);
    }
    // Ciphertext and output in one buffer, in place.
    const inPlace = Uint8Array.from(expected);
    expect(addon.decrypt(key, nonce, aad, inPlace, inPlace.subarray(0, plaintext.length))).toBe(plaintext.length);
    expect(Buffer.from(inPlace.subarray(0, plaintext.length)).equals(plaintext)).toBe(true);
    // Zero-length arrays (which may have no memory at all) are empty inputs.
    expect(sealWith(key, mode, nonce, new Uint8Array(0), new Uint8Array(0)).sealed).toEqual(new Uint8Array(reference(mode, raw, nonce, new Uint8Array(0), new Uint8Array(0))));
    // A detached buffer's views have length 0: an empty input, or an output too small.
    const detached = (length: number): Uint8Array => {
      const buffer = new ArrayBuffer(length + 8);
      const view = new Uint8Array(buffer, 8, length);
      structuredClone(buffer, { transfer: [buffer] });
      return view;
    };
    const emptySealed = new Uint8Array(mode.tagLength);
    expect(addon.encrypt(key, nonce, detached(11), detached(100), emptySealed)).toBe(mode.tagLength);
    expect(Buffer.from(emptySealed).equals(reference(mode, raw, nonce, new Uint8Array(0), new Uint8Array(0)))).toBe(true);
    expect(() => addon.encrypt(key, nonce, aad, plaintext, detached(expected.length))).toThrow(RangeError);
    expect(() => addon.encrypt(key, detached(mode.nonceLength), aad, plaintext, new Uint8Array(expected.length))).toThrow(TypeError);
    expect(addon.decrypt(key, nonce, aad, detached(expected.length), new Uint8Array(100))).toBe(-1);
    // Other element types, DataView, bare buffers, arrays: refused in every position.
    const others = [new Uint16Array(6), new Int8Array(12), new Uint8ClampedArray(12), new Float64Array(2), new BigUint64Array(2), new DataView(new ArrayBuffer(12)), new ArrayBuffer(12), new SharedArrayBuffer(12), Array(12).fill(0), 'x'.repeat(12), null, undefined];
    for (const other of others) {
      expect(() => addon.encrypt(key, other, aad, plaintext, new Uint8Array(expected.length))).toThrow(TypeError);
      expect(() => addon.encrypt(key, nonce, other, plaintext, new Uint8Array(expected.length))).toThrow(TypeError);
      expect(() => addon.encrypt(key, nonce, aad, other, new Uint8Array(expected.length))).toThrow(TypeError);
      expect(() => addon.decrypt(key, nonce, aad, expected, other)).toThrow(TypeError);
      expect(() => addon.encrypt(other, nonce, aad, plaintext, new Uint8Array(expected.length))).toThrow(TypeError);
    }
    // Objects that only look like, inherit from or wrap a key.
    for (const fake of [structuredClone(key), Object.create(key), new Proxy(key, {}), {}])
      expect(() => addon.encrypt(fake, nonce, aad, plaintext, new Uint8Array(expected.length))).toThrow(TypeError);
  });

  it('survives arbitrary arguments of every type and length (fast-check, in a child process): a TypeError, a RangeError or a correct result', () => {
    const seed = Number(process.env.OSCORE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const run = spawnSync(process.execPath, [FUZZ_CHILD, ADDON, String(seed), '3000'], { encoding: 'utf8', timeout: 120_000 });
    expect(run.signal, `seed ${seed}: ${run.stderr}`).toBeNull();
    expect(run.status, `seed ${seed}: ${run.stdout} ${run.stderr}`).toBe(0);
    const { counts } = JSON.parse(run.stdout) as { counts: Record<string, number> };
    // Each path was reached: refusals of both kinds, keys, encryptions, authentic and forged decryptions.
    for (const path of ['TypeError', 'RangeError', 'importKey', 'encrypt', 'decryptAuthentic', 'decryptRefused']) expect(counts[path], `${path} (seed ${seed})`).toBeGreaterThan(5);
  }, 150_000);
});

describe('one kept OpenSSL context per key and direction', () => {
  type Op = { kind: 'encrypt' | 'decrypt' | 'forge-body' | 'forge-tag' | 'forge-aad' | 'tag-of-another' | 'short' | 'too-long'; aad: number; length: number; at: number };
  const op: fc.Arbitrary<Op> = fc.record({
    kind: fc.constantFrom('encrypt', 'decrypt', 'forge-body', 'forge-tag', 'forge-aad', 'tag-of-another', 'short', 'too-long'),
    aad: fc.nat(40),
    length: fc.nat(300),
    at: fc.nat(),
  });

  it('sets only the nonce per message: any sequence of encryptions, decryptions and failures on one key matches node:crypto message by message', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MODES), fc.array(op, { minLength: 1, maxLength: 25 }), (mode, ops) => {
        const raw = crypto.randomBytes(mode.keyLength);
        const key = addon.importKey(mode.name, raw, mode.nonceLength, mode.tagLength);
        let last: { nonce: Uint8Array; aad: Uint8Array; plaintext: Uint8Array; sealed: Uint8Array } | undefined;
        for (const { kind, aad: aadLength, length, at } of ops) {
          const nonce = crypto.randomBytes(mode.nonceLength);
          const aad = crypto.randomBytes(aadLength);
          const plaintext = crypto.randomBytes(length);
          const { result, sealed } = sealWith(key, mode, nonce, aad, plaintext);
          expect(result).toBe(sealed.length);
          expect(Buffer.from(sealed).equals(reference(mode, raw, nonce, aad, plaintext))).toBe(true);
          const out = new Uint8Array(length).fill(0xa5);
          const attempt = (n: Uint8Array, a: Uint8Array, c: Uint8Array): number => addon.decrypt(key, n, a, c, out);
          switch (kind) {
            case 'encrypt':
              break;
            case 'decrypt':
              expect(attempt(nonce, aad, sealed)).toBe(length);
              expect(Buffer.from(out).equals(plaintext)).toBe(true);
              break;
            case 'forge-body':
            case 'forge-tag': {
              const forged = Uint8Array.from(sealed);
              const index = kind === 'forge-tag' || length === 0 ? length + (at % mode.tagLength) : at % length;
              forged[index]! ^= 1 << (at % 8);
              expect(attempt(nonce, aad, forged)).toBe(-1);
              expect(out.every((b) => b === 0)).toBe(true);
              break;
            }
            case 'forge-aad': {
              const other = Uint8Array.from(aad.length === 0 ? [0] : aad);
              if (aad.length > 0) other[at % aad.length]! ^= 1;
              expect(attempt(nonce, other, sealed)).toBe(-1);
              expect(out.every((b) => b === 0)).toBe(true);
              break;
            }
            case 'tag-of-another':
              // The tag set on the decrypt context is this message's, never one left from before.
              if (last !== undefined) {
                const spliced = Uint8Array.from(sealed);
                spliced.set(last.sealed.subarray(last.sealed.length - mode.tagLength), length);
                expect(attempt(nonce, aad, spliced)).toBe(-1);
                const back = new Uint8Array(last.plaintext.length);
                expect(addon.decrypt(key, last.nonce, last.aad, last.sealed, back)).toBe(last.plaintext.length);
                expect(Buffer.from(back).equals(last.plaintext)).toBe(true);
              }
              break;
            case 'short':
              expect(addon.decrypt(key, nonce, aad, sealed.subarray(0, at % mode.tagLength), new Uint8Array(0))).toBe(-1);
              break;
            case 'too-long': {
              // Over CCM's 2^16 - 1 bytes (L = 2) a RangeError (or, decrypting, a refusal), and the key keeps working; the other modes encrypt.
              const big = new Uint8Array(65_536 + (at % 3));
              const sealedBig = new Uint8Array(big.length + mode.tagLength);
              if (mode.name.endsWith('ccm')) {
                expect(() => addon.encrypt(key, nonce, aad, big, sealedBig)).toThrow(RangeError);
                expect(addon.decrypt(key, nonce, aad, sealedBig, big)).toBe(-1);
              } else {
                expect(addon.encrypt(key, nonce, aad, big, sealedBig)).toBe(sealedBig.length);
                expect(Buffer.from(sealedBig).equals(reference(mode, raw, nonce, aad, big))).toBe(true);
              }
              break;
            }
          }
          last = { nonce, aad, plaintext, sealed };
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses an AES-CCM message over its length bound before OpenSSL sees it, so the key keeps working', () => {
    // OpenSSL's CCM returns on a length mismatch without restoring the flags byte of B_0: the
    // context loses its tag length, and every later message of the key used to fail (-1).
    const mode = MODES[0];
    const raw = crypto.randomBytes(mode.keyLength);
    const key = addon.importKey(mode.name, raw, mode.nonceLength, mode.tagLength);
    const nonce = crypto.randomBytes(mode.nonceLength);
    const aad = new Uint8Array(5);
    const message = crypto.randomBytes(100);
    const { sealed } = sealWith(key, mode, nonce, aad, message);
    expect(() => addon.encrypt(key, nonce, aad, new Uint8Array(65_536), new Uint8Array(65_536 + mode.tagLength))).toThrow(RangeError);
    expect(addon.decrypt(key, nonce, aad, new Uint8Array(65_536 + mode.tagLength), new Uint8Array(65_536))).toBe(-1);
    // The bound itself is fine, and so is everything after.
    const atBound = new Uint8Array(65_535).fill(7);
    const sealedAtBound = sealWith(key, mode, nonce, aad, atBound);
    expect(sealedAtBound.result).toBe(65_535 + mode.tagLength);
    expect(Buffer.from(sealedAtBound.sealed).equals(reference(mode, raw, nonce, aad, atBound))).toBe(true);
    expect(Buffer.from(sealWith(key, mode, nonce, aad, message).sealed).equals(Buffer.from(sealed))).toBe(true);
    const back = new Uint8Array(100);
    expect(addon.decrypt(key, nonce, aad, sealed, back)).toBe(100);
    expect(Buffer.from(back).equals(message)).toBe(true);
    // With a 7-byte nonce (L = 8) there is no such bound below the addon's own.
    const long = addon.importKey(mode.name, raw, 7, 8);
    expect(addon.encrypt(long, new Uint8Array(7), aad, new Uint8Array(70_000), new Uint8Array(70_008))).toBe(70_008);
  });

  it('wipes the whole output of every failed decryption, in every mode, even an output larger than the plaintext', () => {
    for (const mode of MODES) {
      const key = addon.importKey(mode.name, crypto.randomBytes(mode.keyLength), mode.nonceLength, mode.tagLength);
      const nonce = crypto.randomBytes(mode.nonceLength);
      const plaintext = new Uint8Array(200).fill(0x41);
      const { sealed } = sealWith(key, mode, nonce, new Uint8Array(3), plaintext);
      for (const where of [0, 150, sealed.length - 1]) {
        const forged = Uint8Array.from(sealed);
        forged[where]! ^= 0x80;
        const out = new Uint8Array(260).fill(0xee);
        expect(addon.decrypt(key, nonce, new Uint8Array(3), forged, out), `${mode.name} @${where}`).toBe(-1);
        expect(out.every((b) => b === 0), `${mode.name} @${where}`).toBe(true);
      }
    }
  });

  it("leaves nothing on OpenSSL's error queue, which node:crypto shares: its next error is still its own", () => {
    const nodeError = (): unknown => {
      try {
        crypto.createPrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
      } catch (err) {
        const { code, message, opensslErrorStack } = err as { code: string; message: string; opensslErrorStack?: string[] };
        return { code, message, opensslErrorStack };
      }
      throw new Error('createPrivateKey accepted garbage');
    };
    const before = nodeError();
    const ccm = addon.importKey('aes-128-ccm', new Uint8Array(16), 13, 8);
    const gcm = addon.importKey('aes-128-gcm', new Uint8Array(16), 12, 16);
    const chacha = addon.importKey('chacha20-poly1305', new Uint8Array(32), 12, 16);
    for (const key of [ccm, gcm, chacha]) expect(addon.decrypt(key, new Uint8Array(key === ccm ? 13 : 12), new Uint8Array(2), new Uint8Array(40), new Uint8Array(32))).toBe(-1);
    expect(() => addon.importKey('aes-128-ccm', new Uint8Array(16), 13, 5)).toThrow(RangeError); // OpenSSL refuses an odd CCM tag
    expect(nodeError()).toEqual(before);
  });
});

describe('memory', () => {
  const measure = (mode: 'calls' | 'keys', count: number): Record<string, number | number[]> => {
    const run = spawnSync(process.execPath, ['--expose-gc', MEMORY_CHILD, ADDON, mode, String(count)], { encoding: 'utf8', timeout: 120_000 });
    expect(run.signal, run.stderr).toBeNull();
    expect(run.status, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as Record<string, number | number[]>;
  };
  const MiB = 2 ** 20;

  it('allocates nothing that outlives a call: 300,000 encryptions and decryptions (one in seven forged) leave RSS flat', () => {
    const { warm, end } = measure('calls', 300_000) as { warm: number; end: number };
    expect(end - warm).toBeLessThan(8 * MiB);
  }, 120_000);

  it('frees the contexts of keys that are collected: three rounds of 30,000 keys reuse the memory of the first', () => {
    const { start, held, after } = measure('keys', 30_000) as { start: number; held: number; after: number[] };
    // Each key holds two OpenSSL contexts (about 2 KiB), so a round that freed nothing would add `held - start` again.
    expect(held - start).toBeGreaterThan(30 * MiB);
    expect(after[2]! - after[0]!).toBeLessThan((held - start) / 2);
  }, 120_000);
});

describe('worker threads', () => {
  type Reply = { type: string; mismatches?: number; messages?: number; error?: string | null; key?: unknown };
  const start = (mode: Mode, messages: number): { worker: Worker; next: (type: string) => Promise<Reply> } => {
    const worker = new Worker(WORKER, { workerData: { addon: ADDON, ...mode, messages } });
    const replies: Reply[] = [];
    const waiting: { type: string; resolve: (r: Reply) => void }[] = [];
    worker.on('message', (reply: Reply) => {
      const i = waiting.findIndex((w) => w.type === reply.type);
      if (i >= 0) waiting.splice(i, 1)[0]!.resolve(reply);
      else replies.push(reply);
    });
    const next = (type: string): Promise<Reply> =>
      new Promise((resolve, reject) => {
        const i = replies.findIndex((r) => r.type === type);
        if (i >= 0) return resolve(replies.splice(i, 1)[0]!);
        waiting.push({ type, resolve });
        worker.once('error', reject);
      });
    return { worker, next };
  };

  it('gives correct results in several threads at once, each with its own keys', async () => {
    const workers = [...MODES, ...MODES].map((mode) => start(mode, 1500));
    try {
      // The main thread works on its own key meanwhile.
      const mode = MODES[0];
      const raw = crypto.randomBytes(mode.keyLength);
      const key = addon.importKey(mode.name, raw, mode.nonceLength, mode.tagLength);
      for (let i = 0; i < 500; i++) {
        const nonce = crypto.randomBytes(mode.nonceLength);
        expect(Buffer.from(sealWith(key, mode, nonce, new Uint8Array(4), new Uint8Array(i)).sealed).equals(reference(mode, raw, nonce, new Uint8Array(4), new Uint8Array(i)))).toBe(true);
      }
      for (const { next } of workers) expect(await next('done')).toEqual({ type: 'done', mismatches: 0, messages: 1500 });
    } finally {
      await Promise.all(workers.map(({ worker }) => worker.terminate()));
    }
  }, 120_000);

  it('never lets a key cross threads: a structured clone of a key is not a key, in either direction', async () => {
    const mode = MODES[2];
    const { worker, next } = start(mode, 1);
    try {
      await next('done');
      const key = addon.importKey(mode.name, new Uint8Array(mode.keyLength), mode.nonceLength, mode.tagLength);
      worker.postMessage({ type: 'use-key', key });
      expect(await next('used')).toEqual({ type: 'used', error: 'TypeError' });
      worker.postMessage({ type: 'send-key' });
      const { key: theirs } = await next('key');
      expect(theirs).toEqual({});
      expect(() => addon.encrypt(theirs, new Uint8Array(12), new Uint8Array(0), new Uint8Array(4), new Uint8Array(20))).toThrow(TypeError);
      // The backend's keys neither: a clone is a plain object, and says nothing of the key.
      const backend = opensslBackend();
      const secret = crypto.randomBytes(16);
      const backendKey = backend.importKey(DEFAULT_AEAD, secret);
      const cloned = structuredClone(backendKey) as never;
      expect(() => backend.encrypt(cloned, new Uint8Array(13), new Uint8Array(0), new Uint8Array(4))).toThrow(TypeError);
      expect(JSON.stringify(cloned)).not.toContain(secret.toString('hex').slice(0, 8));
    } finally {
      await worker.terminate();
    }
  });

  it('survives a worker terminated while it imports keys and encrypts, and loads again in a new one', async () => {
    for (let round = 0; round < 3; round++) {
      const { worker, next } = start(MODES[round % MODES.length]!, 50);
      await next('done');
      worker.postMessage({ type: 'spin' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await worker.terminate()).toBe(1);
    }
    const { worker, next } = start(MODES[4], 200);
    expect(await next('done')).toMatchObject({ mismatches: 0 });
    await worker.terminate();
  }, 60_000);
});

describe('the backend (src/index.ts) against the contract', () => {
  const backend = opensslBackend();

  it('refuses a plaintext over the algorithm bound with a RangeError before OpenSSL sees it, as for the addon limit', () => {
    const ccm = backend.importKey(DEFAULT_AEAD, crypto.randomBytes(16));
    let thrown: unknown;
    try {
      backend.encrypt(ccm, new Uint8Array(13), new Uint8Array(0), new Uint8Array(DEFAULT_AEAD.maxPlaintextLength + 1));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RangeError);
    expect(thrown).not.toBeInstanceOf(OpensslOperationError);
    // At the bound it encrypts.
    expect(backend.encrypt(ccm, new Uint8Array(13), new Uint8Array(0), new Uint8Array(DEFAULT_AEAD.maxPlaintextLength)).length).toBe(DEFAULT_AEAD.maxPlaintextLength + DEFAULT_AEAD.tagLength);
    const gcm = backend.importKey(aeadAlgorithm('A128GCM'), crypto.randomBytes(16));
    expect(backend.encrypt(gcm, new Uint8Array(12), new Uint8Array(0), new Uint8Array(70_000)).length).toBe(70_016);
  });

  it('shows no key bytes in a key, its handle or an import error', () => {
    for (const alg of AEAD_ALGORITHMS) {
      const secret = crypto.randomBytes(alg.keyLength);
      const key = backend.importKey(alg, secret) as unknown as { handle: object };
      const hex = secret.toString('hex');
      for (const shown of [inspect(key, { showHidden: true, depth: 9 }), inspect(key.handle, { showHidden: true, depth: 9 }), JSON.stringify(key.handle), JSON.stringify(structuredClone(key)), String(key)]) {
        expect(shown).not.toContain(hex.slice(0, 8));
        expect(shown).not.toContain(secret.toString('base64').slice(0, 8));
      }
      let thrown: unknown;
      try {
        backend.importKey(alg, Buffer.concat([secret, Buffer.from([1])]));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(RangeError);
      expect(inspect(thrown)).not.toContain(hex.slice(0, 8));
    }
  });
});
