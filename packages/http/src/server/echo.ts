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
import type { CoapOption, ProtectedMessage } from '@oscore-http/core';
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
  /** How long a challenge may be answered, in seconds. */
  get maxAgeSeconds(): number {
    return this.#maxAgeSeconds;
  }

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

/** Most challenges remembered at once; an older one forgotten costs only a new challenge if its request comes again. */
const MAX_SENT_CHALLENGES = 4096;

/**
 * The protected challenges sent, by the request they answer (its Recipient Context and
 * Partial IV), while their Echo value may still be answered. While the replay window is
 * lost, a replayed request decrypts and cannot be told from the original, and each
 * challenge takes a new Partial IV (Appendix B.1.2) — one Sender Sequence Number and one
 * use of the Sender Key: a request captured once and replayed 2^20 times would use up the
 * Sender Key ('limit_q', draft-ietf-core-oscore-key-limits §2.1.1). So a request seen
 * again gets the very challenge it got before, as CoAP answers a duplicate (RFC 7252
 * §4.5): the same bytes under the same nonce, so nothing is encrypted twice, and nothing
 * new is revealed to whoever sent it again.
 */
export class SentChallenges {
  readonly #maxAgeMs: number;
  /** In the order sent, which is the order of expiry. */
  readonly #sent = new Map<string, { readonly challenge: Promise<ProtectedMessage>; readonly expires: number }>();

  constructor(maxAgeSeconds: number) {
    this.#maxAgeMs = maxAgeSeconds * 1000;
  }

  /** The challenge to the request `key` names: the one sent before, or what `protect` makes (then remembered). */
  challenge(key: string, protect: () => Promise<ProtectedMessage>): Promise<ProtectedMessage> {
    const now = performance.now();
    // Forget the expired (at the front: sent first) and, past the bound, the oldest.
    for (const [k, entry] of this.#sent) {
      if (entry.expires > now && this.#sent.size < MAX_SENT_CHALLENGES) break;
      this.#sent.delete(k);
    }
    const sent = this.#sent.get(key);
    if (sent !== undefined) return sent.challenge;
    // Copies of their own: the protected bytes are views of shared slabs (core's buffers.ts),
    // and a view kept for the Echo's lifetime would keep its whole slab alive.
    const challenge = protect().then((m) => ({ option: m.option.slice(), payload: m.payload.slice() }));
    const entry = { challenge, expires: now + this.#maxAgeMs };
    this.#sent.set(key, entry);
    // A challenge that could not be protected is not remembered: the next copy tries again.
    challenge.catch(() => {
      if (this.#sent.get(key) === entry) this.#sent.delete(key);
    });
    return challenge;
  }
}
