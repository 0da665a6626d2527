/**
 * The state seam (ARCHITECTURE.md): what must survive a crash or be shared between
 * replicas, behind one small interface.
 *
 * - `reserve`: durable counters handed out in blocks. Sender Sequence Numbers are
 *   reserved before use, so "a crash may skip numbers, never repeat one" (RFC 8613
 *   Appendix B.1.1); the AEAD usage counters of draft-ietf-core-oscore-key-limits §2.2
 *   (`count_q`, `count_v`) use the same mechanism.
 * - `replayWindow`: the replay protection of a Recipient Context (§7.4), local or shared.
 *
 * Implementations: the memory store below (tests, single process, nothing survives),
 * the file store (`@oscore-http/core/file-store`, the embedded default) and the Redis
 * store (`@oscore-http/redis`, replicas).
 */

import { ReplayWindow, type ReplayProtection } from '../replay/replay-window.js';
import { WindowHandle } from './window-handle.js';

/** Durable and/or shared state of security contexts, keyed by opaque state ids. */
export interface StateStore {
  /** Short name for diagnostics, e.g. `file:/var/lib/orders/oscore`. */
  readonly name: string;
  /**
   * Reserves `count` values of the counter `key` and resolves to the first; the caller
   * owns [first, first + count). The reservation is durable (or replicated) before the
   * promise resolves, and two reservations never overlap, across processes too.
   */
  reserve(key: string, count: number): Promise<number>;
  /** The replay protection of the recipient state `key`, with a window of `size`. */
  replayWindow(key: string, size: number): ReplayProtection;
  /** Persists what a clean shutdown should keep and releases resources. */
  close(): Promise<void>;
}

/**
 * Keeps everything in memory. Nothing survives the process: a restarted process
 * restarts its sequence numbers and would reuse nonces with the same keys — use it for
 * tests and for contexts that never outlive the process (fresh keys each start).
 */
export class MemoryStateStore implements StateStore {
  readonly name = 'memory';
  readonly #counters = new Map<string, number>();
  readonly #windows = new Map<string, ReplayWindow>();

  reserve(key: string, count: number): Promise<number> {
    const first = this.#counters.get(key) ?? 0;
    this.#counters.set(key, first + count);
    return Promise.resolve(first);
  }

  replayWindow(key: string, size: number): WindowHandle {
    const window = this.#windows.get(key);
    if (window === undefined) this.#windows.set(key, new ReplayWindow(size));
    else if (window.size !== size) this.#windows.set(key, ReplayWindow.resized({ highest: window.highest, known: window.known }, size));
    return new WindowHandle(() => this.#windows.get(key), this.name);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
