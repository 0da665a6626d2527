/**
 * A counter whose values come from blocks reserved in a state store (RFC 8613
 * Appendix B.1.1: "Before using a Sender Sequence Number that is evenly divisible by K
 * ... store the Sender Sequence Number"). Values are handed out from memory; the next
 * block is reserved in the background when half of the current one is used, so the hot
 * path does no I/O unless the store falls behind, and then it waits instead of guessing.
 * After a crash, the unused rest of the blocks is skipped: no value is ever handed out twice.
 */

import type { StateStore } from './state-store.js';

/** Default block size K: one durable write per 4,096 values; a crash skips at most that many of 2^40. */
export const DEFAULT_RESERVATION_BLOCK = 4096;

export class ReservedCounter {
  readonly #store: StateStore;
  readonly #key: string;
  readonly #block: number;
  /** Reserved, unused ranges [from, to), oldest first. */
  readonly #ranges: [number, number][] = [];
  #pending: Promise<void> | undefined;
  #failure: unknown;

  constructor(store: StateStore, key: string, block = DEFAULT_RESERVATION_BLOCK) {
    if (!Number.isInteger(block) || block < 1) throw new RangeError('the reservation block must be a positive integer');
    this.#store = store;
    this.#key = key;
    this.#block = block;
  }

  #available(): number {
    // Indexed, not `for (const [from, to] of …)`: this runs on every take, and the
    // destructuring goes through the iterator protocol twice per range.
    let n = 0;
    for (let i = 0; i < this.#ranges.length; i++) n += this.#ranges[i]![1] - this.#ranges[i]![0];
    return n;
  }

  #refill(): Promise<void> {
    this.#pending ??= this.#store
      .reserve(this.#key, this.#block)
      .then(
        (first) => {
          this.#ranges.push([first, first + this.#block]);
          this.#failure = undefined;
        },
        (err: unknown) => {
          this.#failure = err;
        },
      )
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  /** The next value: synchronous while a reserved block lasts. Rejects if the store fails. */
  take(): number | Promise<number> {
    const range = this.#ranges[0];
    if (range === undefined) return this.#takeAfterRefill();
    const value = range[0]++;
    if (range[0] === range[1]) this.#ranges.shift();
    if (this.#pending === undefined && this.#available() < this.#block / 2) void this.#refill();
    return value;
  }

  /** The next value `take` would give, if a reserved block holds it; `undefined` if that needs the store. */
  next(): number | undefined {
    return this.#ranges[0]?.[0];
  }

  /**
   * The next value `take` would give, so that it reflects the store: with nothing reserved,
   * one value is reserved for it (not a block: a process that starts often moves the
   * stored count by one per start, not by K).
   */
  async peek(): Promise<number> {
    const held = this.#ranges[0];
    if (held !== undefined) return held[0];
    const first = await this.#store.reserve(this.#key, 1);
    this.#ranges.push([first, first + 1]);
    return first;
  }

  /** Waits for reservations until a value is free: more callers may wait than one block holds. */
  async #takeAfterRefill(): Promise<number> {
    for (;;) {
      await this.#refill();
      const range = this.#ranges[0];
      if (range !== undefined) {
        const value = range[0]++;
        if (range[0] === range[1]) this.#ranges.shift();
        return value;
      }
      if (this.#failure !== undefined) throw this.#failure;
    }
  }
}
