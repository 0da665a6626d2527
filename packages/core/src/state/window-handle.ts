/**
 * The replay protection a local store (memory, file) hands to a context.
 */

import { StateStoreUnavailableError } from '../errors.js';
import type { ReplayProtection, ReplayVerdict, ReplayWindow } from '../replay/replay-window.js';
import type { SequenceNumber } from '../types.js';

/**
 * A handle on the store's one window for a recipient state id, whatever its size now: a
 * second context of the same Recipient Context with another window size gets the same
 * window, resized, not one of its own — two windows would each accept what the other did
 * (RFC 8613 §7.4). And no check once the store is closed: a request accepted after the
 * final save would be missing from the saved window, and the next process would accept it
 * again; it fails with StateStoreUnavailableError (5.03) instead.
 */
export class WindowHandle implements ReplayProtection {
  readonly #window: () => ReplayWindow | undefined;
  readonly #store: string;
  readonly #beforeUpdate: (() => void) | undefined;

  /**
   * @param window the store's window for the key now, `undefined` once the store is closed.
   * @param beforeUpdate runs before every update, and throws if the update must not happen
   *   (the file store: a new window is recorded durably before its first request counts).
   */
  constructor(window: () => ReplayWindow | undefined, store: string, beforeUpdate?: () => void) {
    this.#window = window;
    this.#store = store;
    this.#beforeUpdate = beforeUpdate;
  }

  #current(): ReplayWindow {
    const window = this.#window();
    if (window === undefined) throw new StateStoreUnavailableError(this.#store);
    this.#beforeUpdate?.();
    return window;
  }

  /** Whether the window is known; false when lost or closed, so the engine's early look (verifyRequest) leaves the verdict to checkAndUpdate. */
  get known(): boolean {
    return this.#window()?.known ?? false;
  }

  /** Whether `seq` would be accepted now (see ReplayWindow.isFresh). */
  isFresh(seq: SequenceNumber): boolean {
    return this.#window()?.isFresh(seq) ?? false;
  }

  /** {@inheritDoc ReplayProtection.checkAndUpdate} */
  checkAndUpdate(seq: SequenceNumber): ReplayVerdict {
    return this.#current().checkAndUpdate(seq);
  }

  /** {@inheritDoc ReplayProtection.establish} */
  establish(seq: SequenceNumber): ReplayVerdict {
    return this.#current().establish(seq);
  }
}
