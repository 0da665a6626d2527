/**
 * Branded types for values RFC 8613 keeps apart, so the compiler catches a
 * sequence number passed where an encoded Partial IV is expected.
 */

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A Sender Sequence Number, an integer in 0 … 2^40 − 1 (RFC 8613 §7.2.1). */
export type SequenceNumber = Brand<number, 'SequenceNumber'>;

/**
 * The COSE 'Partial IV': the Sender Sequence Number in network byte order with leading
 * zero bytes removed, 0 encoded as 0x00; 1 to 5 bytes (RFC 8613 §5, §6.1).
 */
export type PartialIV = Brand<Uint8Array, 'PartialIV'>;

/** Largest Sender Sequence Number (RFC 8613 §7.2.1: "SHALL be less than 2^40"). */
export const MAX_SEQUENCE_NUMBER = 2 ** 40 - 1;

/** Narrows a number to a {@link SequenceNumber}; throws `RangeError` outside 0 … 2^40 − 1. */
export function sequenceNumber(value: number): SequenceNumber {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_SEQUENCE_NUMBER) {
    throw new RangeError('a sequence number is an integer between 0 and 2^40 - 1');
  }
  return value as SequenceNumber;
}
