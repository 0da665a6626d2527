/** The plaintext codec: RFC 8613 §5.3 with the option encoding of RFC 7252 §3.1. */

import { describe, expect, it } from 'vitest';
import { decodeInnerMessage, encodeInnerMessage, fromHex, MalformedPlaintextError, toHex, type InnerMessage } from '../src/index.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('encoding', () => {
  it('reproduces the plaintexts of RFC 8613 Appendix C.4 and C.7', () => {
    expect(toHex(encodeInnerMessage({ code: 0x01, options: [{ number: 11, value: utf8('tv1') }], payload: new Uint8Array() }))).toBe('01b3747631');
    expect(toHex(encodeInnerMessage({ code: 0x45, options: [], payload: utf8('Hello World!') }))).toBe('45ff48656c6c6f20576f726c6421');
  });

  it('writes option deltas and lengths with the 13 and 14 extensions (RFC 7252 §3.1)', () => {
    // Option 12 (delta 12, 1 byte), option 25 (delta 13 → nibble 13, ext 0x00), option 294 (delta 269 → nibble 14, ext 0x0000).
    const m: InnerMessage = {
      code: 0x02,
      options: [
        { number: 294, value: new Uint8Array(269).fill(0xaa) },
        { number: 12, value: fromHex('32') },
        { number: 25, value: new Uint8Array(13).fill(0xbb) },
      ],
      payload: new Uint8Array(),
    };
    const bytes = encodeInnerMessage(m);
    expect(toHex(bytes.subarray(0, 3))).toBe('02' + 'c1' + '32');
    expect(toHex(bytes.subarray(3, 6))).toBe('dd' + '00' + '00'); // delta 13, length 13
    const third = 6 + 13;
    expect(toHex(bytes.subarray(third, third + 5))).toBe('ee' + '0000' + '0000'); // delta 269, length 269
    expect(bytes.length).toBe(third + 5 + 269);
    const back = decodeInnerMessage(bytes);
    expect(back.options.map((o) => [o.number, o.value.length])).toEqual([
      [12, 1],
      [25, 13],
      [294, 269],
    ]);
  });

  it('keeps the order of repeated options and sorts by number otherwise', () => {
    const m: InnerMessage = {
      code: 0x01,
      options: [
        { number: 15, value: utf8('a=1') },
        { number: 11, value: utf8('x') },
        { number: 15, value: utf8('b=2') },
        { number: 11, value: utf8('y') },
      ],
      payload: new Uint8Array(),
    };
    const back = decodeInnerMessage(encodeInnerMessage(m));
    expect(back.options.map((o) => `${o.number}:${new TextDecoder().decode(o.value)}`)).toEqual(['11:x', '11:y', '15:a=1', '15:b=2']);
  });

  it('writes no payload marker for an empty payload', () => {
    expect(toHex(encodeInnerMessage({ code: 0x44, options: [], payload: new Uint8Array() }))).toBe('44');
  });

  it('refuses option numbers and lengths the format cannot carry', () => {
    expect(() => encodeInnerMessage({ code: 1, options: [{ number: 65536, value: new Uint8Array() }], payload: new Uint8Array() })).toThrow(RangeError);
    expect(() => encodeInnerMessage({ code: 1, options: [{ number: 11, value: new Uint8Array(65_805) }], payload: new Uint8Array() })).toThrow(RangeError);
    expect(() => encodeInnerMessage({ code: 256, options: [], payload: new Uint8Array() })).toThrow(RangeError);
  });
});

describe('decoding rejects format errors with MalformedPlaintextError', () => {
  it.each([
    ['an empty plaintext', ''],
    ['a payload marker followed by nothing (RFC 7252 §3)', '45ff'],
    ['delta nibble 15 outside the marker', '01f1aa'],
    ['length nibble 15', '011f'],
    ['a truncated 1-byte delta extension', '01d1'],
    ['a truncated 2-byte delta extension', '01e100'],
    ['a truncated 2-byte length extension', '011e00'],
    ['a value longer than the rest', '0113aa'],
    ['an option number beyond 65535', '01e0fef4' + 'e0fef4'],
  ])('%s', (_label, hex) => {
    expect(() => decodeInnerMessage(fromHex(hex))).toThrow(MalformedPlaintextError);
  });

  it('returns views of the input and allocates nothing proportional to claimed lengths', () => {
    const input = fromHex('01e0ffff'); // option with delta 65804? no: 0xe0 = delta 14 (2-byte ext 0xffff → 65804), length 0
    expect(() => decodeInnerMessage(input)).toThrow(MalformedPlaintextError);
    const ok = fromHex('01b3747631ff0102');
    const m = decodeInnerMessage(ok);
    expect(m.payload.buffer).toBe(ok.buffer);
    expect(m.options[0]!.value.buffer).toBe(ok.buffer);
  });
});
