/**
 * AEAD usage accounting around every encryption and failed decryption
 * (draft-ietf-core-oscore-key-limits §2.3.1, §2.3.2). A message longer than `l` blocks
 * counts as several uses (usage-limits.ts).
 */

import type { AeadAlgorithm } from '../algorithms.js';
import type { ContextInternals, SecurityContext, UsageCounter } from '../context/security-context.js';
import { SequenceNumbersExhaustedError, UsageLimitReachedError } from '../errors.js';
import { usesOf } from '../state/usage-limits.js';
import type { SequenceNumber } from '../types.js';

/**
 * The next Sender Sequence Number. §7.2.1: "If the Sender Sequence Number exceeds the
 * maximum, the endpoint MUST NOT process any more messages with the given Sender Context"
 * — remembered, so that responses with the request nonce, which take no number, stop too.
 */
export function nextSequenceNumber(context: SecurityContext, internals: ContextInternals): SequenceNumber | Promise<SequenceNumber> {
  try {
    const next = context.senderSequence.next();
    return typeof next === 'number' ? next : next.catch((err: unknown) => noteExhaustion(internals, err));
  } catch (err) {
    return noteExhaustion(internals, err);
  }
}

function noteExhaustion(internals: ContextInternals, err: unknown): never {
  if (err instanceof SequenceNumbersExhaustedError) internals.senderSequenceExhausted.value = true;
  throw err;
}

/** Throws once the Sender Context may protect nothing more for a reason other than its usage counts. */
function assertSenderContextUsable(internals: ContextInternals): void {
  if (internals.senderSequenceExhausted.value) throw new SequenceNumbersExhaustedError();
  assertNotExpired(internals);
}

/**
 * Takes `n` counts; yields the last (0-based), so the message fits only if it is below the
 * limit. Synchronous while the counter has them in memory.
 */
function take(counter: UsageCounter, n: number): number | Promise<number> {
  let last = counter.take();
  for (let taken = 1; taken < n; taken++) {
    if (typeof last !== 'number') return last.then(() => take(counter, n - taken));
    last = counter.take();
  }
  return last;
}

/**
 * §2.3.1: "Before encrypting ... 'count_q' is incremented. If 'count_q' exceeds 'limit_q', the message processing is aborted."
 * `bytes`: the COSE plaintext and the tag (the message size of §2.3). Yields `count_q` with this message.
 */
export function countEncryption(internals: ContextInternals, bytes: number): number | Promise<number> {
  assertSenderContextUsable(internals);
  const used = take(internals.q, usesOf(bytes, internals.useBytes));
  if (typeof used === 'number') return checkQ(used, internals);
  return used.then((n) => checkQ(n, internals));
}

/** §2.2.1: "At the time indicated by this parameter, a peer must stop using this Security Context to process any incoming or outgoing messages". */
function assertNotExpired(internals: ContextInternals): void {
  const at = internals.expiresAt;
  if (at !== undefined && Date.now() >= at) throw new UsageLimitReachedError('exp', at / 1000);
}

function checkQ(last: number, internals: ContextInternals): number {
  if (last >= internals.limits.q) {
    internals.senderKeyRetired.value = true;
    throw new UsageLimitReachedError('q', internals.limits.q);
  }
  return last + 1;
}

/**
 * With a state store a count outlives the process, but a retirement is found only by
 * counting: so the first use of a key in a process reads its stored count. `spent(next)`
 * says whether the key is retired at that count. One read for all first users
 * (concurrent messages must not each reserve and compare).
 */
function readStoredCount(
  counter: UsageCounter,
  checked: ContextInternals['recipientKeyChecked'],
  retired: { value: boolean },
  spent: (next: number) => boolean,
  error: () => UsageLimitReachedError,
): void | Promise<void> {
  if (checked.value || counter.peek === undefined) return;
  checked.pending ??= counter.peek().then(
    (next) => {
      checked.value = true;
      checked.pending = undefined;
      if (spent(next)) retired.value = true;
    },
    (err: unknown) => {
      checked.pending = undefined; // the next message tries again
      throw err;
    },
  );
  return checked.pending.then(() => {
    if (retired.value) throw error();
  });
}

/**
 * §2.3.1 ahead of time: throws if the Sender Key cannot protect one more message — past
 * 'limit_q' or 'exp'. Nothing is counted; the first check in a process may read the store.
 */
export function assertSenderKeyUsable(internals: ContextInternals): void | Promise<void> {
  assertSenderContextUsable(internals);
  const { limits, q } = internals;
  const error = () => new UsageLimitReachedError('q', limits.q);
  if (internals.senderKeyRetired.value) throw error();
  // One more encryption makes count_q next + 1, which must not exceed limit_q.
  const next = q.next?.();
  if (next !== undefined) {
    if (next >= limits.q) throw error();
    return;
  }
  return readStoredCount(q, internals.senderKeyChecked, internals.senderKeyRetired, (n) => n >= limits.q, error);
}

/**
 * §2.3.2: "After 'count_v' has exceeded 'limit_v', incoming messages must not be decrypted"
 * — nor after the context's 'exp' (§2.2.1). The first use in a process reads the stored
 * count before any decryption.
 */
export function assertRecipientKeyUsable(internals: ContextInternals): void | Promise<void> {
  assertNotExpired(internals);
  const { limits } = internals;
  const error = () => new UsageLimitReachedError('v', limits.v);
  if (internals.recipientKeyRetired.value) throw error();
  return readStoredCount(internals.v, internals.recipientKeyChecked, internals.recipientKeyRetired, (n) => n > limits.v, error);
}

/**
 * §2.3.2: "If the decryption and verification ... fails, the 'count_v' counter is incremented."
 * `bytes`: the ciphertext, tag included, that failed.
 *
 * A ciphertext shorter than the tag, or longer than any plaintext of the algorithm can
 * produce (AES-CCM-16-*: 65,535 bytes and the tag), is not counted: it cannot be authentic,
 * it is refused without the key (no AEAD runs), and counted by its length, a few such
 * bodies of a megabyte would use up 'limit_v' — a context retired by anyone who saw its kid.
 */
export async function countFailedDecryption(internals: ContextInternals, aead: AeadAlgorithm, bytes: number): Promise<void> {
  if (bytes < aead.tagLength || bytes > aead.maxPlaintextLength + aead.tagLength) return;
  const last = await take(internals.v, usesOf(bytes, internals.useBytes));
  // count_v is now last + 1; 'limit_v' is "the highest value that 'count_v' is allowed to reach" (§2.2.3).
  if (last + 1 > internals.limits.v) internals.recipientKeyRetired.value = true;
}
