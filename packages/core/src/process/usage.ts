/**
 * AEAD usage accounting around every encryption and failed decryption
 * (draft-ietf-core-oscore-key-limits §2.3.1, §2.3.2).
 */

import type { ContextInternals } from '../context/security-context.js';
import { UsageLimitReachedError } from '../errors.js';

/** §2.3.1: "Before encrypting ... 'count_q' is incremented. If 'count_q' exceeds 'limit_q', the message processing is aborted." */
export function countEncryption(internals: ContextInternals): void | Promise<void> {
  const used = internals.q.take();
  if (typeof used === 'number') return checkQ(used, internals);
  return used.then((n) => checkQ(n, internals));
}

function checkQ(previous: number, internals: ContextInternals): void {
  if (previous >= internals.limits.q) throw new UsageLimitReachedError('q', internals.limits.q);
}

/**
 * §2.3.2: "After 'count_v' has exceeded 'limit_v', incoming messages must not be decrypted".
 * With a state store, `count_v` outlives the process but the retirement is found only by
 * counting: so the first use in a process reads the stored count before any decryption.
 */
export function assertRecipientKeyUsable(internals: ContextInternals): void | Promise<void> {
  if (internals.recipientKeyRetired.value) throw new UsageLimitReachedError('v', internals.limits.v);
  const checked = internals.recipientKeyChecked;
  if (checked.value || internals.v.peek === undefined) return;
  // One read for all first users (concurrent requests must not each reserve and compare).
  checked.pending ??= internals.v.peek().then(
    (next) => {
      checked.value = true;
      checked.pending = undefined;
      if (next >= internals.limits.v) internals.recipientKeyRetired.value = true;
    },
    (err: unknown) => {
      checked.pending = undefined; // the next message tries again
      throw err;
    },
  );
  return checked.pending.then(() => {
    if (internals.recipientKeyRetired.value) throw new UsageLimitReachedError('v', internals.limits.v);
  });
}

/** §2.3.2: "If the decryption and verification ... fails, the 'count_v' counter is incremented." */
export async function countFailedDecryption(internals: ContextInternals): Promise<void> {
  const previous = await internals.v.take();
  if (previous + 1 >= internals.limits.v) internals.recipientKeyRetired.value = true;
}
