/** RFC 5869 Appendix A.1–A.3 (HKDF-SHA-256) through both backends' HKDF. */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HKDF, fromHex, hkdfAlgorithm, nobleBackend, nodeBackend, toHex } from '../src/index.js';

interface HkdfCase {
  id: string;
  ikm: string;
  salt: string;
  info: string;
  length: number;
  okm: string;
}
const file = JSON.parse(readFileSync(new URL('../../../conformance/vectors/hkdf/rfc5869-sha256.json', import.meta.url), 'utf8')) as { cases: HkdfCase[] };

describe.each([
  ['node:crypto', nodeBackend()!],
  ['@noble/hashes', nobleBackend],
])('HKDF-SHA-256 with %s', (_name, backend) => {
  it.each(file.cases.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const okm = backend.hkdf(DEFAULT_HKDF, fromHex(c.ikm), fromHex(c.salt), fromHex(c.info), c.length);
    expect(toHex(okm)).toBe(c.okm);
  });

  it('agrees with the other backend on HKDF-SHA-512', () => {
    const sha512 = hkdfAlgorithm('HKDF-SHA-512');
    const args = [fromHex('0102030405060708090a0b0c0d0e0f10'), fromHex('9e7ca92223786340'), fromHex('8540f60a634b657910'), 32] as const;
    expect(toHex(backend.hkdf(sha512, ...args))).toBe(toHex(nodeBackend()!.hkdf(sha512, ...args)));
    expect(toHex(backend.hkdf(sha512, ...args))).not.toBe(toHex(backend.hkdf(DEFAULT_HKDF, ...args)));
  });
});

it('covers the three SHA-256 cases of RFC 5869', () => {
  expect(file.cases.map((c) => c.id)).toEqual(['rfc5869-a1', 'rfc5869-a2', 'rfc5869-a3']);
});
