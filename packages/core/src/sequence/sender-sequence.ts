/**
 * The Sender Sequence Number of a Sender Context (RFC 8613 §3.1, §7.2).
 *
 * "An AEAD nonce MUST NOT be used more than once per AEAD key" (§7.2): a source hands
 * out every number at most once, reading and increasing it as one step, and refuses
 * to go beyond 2^40 − 1 (§7.2.1) instead of wrapping. Durable sources (file, Redis)
 * reserve numbers in blocks before handing them out (Appendix B.1.1).
 */

import { SequenceNumbersExhaustedError } from '../errors.js';
import type { ReservedCounter } from '../state/reserved-counter.js';
import { MAX_SEQUENCE_NUMBER, sequenceNumber, type SequenceNumber } from '../types.js';

/** Hands out Sender Sequence Numbers, each at most once. */
export interface SequenceNumberSource {
  /**
   * The next unused Sender Sequence Number. May return a promise when a durable
   * reservation has to complete first.
   * @throws {SequenceNumbersExhaustedError} once 2^40 − 1 has been handed out.
   */
  next(): SequenceNumber | Promise<SequenceNumber>;
}

/** An in-memory source, for tests and for contexts whose state is not persisted. */
export class MemorySequenceNumberSource implements SequenceNumberSource {
  #next: number;

  /** @param start the first number to hand out (RFC 8613 §3.2.2: initialised to 0). */
  constructor(start = 0) {
    this.#next = sequenceNumber(start);
  }

  /** The number the next call to {@link next} returns (2^40 when exhausted). */
  get upcoming(): number {
    return this.#next;
  }

  next(): SequenceNumber {
    if (this.#next > MAX_SEQUENCE_NUMBER) throw new SequenceNumbersExhaustedError();
    return this.#next++ as SequenceNumber;
  }
}

/**
 * Sender Sequence Numbers reserved in blocks from a state store (Appendix B.1.1): the
 * next number comes from memory; a crash skips the rest of the block, never repeats.
 */
export class ReservedSequenceNumberSource implements SequenceNumberSource {
  readonly #counter: ReservedCounter;

  constructor(counter: ReservedCounter) {
    this.#counter = counter;
  }

  next(): SequenceNumber | Promise<SequenceNumber> {
    const value = this.#counter.take();
    return typeof value === 'number' ? checked(value) : value.then(checked);
  }
}

function checked(value: number): SequenceNumber {
  if (value > MAX_SEQUENCE_NUMBER) throw new SequenceNumbersExhaustedError();
  return value as SequenceNumber;
}
