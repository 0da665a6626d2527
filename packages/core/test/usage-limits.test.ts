/** AEAD usage limits (draft-ietf-core-oscore-key-limits §2.1.1, §2.3): count_q, count_v, and refusal past the limit. */

import { describe, expect, it, vi } from 'vitest';
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
  type UsageLimits,
  verifyRequest,
  verifyResponse,
} from '../src/index.js';

const masterSecret = new Uint8Array(16).fill(5);
const get = { code: coapCode(0, 1), options: [], payload: new Uint8Array() };
/** A POST whose COSE plaintext is `size` bytes plus two (code, payload marker). */
const post = (size: number) => ({ code: coapCode(0, 2), options: [], payload: new Uint8Array(size) });

/** Where the counts are kept: each pair gets its own store, so one test's counts never carry into the next. */
const COUNTERS = [
  ['in memory', () => undefined],
  ['in a state store', () => new MemoryStateStore()],
] as const;

/** `payload` with its first bit flipped: a ciphertext that fails decryption. */
const flipped = (payload: Uint8Array) => {
  const copy = payload.slice();
  copy[0]! ^= 1;
  return copy;
};

/** A memory store that records each reservation: the counter it is for (`q`, `seq`, …) and how many values. */
function recordingStore() {
  const state = new MemoryStateStore();
  const reserved: { counter: string; count: number }[] = [];
  const reserve = state.reserve.bind(state);
  state.reserve = (key: string, count: number) => {
    reserved.push({ counter: key.slice(key.lastIndexOf('/') + 1), count });
    return reserve(key, count);
  };
  return { state, reserved };
}

/** A client and a server context of one pair, with `limits` on both. */
function pairOf(newStore: () => MemoryStateStore | undefined, limits: Partial<UsageLimits>, aeadAlgorithm = 10) {
  const state = newStore();
  const params = { masterSecret, aeadAlgorithm, usageLimits: limits, ...(state ? { state } : {}) };
  return {
    client: createSecurityContext({ ...params, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2) }),
    server: createSecurityContext({ ...params, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1) }),
  };
}

describe('limits per algorithm (§2.1.1)', () => {
  it('recommends (q, v, l) = (2^20, 2^20, 2^10), and (2^20, 2^14, 2^8) for AES-CCM with an 8-byte tag', () => {
    expect(defaultUsageLimits(aeadAlgorithm(10))).toEqual({ q: 2 ** 20, v: 2 ** 14, l: 2 ** 8 });
    expect(defaultUsageLimits(aeadAlgorithm(11))).toEqual({ q: 2 ** 20, v: 2 ** 14, l: 2 ** 8 });
    for (const id of [30, 31, 1, 2, 3, 24]) expect(defaultUsageLimits(aeadAlgorithm(id))).toEqual({ q: 2 ** 20, v: 2 ** 20, l: 2 ** 10 });
  });
});

describe.each(COUNTERS)('counting %s', (_label, newStore) => {
  const pair = (limits: Partial<UsageLimits>) => pairOf(newStore, limits);

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

  it('stops decrypting with the Recipient Key once count_v exceeded limit_v (§2.3.2), and replays do not count', async () => {
    const { client, server } = pair({ v: 2 });
    const good = await protectRequest(client, get);
    await verifyRequest(server, good.option, good.payload);
    // A replay is rejected without counting as a failed decryption.
    for (let i = 0; i < 5; i++) await expect(verifyRequest(server, good.option, good.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_REPLAY' });
    const forge = async () => {
      const r = await protectRequest(client, get);
      await expect(verifyRequest(server, r.option, flipped(r.payload))).rejects.toBeInstanceOf(DecryptionFailedError);
    };
    await forge();
    await forge();
    // count_v = limit_v: "the highest value that 'count_v' is allowed to reach" (§2.2.3), not beyond it.
    const still = await protectRequest(client, get);
    await verifyRequest(server, still.option, still.payload);
    await forge(); // count_v = 3: exceeded
    // Now even an authentic request is not decrypted.
    const later = await protectRequest(client, get);
    await expect(verifyRequest(server, later.option, later.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });

  it('counts failed response decryptions on the client too', async () => {
    const { client, server } = pair({ v: 1 });
    const r = await protectRequest(client, get);
    const v = await verifyRequest(server, r.option, r.payload);
    const a = await protectResponse(v.binding, { code: coapCode(2, 5), options: [], payload: new Uint8Array([1]) });
    for (let i = 0; i < 2; i++) await expect(verifyResponse(r.binding, a.option, flipped(a.payload))).rejects.toBeInstanceOf(DecryptionFailedError);
    await expect(verifyResponse(r.binding, a.option, a.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });
});

describe.each(COUNTERS)('messages longer than l blocks (§2.1.1), counted %s', (_label, newStore) => {
  // The longest message that counts once, in bytes, from the draft's Figure 2 — not from the code.
  const figure2 = { 10: 4096, 1: 16384, 24: 65536 } as const;
  const pair = (aeadAlgorithm: 10 | 1 | 24, limits: Partial<UsageLimits>) => pairOf(newStore, limits, aeadAlgorithm);

  it.each([10, 1, 24] as const)('COSE %i: a message of up to l blocks is one use; one of just over 2·l blocks is three', async (alg) => {
    const unit = figure2[alg];
    const { client } = pair(alg, { q: 4 });
    await protectRequest(client, post(unit - 64)); // use 1
    await protectRequest(client, post(2 * unit)); // uses 2, 3, 4
    await expect(protectRequest(client, get)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'q' });
  });

  it('a message that would take count_q past limit_q is refused whole, before it is encrypted', async () => {
    const { client } = pair(10, { q: 2 });
    await expect(protectRequest(client, post(2 * 4096))).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'q' });
  });

  it('responses count the same way', async () => {
    const { client, server } = pair(1, { q: 3 });
    const r = await protectRequest(client, get);
    const { binding } = await verifyRequest(server, r.option, r.payload);
    await protectResponse(binding, { code: coapCode(2, 5), options: [], payload: new Uint8Array(2 * 16384) }); // three uses
    await expect(protectResponse(binding, { code: coapCode(2, 5), options: [], payload: new Uint8Array() }, { partialIV: true })).rejects.toMatchObject({ limit: 'q' });
  });

  it('a forged message of more than l blocks counts as several failed decryptions', async () => {
    const { client, server } = pair(10, { v: 2 });
    const r = await protectRequest(client, post(2 * 4096)); // over 2·l: three, past limit_v
    await expect(verifyRequest(server, r.option, flipped(r.payload))).rejects.toBeInstanceOf(DecryptionFailedError);
    const later = await protectRequest(client, get);
    await expect(verifyRequest(server, later.option, later.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });

  it('l is configurable: with l = 1 block (16 bytes), a GET is one use and a 108-byte POST eight', async () => {
    // A message's size is its COSE plaintext, tag and padding (key-limits §2.3). For COSE 10
    // (8-byte tag): a GET's plaintext is its code, 1 + 8 = 9 bytes, one block; the POST's is
    // code, 0xff and 108 bytes, 110 + 8 = 118 bytes, eight blocks (seven without the tag).
    const first = pair(10, { q: 9, l: 1 });
    expect(first.client.usageLimits).toEqual({ q: 9, v: 2 ** 14, l: 1 });
    await protectRequest(first.client, get); // count 0
    await protectRequest(first.client, post(108)); // counts 1 … 8
    await expect(protectRequest(first.client, get)).rejects.toMatchObject({ limit: 'q' });
    const second = pair(10, { q: 8, l: 1 });
    await protectRequest(second.client, get);
    await expect(protectRequest(second.client, post(108))).rejects.toMatchObject({ limit: 'q' });
  });
});

describe('a message of more uses than a reserved block holds', () => {
  it('takes them across reservations from the store', async () => {
    const { state, reserved } = recordingStore();
    const client = createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2), state, reservationBlock: 2, usageLimits: { q: 7, l: 1 } });
    await protectRequest(client, get); // 1 + 8 bytes: count 0
    await protectRequest(client, post(40)); // 42 + 8 = 50 bytes, four blocks: counts 1 … 4
    await protectRequest(client, get); // 5
    await protectRequest(client, get); // 6
    await expect(protectRequest(client, get)).rejects.toMatchObject({ limit: 'q' }); // 7
    const q = reserved.filter((r) => r.counter === 'q');
    expect(q.length).toBeGreaterThanOrEqual(4);
    expect(q.every((r) => r.count === 2)).toBe(true);
  });
});

describe('what count_v does not count (found in review)', () => {
  it('a ciphertext no AES-CCM-16 plaintext can produce, or one shorter than the tag: refused without counting, so oversized forgeries cannot retire the key', async () => {
    const { client, server } = pairOf(() => undefined, { v: 1 }, 10);
    const r = await protectRequest(client, get);
    for (const size of [70_000, 65_535 + 8 + 1, 7, 1]) {
      await expect(verifyRequest(server, r.option, new Uint8Array(size))).rejects.toBeInstanceOf(DecryptionFailedError);
    }
    await verifyRequest(server, r.option, r.payload); // still usable: nothing was counted
    // The largest ciphertext the algorithm can produce is an attempt on the key, and counts (16 uses of 4 KiB).
    const later = await protectRequest(client, get);
    await expect(verifyRequest(server, later.option, new Uint8Array(65_535 + 8))).rejects.toBeInstanceOf(DecryptionFailedError);
    await expect(verifyRequest(server, later.option, later.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });
});

describe('count_v across process lifetimes (a state store)', () => {
  it('a Recipient Key retired in an earlier process decrypts nothing in the next one, not even before its first failure', async () => {
    const state = new MemoryStateStore(); // stands for a store that outlives the process
    const server = () => createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1), usageLimits: { v: 2 }, state });
    const client = createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2) });
    const first = server();
    for (let i = 0; i < 3; i++) {
      const r = await protectRequest(client, get);
      await expect(verifyRequest(first, r.option, flipped(r.payload))).rejects.toBeInstanceOf(DecryptionFailedError);
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

describe("the context's expiration time 'exp' (§2.2.1)", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const at = (exp: number, ids: [number, number], secret = masterSecret) => createSecurityContext({ masterSecret: secret, senderId: Uint8Array.of(ids[0]), recipientId: Uint8Array.of(ids[1]), exp });

  it('before exp the context works; from exp on it protects and verifies nothing', async () => {
    const later = now() + 3600;
    const client = at(later, [1, 2]);
    const server = at(later, [2, 1]);
    expect(client.exp).toBe(later);
    const r = await protectRequest(client, get);
    const { binding } = await verifyRequest(server, r.option, r.payload);
    const answer = await protectResponse(binding, { code: coapCode(2, 5), options: [], payload: new Uint8Array() });
    await verifyResponse(r.binding, answer.option, answer.payload);

    const past = now() - 1;
    const expiredClient = at(past, [1, 2]);
    const expiredServer = at(past, [2, 1]);
    const expired = { code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'exp', outcome: '5.03' };
    await expect(protectRequest(expiredClient, get)).rejects.toMatchObject(expired);
    await expect(protectRequest(expiredClient, get)).rejects.toThrow(`expired at ${new Date(past * 1000).toISOString()}`);
    const fresh = await protectRequest(client, get);
    await expect(verifyRequest(expiredServer, fresh.option, fresh.payload)).rejects.toMatchObject(expired);
  });

  it('a response protected or received once exp has passed is refused, though its request was verified in time', async () => {
    const exp = now() + 60;
    const client = at(exp, [1, 2]);
    const server = at(exp, [2, 1]);
    const ok = { code: coapCode(2, 5), options: [], payload: new Uint8Array() };
    const first = await protectRequest(client, get);
    const second = await protectRequest(client, get);
    const bindingFirst = (await verifyRequest(server, first.option, first.payload)).binding;
    const bindingSecond = (await verifyRequest(server, second.option, second.payload)).binding;
    const answerFirst = await protectResponse(bindingFirst, ok);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(exp * 1000);
      await expect(protectResponse(bindingSecond, ok)).rejects.toMatchObject({ limit: 'exp' });
      await expect(verifyResponse(first.binding, answerFirst.option, answerFirst.payload)).rejects.toMatchObject({ limit: 'exp' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('an expired context beside its successor (a rotation) is passed over', async () => {
    const otherSecret = new Uint8Array(16).fill(6);
    const oldServer = at(now() - 1, [2, 1]);
    const newServer = createSecurityContext({ masterSecret: otherSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1) });
    const newClient = createSecurityContext({ masterSecret: otherSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2) });
    const r = await protectRequest(newClient, get);
    await expect(verifyRequest({ findRecipientContexts: () => [oldServer, newServer] }, r.option, r.payload)).resolves.toMatchObject({ context: newServer });
  });

  it('refuses an exp that is not a NumericDate', () => {
    for (const exp of [-1, 1.5, '2027-01-01', Number.NaN]) {
      expect(() => at(exp as number, [1, 2]), String(exp)).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_INVALID_CONTEXT' }));
    }
  });
});

describe('configuration', () => {
  it('refuses usage limits that would never trigger', () => {
    for (const usageLimits of [{ q: 'lots' }, { q: 0 }, { v: -1 }, { q: 1.5 }, { v: Number.POSITIVE_INFINITY }, { l: 0 }, { l: '1024' }, { x: 5 }]) {
      expect(() => createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2), usageLimits: usageLimits as never }), JSON.stringify(usageLimits)).toThrow(
        expect.objectContaining({ code: 'ERR_OSCORE_INVALID_CONTEXT' }),
      );
    }
  });
});

describe('contexts sharing a Sender Key in one process', () => {
  it('draw count_q and sequence numbers from one reservation, not a block each (a server context per replicated client instance)', async () => {
    const { state, reserved } = recordingStore();
    // One server Sender ID (02) with the members of a client family as Recipient IDs.
    const members = [0x10, 0x11, 0x12, 0x13].map((suffix) => createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1, suffix), state }));
    const partialIVs: number[] = [];
    for (const ctx of members) {
      const { option } = await protectRequest(ctx, get);
      partialIVs.push(option[1]!);
    }
    expect(reserved.filter((r) => r.counter === 'q')).toHaveLength(1);
    expect(reserved.filter((r) => r.counter === 'seq')).toHaveLength(1);
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
    // Two failed decryptions retire the old context's Recipient Key (count_v 2 > limit_v 1).
    for (let i = 0; i < 2; i++) {
      const forged = await protectRequest(newClient, get);
      await expect(verifyRequest(oldServer, forged.option, forged.payload)).rejects.toBeInstanceOf(DecryptionFailedError);
    }
    const both = { findRecipientContexts: () => [oldServer, newServer] };
    const r = await protectRequest(newClient, get);
    await expect(verifyRequest(both, r.option, r.payload)).resolves.toMatchObject({ context: newServer });
    const onlyOld = { findRecipientContexts: () => [oldServer, oldServer] };
    const again = await protectRequest(newClient, get);
    await expect(verifyRequest(onlyOld, again.option, again.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });
});
