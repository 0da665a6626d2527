/**
 * The anti-replay sliding window of a Recipient Context (RFC 8613 §7.4, §3.2.2), the
 * mechanism of IPsec/DTLS (RFC 6347 §4.1.2.6): the highest Sender Sequence Number
 * received, and one bit for each of the `size` numbers at and below it.
 *
 * A number above the highest is new; one at or below `highest − size` is too old to
 * tell and is rejected; one inside the window is new iff its bit is clear.
 * `checkAndUpdate` does both steps in one synchronous call, which is what "validating
 * the Partial IV and updating the replay protection MUST be atomic" (§7.4) needs in a
 * single-threaded runtime; the engine calls it only after decryption succeeded (§8.2 step 6).
 */

import type { SequenceNumber } from '../types.js';

/** Result of a replay check (see {@link ReplayProtection}). */
export type ReplayVerdict = 'accepted' | 'replayed';

/**
 * Replay protection of one Recipient Context. Implementations backed by shared storage
 * (e.g. Redis for replicated servers) return a promise; the check and the update must
 * be one atomic step wherever the state lives.
 */
export interface ReplayProtection {
  /** Accepts `seq` and records it if it was never received, else reports a replay. */
  checkAndUpdate(seq: SequenceNumber): ReplayVerdict | Promise<ReplayVerdict>;
}

/** A snapshot of a window, for persistence (RFC 8613 Appendix B.1.2). */
export interface ReplayWindowState {
  /** Window size in sequence numbers. */
  readonly size: number;
  /** Highest sequence number accepted, or −1 when none was. */
  readonly highest: number;
  /** Bit i of the bitmap (little-endian words) is set when `highest − i` was received. */
  readonly bitmap: readonly number[];
}

/** Default window size. RFC 8613 §3.2.2 names 32 as the default; we keep 64 for reordering across connections. */
export const DEFAULT_REPLAY_WINDOW_SIZE = 64;
/** Largest window size accepted. */
export const MAX_REPLAY_WINDOW_SIZE = 65_536;

/** In-memory sliding replay window. */
export class ReplayWindow implements ReplayProtection {
  /** Number of sequence numbers the window remembers below and including the highest. */
  readonly size: number;
  #highest = -1;
  // Bit (highest - seq) of this bitmap, stored as 32-bit little-endian words, marks seq as received.
  readonly #bits: Uint32Array;

  /**
   * @param size window size in sequence numbers, 1 … 65,536 (default 64).
   * @param state a snapshot to resume from (see {@link ReplayWindow.snapshot}).
   */
  constructor(size: number = DEFAULT_REPLAY_WINDOW_SIZE, state?: ReplayWindowState) {
    if (!Number.isInteger(size) || size < 1 || size > MAX_REPLAY_WINDOW_SIZE) {
      throw new RangeError(`the replay window size must be an integer between 1 and ${MAX_REPLAY_WINDOW_SIZE}`);
    }
    this.size = size;
    this.#bits = new Uint32Array(Math.ceil(size / 32));
    if (state !== undefined) {
      if (state.size !== size || state.bitmap.length !== this.#bits.length || !Number.isSafeInteger(state.highest) || state.highest < -1) {
        throw new RangeError('the replay window state does not match the window size');
      }
      this.#highest = state.highest;
      this.#bits.set(state.bitmap);
    }
  }

  /** Highest sequence number accepted so far, or −1. */
  get highest(): number {
    return this.#highest;
  }

  /** Whether `seq` would be accepted now. Does not change the window. */
  isFresh(seq: SequenceNumber): boolean {
    if (seq > this.#highest) return true;
    const offset = this.#highest - seq;
    if (offset >= this.size) return false; // older than the window: cannot tell, so reject
    return (this.#bits[offset >>> 5]! & (1 << (offset & 31))) === 0;
  }

  /** {@inheritDoc ReplayProtection.checkAndUpdate} */
  checkAndUpdate(seq: SequenceNumber): ReplayVerdict {
    if (!this.isFresh(seq)) return 'replayed';
    if (seq > this.#highest) {
      this.#shift(seq - this.#highest);
      this.#highest = seq;
    }
    const offset = this.#highest - seq;
    this.#bits[offset >>> 5]! |= 1 << (offset & 31);
    return 'accepted';
  }

  /** A copy of the state, for persistence. */
  snapshot(): ReplayWindowState {
    return { size: this.size, highest: this.#highest, bitmap: Array.from(this.#bits) };
  }

  /** Shifts the bitmap towards higher offsets by `distance` bits (older numbers move out). */
  #shift(distance: number): void {
    const bits = this.#bits;
    if (distance >= this.size) {
      bits.fill(0);
      return;
    }
    const words = distance >>> 5;
    const rest = distance & 31;
    for (let i = bits.length - 1; i >= 0; i--) {
      const from = i - words;
      const lo = from >= 0 ? bits[from]! : 0;
      const carry = rest !== 0 && from - 1 >= 0 ? bits[from - 1]! >>> (32 - rest) : 0;
      bits[i] = ((rest === 0 ? lo : lo << rest) | carry) >>> 0;
    }
    // Bits beyond `size` in the last word are never read, but keep them clear for snapshots.
    const spare = bits.length * 32 - this.size;
    if (spare > 0) bits[bits.length - 1]! &= 0xffffffff >>> spare;
  }
}
