/**
 * The OpenSSL backend against independent references: the RFC 8613 Appendix C and
 * generated vector files (conformance/vectors), node:crypto's own AEAD for random inputs
 * of every algorithm, and the engine with the built-in backend on the other side.
 * Plus what the addon must refuse without crashing, and what it must never print.
 */

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AEAD_ALGORITHMS,
  coapCode,
  createSecurityContext,
  DecryptionFailedError,
  DEFAULT_AEAD,
  nodeBackend,
  protectRequest,
  protectResponse,
  verifyRequest,
  verifyResponse,
  type AeadAlgorithm,
  type CryptoBackend,
} from '@oscore-http/core';
import { findVectorFiles, runVectorFiles } from '@oscore-http/conformance';
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import oscorePlugin from '@oscore-http/fastify';
import { ContextConfigError, createContextSet } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { opensslBackend, OpensslBackendUnavailableError } from '../src/index.js';
import { createOpensslBackend, type Addon } from '../src/backend.js';

const VECTORS = fileURLToPath(new URL('../../../conformance/vectors', import.meta.url));
const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const backend = opensslBackend();
const algorithms: readonly AeadAlgorithm[] = AEAD_ALGORITHMS;

/** node:crypto's AEAD, one cipher object per message: the reference. */
function referenceEncrypt(alg: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const name = alg.mode === 'chacha20-poly1305' ? 'chacha20-poly1305' : `aes-${alg.keyLength * 8}-${alg.mode}`;
  const cipher = crypto.createCipheriv(name as crypto.CipherCCMTypes, key, nonce, { authTagLength: alg.tagLength });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

describe('the OpenSSL backend', () => {
  it('implements every algorithm of the engine', () => {
    expect(algorithms.length).toBe(8);
    for (const alg of algorithms) expect(backend.supports(alg), alg.name).toBe(true);
  });

  it('passes every vector file (RFC 8613 Appendix C and the independently generated vectors) without skipping a case', async () => {
    const results = await runVectorFiles(await findVectorFiles(VECTORS), { backend });
    const cases = results.flatMap((file) => {
      expect(file.error?.problems ?? [], file.file).toEqual([]);
      return file.cases;
    });
    expect(cases.filter((c) => c.status !== 'passed').map((c) => `${c.id}: ${c.status} ${c.detail ?? ''}`)).toEqual([]);
    expect(cases.map((c) => c.id)).toEqual(expect.arrayContaining(['c4-request', 'c7-response', 'c8-response-with-partial-iv']));
    expect(cases.length).toBeGreaterThan(400);
  }, 120_000);

  it('encrypts exactly as node:crypto does and decrypts what it encrypted, for random keys, nonces, AADs and plaintexts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...algorithms),
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ minLength: 1, maxLength: 4096 }),
        (alg, bytes, aad, plaintext) => {
          const keyBytes = bytes.subarray(0, alg.keyLength);
          const nonce = bytes.subarray(alg.keyLength, alg.keyLength + alg.nonceLength);
          const key = backend.importKey(alg, keyBytes);
          const sealed = backend.encrypt(key, nonce, aad, plaintext);
          expect(Buffer.from(sealed).equals(referenceEncrypt(alg, keyBytes, nonce, aad, plaintext))).toBe(true);
          expect(backend.decrypt(key, nonce, aad, sealed)).toEqual(plaintext);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('rejects any single-bit change of ciphertext, tag, nonce or AAD, and decrypts the next authentic message after a rejection', () => {
    fc.assert(
      fc.property(fc.constantFrom(...algorithms), fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(), fc.constantFrom('ciphertext', 'nonce', 'aad'), (alg, plaintext, at, where) => {
        const keyBytes = crypto.randomBytes(alg.keyLength);
        const nonce = new Uint8Array(crypto.randomBytes(alg.nonceLength));
        const aad = new Uint8Array(crypto.randomBytes(20));
        const key = backend.importKey(alg, keyBytes);
        const sealed = backend.encrypt(key, nonce, aad, plaintext);
        const target = { ciphertext: Uint8Array.from(sealed), nonce: Uint8Array.from(nonce), aad: Uint8Array.from(aad) }[where];
        target[at % target.length]! ^= 1 << (at % 8);
        const args = { ciphertext: sealed, nonce, aad, [where]: target };
        expect(backend.decrypt(key, args.nonce, args.aad, args.ciphertext)).toBeUndefined();
        expect(backend.decrypt(key, nonce, aad, sealed)).toEqual(plaintext);
      }),
      { numRuns: 400 },
    );
  });

  it('refuses a ciphertext shorter than the tag or longer than the algorithm allows', () => {
    for (const alg of algorithms) {
      const key = backend.importKey(alg, crypto.randomBytes(alg.keyLength));
      expect(backend.decrypt(key, new Uint8Array(alg.nonceLength), new Uint8Array(0), new Uint8Array(alg.tagLength - 1))).toBeUndefined();
    }
    const ccm = DEFAULT_AEAD;
    const key = backend.importKey(ccm, crypto.randomBytes(16));
    expect(backend.decrypt(key, new Uint8Array(13), new Uint8Array(0), new Uint8Array(ccm.maxPlaintextLength + ccm.tagLength + 1))).toBeUndefined();
  });

  it('interoperates through the engine with a peer on node:crypto, in both directions', async () => {
    const masterSecret = new Uint8Array(crypto.randomBytes(16));
    for (const alg of algorithms) {
      const client = createSecurityContext({ masterSecret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([]), aeadAlgorithm: alg.id, backend });
      const server = createSecurityContext({ masterSecret, senderId: new Uint8Array([]), recipientId: new Uint8Array([1]), aeadAlgorithm: alg.id, backend: nodeBackend()! });
      const body = new Uint8Array(crypto.randomBytes(1000));
      const request = await protectRequest(client, { code: coapCode(0, 2), options: [{ number: 11, value: new TextEncoder().encode('orders') }], payload: body });
      const received = await verifyRequest(server, request.option, request.payload);
      expect(received.message.payload, alg.name).toEqual(body);
      const response = await protectResponse(received.binding, { code: coapCode(2, 4), options: [], payload: body.subarray(0, 10) });
      const answered = await verifyResponse(request.binding, response.option, response.payload);
      expect(answered.message.payload).toEqual(body.subarray(0, 10));
      // A response the other side altered is refused by this backend too.
      const tampered = Uint8Array.from(response.payload);
      tampered[0]! ^= 1;
      const again = await protectRequest(client, { code: coapCode(0, 1), options: [], payload: new Uint8Array(0) });
      const binding = (await verifyRequest(server, again.option, again.payload)).binding;
      const reply = await protectResponse(binding, { code: coapCode(2, 5), options: [], payload: body.subarray(0, 10) });
      const altered = Uint8Array.from(reply.payload);
      altered[altered.length - 1]! ^= 0x80;
      await expect(verifyResponse(again.binding, reply.option, altered)).rejects.toBeInstanceOf(DecryptionFailedError);
    }
  });

  it('keeps ciphertexts in slabs that hold nothing but its ciphertexts, and each plaintext in memory of its own', async () => {
    // A backend of its own over an addon that records where it writes each ciphertext,
    // the ones of the backend's known-answer test included.
    const addon = createRequire(import.meta.url)('../build/Release/oscore_aead.node') as Addon;
    const written: Uint8Array[] = [];
    const fresh = createOpensslBackend(
      { importKey: addon.importKey, decrypt: addon.decrypt, encrypt: (key, nonce, aad, plaintext, out) => (written.push(out), addon.encrypt(key, nonce, aad, plaintext, out)) },
      nodeBackend()!,
    );
    const masterSecret = new Uint8Array(crypto.randomBytes(16));
    const client = createSecurityContext({ masterSecret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([]), backend: fresh });
    const server = createSecurityContext({ masterSecret, senderId: new Uint8Array([]), recipientId: new Uint8Array([1]), backend: fresh });
    const MARKER = 0xa5;
    const ciphertexts: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const request = await protectRequest(client, { code: coapCode(0, 2), options: [], payload: new Uint8Array(300).fill(MARKER) });
      ciphertexts.push(request.payload);
      const { message } = await verifyRequest(server, request.option, request.payload);
      expect(message.payload.every((b) => b === MARKER)).toBe(true);
      // Code, payload marker and payload: the plaintext's memory holds this message and nothing else.
      expect(message.payload.buffer.byteLength).toBe(1 + 1 + 300);
    }
    const slabs = new Set(ciphertexts.map((c) => c.buffer));
    expect(slabs.size).toBeLessThan(ciphertexts.length);
    expect(ciphertexts.every((c) => written.includes(c))).toBe(true);
    // Every byte a ciphertext's `.buffer` exposes lies within a ciphertext, or is zero.
    for (const buffer of slabs) {
      const covered = new Uint8Array(buffer.byteLength);
      for (const c of written) if (c.buffer === buffer) covered.fill(1, c.byteOffset, c.byteOffset + c.byteLength);
      const bytes = new Uint8Array(buffer);
      expect(bytes.findIndex((b, i) => covered[i] === 0 && b !== 0)).toBe(-1);
    }
  });

  it('is the backend of every context of a context set given it', async () => {
    const set = createContextSet([{ masterSecret: { hex: '0102030405060708090a0b0c0d0e0f10' }, senderId: '01', recipientId: '02' }], { store: 'memory', backend });
    const [context] = set.contexts;
    expect(context!.backendName).toBe(backend.name);
    await set.close();
  });

  it('never shows key material through inspect, JSON or toString', () => {
    const keyBytes = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const key = backend.importKey(DEFAULT_AEAD, keyBytes);
    for (const shown of [inspect(key, { showHidden: true, depth: 5 }), JSON.stringify(key), String(key), inspect(backend, { showHidden: true, depth: 5 })]) {
      expect(shown).not.toContain('0102030405');
      expect(shown).not.toMatch(/AAECAwQF/);
    }
  });
});

describe('the native addon', () => {
  const addon = createRequire(import.meta.url)('../build/Release/oscore_aead.node') as {
    importKey(cipher: unknown, key: unknown, nonceLength: unknown, tagLength: unknown): object;
    encrypt(...args: unknown[]): number;
    decrypt(...args: unknown[]): number;
  };
  const key = addon.importKey('aes-128-ccm', new Uint8Array(16), 13, 8);
  const nonce = new Uint8Array(13);
  const aad = new Uint8Array(4);
  const plaintext = new Uint8Array(32);

  it('refuses arguments of the wrong type or length with an error, never touching memory out of bounds', () => {
    expect(() => addon.importKey('aes-128-ccm', new Uint8Array(15), 13, 8)).toThrow(RangeError);
    expect(() => addon.importKey('no-such-cipher', new Uint8Array(16), 13, 8)).toThrow(TypeError);
    expect(() => addon.importKey('aes-128-ccm', 'key', 13, 8)).toThrow(TypeError);
    expect(() => addon.importKey('aes-128-ccm', new Uint8Array(16), 13, 64)).toThrow(RangeError);
    expect(() => addon.encrypt({}, nonce, aad, plaintext, new Uint8Array(40))).toThrow(TypeError); // not a key of this addon
    expect(() => addon.encrypt(key, new Uint8Array(12), aad, plaintext, new Uint8Array(40))).toThrow(TypeError); // nonce of another length
    expect(() => addon.encrypt(key, nonce, aad, new Uint16Array(16), new Uint8Array(40))).toThrow(TypeError);
    expect(() => addon.encrypt(key, nonce, aad, plaintext, new Uint8Array(39))).toThrow(RangeError); // no room for the tag
    expect(() => addon.decrypt(key, nonce, aad, new Uint8Array(40), new Uint8Array(31))).toThrow(RangeError);
    expect(() => addon.encrypt(key, nonce, aad, plaintext)).toThrow(TypeError);
    // Still usable after every refusal.
    const out = new Uint8Array(40);
    expect(addon.encrypt(key, nonce, aad, plaintext, out)).toBe(40);
    const back = new Uint8Array(32).fill(0xee);
    expect(addon.decrypt(key, nonce, aad, out, back)).toBe(32);
    expect(back).toEqual(plaintext);
  });

  it('wipes the output of a decryption that fails, so no unauthenticated plaintext is left', () => {
    for (const [cipher, nonceLength, tagLength] of [['aes-128-ccm', 13, 8], ['aes-128-gcm', 12, 16], ['chacha20-poly1305', 12, 16]] as const) {
      const k = addon.importKey(cipher, new Uint8Array(cipher.startsWith('aes') ? 16 : 32), nonceLength, tagLength);
      const n = new Uint8Array(nonceLength);
      const sealed = new Uint8Array(64 + tagLength);
      addon.encrypt(k, n, aad, new Uint8Array(64).fill(0x41), sealed);
      sealed[sealed.length - 1]! ^= 1; // the tag only: the ciphertext itself decrypts to 0x41s
      const out = new Uint8Array(64).fill(0xee);
      expect(addon.decrypt(k, n, aad, sealed, out), cipher).toBe(-1);
      expect(out.every((b) => b === 0), cipher).toBe(true);
    }
  });
});

describe('the known-answer test before the backend is handed out', () => {
  const addon = createRequire(import.meta.url)('../build/Release/oscore_aead.node') as Addon;
  const node = nodeBackend()!;

  it('passes with the addon as built', () => {
    expect(createOpensslBackend(addon, node).name).toBe(backend.name);
  });

  it.each([
    // Each fault stands for an addon that does not match the OpenSSL this Node.js links.
    ['an encryption that differs from node:crypto in one byte', { ...addon, encrypt: (...a: Parameters<Addon['encrypt']>) => { const n = addon.encrypt(...a); a[4][3]! ^= 0x10; return n; } }],
    ['a decryption that accepts a changed tag', { ...addon, decrypt: (...a: Parameters<Addon['decrypt']>) => { a[4].set(a[3].subarray(0, a[4].length)); return a[4].length; } }],
    ['an encryption that throws', { ...addon, encrypt: () => { throw new RangeError('no'); } }],
  ])('refuses %s with OpensslBackendUnavailableError', (_name, faulty) => {
    const refused = (() => {
      try {
        createOpensslBackend(faulty as Addon, node);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(OpensslBackendUnavailableError);
    expect((refused as OpensslBackendUnavailableError).code).toBe('ERR_OSCORE_OPENSSL_UNAVAILABLE');
  });
});

describe('without the addon built', () => {
  it('opensslBackend() throws OpensslBackendUnavailableError with its code and what to do', () => {
    // A copy of the compiled package without build/, inside the repository (in its ignored .tmp/) so that @oscore-http/core resolves.
    mkdirSync(path.join(PACKAGE, '.tmp'), { recursive: true });
    const dir = mkdtempSync(path.join(PACKAGE, '.tmp', 'unbuilt-'));
    try {
      cpSync(path.join(PACKAGE, 'dist'), path.join(dir, 'dist'), { recursive: true });
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      const script = `import('./dist/index.js').then((m) => { try { m.opensslBackend(); console.log('loaded'); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, json: JSON.stringify(e) })); } })`;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      const error = JSON.parse(run.stdout) as { name: string; code: string; message: string; json: string };
      expect(error.name).toBe(OpensslBackendUnavailableError.name);
      expect(error.code).toBe('ERR_OSCORE_OPENSSL_UNAVAILABLE');
      expect(error.message).toMatch(/npm rebuild @oscore-http\/openssl/);
      expect(error.json).not.toMatch(/stack|build\/Release/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('with the fastify plugin and the undici interceptor', () => {
  /** The OpenSSL backend, counting its AEAD calls: proves which backend each side used. */
  function counted(): { backend: CryptoBackend; calls: { encrypt: number; decrypt: number } } {
    const calls = { encrypt: 0, decrypt: 0 };
    return {
      calls,
      backend: {
        ...backend,
        encrypt: (...args) => (calls.encrypt++, backend.encrypt(...args)),
        decrypt: (...args) => (calls.decrypt++, backend.decrypt(...args)),
      },
    };
  }
  const secret = { hex: '000102030405060708090a0b0c0d0e0f' };

  it('serves and calls through contexts on the `backend` option of each', async () => {
    const server = counted();
    const client = counted();
    const app = Fastify();
    await app.register(oscorePlugin, { contexts: [{ masterSecret: secret, senderId: '01', recipientId: '02' }], backend: server.backend });
    app.post('/orders', async (request) => ({ received: (request.body as { items: string[] }).items.length, peer: request.oscore?.kid }));
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    const dispatcher = new Agent().compose(oscore({ contexts: [{ peer: origin, masterSecret: secret, senderId: '02', recipientId: '01' }], backend: client.backend }));
    try {
      for (let i = 0; i < 3; i++) {
        const { statusCode, body } = await request(`${origin}/orders`, { method: 'POST', dispatcher, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: Array(200).fill('widget') }) });
        expect(statusCode).toBe(200);
        expect(await body.json()).toEqual({ received: 200, peer: '02' });
      }
      expect(server.calls).toEqual({ encrypt: 3, decrypt: 3 });
      expect(client.calls).toEqual({ encrypt: 3, decrypt: 3 });
    } finally {
      await dispatcher.close();
      await app.close();
    }
  });

  it('refuses `backend` next to contexts that were made already, instead of ignoring it', async () => {
    const set = createContextSet([{ peer: 'http://127.0.0.1:9', masterSecret: secret, senderId: '02', recipientId: '01' }], { store: 'memory' });
    try {
      expect(() => oscore({ contexts: set, backend })).toThrow(ContextConfigError);
      const app = Fastify();
      await expect(app.register(oscorePlugin, { contexts: set, backend }).ready()).rejects.toThrow(ContextConfigError);
      await app.close();
    } finally {
      await set.close();
    }
  });
});
