/** CoAP uint option values (RFC 7252 §3.2) and the media type → Content-Format lookup (RFC 7252 §12.3). */

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { coapEtagOf, decodeUint, encodeUint, httpEtagOf, parseEntityTags } from '../src/mapping/coap-values.js';
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

describe('entity tags between CoAP and HTTP (RFC 7252 §5.10.6, RFC 9110 §8.8.3)', () => {
  const viaHttp = (bytes: Uint8Array) => {
    const spelled = httpEtagOf(bytes)!;
    const [tag] = parseEntityTags(spelled)!;
    return coapEtagOf(tag!);
  };

  it('every CoAP ETag of 1 … 8 bytes has an HTTP spelling that maps back to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), (bytes) => {
        expect(Buffer.from(viaHttp(bytes)!).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
      }),
      { numRuns: 2000 },
    );
  });

  it('spells etagc bytes as they are, and binary bytes or a leading "~" as "~" + base64url', () => {
    expect(httpEtagOf(Buffer.from('v42'))).toBe('"v42"');
    expect(httpEtagOf(Buffer.from('009a22ff', 'hex'))).toBe('"~AJoi_w"');
    expect(httpEtagOf(Buffer.from('~x'))).toBe('"~fng"');
    expect(httpEtagOf(new Uint8Array(0))).toBeUndefined();
    expect(httpEtagOf(new Uint8Array(9))).toBeUndefined();
  });

  it('an HTTP tag has at most one CoAP form: a "~" tag that is not such a spelling has none', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21\x23-\x7e]{1,12}$/), (opaque) => {
        const bytes = coapEtagOf({ weak: false, opaque });
        if (bytes !== undefined) expect(httpEtagOf(bytes)).toBe(`"${opaque}"`);
      }),
      { numRuns: 2000 },
    );
    expect(coapEtagOf({ weak: false, opaque: '~fn' })).toBeUndefined(); // not canonical base64url
    expect(coapEtagOf({ weak: false, opaque: '~YWJj' })).toBeUndefined(); // "abc" is spelled as it is
  });
});
