/**
 * The hand-written CBOR heads against an independent implementation (cbor-x, configured
 * COSE-exact) and against the byte examples of RFC 8949 Appendix A.
 */

import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCbor, type CborItem } from '../src/cbor.js';
import { toHex } from '../src/index.js';

const reference = new Encoder({ useRecords: false, tagUint8Array: false, useTag259ForMaps: false, variableMapSize: true, mapsAsObjects: false });

describe('encodeCbor', () => {
  it.each([
    [0, '00'],
    [23, '17'],
    [24, '1818'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    [null, 'f6'],
    [[], '80'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
  ] as [CborItem, string][])('RFC 8949 Appendix A: %j → %s', (item, hex) => {
    expect(toHex(encodeCbor(item))).toBe(hex);
  });

  it('agrees with cbor-x on random OSCORE-shaped items', () => {
    const leaf = fc.oneof(
      // cbor-x writes numbers of 2^32 and beyond as float64; the RFC 8949 cases above cover those as integers.
      fc.integer({ min: -(2 ** 32), max: 2 ** 32 - 1 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ maxLength: 40 }),
      fc.constant(null),
    );
    const item = fc.letrec<{ item: CborItem }>((tie) => ({ item: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('item'), { maxLength: 6 })) })).item;
    fc.assert(
      fc.property(item, (value) => {
        expect(toHex(encodeCbor(value))).toBe(toHex(reference.encode(value)));
      }),
      { numRuns: 500 },
    );
  });
});
