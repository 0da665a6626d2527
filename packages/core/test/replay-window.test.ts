/** The replay window of RFC 8613 §7.4 at every edge, and sequence-number exhaustion (§7.2.1). */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertCanProtect,
  coapCode,
  createSecurityContext,
  MAX_SEQUENCE_NUMBER,
  MemorySequenceNumberSource,
  protectRequest,
  protectResponse,
  ReplayDetectedError,
  ReplayWindow,
  sequenceNumber,
  SequenceNumbersExhaustedError,
  toHex,
  verifyRequest,
} from '../src/index.js';

const seq = sequenceNumber;

describe('ReplayWindow', () => {
  it('accepts in-order numbers starting at 0 and rejects each one a second time', () => {
    const w = new ReplayWindow(64);
    for (let i = 0; i < 200; i++) expect(w.checkAndUpdate(seq(i))).toBe('accepted');
    for (let i = 200 - 64; i < 200; i++) expect(w.checkAndUpdate(seq(i))).toBe('replayed');
    expect(w.highest).toBe(199);
  });

  it('accepts numbers reordered within the window, once', () => {
    const w = new ReplayWindow(64);
    expect(w.checkAndUpdate(seq(100))).toBe('accepted');
    for (const n of [99, 37, 50, 98]) expect(w.checkAndUpdate(seq(n))).toBe('accepted');
    for (const n of [99, 37, 50, 98, 100]) expect(w.checkAndUpdate(seq(n))).toBe('replayed');
  });

  it('has its lower edge at highest − size + 1: that is accepted, highest − size is not', () => {
    for (const size of [1, 31, 32, 33, 64, 65, 100, 1024]) {
      const w = new ReplayWindow(size);
      const top = 5000;
      expect(w.checkAndUpdate(seq(top))).toBe('accepted');
      expect(w.checkAndUpdate(seq(top - size)), `size ${size}`).toBe('replayed'); // just outside
      expect(w.checkAndUpdate(seq(top - size + 1)), `size ${size}`).toBe(size === 1 ? 'replayed' : 'accepted'); // just inside (for size 1 that is top itself)
    }
  });

  it('forgets marks that slide out and keeps those that stay, for every shift distance', () => {
    for (const size of [32, 40, 64, 96]) {
      for (let shift = 1; shift <= size + 2; shift++) {
        const w = new ReplayWindow(size);
        w.checkAndUpdate(seq(1000));
        w.checkAndUpdate(seq(1000 - 1)); // a mark one below the top
        w.checkAndUpdate(seq(1000 + shift));
        const inside = (n: number) => n > 1000 + shift - size;
        // 999 is marked: never fresh, whether its mark moved or it slid out.
        expect(w.isFresh(seq(999)), `size ${size} shift ${shift}`).toBe(false);
        // 998 was never received: fresh exactly while it is still inside the window.
        expect(w.isFresh(seq(998)), `size ${size} shift ${shift}`).toBe(inside(998));
        // 1000 is marked and stays inside for every shift < size.
        if (inside(1000)) expect(w.isFresh(seq(1000))).toBe(false);
        expect(w.checkAndUpdate(seq(1000 + shift))).toBe('replayed');
      }
    }
  });

  it('accepts the largest sequence number, 2^40 − 1, once, and keeps the window below it', () => {
    const w = new ReplayWindow(64);
    expect(w.checkAndUpdate(seq(MAX_SEQUENCE_NUMBER - 10))).toBe('accepted');
    expect(w.checkAndUpdate(seq(MAX_SEQUENCE_NUMBER))).toBe('accepted');
    expect(w.checkAndUpdate(seq(MAX_SEQUENCE_NUMBER))).toBe('replayed');
    expect(w.checkAndUpdate(seq(MAX_SEQUENCE_NUMBER - 10))).toBe('replayed');
    expect(w.checkAndUpdate(seq(MAX_SEQUENCE_NUMBER - 5))).toBe('accepted');
    expect(w.checkAndUpdate(seq(MAX_SEQUENCE_NUMBER - 64))).toBe('replayed');
  });

  it('resumes from a snapshot with the same verdicts', () => {
    const w = new ReplayWindow(40);
    for (const n of [3, 9, 17, 44, 41]) w.checkAndUpdate(seq(n));
    const copy = new ReplayWindow(40, JSON.parse(JSON.stringify(w.snapshot())));
    for (let n = 0; n < 60; n++) expect(copy.isFresh(seq(n)), String(n)).toBe(w.isFresh(seq(n)));
    expect(() => new ReplayWindow(64, w.snapshot())).toThrow(RangeError);
  });

  it('refuses sizes outside 1 … 65,536', () => {
    for (const bad of [0, -1, 1.5, 65_537]) expect(() => new ReplayWindow(bad)).toThrow(RangeError);
  });

  it('matches a model that remembers every number, for random arrival orders', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 130 }), fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 300 }), (size, arrivals) => {
        const w = new ReplayWindow(size);
        const seen = new Set<number>();
        let highest = -1;
        for (const n of arrivals) {
          // Model: new if never seen and not older than the window.
          const expected = !seen.has(n) && n > highest - size ? 'accepted' : 'replayed';
          expect(w.checkAndUpdate(seq(n))).toBe(expected);
          if (expected === 'accepted') {
            seen.add(n);
            highest = Math.max(highest, n);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('Sender Sequence Number (RFC 8613 §7.2.1)', () => {
  const secret = new Uint8Array(16).fill(7);
  const get = { code: coapCode(0, 1), options: [], payload: new Uint8Array(0) };

  it('uses 2^40 − 1 as the last Partial IV and then refuses with a typed error instead of wrapping', async () => {
    const client = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([2]), senderSequence: new MemorySequenceNumberSource(MAX_SEQUENCE_NUMBER - 1) });
    const server = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([2]), recipientId: new Uint8Array([1]) });
    const a = await protectRequest(client, get);
    const b = await protectRequest(client, get);
    expect(toHex(a.option)).toBe('0d' + 'fffffffffe' + '01'); // n = 5, k = 1
    expect(toHex(b.option)).toBe('0d' + 'ffffffffff' + '01');
    await expect(protectRequest(client, get)).rejects.toBeInstanceOf(SequenceNumbersExhaustedError);
    await expect(protectRequest(client, get)).rejects.toMatchObject({ code: 'ERR_OSCORE_SEQUENCE_EXHAUSTED' });
    expect((await verifyRequest(server, b.option, b.payload)).sequenceNumber).toBe(MAX_SEQUENCE_NUMBER);
    expect((await verifyRequest(server, a.option, a.payload)).sequenceNumber).toBe(MAX_SEQUENCE_NUMBER - 1);
    await expect(verifyRequest(server, b.option, b.payload)).rejects.toBeInstanceOf(ReplayDetectedError);
  });

  it('once exhausted, protects nothing more with that Sender Context: not even a response with the request nonce, which takes no number', async () => {
    const client = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([2]) });
    const server = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([2]), recipientId: new Uint8Array([1]), senderSequence: new MemorySequenceNumberSource(MAX_SEQUENCE_NUMBER) });
    const ok = { code: coapCode(2, 5), options: [], payload: new Uint8Array([1]) };
    const requests = [];
    for (let i = 0; i < 3; i++) {
      const r = await protectRequest(client, get);
      requests.push(await verifyRequest(server, r.option, r.payload));
    }
    expect(toHex((await protectResponse(requests[0]!.binding, ok, { partialIV: true })).option)).toBe('05ffffffffff');
    await expect(protectResponse(requests[1]!.binding, ok, { partialIV: true })).rejects.toBeInstanceOf(SequenceNumbersExhaustedError);
    // §7.2.1: "the endpoint MUST NOT process any more messages with the given Sender Context".
    await expect(protectResponse(requests[2]!.binding, ok)).rejects.toBeInstanceOf(SequenceNumbersExhaustedError);
    expect(() => assertCanProtect(server)).toThrow(SequenceNumbersExhaustedError);
  });

  it('refuses to start beyond 2^40 − 1', () => {
    expect(() => new MemorySequenceNumberSource(MAX_SEQUENCE_NUMBER + 1)).toThrow(RangeError);
    expect(new MemorySequenceNumberSource(MAX_SEQUENCE_NUMBER).next()).toBe(MAX_SEQUENCE_NUMBER);
  });

  it('is read and increased in one step under concurrent protection', async () => {
    const client = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([2]) });
    const all = await Promise.all(Array.from({ length: 500 }, () => protectRequest(client, get)));
    expect(new Set(all.map((r) => r.binding.sequenceNumber)).size).toBe(500);
  });
});

describe('verifyRequest and the window', () => {
  it('updates the window only after successful decryption', async () => {
    const secret = new Uint8Array(16).fill(9);
    const client = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([2]) });
    const window = new ReplayWindow(64);
    const server = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([2]), recipientId: new Uint8Array([1]), replayProtection: window });
    const r = await protectRequest(client, { code: coapCode(0, 2), options: [], payload: new Uint8Array([1, 2, 3]) });
    const forged = r.payload.slice();
    forged[0]! ^= 1;
    await expect(verifyRequest(server, r.option, forged)).rejects.toMatchObject({ code: 'ERR_OSCORE_DECRYPTION_FAILED' });
    expect(window.highest).toBe(-1);
    expect((await verifyRequest(server, r.option, r.payload)).sequenceNumber).toBe(0);
    expect(window.highest).toBe(0);
  });
});
