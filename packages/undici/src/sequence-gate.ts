/**
 * Keeps concurrent requests of one security context within the server's replay window.
 *
 * A request's Partial IV is fixed when it is protected, but concurrent requests reach
 * the server in another order (separate connections, connection setup, queues), and the
 * server accepts a Partial IV only while it is less than its window size W below the
 * highest it has seen (RFC 8613 §7.4). So a protected request is dispatched only while
 * its sequence number is less than W above the lowest sequence number still unanswered.
 * Then, whenever a request h is dispatched, every older unanswered request r satisfies
 * h − r < W; the highest number the server can have seen when r arrives was dispatched
 * while r was unanswered — so r always arrives inside the window. Bounding concurrency
 * alone would not do: a request stuck in a queue can be overtaken by any number of
 * newer ones as slots free up.
 */

/** One gate per security context. */
export class SequenceGate {
  readonly #window: number;
  /**
   * An array, not a Set: one number comes and goes per request, and a Set rebuilds its
   * table every few removals — garbage that outlives a scavenge. Removing the lowest (the
   * usual case) needs a pass over all of them either way.
   */
  readonly #unanswered: number[] = [];
  #lowest = Infinity;
  readonly #held: { seq: number; go: () => void }[] = [];

  /** @param window the peer's replay window size. */
  constructor(window: number) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError('the peer replay window must be a positive integer');
    this.#window = window;
  }

  /** Registers `seq` as unanswered; resolves when it may be dispatched. */
  admit(seq: number): Promise<void> | undefined {
    this.#unanswered.push(seq);
    if (seq < this.#lowest) this.#lowest = seq;
    if (seq - this.#lowest < this.#window) return undefined;
    return new Promise((go) => this.#held.push({ seq, go }));
  }

  /** Marks `seq` as answered (or failed, or given up while held), releasing held requests that now fit. */
  done(seq: number): void {
    const unanswered = this.#unanswered;
    const at = unanswered.indexOf(seq);
    if (at === -1) return;
    unanswered[at] = unanswered[unanswered.length - 1]!;
    unanswered.pop();
    const own = this.#held.findIndex((h) => h.seq === seq);
    if (own !== -1) this.#held.splice(own, 1);
    if (seq !== this.#lowest) return;
    this.#lowest = Infinity;
    for (const s of unanswered) if (s < this.#lowest) this.#lowest = s;
    for (let i = 0; i < this.#held.length; ) {
      const held = this.#held[i]!;
      if (held.seq - this.#lowest < this.#window) {
        this.#held.splice(i, 1);
        held.go();
      } else i++;
    }
  }
}
