/** AEAD usage limits (draft-ietf-core-oscore-key-limits §2.1.1, §2.3): count_q, count_v, and refusal past the limit. */

import { describe, expect, it } from 'vitest';
import {
  aeadAlgorithm,
  coapCode,
  createSecurityContext,
  DecryptionFailedError,
  defaultUsageLimits,
  MemoryStateStore,
  protectRequest,
  protectResponse,
  UsageLimitReachedError,
  verifyRequest,
  verifyResponse,
} from '../src/index.js';

const masterSecret = new Uint8Array(16).fill(5);
const get = { code: coapCode(0, 1), options: [], payload: new Uint8Array() };

describe('limits per algorithm (§2.1.1)', () => {
  it('recommends q = v = 2^20, and v = 2^14 for AES-CCM with an 8-byte tag', () => {
    expect(defaultUsageLimits(aeadAlgorithm(10))).toEqual({ q: 2 ** 20, v: 2 ** 14 });
    expect(defaultUsageLimits(aeadAlgorithm(11))).toEqual({ q: 2 ** 20, v: 2 ** 14 });
    for (const id of [30, 31, 1, 2, 3, 24]) expect(defaultUsageLimits(aeadAlgorithm(id))).toEqual({ q: 2 ** 20, v: 2 ** 20 });
  });
});

describe.each([
  ['in memory', () => undefined],
  ['in a state store', () => new MemoryStateStore()],
])('counting %s', (_label, newStore) => {
  // A store per pair: the counts of one test's contexts must not carry into the next.
  const pair = (limits: { q?: number; v?: number }) => {
    const state = newStore();
    return {
      client: createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2), usageLimits: limits, ...(state ? { state } : {}) }),
      server: createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1), usageLimits: limits, ...(state ? { state } : {}) }),
    };
  };

  it('refuses to encrypt once count_q would exceed limit_q (§2.3.1), requests and responses alike', async () => {
    const { client, server } = pair({ q: 3 });
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await protectRequest(client, get));
    await expect(protectRequest(client, get)).rejects.toBeInstanceOf(UsageLimitReachedError);
    await expect(protectRequest(client, get)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'q', outcome: '5.03' });
    // The server's Sender Key has its own count: three responses, then no more.
    const ok = { code: coapCode(2, 5), options: [], payload: new Uint8Array() };
    const bindings = [];
    for (const r of sent) bindings.push((await verifyRequest(server, r.option, r.payload)).binding);
    for (const b of bindings) await protectResponse(b, ok);
    await expect(protectResponse(bindings[0]!, ok, { partialIV: true })).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'q' });
  });

  it('stops decrypting with the Recipient Key after limit_v failed decryptions (§2.3.2), and replays do not count', async () => {
    const { client, server } = pair({ v: 2 });
    const good = await protectRequest(client, get);
    await verifyRequest(server, good.option, good.payload);
    // A replay is rejected without counting as a failed decryption.
    for (let i = 0; i < 5; i++) await expect(verifyRequest(server, good.option, good.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_REPLAY' });
    for (let i = 0; i < 2; i++) {
      const r = await protectRequest(client, get);
      const forged = r.payload.slice();
      forged[0]! ^= 1;
      await expect(verifyRequest(server, r.option, forged)).rejects.toBeInstanceOf(DecryptionFailedError);
    }
    // Now even an authentic request is not decrypted.
    const later = await protectRequest(client, get);
    await expect(verifyRequest(server, later.option, later.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });

  it('counts failed response decryptions on the client too', async () => {
    const { client, server } = pair({ v: 1 });
    const r = await protectRequest(client, get);
    const v = await verifyRequest(server, r.option, r.payload);
    const a = await protectResponse(v.binding, { code: coapCode(2, 5), options: [], payload: new Uint8Array([1]) });
    const forged = a.payload.slice();
    forged[0]! ^= 1;
    await expect(verifyResponse(r.binding, a.option, forged)).rejects.toBeInstanceOf(DecryptionFailedError);
    await expect(verifyResponse(r.binding, a.option, a.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });
});

describe('count_v across process lifetimes (a state store)', () => {
  it('a Recipient Key retired in an earlier process decrypts nothing in the next one, not even before its first failure', async () => {
    const state = new MemoryStateStore(); // stands for a store that outlives the process
    const server = () => createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1), usageLimits: { v: 2 }, state });
    const client = createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2) });
    const first = server();
    for (let i = 0; i < 2; i++) {
      const r = await protectRequest(client, get);
      const forged = r.payload.slice();
      forged[0]! ^= 1;
      await expect(verifyRequest(first, r.option, forged)).rejects.toBeInstanceOf(DecryptionFailedError);
    }
    // The next process: a new context over the same stored state, whose first request is authentic.
    const next = server();
    const authentic = await protectRequest(client, get);
    await expect(verifyRequest(next, authentic.option, authentic.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });

  it('concurrent first uses in a process read the stored count once, and an unused key is not retired by them', async () => {
    const state = new MemoryStateStore();
    const server = createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1), usageLimits: { v: 3 }, state });
    const client = createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2) });
    const requests = await Promise.all(Array.from({ length: 10 }, () => protectRequest(client, get)));
    const verified = await Promise.all(requests.map((r) => verifyRequest(server, r.option, r.payload).then(() => 'ok', (e: { code?: string }) => e.code)));
    expect(verified).toEqual(Array(10).fill('ok'));
    // One value reserved for the read, not one per request.
    expect(await state.reserve(`${server.recipientStateId}/v`, 1)).toBe(1);
  });
});

describe('configuration', () => {
  it('refuses usage limits that would never trigger', () => {
    for (const usageLimits of [{ q: 'lots' }, { q: 0 }, { v: -1 }, { q: 1.5 }, { v: Number.POSITIVE_INFINITY }, { x: 5 }]) {
      expect(() => createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2), usageLimits: usageLimits as never }), JSON.stringify(usageLimits)).toThrow(
        expect.objectContaining({ code: 'ERR_OSCORE_INVALID_CONTEXT' }),
      );
    }
  });
});

describe('contexts sharing a Sender Key in one process', () => {
  it('draw count_q and sequence numbers from one reservation, not a block each (a server context per replicated client instance)', async () => {
    const state = new MemoryStateStore();
    const reserved: string[] = [];
    const reserve = state.reserve.bind(state);
    state.reserve = (key: string, count: number) => {
      reserved.push(key.slice(key.lastIndexOf('/') + 1));
      return reserve(key, count);
    };
    // One server Sender ID (02) with the members of a client family as Recipient IDs.
    const members = [0x10, 0x11, 0x12, 0x13].map((suffix) => createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1, suffix), state }));
    const partialIVs: number[] = [];
    for (const ctx of members) {
      const { option } = await protectRequest(ctx, get);
      partialIVs.push(option[1]!);
    }
    expect(reserved.filter((k) => k === 'q')).toEqual(['q']);
    expect(reserved.filter((k) => k === 'seq')).toEqual(['seq']);
    // One sequence space for the one key: no Partial IV (hence no nonce) twice.
    expect(partialIVs).toEqual([0, 1, 2, 3]);
  });
});

describe('several contexts for one kid (a rotation in progress)', () => {
  it('a candidate whose Recipient Key is retired is passed over for the next; only when all are retired is the limit the error', async () => {
    const otherSecret = new Uint8Array(16).fill(6);
    const oldServer = createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1), usageLimits: { v: 1 } });
    const newServer = createSecurityContext({ masterSecret: otherSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1) });
    const newClient = createSecurityContext({ masterSecret: otherSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2) });
    // One failed decryption retires the old context's Recipient Key (v = 1).
    const forged = await protectRequest(newClient, get);
    await expect(verifyRequest(oldServer, forged.option, forged.payload)).rejects.toBeInstanceOf(DecryptionFailedError);
    const both = { findRecipientContexts: () => [oldServer, newServer] };
    const r = await protectRequest(newClient, get);
    await expect(verifyRequest(both, r.option, r.payload)).resolves.toMatchObject({ context: newServer });
    const onlyOld = { findRecipientContexts: () => [oldServer, oldServer] };
    const again = await protectRequest(newClient, get);
    await expect(verifyRequest(onlyOld, again.option, again.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });
});
