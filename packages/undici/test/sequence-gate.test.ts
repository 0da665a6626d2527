/** The dispatch gate keeps every request within the peer's replay window of the newest one sent (RFC 8613 §7.4). */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SequenceGate } from '../src/sequence-gate.js';

describe('SequenceGate', () => {
  it('never dispatches a request W or more above an unanswered one, and never deadlocks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.array(fc.nat(), { minLength: 1, maxLength: 200 }), async (window, choices) => {
        const gate = new SequenceGate(window);
        const unanswered = new Set<number>();
        const dispatched: number[] = [];
        const inFlight: number[] = [];
        let next = 0;
        const start = (seq: number) => {
          const wait = gate.admit(seq);
          unanswered.add(seq);
          const go = () => {
            // Invariant: at dispatch, seq is within the window of every unanswered request.
            for (const r of unanswered) expect(seq - r).toBeLessThan(window);
            dispatched.push(seq);
            inFlight.push(seq);
          };
          if (wait === undefined) go();
          else void wait.then(go);
        };
        for (const choice of choices) {
          if (choice % 3 !== 0 || inFlight.length === 0) start(next++);
          else {
            const [seq] = inFlight.splice(choice % inFlight.length, 1);
            unanswered.delete(seq!);
            gate.done(seq!);
          }
          await Promise.resolve();
        }
        // Answer everything: every held request must eventually go out.
        while (inFlight.length > 0) {
          const seq = inFlight.shift()!;
          unanswered.delete(seq);
          gate.done(seq);
          await Promise.resolve();
          await Promise.resolve();
        }
        expect(new Set(dispatched).size).toBe(next);
      }),
      { numRuns: 200 },
    );
  });

  it('forgets a held request that is given up (an abort before dispatch): it is never released', async () => {
    const gate = new SequenceGate(2);
    expect(gate.admit(0)).toBeUndefined();
    expect(gate.admit(1)).toBeUndefined();
    let released = false;
    void gate.admit(2)!.then(() => (released = true));
    gate.done(2);
    gate.done(0);
    await Promise.resolve();
    expect(released).toBe(false);
    // The window moved on: a new request 3 (2 above the lowest unanswered, 1) is held, then released by 1.
    const wait = gate.admit(3);
    expect(wait).toBeDefined();
    gate.done(1);
    await expect(wait).resolves.toBeUndefined();
  });
});
