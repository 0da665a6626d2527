/**
 * The contract every StateStore implementation passes (memory, file, Redis). Import
 * `stateStoreContract` from a store's test file and give it a factory.
 */

import { describe, expect, it } from 'vitest';
import { coapCode, createSecurityContext, protectRequest, sequenceNumber, verifyRequest, type StateStore } from '../src/index.js';

/** How a store's test drives it. */
export interface StoreHarness {
  readonly store: StateStore;
  /** Another handle on the same state, as a second replica or a restarted process would have (omit if state cannot be shared). */
  readonly peer?: () => Promise<StateStore>;
  /** Removes what the store left behind. */
  readonly cleanup: () => Promise<void>;
}

const seq = sequenceNumber;

export function stateStoreContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`StateStore contract: ${name}`, () => {
    it('reserves disjoint, durable blocks per counter, also when called concurrently', async () => {
      const h = await open();
      try {
        const firsts = await Promise.all(Array.from({ length: 50 }, () => h.store.reserve('a/seq', 10)));
        const ranges = firsts.map((f) => [f, f + 10] as const).sort((x, y) => x[0] - y[0]);
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
        expect(ranges[0]![0]).toBe(0);
        // Counters are independent.
        expect(await h.store.reserve('b/seq', 5)).toBe(0);
        expect(await h.store.reserve('a/seq', 1)).toBe(500);
      } finally {
        await h.cleanup();
      }
    });

    it('checks and updates a replay window in one step', async () => {
      const h = await open();
      try {
        const w = h.store.replayWindow('r1', 64);
        expect(await w.checkAndUpdate(seq(5))).toBe('accepted');
        expect(await w.checkAndUpdate(seq(5))).toBe('replayed');
        expect(await w.checkAndUpdate(seq(3))).toBe('accepted');
        expect(await w.checkAndUpdate(seq(200))).toBe('accepted');
        expect(await w.checkAndUpdate(seq(200 - 64))).toBe('replayed');
        expect(await w.checkAndUpdate(seq(199))).toBe('accepted');
        // Concurrent duplicates: exactly one is accepted.
        const verdicts = await Promise.all(Array.from({ length: 20 }, () => w.checkAndUpdate(seq(300))));
        expect(verdicts.filter((v) => v === 'accepted')).toHaveLength(1);
        // Windows are independent.
        expect(await h.store.replayWindow('r2', 64).checkAndUpdate(seq(5))).toBe('accepted');
      } finally {
        await h.cleanup();
      }
    });

    it('keeps sequence numbers and replay state across handles on the same state', async () => {
      const h = await open();
      try {
        if (h.peer === undefined) return expect(h.store.name).toBe('memory');
        const a = await h.store.reserve('c/seq', 100);
        await h.store.replayWindow('r3', 64).checkAndUpdate(seq(42));
        const other = await h.peer();
        expect(await other.reserve('c/seq', 100)).toBeGreaterThanOrEqual(a + 100);
        // The other handle knows 42 was received — or, if it cannot know (state lost), says so.
        expect(['replayed', 'unknown']).toContain(await other.replayWindow('r3', 64).checkAndUpdate(seq(42)));
        await other.close();
      } finally {
        await h.cleanup();
      }
    });

    it('protects and verifies through contexts that keep their state in the store', async () => {
      const h = await open();
      try {
        const masterSecret = new Uint8Array(16).fill(3);
        const client = createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2), state: h.store });
        const server = createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1), state: h.store });
        expect(client.senderStateId).toBe(server.recipientStateId);
        const get = { code: coapCode(0, 1), options: [], payload: new Uint8Array() };
        const sent = await Promise.all(Array.from({ length: 30 }, () => protectRequest(client, get)));
        expect(new Set(sent.map((r) => r.binding.sequenceNumber)).size).toBe(30);
        for (const r of sent) await verifyRequest(server, r.option, r.payload);
        await expect(verifyRequest(server, sent[0]!.option, sent[0]!.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_REPLAY' });
      } finally {
        await h.cleanup();
      }
    });
  });
}
