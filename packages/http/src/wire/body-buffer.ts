/**
 * The body of an OSCORE message as it arrives, kept in one buffer within a limit. OSCORE
 * protects a body whole (RFC 8613 §5.3), so each side holds it complete before it can
 * verify anything; what it holds meanwhile must cost the body's size, however the sender
 * splits it. A list of chunks would cost an object per chunk: a chunked body of 1-byte
 * chunks (6 bytes each on the wire) would take some hundred times its size in memory.
 */

/** First size of the buffer a body of several chunks is copied into. */
const START = 16 * 1024;

export class BodyBuffer {
  readonly #limit: number;
  /** The size the buffer grows to at most, unless more arrives: the declared length, or the limit. */
  readonly #cap: number;
  /** The body while it is one chunk: kept as it came, not copied. */
  #first: Buffer | undefined;
  /** The body once it is more: chunks copied in; grows by doubling, never past the limit. */
  #buffer: Buffer | undefined;
  #size = 0;

  /**
   * @param limit most bytes accepted.
   * @param expected the declared length, if known: the buffer grows no larger than that
   *   (unless more arrives). Never allocated ahead of the bytes received, as a sender that
   *   declares much and sends little would have memory set aside for nothing.
   */
  constructor(limit: number, expected?: number) {
    // A NaN limit would let any body through (`n > NaN` is false) and then fail to allocate.
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('the body limit must be a whole number of bytes');
    this.#limit = limit;
    this.#cap = expected !== undefined && Number.isSafeInteger(expected) && expected > 0 ? Math.min(expected, limit) : limit;
  }

  /** Bytes so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends `chunk`; false, and nothing appended, when the body would pass the limit. */
  push(chunk: Buffer): boolean {
    const end = this.#size + chunk.length;
    if (end > this.#limit) return false;
    if (this.#buffer === undefined && this.#first === undefined) {
      this.#first = chunk;
    } else {
      if (this.#buffer === undefined || end > this.#buffer.length) {
        const doubled = Math.min(this.#cap, 2 * (this.#buffer?.length ?? START / 2));
        const grown = Buffer.allocUnsafe(Math.min(this.#limit, Math.max(end, doubled)));
        (this.#buffer ?? this.#first!).copy(grown, 0, 0, this.#size);
        this.#buffer = grown;
        this.#first = undefined;
      }
      chunk.copy(this.#buffer, this.#size);
    }
    this.#size = end;
    return true;
  }

  /** The body: a view of the bytes received, without a copy. */
  bytes(): Buffer {
    return this.#buffer?.subarray(0, this.#size) ?? this.#first ?? Buffer.alloc(0);
  }
}
