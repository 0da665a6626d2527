/**
 * The HTTP ⇄ inner-message mapping. Expected plaintexts below were derived by hand from
 * RFC 7252 §3.1 (option delta/length nibbles) and docs/wire-format.md, not printed by the code.
 */

import { decodeInnerMessage, encodeInnerMessage, fromHex, toHex, type InnerMessage } from '@oscore-http/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  codeToStatus,
  composeTarget,
  decodeRequest,
  decodeResponse,
  decomposeTarget,
  encodeRequest,
  encodeResponse,
  HeadersTooLargeError,
  HTTP_CODE_OPTION,
  HTTP_FIELD_OPTION,
  InvalidInnerMessageError,
  statusToCode,
  UnmappableMessageError,
  type HttpRequestParts,
} from '../src/index.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const empty = new Uint8Array(0);
const plaintextOf = (m: InnerMessage) => toHex(encodeInnerMessage(m));

describe('worked examples (docs/wire-format.md)', () => {
  it('GET /orders/42?verbose=1 with Accept and a custom header', () => {
    const m = encodeRequest({ method: 'GET', target: '/orders/42?verbose=1', headers: [['accept', 'application/json'], ['x-request-id', 'r1']], body: empty });
    expect(plaintextOf(m)).toBe(
      '01' + 'b6' + '6f7264657273' + '02' + '3432' + '49' + '766572626f73653d31' + '21' + '32' + 'edfccc02' + toHex(utf8('x-request-id:r1')),
    );
  });

  it('HEAD /health travels as POST with the critical HTTP-Code option', () => {
    const m = encodeRequest({ method: 'HEAD', target: '/health', headers: [], body: empty });
    expect(plaintextOf(m)).toBe('02' + 'b6' + '6865616c7468' + 'e4fcd3' + '48454144');
  });

  it('201 Created with a JSON body and Location', () => {
    const m = encodeResponse({ status: 201, headers: [['content-type', 'application/json; charset=utf-8'], ['location', '/orders/43']], body: utf8('{"id":43}') });
    expect(plaintextOf(m)).toBe(
      '41' + '86' + toHex(utf8('orders')) + '02' + toHex(utf8('43')) + '4132' + 'edfcd11f' + toHex(utf8('content-type:application/json; charset=utf-8')) + 'ff' + toHex(utf8('{"id":43}')),
    );
  });

  it("418 travels as 4.00 with HTTP-Code 418", () => {
    const m = encodeResponse({ status: 418, headers: [['content-type', 'text/plain']], body: utf8('short and stout') });
    expect(plaintextOf(m)).toBe('80' + 'edfcdd0a' + toHex(utf8('content-type:text/plain')) + '1201a2' + 'ff' + toHex(utf8('short and stout')));
  });

  it('an RFC 8613 peer reads the standard options of a mapped request', () => {
    // What RFC 8613 §11.5 calls "GET coap://server.url/orders": code 0.01 and one Uri-Path, nothing else.
    expect(plaintextOf(encodeRequest({ method: 'GET', target: '/orders', headers: [], body: empty }))).toBe('01b66f7264657273');
    // And the RFC 8613 §11.5 response 2.05 Content-Format 0 "Exterminate! Exterminate!" reads as HTTP 200 text/plain.
    const coap = { code: 0x45, options: [{ number: 12, value: empty }], payload: utf8('Exterminate! Exterminate!') };
    const http = decodeResponse(coap);
    expect(http.status).toBe(200);
    expect(http.headers).toEqual([['content-type', 'text/plain;charset=utf-8']]);
  });
});

describe('methods (RFC 7252 §12.1.1, RFC 8132)', () => {
  it.each([
    ['GET', 0x01],
    ['POST', 0x02],
    ['PUT', 0x03],
    ['DELETE', 0x04],
    ['FETCH', 0x05],
    ['PATCH', 0x06],
    ['iPATCH', 0x07],
  ])('%s ⇄ code %i without extension', (method, code) => {
    const m = encodeRequest({ method, target: '/', headers: [], body: empty });
    expect(m.code).toBe(code);
    expect(m.options).toEqual([]);
    expect(decodeRequest(m).method).toBe(method);
  });

  it.each(['HEAD', 'OPTIONS', 'PURGE', 'PROPFIND', 'get'])('%s round-trips through HTTP-Code', (method) => {
    const m = encodeRequest({ method, target: '/', headers: [], body: empty });
    expect(m.code).toBe(0x02);
    expect(m.options.map((o) => o.number)).toEqual([HTTP_CODE_OPTION]);
    expect(decodeRequest(m).method).toBe(method);
  });

  it('refuses a method that is not a token, and an unassigned request code without HTTP-Code', () => {
    expect(() => encodeRequest({ method: 'BAD METHOD', target: '/', headers: [], body: empty })).toThrow(UnmappableMessageError);
    expect(() => decodeRequest({ code: 0x1f, options: [], payload: empty })).toThrow(InvalidInnerMessageError);
  });

  it('a method token of up to 16 characters fits HTTP-Code (docs/wire-format.md §3); a longer one is refused before sending', () => {
    const longest = 'BASELINE-CONTROL'; // 16, registered (RFC 3253)
    expect(decodeRequest(encodeRequest({ method: longest, target: '/', headers: [], body: empty })).method).toBe(longest);
    expect(() => encodeRequest({ method: 'UPDATEREDIRECTREF', target: '/', headers: [], body: empty })).toThrow(/17 characters .* at most 16/);
  });
});

describe('status codes (RFC 8075 §7)', () => {
  it.each([200, 201, 202, 203, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 402, 403, 404, 405, 406, 409, 410, 412, 413, 415, 418, 422, 429, 451, 500, 501, 502, 503, 504, 505, 599])('%i round-trips', (status) => {
    const body = status === 204 || status === 304 ? empty : utf8('x');
    const back = decodeResponse(encodeResponse({ status, headers: [], body }));
    expect(back.status).toBe(status);
  });

  it('uses the exact codes of Table 2 and no extension for them', () => {
    expect(statusToCode(200)).toBe(0x45); // 2.05
    expect(statusToCode(201)).toBe(0x41); // 2.01
    expect(statusToCode(204)).toBe(0x44); // 2.04
    expect(statusToCode(304)).toBe(0x43); // 2.03
    expect(statusToCode(404)).toBe(0x84); // 4.04
    expect(statusToCode(503)).toBe(0xa3); // 5.03
    for (const status of [200, 201, 204, 304, 400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 422, 429, 500, 501, 502, 503, 504]) {
      const body = status === 204 || status === 304 ? empty : utf8('x');
      expect(encodeResponse({ status, headers: [], body }).options, String(status)).toEqual([]);
    }
  });

  it('reads 2.02 and 2.04 as 200 with a payload and 204 without (RFC 8075 §7 note 2), 5.05 as 502', () => {
    expect(codeToStatus(0x42, true)).toBe(200);
    expect(codeToStatus(0x42, false)).toBe(204);
    expect(codeToStatus(0x44, true)).toBe(200);
    expect(codeToStatus(0x44, false)).toBe(204);
    expect(codeToStatus(0xa5, false)).toBe(502);
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE', 'GET', 'HEAD', 'OPTIONS'])('200 and 204, with and without content, round-trip as answers to %s', (method) => {
    for (const [status, body] of [[200, utf8('x')], [200, empty], [204, empty]] as const) {
      const back = decodeResponse(encodeResponse({ status, headers: [], body }, {}, method));
      expect(back.status, `${status} ${body.length} B`).toBe(status);
    }
  });

  it('answers GET with 2.05, POST/PUT with 2.04 and DELETE with 2.02 (RFC 7252 §5.8, §5.9.1); a 200 or 204 the code alone would not say keeps its status in the elective :status field', () => {
    expect(encodeResponse({ status: 200, headers: [], body: utf8('x') }, {}, 'POST')).toEqual({ code: 0x44, options: [], payload: utf8('x') });
    expect(encodeResponse({ status: 204, headers: [], body: empty }, {}, 'DELETE')).toEqual({ code: 0x42, options: [], payload: empty });
    const emptyOk = encodeResponse({ status: 200, headers: [], body: empty }, {}, 'PUT');
    expect(emptyOk.code).toBe(0x44);
    expect(emptyOk.options.map((o) => [o.number, Buffer.from(o.value).toString('latin1')])).toEqual([[65002, ':status:200']]);
    // A peer without the extension reads 2.04 without payload: 204 (RFC 8075 §7 note 2).
    expect(decodeResponse({ ...emptyOk, options: [] }).status).toBe(204);
    // A 204 to GET is 2.05 without payload (2.04 answers only POST and PUT, RFC 7252 §5.9.1.4).
    const noContent = encodeResponse({ status: 204, headers: [], body: empty }, {}, 'GET');
    expect(noContent.code).toBe(0x45);
    expect(noContent.options.map((o) => [o.number, Buffer.from(o.value).toString('latin1')])).toEqual([[65002, ':status:204']]);
    expect(decodeResponse({ ...noContent, options: [] }).status).toBe(200);
    // Elective: a :status that does not refine 2.02/2.04 without payload is ignored.
    expect(decodeResponse({ code: 0x45, options: [{ number: 65002, value: utf8(':status:200') }], payload: empty }).status).toBe(200);
    expect(decodeResponse({ code: 0x45, options: [{ number: 65002, value: utf8(':status:204') }], payload: utf8('x') }).status).toBe(200);
    expect(decodeResponse({ code: 0x44, options: [{ number: 65002, value: utf8(':status:299') }], payload: empty }).status).toBe(204);
    expect(decodeResponse({ code: 0x84, options: [{ number: 65002, value: utf8(':status:200') }], payload: empty }).status).toBe(404);
  });

  it('keeps a non-standard reason phrase', () => {
    const back = decodeResponse(encodeResponse({ status: 200, statusMessage: 'Splendid', headers: [], body: empty }));
    expect(back.statusMessage).toBe('Splendid');
    expect(decodeResponse(encodeResponse({ status: 404, headers: [], body: empty })).statusMessage).toBe('Not Found');
  });

  it('refuses interim and out-of-range statuses', () => {
    for (const status of [100, 103, 600, 0]) expect(() => encodeResponse({ status, headers: [], body: empty })).toThrow(UnmappableMessageError);
  });
});

describe('request target (RFC 7252 §6.4, §6.5)', () => {
  it.each([
    ['/', [], []],
    ['/orders', ['orders'], []],
    ['/orders/', ['orders', ''], []],
    ['//a', ['', 'a'], []],
    ['/a%2Fb/c', ['a/b', 'c'], []],
    ['/p?x=1&x=2', ['p'], ['x=1', 'x=2']],
    ['/p?a%26b=c%3Dd', ['p'], ['a&b=c=d']],
    ['/p?q=caf%C3%A9&s=a%20b', ['p'], ['q=café', 's=a b']],
    ['/p?a&&b', ['p'], ['a', '', 'b']],
  ])('%s', (target, path, query) => {
    const d = decomposeTarget(target);
    expect(d.path.map((b) => new TextDecoder().decode(b))).toEqual(path);
    expect(d.query.map((b) => new TextDecoder().decode(b))).toEqual(query);
  });

  it('composes the normal form with upper-case hex and keeps sub-delims', () => {
    expect(composeTarget([utf8('a b'), utf8("!$&'()*+,;=:@")], [utf8('x=/?'), utf8('a&b')])).toBe("/a%20b/!$&'()*+,;=:@?x=/?&a%26b");
  });

  it('sends the exact target as :path when it is not in normal form, and uses it on the far side', () => {
    for (const target of ['/a%2fb', '/%7euser', '/p?x=%41', '/p?']) {
      const m = encodeRequest({ method: 'GET', target, headers: [], body: empty });
      expect(m.options.some((o) => o.number === HTTP_FIELD_OPTION), target).toBe(true);
      expect(decodeRequest(m).target).toBe(target);
    }
    const normal = encodeRequest({ method: 'GET', target: '/a%2Fb?x=1', headers: [], body: empty });
    expect(normal.options.some((o) => o.number === HTTP_FIELD_OPTION)).toBe(false);
  });

  it('resolves dot segments first (§6.4 step 2, RFC 3986 §5.2.4), as the WHATWG URL parser does, so no Uri-Path is "." or ".." (§5.10.1)', () => {
    const segment = fc.constantFrom('a', 'b', '', '.', '..', '%2e', '%2E%2e', '.%2E');
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 8 }), (segments) => {
        const target = `/${segments.join('/')}`;
        const { path } = decomposeTarget(target);
        expect(path.some((s) => /^\.\.?$/.test(new TextDecoder().decode(s)))).toBe(false);
        // The independent reference: Node's WHATWG URL parser on the same path.
        expect(composeTarget(path, [])).toBe(new URL(`http://host.example${target}`).pathname);
      }),
      { numRuns: 2000 },
    );
  });

  it('splits a target into the segments and arguments String#split gives (the decoder cuts them by hand)', () => {
    // An independent reference for targets without dot segments: split, then percent-decode
    // each part (visible ASCII only, %XX escapes).
    const decodePart = (text: string): Uint8Array => {
      if (/%(?![0-9A-Fa-f]{2})/.test(text) || /[^\x21-\x7e]/.test(text)) throw new Error('not a valid part');
      return Uint8Array.from(Buffer.from(text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1'));
    };
    const units = ['a', 'b', '&', '=', '%41', '%2F', '%', 'é', ' ', '%zz'];
    const path = fc.string({ unit: fc.constantFrom(...units, '/'), maxLength: 12 });
    const query = fc.option(fc.string({ unit: fc.constantFrom(...units, '/', '?'), maxLength: 12 }), { nil: undefined });
    fc.assert(
      fc.property(path, query, (p, q) => {
        const target = `/${p}${q === undefined ? '' : `?${q}`}`;
        let expected: { path: Uint8Array[]; query: Uint8Array[] } | undefined;
        try {
          expected = { path: p === '' ? [] : p.split('/').map(decodePart), query: q === undefined || q === '' ? [] : q.split('&').map(decodePart) };
        } catch {
          expected = undefined;
        }
        if (expected === undefined) expect(() => decomposeTarget(target)).toThrow(UnmappableMessageError);
        else expect(decomposeTarget(target)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('sends a target with dot segments resolved in Uri-Path and exact in :path, so an HTTP peer gets it as sent', () => {
    const m = encodeRequest({ method: 'GET', target: '/public/../admin?x=1', headers: [], body: empty });
    expect(m.options.filter((o) => o.number === 11).map((o) => new TextDecoder().decode(o.value))).toEqual(['admin']);
    expect(decodeRequest(m).target).toBe('/public/../admin?x=1');
  });

  it('refuses a received Uri-Path "." or ".." (§5.10.1: "MUST NOT be "." or ".."") with 4.00', () => {
    for (const dots of ['.', '..']) {
      const m = { code: 0x01, options: [{ number: 11, value: utf8('public') }, { number: 11, value: utf8(dots) }, { number: 11, value: utf8('admin') }], payload: empty };
      expect(() => decodeRequest(m)).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE', outcome: '4.00' }));
    }
    // With the exact target (:path), as a client that did not resolve dot segments sent it, the options are not used.
    const exact = { code: 0x01, options: [{ number: 11, value: utf8('a') }, { number: 11, value: utf8('.') }, { number: 11, value: utf8('b') }, { number: HTTP_FIELD_OPTION, value: utf8(':path:/a/./b') }], payload: empty };
    expect(decodeRequest(exact).target).toBe('/a/./b');
    // ".a" and "..." are names, not dot segments.
    const names = { code: 0x01, options: [{ number: 11, value: utf8('.a') }, { number: 11, value: utf8('...') }], payload: empty };
    expect(decodeRequest(names).target).toBe('/.a/...');
  });

  it('refuses invalid percent-encodings and non-origin-form targets', () => {
    expect(() => decomposeTarget('/a%zz')).toThrow(UnmappableMessageError);
    expect(() => decomposeTarget('http://example.com/')).toThrow(UnmappableMessageError);
  });
});

describe('header fields', () => {
  const roundTrip = (headers: [string, string][]) => decodeRequest(encodeRequest({ method: 'POST', target: '/', headers, body: utf8('x') })).headers;

  it('maps Content-Type to Content-Format and keeps the exact spelling', () => {
    const exact = encodeRequest({ method: 'POST', target: '/', headers: [['content-type', 'application/cbor']], body: utf8('x') });
    expect(exact.options).toEqual([{ number: 12, value: fromHex('3c') }]);
    const spelled = encodeRequest({ method: 'POST', target: '/', headers: [['content-type', 'application/json; charset=utf-8']], body: utf8('x') });
    expect(spelled.options.map((o) => o.number)).toEqual([12, HTTP_FIELD_OPTION]);
    expect(roundTrip([['content-type', 'application/json; charset=utf-8']])).toEqual([['content-type', 'application/json; charset=utf-8']]);
    expect(roundTrip([['content-type', 'multipart/form-data; boundary=xyz']])).toEqual([['content-type', 'multipart/form-data; boundary=xyz']]);
  });

  it('sends no Content-Format for a coded body: the type travels as a field (RFC 8075 §6.1: the format names type and coding)', () => {
    for (const encode of [
      (headers: [string, string][]) => encodeRequest({ method: 'POST', target: '/', headers, body: utf8('x') }),
      (headers: [string, string][]) => encodeResponse({ status: 200, headers, body: utf8('x') }),
    ]) {
      const gzip = encode([['content-type', 'application/json'], ['content-encoding', 'gzip']]);
      expect(gzip.options.map((o) => o.number)).toEqual([HTTP_FIELD_OPTION, HTTP_FIELD_OPTION]);
      const identity = encode([['content-type', 'application/json'], ['content-encoding', 'identity']]);
      expect(identity.options[0]).toEqual({ number: 12, value: fromHex('32') });
    }
    const coded: [string, string][] = [['content-type', 'application/json'], ['content-encoding', 'br']];
    expect(roundTrip(coded)).toEqual(coded);
    expect(decodeResponse(encodeResponse({ status: 200, headers: coded, body: utf8('x') })).headers).toEqual(coded);
  });

  it('names an unknown Content-Format application/coap-payload;cf=N (RFC 8075 §6.2)', () => {
    const req = decodeRequest({ code: 0x02, options: [{ number: 12, value: fromHex('2711') }], payload: utf8('x') });
    expect(req.headers).toEqual([['content-type', 'application/coap-payload;cf=10001']]);
  });

  it('maps Accept, but never */* (RFC 8075 §6.1)', () => {
    expect(encodeRequest({ method: 'GET', target: '/', headers: [['accept', 'application/json']], body: empty }).options).toEqual([{ number: 17, value: fromHex('32') }]);
    const star = encodeRequest({ method: 'GET', target: '/', headers: [['accept', '*/*']], body: empty });
    expect(star.options.map((o) => o.number)).toEqual([HTTP_FIELD_OPTION]);
    expect(roundTrip([['accept', '*/*']])).toEqual([['accept', '*/*']]);
  });

  it('maps strong entity tags of up to 8 bytes to ETag / If-Match, and If-None-Match: *', () => {
    const req = encodeRequest({ method: 'PUT', target: '/', headers: [['if-match', '"abc", "12345678"'], ['if-none-match', '*']], body: utf8('x') });
    expect(req.options.map((o) => [o.number, toHex(o.value)])).toEqual([
      [1, toHex(utf8('abc'))],
      [1, toHex(utf8('12345678'))],
      [5, ''],
    ]);
    expect(roundTrip([['if-match', '*']])).toEqual([['if-match', '*']]);
    expect(roundTrip([['if-match', 'W/"weak"']])).toEqual([['if-match', 'W/"weak"']]);
    expect(roundTrip([['if-match', '"toolongforcoap"']])).toEqual([['if-match', '"toolongforcoap"']]);
    expect(roundTrip([['if-none-match', '"v1"']])).toEqual([['if-none-match', '"v1"']]);
    const res = encodeResponse({ status: 200, headers: [['etag', '"v42"']], body: utf8('x') });
    expect(res.options).toEqual([{ number: 4, value: utf8('v42') }]);
    expect(decodeResponse(res).headers).toEqual([['etag', '"v42"']]);
  });

  it('keeps repeated and custom fields in order, byte for byte (ISO-8859-1)', () => {
    const headers: [string, string][] = [
      ['set-cookie', 'a=1; Path=/'],
      ['x-custom', 'one'],
      ['set-cookie', 'b=2'],
      ['x-custom', 'two'],
      ['x-latin1', 'caf\u00e9'],
      ['authorization', 'Bearer t0ken'],
    ];
    expect(decodeResponse(encodeResponse({ status: 200, headers, body: empty })).headers).toEqual(headers);
  });

  it('reads a field value without leading and trailing SP/HTAB, as a plain HTTP parser does (RFC 9110 §5.5); inner and obs-text spaces stay', () => {
    const headers: [string, string][] = [
      ['x-padded', ' \t padded value\t '],
      ['x-nbsp', '\u00a0kept\u00a0'],
      ['x-empty', '   '],
    ];
    expect(decodeResponse(encodeResponse({ status: 200, headers, body: empty })).headers).toEqual([
      ['x-padded', 'padded value'],
      ['x-nbsp', '\u00a0kept\u00a0'],
      ['x-empty', ''],
    ]);
  });

  it('keeps every line of a mapped field sent more than once', () => {
    expect(roundTrip([['accept', 'application/json'], ['accept', 'application/cbor']])).toEqual([['accept', 'application/json'], ['accept', 'application/cbor']]);
    expect(roundTrip([['if-match', '"a"'], ['x-b', '1'], ['if-match', '"0123456789abcdef"']])).toEqual([['if-match', '"a"'], ['if-match', '"0123456789abcdef"'], ['x-b', '1']]);
    const res = decodeResponse(encodeResponse({ status: 200, headers: [['etag', '"a"'], ['etag', 'W/"b"']], body: empty }));
    expect(res.headers).toEqual([['etag', '"a"'], ['etag', 'W/"b"']]);
  });

  it('limits the protected fields (default 16 KiB)', () => {
    const big: [string, string][] = [['x-big', 'a'.repeat(17 * 1024)]];
    expect(() => encodeRequest({ method: 'GET', target: '/', headers: big, body: empty })).toThrow(HeadersTooLargeError);
    expect(() => encodeRequest({ method: 'GET', target: '/', headers: big, body: empty }, { maxHeaderSize: 32 * 1024 })).not.toThrow();
  });

  it('counts fields that travel as CoAP options against the limit too, on both sides, each line once as name:value', () => {
    // 70 Location-Path options of 255 bytes: "location:" (9) + 70 × ("/" + 255) = 17,929 bytes.
    const segment = 'a'.repeat(255);
    const location = `/${Array(70).fill(segment).join('/')}`;
    const lineBytes = 'location:'.length + location.length;
    expect(lineBytes).toBe(17_929);
    const response = { status: 201, headers: [['location', location]] as [string, string][], body: empty };
    expect(() => encodeResponse(response, { maxHeaderSize: lineBytes - 1 })).toThrow(HeadersTooLargeError);
    const message = encodeResponse(response, { maxHeaderSize: lineBytes });
    expect(message.options.filter((o) => o.number === 8)).toHaveLength(70);
    expect(message.options.some((o) => o.number === HTTP_FIELD_OPTION)).toBe(false);
    // The receiver rebuilds the Location from the options and counts it with the HTTP-Fields.
    expect(() => decodeResponse(message, { maxHeaderSize: lineBytes - 1 })).toThrow(HeadersTooLargeError);
    expect(decodeResponse(message, { maxHeaderSize: lineBytes }).headers).toEqual([['location', location]]);
    const withField = { ...message, options: [...message.options, { number: HTTP_FIELD_OPTION, value: utf8('x-a:1') }] };
    expect(() => decodeResponse(withField, { maxHeaderSize: lineBytes + 4 })).toThrow(HeadersTooLargeError);
    expect(() => decodeResponse(withField, { maxHeaderSize: lineBytes + 5 })).not.toThrow();
    // A request's mapped fields count the same way: "if-none-match:*" is 15 bytes.
    const conditional = { method: 'PUT', target: '/', headers: [['if-none-match', '*']] as [string, string][], body: empty };
    expect(() => encodeRequest(conditional, { maxHeaderSize: 14 })).toThrow(HeadersTooLargeError);
    expect(() => decodeRequest(encodeRequest(conditional, { maxHeaderSize: 15 }), { maxHeaderSize: 14 })).toThrow(HeadersTooLargeError);
  });

  it('counts a target of Uri-Path and Uri-Query options as its ":path" line, on both sides (Node counts the request line in its limit)', () => {
    // 70 segments of 255 bytes: ":path:" (6) + 70 × ("/" + 255) = 17,926 bytes, as options only.
    const target = `/${Array(70).fill('a'.repeat(255)).join('/')}`;
    const lineBytes = ':path:'.length + target.length;
    const request = { method: 'GET', target, headers: [] as [string, string][], body: empty };
    expect(() => encodeRequest(request)).toThrow(HeadersTooLargeError);
    const message = encodeRequest(request, { maxHeaderSize: lineBytes });
    expect(message.options.some((o) => o.number === HTTP_FIELD_OPTION)).toBe(false);
    expect(() => decodeRequest(message, { maxHeaderSize: lineBytes - 1 })).toThrow(HeadersTooLargeError);
    expect(decodeRequest(message, { maxHeaderSize: lineBytes }).target).toBe(target);
    // Refused before the target is composed: 1,024 options of 255 bytes 0xff would be a string of 784,384 characters.
    const huge = { code: message.code, options: Array.from({ length: 1024 }, () => ({ number: 11, value: new Uint8Array(255).fill(0xff) })), payload: empty };
    expect(() => decodeRequest(huge, { maxHeaderSize: 16 * 1024 })).toThrow(HeadersTooLargeError);
  });

  it('a message the sender fits within the limit fits the receiver, whether its fields travel as options or HTTP-Fields', () => {
    const line = fc.oneof(
      fc.tuple(fc.constant('content-type'), fc.constantFrom('application/json', 'text/plain; charset=utf-8', 'application/x-unknown')),
      fc.tuple(fc.constant('etag'), fc.constantFrom('"v1"', 'W/"v2"', '"0123456789"')),
      fc.tuple(fc.constant('location'), fc.constantFrom('/a/b?x=1', '/a/../b', 'https://elsewhere.example/', '/%7e')),
      fc.tuple(fc.constant('cache-control'), fc.constantFrom('max-age=60', 'no-store', 'private, max-age=5')),
      fc.tuple(fc.constant('accept'), fc.constantFrom('application/cbor', '*/*', 'text/html, application/json')),
      fc.tuple(fc.constant('if-match'), fc.constantFrom('"a"', '*', '"a", "b"')),
      fc.tuple(fc.constant('if-none-match'), fc.constantFrom('*', '"a"')),
      fc.tuple(fc.constantFrom('x-a', 'x-request-id'), fc.string({ unit: fc.constantFrom('a', 'b', ' ', '-'), maxLength: 30 }).map((v) => v.trim())),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), fc.integer({ min: 0, max: 160 }), fc.constantFrom(200, 201, 404, 500, 503), (headers, maxHeaderSize, status) => {
        const limits = { maxHeaderSize };
        const attempts: [() => InnerMessage, (m: InnerMessage) => unknown][] = [
          [() => encodeResponse({ status, headers, body: utf8('x') }, limits), (m) => decodeResponse(m, limits)],
          [() => encodeRequest({ method: 'PUT', target: '/r', headers, body: utf8('x') }, limits), (m) => decodeRequest(m, limits)],
        ];
        for (const [encode, decode] of attempts) {
          let message: InnerMessage;
          try {
            message = encode();
          } catch (err) {
            expect(err).toBeInstanceOf(HeadersTooLargeError);
            continue;
          }
          expect(() => decode(message)).not.toThrow();
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses field names that are not tokens before sending them', () => {
    for (const name of ['x a', 'x:a', '', 'x\u00e9', ':method']) {
      expect(() => encodeResponse({ status: 200, headers: [[name, 'v']], body: empty })).toThrow(UnmappableMessageError);
    }
  });

  it('refuses field values with CR or LF on both sides', () => {
    expect(() => encodeRequest({ method: 'GET', target: '/', headers: [['x-a', 'a\r\nb']], body: empty })).toThrow(UnmappableMessageError);
    const injected = { code: 0x01, options: [{ number: HTTP_FIELD_OPTION, value: utf8('x-a:a\r\nb') }], payload: empty };
    expect(() => decodeRequest(injected)).toThrow(InvalidInnerMessageError);
    const badName = { code: 0x01, options: [{ number: HTTP_FIELD_OPTION, value: utf8('X-Upper:v') }], payload: empty };
    expect(() => decodeRequest(badName)).toThrow(InvalidInnerMessageError);
    const noColon = { code: 0x01, options: [{ number: HTTP_FIELD_OPTION, value: utf8('novalue') }], payload: empty };
    expect(() => decodeRequest(noColon)).toThrow(InvalidInnerMessageError);
  });
});

describe('values from a plain CoAP peer', () => {
  it('a binary ETag becomes a "~" entity tag, and comes back as the same bytes in If-Match', () => {
    const res = decodeResponse({ code: 0x45, options: [{ number: 4, value: fromHex('009a22ff') }], payload: utf8('x') });
    expect(res.headers).toEqual([['etag', '"~AJoi_w"']]);
    const req = encodeRequest({ method: 'PUT', target: '/', headers: [['if-match', '"~AJoi_w"']], body: utf8('x') });
    expect(req.options).toEqual([{ number: 1, value: fromHex('009a22ff') }]);
    expect(decodeRequest({ code: 0x03, options: [{ number: 1, value: fromHex('0102') }], payload: utf8('x') }).headers).toEqual([['if-match', '"~AQI"']]);
  });

  it('Location-Path / Location-Query become Location (RFC 7252 §10.2.4), Max-Age a Cache-Control max-age (§10.2.1)', () => {
    const res = decodeResponse({
      code: 0x41,
      options: [
        { number: 8, value: utf8('x') },
        { number: 8, value: utf8('a b') },
        { number: 14, value: fromHex('3c') },
        { number: 20, value: utf8('q=1') },
      ],
      payload: empty,
    });
    expect(res.headers).toEqual([
      ['location', '/x/a%20b?q=1'],
      ['cache-control', 'max-age=60'],
    ]);
    // "leaving out Location-Path but supplying Location-Query means the path component in the URI is '/'" (§5.10.7)
    expect(decodeResponse({ code: 0x41, options: [{ number: 20, value: utf8('p=2') }], payload: empty }).headers).toEqual([['location', '/?p=2']]);
    // A ".." segment ("MUST NOT") or an over-long value: elective options, ignored.
    expect(decodeResponse({ code: 0x41, options: [{ number: 8, value: utf8('..') }], payload: empty }).headers).toEqual([]);
    expect(decodeResponse({ code: 0x41, options: [{ number: 8, value: new Uint8Array(256).fill(0x61) }], payload: empty }).headers).toEqual([]);
    // In a 5.03, Max-Age is the Retry-After (RFC 8075 §7 note 8).
    expect(decodeResponse({ code: 0xa3, options: [{ number: 14, value: fromHex('1e') }], payload: empty }).headers).toEqual([['retry-after', '30']]);
  });

  it('sends Location and a lone max-age as options a CoAP peer reads, and anything else as fields', () => {
    const numbers = (headers: [string, string][]) => encodeResponse({ status: 201, headers, body: empty }).options.map((o) => o.number);
    expect(numbers([['location', '/orders/43?v=1']])).toEqual([8, 8, 20]);
    expect(numbers([['location', 'https://elsewhere.example/x']])).toEqual([HTTP_FIELD_OPTION]);
    expect(numbers([['cache-control', 'max-age=30']])).toEqual([14]);
    // No Max-Age would mean 60 s of freshness to a CoAP peer (RFC 7252 §5.10.5); a mapped response's
    // Max-Age is "no greater than the remaining time the representation can be considered fresh" (§10.1.1).
    const maxAgeOf = (value: string) => encodeResponse({ status: 200, headers: [['cache-control', value]], body: empty }).options.filter((o) => o.number === 14).map((o) => o.value);
    expect(numbers([['cache-control', 'no-store']])).toEqual([14, HTTP_FIELD_OPTION]);
    expect(maxAgeOf('no-store')).toEqual([empty]);
    expect(maxAgeOf('private, no-cache')).toEqual([empty]);
    expect(maxAgeOf('public, max-age=30, must-revalidate')).toEqual([fromHex('1e')]);
    expect(maxAgeOf('private')).toEqual([]);
    // Nothing to carry, values over 255 bytes: the field only.
    for (const location of ['/', '/a/..', `/${'a'.repeat(256)}`]) expect(numbers([['location', location]])).toEqual([HTTP_FIELD_OPTION]);
    // Dot segments resolved in Location-Path ("MUST NOT be '.' or '..'", §5.10.7), the exact value in the field.
    for (const location of ['/a/../b', '/./b']) {
      const m = encodeResponse({ status: 201, headers: [['location', location]], body: empty });
      expect(m.options.filter((o) => o.number === 8).map((o) => new TextDecoder().decode(o.value))).toEqual(['b']);
      expect(decodeResponse(m).headers).toEqual([['location', location]]);
    }
    for (const headers of [[['location', '/a/%7e']], [['location', 'rel/x']], [['location', '/']], [['location', '/?page=2']], [['cache-control', 'max-age=30, private']], [['cache-control', 'Max-Age=5']]] as [string, string][][]) {
      expect(decodeResponse(encodeResponse({ status: 201, headers, body: empty })).headers).toEqual(headers);
    }
    const unavailable = encodeResponse({ status: 503, headers: [['retry-after', '30']], body: empty });
    expect(unavailable.options).toEqual([{ number: 14, value: fromHex('1e') }]);
    expect(decodeResponse(unavailable).headers).toEqual([['retry-after', '30']]);
  });

  it('treats a value outside its length range as an unrecognized option (RFC 7252 §5.4.3): elective ignored, critical 4.02', () => {
    const etag9 = decodeResponse({ code: 0x45, options: [{ number: 4, value: utf8('123456789') }], payload: utf8('x') });
    expect(etag9.headers).toEqual([]);
    const format3 = decodeRequest({ code: 0x02, options: [{ number: 12, value: fromHex('000032') }], payload: utf8('x') });
    expect(format3.headers).toEqual([]);
    const accept3 = { code: 0x01, options: [{ number: 17, value: fromHex('000032') }], payload: empty };
    expect(() => decodeRequest(accept3)).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE', outcome: '4.02' }));
    const ifMatch9 = { code: 0x03, options: [{ number: 1, value: utf8('123456789') }], payload: utf8('x') };
    expect(() => decodeRequest(ifMatch9)).toThrow(expect.objectContaining({ outcome: '4.02' }));
    const ifNoneMatch1 = { code: 0x03, options: [{ number: 5, value: fromHex('00') }], payload: utf8('x') };
    expect(() => decodeRequest(ifNoneMatch1)).toThrow(expect.objectContaining({ outcome: '4.02' }));
    const uriPath256 = { code: 0x01, options: [{ number: 11, value: new Uint8Array(256).fill(0x61) }], payload: empty };
    expect(() => decodeRequest(uriPath256)).toThrow(expect.objectContaining({ outcome: '4.02' }));
  });

  it('sends a target with a segment over 255 bytes as :path only, and reads it back', () => {
    const target = `/files/${'a'.repeat(300)}?q=1`;
    const m = encodeRequest({ method: 'GET', target, headers: [], body: empty });
    expect(m.options.map((o) => o.number)).toEqual([HTTP_FIELD_OPTION]);
    expect(decodeRequest(m).target).toBe(target);
  });
});

describe('options that occur too often, proxy requests, reserved Location options', () => {
  const request = (...options: [number, string][]) => ({ code: 0x01, options: options.map(([number, value]) => ({ number, value: fromHex(value) })), payload: empty });

  it('refuses a second Uri-Host, If-None-Match, Uri-Port or Accept with 4.02 (RFC 7252 §5.4.5: a supernumerary critical option is unrecognized)', () => {
    for (const [number, value] of [[3, '6578'], [5, ''], [7, '1633'], [17, '32']] as const) {
      expect(() => decodeRequest(request([number, value])), `option ${number} once`).not.toThrow();
      expect(() => decodeRequest(request([number, value], [number, value])), `option ${number} twice`).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE', outcome: '4.02' }));
    }
    // Repeatable ones stay: If-Match, Uri-Path, Uri-Query (Table 4, "R").
    expect(decodeRequest(request([11, '61'], [11, '62'], [15, '78'], [15, '79'])).target).toBe('/a/b?x&y');
  });

  it('refuses Uri-Host and Uri-Port values outside their length ranges with 4.02 (§5.4.3: 1-255 and 0-2 bytes), and ignores valid ones (Class U, RFC 8613 §4.1.3.2)', () => {
    expect(() => decodeRequest(request([3, '']))).toThrow(expect.objectContaining({ outcome: '4.02' }));
    expect(() => decodeRequest(request([3, '61'.repeat(256)]))).toThrow(expect.objectContaining({ outcome: '4.02' }));
    expect(() => decodeRequest(request([7, '000050']))).toThrow(expect.objectContaining({ outcome: '4.02' }));
    expect(decodeRequest(request([3, '6578616d706c652e636f6d'], [7, '1633'], [11, '78']))).toMatchObject({ target: '/x', headers: [] });
  });

  it('answers a Proxy-Uri or Proxy-Scheme with 5.05 Proxying Not Supported (§5.10.2), HTTP 502 (RFC 8075 §7)', () => {
    const proxyUri = request([35, Buffer.from('coap://other.example/x').toString('hex')]);
    const proxyScheme = request([11, '78'], [39, Buffer.from('coap').toString('hex')]);
    for (const m of [proxyUri, proxyScheme]) {
      expect(() => decodeRequest(m)).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE', outcome: '5.05', httpStatus: 502 }));
    }
  });

  it('refuses a response with a reserved Location option beside Location-Path (§5.10.7) and ignores one alone (elective)', () => {
    for (const reserved of [128, 132, 136, 140]) {
      const withPath = { code: 0x41, options: [{ number: 8, value: utf8('a') }, { number: reserved, value: utf8('b') }], payload: empty };
      expect(() => decodeResponse(withPath), `option ${reserved}`).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE', outcome: '4.02' }));
      const alone = { code: 0x41, options: [{ number: reserved, value: utf8('b') }], payload: empty };
      expect(decodeResponse(alone)).toMatchObject({ status: 201, headers: [] });
    }
  });
});

describe('unknown options (RFC 7252 §5.4.1)', () => {
  it('rejects an unknown critical option with outcome 4.02 and ignores an unknown elective one', () => {
    const critical = { code: 0x01, options: [{ number: 2049, value: empty }], payload: empty };
    expect(() => decodeRequest(critical)).toThrow(expect.objectContaining({ code: 'ERR_OSCORE_HTTP_INVALID_INNER_MESSAGE', outcome: '4.02' }));
    const block2 = { code: 0x01, options: [{ number: 23, value: empty }], payload: empty };
    expect(() => decodeRequest(block2)).toThrow(InvalidInnerMessageError);
    const elective = { code: 0x01, options: [{ number: 2048, value: empty }, { number: 60, value: empty }], payload: empty };
    expect(decodeRequest(elective).target).toBe('/');
    const responseCritical = { code: 0x45, options: [{ number: 1, value: empty }], payload: empty };
    expect(() => decodeResponse(responseCritical)).toThrow(InvalidInnerMessageError);
  });
});

describe('whole messages', () => {
  it('round-trip through the inner-message codec', () => {
    const req: HttpRequestParts = {
      method: 'PATCH',
      target: '/orders/7?fields=a&fields=b',
      headers: [['content-type', 'application/merge-patch+json'], ['x-trace', 'abc'], ['accept', 'application/json, text/plain;q=0.5']],
      body: utf8('{"status":"paid"}'),
    };
    const back = decodeRequest(decodeInnerMessage(encodeInnerMessage(encodeRequest(req))));
    expect(back.method).toBe('PATCH');
    expect(back.target).toBe(req.target);
    expect(new Map(back.headers)).toEqual(new Map(req.headers));
    expect(new TextDecoder().decode(back.body)).toBe('{"status":"paid"}');
  });
});
