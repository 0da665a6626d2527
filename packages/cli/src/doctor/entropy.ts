/**
 * A heuristic for Master Secrets that were not drawn at random (RFC 8613 §12.3: the
 * Master Secret "SHALL" have "a good amount of randomness"). It cannot prove a secret
 * random — nothing can — but it recognises what people type or derive instead: one byte
 * repeated, a counting sequence, a repeated pattern, text, very few distinct bytes.
 * Each shape is astronomically unlikely for 16 or more random bytes.
 */

/** Why a secret looks made by hand, and how sure that is. */
export interface EntropyFinding {
  /** `error`: certainly not random; `warning`: very probably not. */
  readonly level: 'error' | 'warning';
  readonly reason: string;
}

/** Distinct byte values `n` uniformly random bytes have on average: 256·(1 − (255/256)^n). */
export function expectedDistinct(n: number): number {
  return 256 * (1 - (255 / 256) ** n);
}

const byteHex = (b: number) => b.toString(16).padStart(2, '0');

/**
 * Why `secret` does not look random, or `undefined`. Reasons describe the shape, never
 * the bytes (except the one value of a secret that is one byte repeated, which is no secret).
 */
export function lowEntropy(secret: Uint8Array): EntropyFinding | undefined {
  const n = secret.length;
  if (n < 2) return undefined;
  if (secret.every((b) => b === secret[0])) return { level: 'error', reason: `every byte is 0x${byteHex(secret[0]!)}` };
  const step = (secret[1]! - secret[0]! + 256) % 256;
  if (secret.every((b, i) => i === 0 || (b - secret[i - 1]! + 256) % 256 === step)) return { level: 'error', reason: 'its bytes count up or down in equal steps (like 00 01 02 …)' };
  for (let period = 2; period <= n / 2; period++) {
    if (secret.every((b, i) => i < period || b === secret[i - period])) return { level: 'error', reason: `it repeats a ${period}-byte pattern` };
  }
  if (secret.every((b) => b >= 0x20 && b <= 0x7e)) {
    return { level: 'warning', reason: 'every byte is printable ASCII: it looks like a password or text (or hex encoded twice), not random bytes' };
  }
  const distinct = new Set(secret).size;
  const expected = expectedDistinct(n);
  if (distinct < expected / 2) {
    return { level: 'warning', reason: `it has only ${distinct} distinct byte values in ${n} bytes, where random bytes have about ${Math.round(expected)}` };
  }
  return undefined;
}
