/** The dispatch gate keeps every request within the peer's replay window of the newest one sent (RFC 8613 §7.4). */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SequenceGate } from '../src/sequence-gate.js';

/** A request protected with `seq` (announced, then registered), as the interceptor does. */
function admitted(gate: SequenceGate, seq: number): Promise<void> | undefined {
  gate.protecting();
  return gate.admit(seq);
}

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
          const wait = admitted(gate, seq);
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
    expect(admitted(gate, 0)).toBeUndefined();
    expect(admitted(gate, 1)).toBeUndefined();
    let released = false;
    void admitted(gate, 2)!.then(() => (released = true));
    gate.done(2);
    gate.done(0);
    await Promise.resolve();
    expect(released).toBe(false);
    // The window moved on: a new request 3 (2 above the lowest unanswered, 1) is held, then released by 1.
    const wait = admitted(gate, 3);
    expect(wait).toBeDefined();
    gate.done(1);
    await expect(wait).resolves.toBeUndefined();
  });

  it('is idle only when no request is unanswered or being protected', async () => {
    const gate = new SequenceGate(64);
    await expect(gate.idle()).resolves.toBeUndefined();
    let idle = false;
    gate.protecting(); // a request being protected: its number is taken, not yet registered
    void gate.idle().then(() => (idle = true));
    expect(gate.admit(0)).toBeUndefined();
    gate.protecting();
    gate.notProtected(); // another one failed to protect
    await Promise.resolve();
    expect(idle).toBe(false); // 0 is unanswered
    gate.done(0);
    await Promise.resolve();
    expect(idle).toBe(true);
  });

  it('lets one freshness proof lead at a time; the others wait for its end (RFC 8613 Appendix B.1.2)', async () => {
    const gate = new SequenceGate(64);
    expect(gate.barrier).toBeUndefined();
    const end = gate.lead()!;
    expect(end).toBeTypeOf('function');
    expect(gate.lead()).toBeUndefined(); // a second challenged request follows, it does not lead
    let passed = false;
    void gate.barrier!.then(() => (passed = true));
    await Promise.resolve();
    expect(passed).toBe(false);
    end();
    await Promise.resolve();
    expect(passed).toBe(true);
    expect(gate.barrier).toBeUndefined();
    end(); // again: nothing
    const next = gate.lead()!; // a later loss of the window: a new proof
    expect(gate.barrier).toBeDefined();
    next();
  });
});
