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
 *
 * It also orders a freshness proof (RFC 8613 Appendix B.1.2): a server that lost its replay
 * window challenges requests with Echo, and "the Partial IV of the second request is set as
 * the lower limit of the Replay Window". A request with a lower Partial IV that reaches the
 * server after that one is refused as a replay — so when several concurrent requests were
 * challenged, their retries must not race. The first retry leads ({@link lead}): it is
 * protected only once no other request of the context is unanswered or being protected
 * ({@link idle}), and until it is answered every other request waits ({@link barrier})
 * before it is protected, so every Partial IV the server sees after the proof is above it.
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
  /** Requests between {@link protecting} and {@link admit}: sequence numbers taken, not yet registered. */
  #protecting = 0;
  #barrier: Promise<void> | undefined;
  #idleWaiters: (() => void)[] = [];

  /** @param window the peer's replay window size. */
  constructor(window: number) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError('the peer replay window must be a positive integer');
    this.#window = window;
  }

  /** A request is about to be protected: its sequence number will be taken before {@link admit} (or {@link notProtected}). */
  protecting(): void {
    this.#protecting++;
  }

  /** A request announced with {@link protecting} was not protected after all. */
  notProtected(): void {
    this.#protecting--;
    this.#wakeIfIdle();
  }

  /** While a freshness proof is under way: resolves when it was answered. Undefined otherwise (the usual case: nothing to wait for). */
  get barrier(): Promise<void> | undefined {
    return this.#barrier;
  }

  /**
   * Starts a freshness proof, unless one is under way (then `undefined`: wait for
   * {@link barrier} instead). Returns the function that ends it, to call once its
   * request was answered or failed; calling it again does nothing.
   */
  lead(): (() => void) | undefined {
    if (this.#barrier !== undefined) return undefined;
    let end!: () => void;
    this.#barrier = new Promise<void>((resolve) => (end = resolve));
    return () => {
      if (this.#barrier === undefined) return;
      this.#barrier = undefined;
      end();
    };
  }

  /** Resolves when no request is unanswered or being protected. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#protecting === 0 && this.#unanswered.length === 0;
  }

  #wakeIfIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Registers `seq`, announced with {@link protecting}, as unanswered; resolves when it may be dispatched. */
  admit(seq: number): Promise<void> | undefined {
    this.#protecting--;
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
    this.#wakeIfIdle();
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
