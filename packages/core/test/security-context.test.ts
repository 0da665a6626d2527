/** Security context input validation (RFC 8613 §3.3), immutability and secrecy of the derived material. */

import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  AEAD_ALGORITHMS,
  aeadAlgorithm,
  createSecurityContext,
  deriveParameters,
  DEFAULT_HKDF,
  fromHex,
  InvalidContextError,
  nobleBackend,
  nodeBackend,
  toHex,
  UnsupportedAlgorithmError,
} from '../src/index.js';

const masterSecret = fromHex('0102030405060708090a0b0c0d0e0f10');
const masterSalt = fromHex('9e7ca92223786340');

describe('input validation', () => {
  it.each(AEAD_ALGORITHMS.map((a) => [a.name, a] as const))('%s: IDs up to nonce length − 6 bytes, not one more', (_n, alg) => {
    const max = alg.nonceLength - 6;
    expect(() => createSecurityContext({ masterSecret, aeadAlgorithm: alg.id, senderId: new Uint8Array(max), recipientId: new Uint8Array(max).fill(1) })).not.toThrow();
    expect(() => createSecurityContext({ masterSecret, aeadAlgorithm: alg.id, senderId: new Uint8Array(max + 1), recipientId: new Uint8Array(1) })).toThrow(InvalidContextError);
    expect(() => createSecurityContext({ masterSecret, aeadAlgorithm: alg.id, senderId: new Uint8Array(1), recipientId: new Uint8Array(max + 1) })).toThrow(InvalidContextError);
  });

  it('refuses equal Sender and Recipient IDs, an empty Master Secret and non-byte inputs', () => {
    expect(() => createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('01') })).toThrow(/distinct ID/);
    expect(() => createSecurityContext({ masterSecret: new Uint8Array(0), senderId: fromHex('01'), recipientId: fromHex('02') })).toThrow(InvalidContextError);
    expect(() => createSecurityContext({ masterSecret: 'secret' as unknown as Uint8Array, senderId: fromHex('01'), recipientId: fromHex('02') })).toThrow(InvalidContextError);
  });

  it('refuses a kid context that cannot be sent (over 255 bytes) and sendKidContext without an ID Context', () => {
    expect(() => createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('02'), idContext: new Uint8Array(256) })).toThrow(/255/);
    expect(() => createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('02'), idContext: new Uint8Array(256), sendKidContext: false })).not.toThrow();
    expect(() => createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('02'), sendKidContext: true })).toThrow(InvalidContextError);
  });

  it('names unknown algorithms and backends that lack one', () => {
    expect(() => createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('02'), aeadAlgorithm: 99 })).toThrow(UnsupportedAlgorithmError);
    expect(() => createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('02'), aeadAlgorithm: -7 })).toThrow(UnsupportedAlgorithmError);
    expect(() => createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('02'), hkdfAlgorithm: 'HKDF-SHA-1' })).toThrow(UnsupportedAlgorithmError);
    expect(() => createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('02'), backend: nobleBackend })).toThrow(/does not implement AES-CCM-16-64-128/);
    expect(createSecurityContext({ masterSecret, senderId: fromHex('01'), recipientId: fromHex('02'), aeadAlgorithm: 'A128GCM', backend: nobleBackend }).backendName).toBe('@noble/ciphers');
  });

  it('defaults to AES-CCM-16-64-128, HKDF-SHA-256, the empty salt and node:crypto (RFC 8613 §3.2)', () => {
    const ctx = createSecurityContext({ masterSecret, senderId: fromHex(''), recipientId: fromHex('01') });
    expect(ctx.aead.id).toBe(10);
    expect(ctx.hkdf).toBe(DEFAULT_HKDF);
    expect(ctx.backendName).toBe('node:crypto');
    expect(ctx.sendKidContext).toBe(false);
    expect(createSecurityContext({ masterSecret, senderId: fromHex(''), recipientId: fromHex('01'), idContext: fromHex('aa') }).sendKidContext).toBe(true);
  });
});

describe('immutability', () => {
  it('copies inputs and returns copies of the IDs', () => {
    const senderId = fromHex('0a');
    const ctx = createSecurityContext({ masterSecret, senderId, recipientId: fromHex('0b') });
    senderId[0] = 0xff;
    expect(toHex(ctx.senderId)).toBe('0a');
    ctx.senderId[0] = 0xee;
    expect(toHex(ctx.senderId)).toBe('0a');
    expect(Object.isFrozen(ctx)).toBe(true);
    expect(() => {
      (ctx as { aead: unknown }).aead = aeadAlgorithm(1);
    }).toThrow(TypeError);
  });
});

describe('secrecy (RFC 8613 §12.6)', () => {
  it('never shows keys, Common IV or Master Secret through toString, JSON or inspect', () => {
    const params = { masterSecret, masterSalt, senderId: fromHex(''), recipientId: fromHex('01'), idContext: fromHex('37cbf3210017a2d3') };
    const ctx = createSecurityContext(params);
    const d = deriveParameters({ ...params, aead: ctx.aead, hkdf: ctx.hkdf }, nodeBackend()!);
    const secrets = [toHex(masterSecret), toHex(d.senderKey), toHex(d.recipientKey), toHex(d.commonIV)];
    const views = [
      String(ctx),
      JSON.stringify(ctx),
      JSON.stringify({ nested: [ctx] }),
      inspect(ctx),
      inspect(ctx, { showHidden: true, depth: Infinity, getters: true }),
      inspect({ ctx }, { depth: Infinity }),
    ];
    for (const view of views) {
      const flat = view.replace(/[^0-9a-f]/gi, '').toLowerCase();
      for (const secret of secrets) expect(flat).not.toContain(secret);
      // Also not as decimal byte lists (how inspect prints a Uint8Array).
      expect(view).not.toMatch(/Uint8Array|Buffer|KeyObject/);
    }
    expect(String(ctx)).toBe('SecurityContext(AES-CCM-16-64-128, sid=, rid=01, idctx=37cbf3210017a2d3)');
    expect(JSON.parse(JSON.stringify(ctx))).toEqual({ aead: 'AES-CCM-16-64-128', senderId: '', recipientId: '01', idContext: '37cbf3210017a2d3' });
  });

  it('keeps imported keys opaque as well', () => {
    const key = nodeBackend()!.importKey(aeadAlgorithm(10), fromHex('f0910ed7295e6ad4b54fc793154302ff'));
    for (const view of [String(key), JSON.stringify(key), inspect(key, { showHidden: true, depth: Infinity })]) {
      expect(view).not.toContain('f0910ed7');
      expect(view).not.toMatch(/240, 145/);
    }
    const noble = nobleBackend.importKey(aeadAlgorithm(1), fromHex('f0910ed7295e6ad4b54fc793154302ff'));
    expect(inspect(noble, { showHidden: true, depth: Infinity })).not.toMatch(/240|f0910ed7/);
  });
});
