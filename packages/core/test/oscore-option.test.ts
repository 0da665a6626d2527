/** The OSCORE option value codec (RFC 8613 §6.1), against the examples of §6.3 and every malformation. */

import { describe, expect, it } from 'vitest';
import { decodeOscoreOption, encodeOscoreOption, encodePartialIV, fromHex, MalformedOptionError, sequenceNumber, toHex, type PartialIV } from '../src/index.js';

const piv = (hex: string) => fromHex(hex) as PartialIV;

describe('RFC 8613 §6.3 compression examples', () => {
  const cases = [
    { example: 1, fields: { kid: fromHex('25'), partialIV: piv('05') }, option: '090525' },
    { example: 2, fields: { kid: fromHex(''), partialIV: piv('00') }, option: '0900' },
    { example: 3, fields: { kid: fromHex(''), partialIV: piv('05'), kidContext: fromHex('44616c656b') }, option: '19050544616c656b' },
    { example: 4, fields: {}, option: '' },
    { example: 5, fields: { partialIV: piv('07') }, option: '0107' },
  ];
  it.each(cases)('example $example encodes to 0x$option and decodes back', ({ fields, option }) => {
    expect(toHex(encodeOscoreOption(fields))).toBe(option);
    const decoded = decodeOscoreOption(fromHex(option));
    expect(decoded.partialIV && toHex(decoded.partialIV)).toBe(fields.partialIV && toHex(fields.partialIV));
    expect(decoded.kid && toHex(decoded.kid)).toBe(fields.kid && toHex(fields.kid));
    expect(decoded.kidContext && toHex(decoded.kidContext)).toBe('kidContext' in fields ? toHex(fields.kidContext) : undefined);
  });
});

describe('Partial IV encoding (§5)', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [255, 'ff'],
    [256, '0100'],
    [65535, 'ffff'],
    [2 ** 32, '0100000000'],
    [2 ** 40 - 1, 'ffffffffff'],
  ])('%d → 0x%s', (n, hex) => {
    expect(toHex(encodePartialIV(sequenceNumber(n)))).toBe(hex);
  });
});

describe('decoding rejects malformed values with MalformedOptionError', () => {
  it.each([
    ['reserved bit 0x20', '2914'],
    ['reserved bit 0x40', '4914'],
    ['reserved bit 0x80 (extension flag, not defined by RFC 8613)', '8914'],
    ['n = 6 (reserved)', '0e010203040506'],
    ['n = 7 (reserved)', '0f01020304050607'],
    ['Partial IV truncated', '0301'],
    ['kid context length byte missing', '1114'],
    ['kid context longer than the value', '11140501'],
    ['flag byte 0x00 in a non-empty value (§2: SHALL be empty)', '00'],
    ['bytes after the last field', '011401'],
    ['longer than 255 bytes', '08' + '01'.repeat(255)],
  ])('%s', (_label, hex) => {
    expect(() => decodeOscoreOption(fromHex(hex))).toThrow(MalformedOptionError);
  });

  it('reports RFC outcome 4.02 and a stable code', () => {
    try {
      decodeOscoreOption(fromHex('2914'));
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_OSCORE_MALFORMED_OPTION', outcome: '4.02' });
    }
  });
});

describe('decoding accepts the edges of the format', () => {
  it('a Partial IV with leading zero bytes, as received (§5 binds only the sender)', () => {
    expect(toHex(decodeOscoreOption(fromHex('0a001401')).partialIV!)).toBe('0014');
    expect(toHex(decodeOscoreOption(fromHex('0d000000000525')).partialIV!)).toBe('0000000005');
  });

  it('an empty kid and an empty kid context', () => {
    const d = decodeOscoreOption(fromHex('190500'));
    expect(toHex(d.partialIV!)).toBe('05');
    expect(d.kidContext).toEqual(new Uint8Array(0));
    expect(d.kid).toEqual(new Uint8Array(0));
  });

  it('a kid context of 255 bytes when it fits', () => {
    const value = encodeOscoreOption({ partialIV: piv('01'), kidContext: new Uint8Array(250).fill(3), kid: new Uint8Array(1) });
    expect(value.length).toBe(1 + 1 + 1 + 250 + 1);
    expect(decodeOscoreOption(value).kidContext!.length).toBe(250);
  });

  it('returns views into the input, not copies', () => {
    const input = fromHex('19050544616c656b25');
    const d = decodeOscoreOption(input);
    expect(d.kid!.buffer).toBe(input.buffer);
    expect(d.kidContext!.buffer).toBe(input.buffer);
  });

  it('encodes an empty value when all flag bits are zero (§2)', () => {
    expect(encodeOscoreOption({}).length).toBe(0);
    expect(() => encodeOscoreOption({ partialIV: new Uint8Array(6) as PartialIV })).toThrow(RangeError);
  });
});
