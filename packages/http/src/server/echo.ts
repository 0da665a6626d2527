/**
 * Echo values (RFC 9175 §2) for proving request freshness after the replay window was
 * lost (RFC 8613 Appendix B.1.2). RFC 9175 Appendix A's integrity-protected timestamp,
 * with a random part: the value is a timestamp (seconds on this process's monotonic clock),
 * 8 random bytes and a MAC over them and
 * the context's state id, under a key that exists only in this process, so a value is good
 * for one context, for a short time, on this server.
 *
 * A value is accepted once. The request that returns it sets the replay window's lower
 * limit (Appendix B.1.2); from then on the window refuses that request. But a window can
 * be lost again within the value's lifetime (a state store that lost a key), and the
 * request with the value, captured on the path, would then prove its freshness a second
 * time and be processed twice. So a returned value is remembered until it expires (also
 * when its request found the window re-established already, see handler.ts), and
 * each challenge gets its own value (the random part), so that concurrent challenges to
 * one client do not share one.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { CoapOption } from '@oscore-http/core';
import { secondsOption } from '../config/option-values.js';

/** The Echo option (RFC 9175 §2.2.1): elective, Class E in OSCORE. */
export const ECHO_OPTION = 252;
/** Longest Echo value (RFC 9175 §2.2.1: 1-40 bytes). */
export const ECHO_MAX_LENGTH = 40;

/** A message's first Echo option, if any (a loop: it runs for every request and response). */
export function echoOptionOf(options: readonly CoapOption[]): CoapOption | undefined {
  for (const o of options) if (o.number === ECHO_OPTION) return o;
  return undefined;
}
/** How long a challenge may be answered by default, in seconds. */
const DEFAULT_ECHO_MAX_AGE = 30;

const TIME_LENGTH = 4;
const RANDOM_LENGTH = 8;
const MAC_LENGTH = 8;
/** 4-byte time ‖ 8 random bytes ‖ 8-byte MAC: 20 bytes (≤ ECHO_MAX_LENGTH). */
const VALUE_LENGTH = TIME_LENGTH + RANDOM_LENGTH + MAC_LENGTH;

/** Issues and checks Echo values. */
export class EchoIssuer {
  readonly #key = randomBytes(32);
  readonly #maxAgeSeconds: number;
  /** Values accepted so far, with their issue time (seconds), until they expire. */
  readonly #used = new Map<string, number>();

  /**
   * @param maxAgeSeconds how long a challenge may be answered. Default 30 s.
   * @throws {ContextConfigError} unless a number of seconds above 0 (NaN would never expire a value).
   */
  constructor(maxAgeSeconds = DEFAULT_ECHO_MAX_AGE) {
    this.#maxAgeSeconds = secondsOption('echoMaxAge', maxAgeSeconds, DEFAULT_ECHO_MAX_AGE);
  }

  /**
   * Seconds on a monotonic clock: "Use of non-monotonic clocks is not secure, as the server
   * will accept expired Echo option values if the clock is moved backward" (RFC 9175 §5).
   * The key lives only in this process, so the process's own clock is the only one that
   * ever reads a value.
   */
  #now(): number {
    return Math.floor(performance.now() / 1000);
  }

  #mac(head: Buffer, scope: string): Buffer {
    return createHmac('sha256', this.#key).update(head).update(scope).digest().subarray(0, MAC_LENGTH);
  }

  /** A fresh Echo value for `scope` (the recipient state id), different for every call. */
  issue(scope: string): Uint8Array {
    const head = Buffer.alloc(TIME_LENGTH + RANDOM_LENGTH);
    head.writeUInt32BE(this.#now() >>> 0);
    randomBytes(RANDOM_LENGTH).copy(head, TIME_LENGTH);
    return new Uint8Array(Buffer.concat([head, this.#mac(head, scope)]));
  }

  /**
   * Whether `value` was issued here for `scope` within the maximum age and was not accepted
   * before. An accepted value is spent: the next call with it answers false.
   */
  verify(value: Uint8Array, scope: string): boolean {
    if (value.length !== VALUE_LENGTH) return false;
    const bytes = Buffer.from(value);
    const head = bytes.subarray(0, TIME_LENGTH + RANDOM_LENGTH);
    const issued = head.readUInt32BE(0);
    const now = this.#now();
    const age = now - issued;
    if (age < 0 || age > this.#maxAgeSeconds) return false;
    if (!timingSafeEqual(bytes.subarray(TIME_LENGTH + RANDOM_LENGTH), this.#mac(head, scope))) return false;
    // Forget what has expired (it fails the age check anyway): the map holds at most the
    // values accepted within one maximum age, and only authentic requests reach here.
    for (const [key, time] of this.#used) if (now - time > this.#maxAgeSeconds) this.#used.delete(key);
    const key = bytes.toString('hex');
    if (this.#used.has(key)) return false;
    this.#used.set(key, issued);
    return true;
  }
}
