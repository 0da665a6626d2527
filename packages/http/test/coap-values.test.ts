/** CoAP uint option values (RFC 7252 §3.2) and the media type → Content-Format lookup (RFC 7252 §12.3). */

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeUint, encodeUint } from '../src/mapping/coap-values.js';
import { mediaTypeToContentFormat } from '../src/mapping/content-format.js';

describe('uint option values', () => {
  it.each([
    [0, ''],
    [1, '01'],
    [255, 'ff'],
    [256, '0100'],
    [65535, 'ffff'],
    [65536, '010000'],
    [0xffffffff, 'ffffffff'],
  ])('%i is %s: big-endian, no leading zero bytes, 0 empty', (value, hex) => {
    expect(Buffer.from(encodeUint(value)).toString('hex')).toBe(hex);
  });

  it('round-trips every 32-bit value in the fewest bytes', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (value) => {
        const bytes = encodeUint(value);
        expect(decodeUint(bytes)).toBe(value);
        expect(bytes.length === 0 || bytes[0] !== 0).toBe(true);
      }),
    );
  });
});

describe('media type → Content-Format', () => {
  it.each([
    ['text/plain;charset=utf-8', 0],
    ['Text/Plain; Charset="UTF-8"', 0],
    ['application/json', 50],
    ['application/json; charset=utf-8', 50],
    ['application/octet-stream', 42],
    ['application/cbor', 60],
    ['text/html', undefined],
  ])('%s → %s, the same on every lookup', (type, format) => {
    expect(mediaTypeToContentFormat(type)).toBe(format);
    expect(mediaTypeToContentFormat(type)).toBe(format);
  });

  it('stays correct past the size of its lookup cache', () => {
    for (let i = 0; i < 1000; i++) expect(mediaTypeToContentFormat(`application/x-${i}`)).toBeUndefined();
    expect(mediaTypeToContentFormat('application/json; charset=utf-8')).toBe(50);
  });
});
