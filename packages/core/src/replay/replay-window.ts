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

/**
 * Result of a replay check (see {@link ReplayProtection}): `unknown` when the window was
 * lost (a restart without its state) and freshness must be proved first (Appendix B.1.2).
 */
export type ReplayVerdict = 'accepted' | 'replayed' | 'unknown';

/**
 * Replay protection of one Recipient Context. Implementations backed by shared storage
 * (e.g. Redis for replicated servers) return a promise; the check and the update must
 * be one atomic step wherever the state lives.
 */
export interface ReplayProtection {
  /** Accepts `seq` and records it if it was never received, else reports a replay. */
  checkAndUpdate(seq: SequenceNumber): ReplayVerdict | Promise<ReplayVerdict>;
  /**
   * After freshness was proved for `seq` (an Echo exchange), makes it the lower limit of
   * the window: "the Partial IV of the second request is set as the lower limit of the
   * Replay Window" (Appendix B.1.2). `seq` is accepted, everything at or below it rejected.
   */
  establish?(seq: SequenceNumber): ReplayVerdict | Promise<ReplayVerdict>;
}

/** A snapshot of a window, for persistence (RFC 8613 Appendix B.1.2). */
export interface ReplayWindowState {
  /** Window size in sequence numbers. */
  readonly size: number;
  /** Highest sequence number accepted, or −1 when none was. */
  readonly highest: number;
  /** False when the window was lost and must be re-established (Appendix B.1.2). */
  readonly known?: boolean;
  /** Bit (seq mod size) of this bitmap (32-bit little-endian words) is set when seq, within the window, was received. */
  readonly bitmap: readonly number[];
}

/** Default window size. RFC 8613 §3.2.2 names 32 as the default; 64 is RFC 6347's recommendation. */
export const DEFAULT_REPLAY_WINDOW_SIZE = 64;
/** Largest window size accepted. */
export const MAX_REPLAY_WINDOW_SIZE = 65_536;

/**
 * In-memory sliding replay window. The bits form a ring indexed by `seq mod size`, so
 * sliding by d clears d bits: O(1) per accepted request whatever the size.
 */
export class ReplayWindow implements ReplayProtection {
  /** Number of sequence numbers the window remembers below and including the highest. */
  readonly size: number;
  #highest = -1;
  #known = true;
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
      this.#known = state.known ?? true;
      this.#bits.set(state.bitmap);
    }
  }

  /** A window whose state was lost: every check answers `unknown` until {@link establish}. */
  static lost(size: number = DEFAULT_REPLAY_WINDOW_SIZE): ReplayWindow {
    const bitmap = new Array<number>(Math.ceil(size / 32)).fill(0);
    return new ReplayWindow(size, { size, highest: -1, known: false, bitmap });
  }

  /**
   * A window of another size that continues `previous`: the same highest number and
   * known-ness, and every number at or below it treated as received — a resize must never
   * accept again what the old window accepted (it may refuse a late in-window request).
   */
  static resized(previous: Pick<ReplayWindowState, 'highest' | 'known'>, size: number): ReplayWindow {
    const bitmap = new Array<number>(Math.ceil(size / 32)).fill(previous.highest >= 0 ? 0xffffffff : 0);
    return new ReplayWindow(size, { size, highest: previous.highest, known: previous.known ?? true, bitmap });
  }

  /** Whether the window is known (not lost). */
  get known(): boolean {
    return this.#known;
  }

  /** Highest sequence number accepted so far, or −1. */
  get highest(): number {
    return this.#highest;
  }

  #marked(seq: number): boolean {
    const i = seq % this.size;
    return (this.#bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  #mark(seq: number, on: boolean): void {
    const i = seq % this.size;
    if (on) this.#bits[i >>> 5]! |= 1 << (i & 31);
    else this.#bits[i >>> 5]! &= ~(1 << (i & 31));
  }

  /** Whether `seq` would be accepted now. Does not change the window. */
  isFresh(seq: SequenceNumber): boolean {
    if (!this.#known) return false;
    if (seq > this.#highest) return true;
    // At or below highest − size: older than the window, cannot tell, so reject (§7.4).
    if (this.#highest - seq >= this.size) return false;
    return !this.#marked(seq);
  }

  /** {@inheritDoc ReplayProtection.checkAndUpdate} */
  checkAndUpdate(seq: SequenceNumber): ReplayVerdict {
    if (!this.#known) return 'unknown';
    if (!this.isFresh(seq)) return 'replayed';
    if (seq > this.#highest) {
      // Slide: the numbers between the old highest and seq were never received.
      const distance = seq - this.#highest;
      if (distance >= this.size) this.#bits.fill(0);
      else for (let n = this.#highest + 1; n < seq; n++) this.#mark(n, false);
      this.#highest = seq;
    }
    this.#mark(seq, true);
    return 'accepted';
  }

  /** {@inheritDoc ReplayProtection.establish} */
  establish(seq: SequenceNumber): ReplayVerdict {
    if (this.#known) return this.checkAndUpdate(seq);
    this.#known = true;
    this.#highest = seq;
    this.#bits.fill(0xffffffff); // everything at or below seq counts as received
    return 'accepted';
  }

  /** A copy of the state, for persistence. */
  snapshot(): ReplayWindowState {
    return { size: this.size, highest: this.#highest, known: this.#known, bitmap: Array.from(this.#bits) };
  }
}
