/**
 * The suite's Sender Sequence Numbers. The replay and reordering tests need them under
 * control (send s + 10 before s + 5), and every run must start above anything the target
 * has already seen from this client context: a server keeps only the highest Partial IV
 * and a window below it (RFC 8613 §7.4, §3.2.2), and rejects anything older.
 *
 * Persisting nothing, the suite derives its start from the clock: 4,096 numbers per
 * second since 2024-01-01 ({@link initialSequenceNumber}). A run uses about
 * 2 × `maxReplayWindow` + 500 numbers (two tests jump past the window), so with the
 * default window runs started at least a second apart never overlap, and each run starts
 * above the last one's highest. It still never uses a number twice within a run: one
 * nonce, one message (§7.2).
 */

import { MAX_SEQUENCE_NUMBER, sequenceNumber, type SequenceNumber, type SequenceNumberSource } from '@oscore-http/core';

/** Numbers per second of wall-clock time handed to successive runs. */
export const SEQUENCE_NUMBERS_PER_SECOND = 4096;
/** 2024-01-01T00:00:00Z, in seconds since the Unix epoch. */
const EPOCH = 1_704_067_200;

/**
 * The first Sender Sequence Number of a run started at `nowMs`: 4,096 per second since
 * 2024-01-01, which stays below 2^40 − 1 until 2032 (then it is clamped, and runs need
 * an explicit start).
 */
export function initialSequenceNumber(nowMs: number = Date.now()): number {
  const seconds = Math.max(0, Math.floor(nowMs / 1000) - EPOCH);
  return Math.min(seconds * SEQUENCE_NUMBERS_PER_SECOND, MAX_SEQUENCE_NUMBER - 2 ** 24);
}

/**
 * A {@link SequenceNumberSource} that hands out numbers upwards from a start, and can be
 * told which number the next request uses, within blocks reserved for that purpose.
 */
export class SuiteSequence implements SequenceNumberSource {
  readonly start: number;
  #cursor: number;
  readonly #queued: number[] = [];
  readonly #reserved = new Set<number>();

  constructor(start: number) {
    this.start = sequenceNumber(start);
    this.#cursor = start;
  }

  /** Highest number handed out or reserved so far, plus one. */
  get upcoming(): number {
    return this.#cursor;
  }

  /**
   * Reserves `count` consecutive numbers that the cursor will never hand out; returns the
   * first. Use {@link use} to send with one of them.
   */
  reserve(count: number): number {
    const base = this.#cursor;
    if (base + count > MAX_SEQUENCE_NUMBER) throw new RangeError('the sequence numbers of this run are exhausted');
    for (let i = 0; i < count; i++) this.#reserved.add(base + i);
    this.#cursor += count;
    return base;
  }

  /** Makes the next {@link next} return `seq`, a reserved number not used yet. */
  use(seq: number): void {
    if (!this.#reserved.delete(seq)) throw new RangeError(`sequence number ${seq} is not reserved or was already used`);
    this.#queued.push(seq);
  }

  next(): SequenceNumber {
    const queued = this.#queued.shift();
    if (queued !== undefined) return sequenceNumber(queued);
    if (this.#cursor > MAX_SEQUENCE_NUMBER) throw new RangeError('the sequence numbers of this run are exhausted');
    return sequenceNumber(this.#cursor++);
  }
}
