/**
 * Echo values (RFC 9175 §2) for proving request freshness after the replay window was
 * lost (RFC 8613 Appendix B.1.2). Stateless, as RFC 9175 Appendix A's time-based method
 * with integrity protection: the value is a timestamp and a MAC over it and the
 * context's state id, under a key that exists only in this process, so a value is good
 * for one context, for a short time, on this server.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The Echo option (RFC 9175 §2.2.1): elective, Class E in OSCORE. */
export const ECHO_OPTION = 252;

const MAC_LENGTH = 8;

/** Issues and checks Echo values. */
export class EchoIssuer {
  readonly #key = randomBytes(32);
  readonly #maxAgeSeconds: number;

  /** @param maxAgeSeconds how long a challenge may be answered. Default 30 s. */
  constructor(maxAgeSeconds = 30) {
    this.#maxAgeSeconds = maxAgeSeconds;
  }

  #mac(time: Buffer, scope: string): Buffer {
    return createHmac('sha256', this.#key).update(time).update(scope).digest().subarray(0, MAC_LENGTH);
  }

  /** A fresh Echo value for `scope` (the recipient state id): 4-byte time ‖ 8-byte MAC, 12 bytes (≤ 40, §2.2.1). */
  issue(scope: string): Uint8Array {
    const time = Buffer.alloc(4);
    time.writeUInt32BE(Math.floor(Date.now() / 1000) >>> 0);
    return new Uint8Array(Buffer.concat([time, this.#mac(time, scope)]));
  }

  /** Whether `value` was issued here for `scope` within the maximum age. */
  verify(value: Uint8Array, scope: string): boolean {
    if (value.length !== 4 + MAC_LENGTH) return false;
    const bytes = Buffer.from(value);
    const time = bytes.subarray(0, 4);
    const age = Math.floor(Date.now() / 1000) - time.readUInt32BE();
    if (age < 0 || age > this.#maxAgeSeconds) return false;
    return timingSafeEqual(bytes.subarray(4), this.#mac(time, scope));
  }
}
