/**
 * The controller the caller's handler holds for the whole exchange.
 *
 * undici hands a handler its controller when the request is dispatched, and a caller's
 * abort (an AbortSignal, `fetch`'s termination) goes through it. An OSCORE request is
 * dispatched only after its body was collected, it was protected, and it passed the
 * replay-window gate — so the caller gets this controller at once, and an abort before
 * dispatch stops those steps (listeners registered with `onAbort`) instead of waiting
 * for a dispatch that would come late or never. Once dispatched, and again for an Echo
 * retry, the transport's controller is attached and an abort is passed to it.
 *
 * Pause and resume are the caller's alone: they hold back the verified response the
 * interceptor plays (see {@link resumed}), never the outer one. That one is read whole
 * before the caller gets anything (it must be verified first, within the response size
 * limit), so a pause passed to the transport would only stop it — and a caller paused
 * before its response, waiting for the response start to resume, would wait forever
 * (undici's own client still delivers the start to a paused handler).
 */

import { errors, type Dispatcher } from 'undici';

type Controller = Dispatcher.DispatchController;

export class DeferredController implements Controller {
  #transport: Controller | undefined;
  #aborted = false;
  #reason: Error | null = null;
  #paused = false;
  // Made when first needed: most exchanges never wait on an abort or a resume, and these
  // would otherwise be two arrays per request.
  #listeners: ((reason: Error) => void)[] | undefined;
  #resumeWaiters: (() => void)[] | undefined;
  #lines: readonly (readonly [string, string])[] | undefined;
  #rawHeaders: Buffer[] | null = null;
  rawTrailers: Buffer[] | null = null;

  /**
   * The verified inner response's header lines, for handlers that read them from the
   * controller (undici's decompress interceptor); never the outer ones. Built on first read.
   */
  get rawHeaders(): Buffer[] | null {
    if (this.#rawHeaders === null && this.#lines !== undefined) {
      this.#rawHeaders = this.#lines.flatMap(([name, value]) => [Buffer.from(name, 'latin1'), Buffer.from(value, 'latin1')]);
    }
    return this.#rawHeaders;
  }

  set rawHeaders(value: Buffer[] | null) {
    this.#rawHeaders = value;
    this.#lines = undefined;
  }

  /** Sets the inner response's header lines (see {@link rawHeaders}). */
  setResponseHeaders(lines: readonly (readonly [string, string])[]): void {
    this.#lines = lines;
    this.#rawHeaders = null;
    this.rawTrailers = [];
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): Error | null {
    return this.#reason;
  }

  get paused(): boolean {
    return this.#paused;
  }

  abort(reason?: Error): void {
    if (this.#aborted) return;
    this.#aborted = true;
    // undici.pipeline() and undici.stream() abort without a reason; undici's client then fails
    // the request with RequestAbortedError (client-h1's abort), never with `undefined`.
    this.#reason = reason ?? new errors.RequestAbortedError();
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener(this.#reason);
    this.#transport?.abort(this.#reason);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const waiters = this.#resumeWaiters;
    this.#resumeWaiters = undefined;
    if (waiters !== undefined) for (const go of waiters) go();
  }

  /**
   * Resolves when the caller resumes, at once if it is not paused; rejects with the abort
   * reason if it aborts meanwhile. The verified response is played to the caller through
   * this: undici's own client delivers nothing to a paused handler (its parser stops until
   * `resume()`), and handlers rely on that — the retry interceptor pauses while it decides
   * whether to retry, and must not see the body or the end before it has.
   */
  resumed(): Promise<void> {
    if (!this.#paused) return Promise.resolve();
    return this.race(new Promise<void>((go) => (this.#resumeWaiters ??= []).push(go)));
  }

  /** Calls `listener` once if the caller aborts; returns a function that removes it. */
  onAbort(listener: (reason: Error) => void): () => void {
    if (this.#aborted) {
      listener(this.#reason!);
      return () => {};
    }
    (this.#listeners ??= []).push(listener);
    return () => {
      this.#listeners = this.#listeners?.filter((l) => l !== listener);
    };
  }

  /** Throws the abort reason if the caller aborted. */
  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  /** `promise`, or a rejection with the abort reason as soon as the caller aborts. */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const off = this.onAbort(reject);
      promise.then(
        (value) => {
          off();
          resolve(value);
        },
        (err: unknown) => {
          off();
          reject(err as Error);
        },
      );
    });
  }

  /**
   * The outer response has ended: its transport's controller is let go. undici reuses the
   * connection for other requests, and the caller's abort while the inner response is
   * verified and played would otherwise reach it. From now on an abort is this
   * controller's own: the response handler checks `aborted` and reports the reason.
   */
  detach(): void {
    this.#transport = undefined;
  }

  /** The transport's controller of the request now dispatched. */
  attach(transport: Controller): void {
    this.#transport = transport;
    if (this.#aborted) transport.abort(this.#reason!);
  }
}
