/** The OSCORE header field (RFC 8613 §11.1–11.3) and the header policy. */

import { fromHex, toHex } from '@oscore-http/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContextConfigError, createHeaderPolicy, decodeOscoreHeader, encodeOscoreHeader, isOscoreContentType, MalformedOscoreHeaderError, UnprotectedResponseError } from '../src/index.js';

describe('OSCORE header field', () => {
  it('writes the empty option value as AA and reads AA back as empty (§11.2, §11.3)', () => {
    expect(encodeOscoreHeader(new Uint8Array(0))).toBe('AA');
    expect(decodeOscoreHeader('AA')).toEqual(new Uint8Array(0));
  });

  it('uses base64url without padding: 0x0925 is CSU as in §11.5', () => {
    expect(encodeOscoreHeader(fromHex('0925'))).toBe('CSU');
    expect(toHex(decodeOscoreHeader('CSU'))).toBe('0925');
    expect(toHex(decodeOscoreHeader('GRQIN8vzIQAXotM'))).toBe('19140837cbf3210017a2d3');
    expect(encodeOscoreHeader(fromHex('19140837cbf3210017a2d3'))).toBe('GRQIN8vzIQAXotM');
  });

  it.each([
    ['missing', undefined],
    ['one character', 'A'],
    ['padding', 'CSU='],
    ['standard base64 characters', 'CS+/'],
    ['spaces inside', 'CS U'],
    ['non-canonical trailing bits', 'CSV'],
    ['impossible length', 'CSUAA'],
    ['repeated field', ['CSU', 'CSU']],
    ['longer than any option value', 'A'.repeat(400)],
  ])('refuses %s', (_label, value) => {
    expect(() => decodeOscoreHeader(value as string | string[] | undefined)).toThrow(MalformedOscoreHeaderError);
  });

  it("agrees with Node's own base64url codec (RFC 4648 §5) for every option value up to 255 bytes, both ways", () => {
    fc.assert(
      // Not the single byte 00: its field, AA, stands for the empty value (§11.3), and no option value is 00 (§6.1).
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 255 }).filter((b) => !(b.length === 1 && b[0] === 0)), (bytes) => {
        const field = encodeOscoreHeader(bytes);
        expect(field).toBe(Buffer.from(bytes).toString('base64url'));
        expect(Buffer.from(decodeOscoreHeader(field)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // Every character in every position of a short field, against Node's decoder.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (const c of alphabet) {
      const field = `${c}${c}${c}${c}${c}w`;
      expect(toHex(decodeOscoreHeader(field))).toBe(Buffer.from(field, 'base64url').toString('hex'));
    }
  });

  it('recognises application/oscore case-insensitively', () => {
    expect(isOscoreContentType('application/oscore')).toBe(true);
    expect(isOscoreContentType('Application/OSCORE')).toBe(true);
    expect(isOscoreContentType('application/oscore-foo')).toBe(false);
    expect(isOscoreContentType(undefined)).toBe(false);
  });
});

describe('header policy', () => {
  const fields: [string, string][] = [
    ['host', 'a:1'],
    ['connection', 'keep-alive, x-hop'],
    ['x-hop', '1'],
    ['content-length', '3'],
    ['transfer-encoding', 'chunked'],
    ['te', 'trailers'],
    ['proxy-authorization', 'Basic x'],
    ['authorization', 'Bearer t'],
    ['cookie', 'a=1'],
    ['traceparent', '00-abc'],
    ['x-debug', 'on'],
  ];

  it('protects every end-to-end field by default and leaves the transport outside', () => {
    const { inner, outer } = createHeaderPolicy().split(fields);
    expect(inner.map(([n]) => n)).toEqual(['authorization', 'cookie', 'traceparent', 'x-debug']);
    expect(outer.map(([n]) => n)).toEqual(['host']);
  });

  it('sends configured fields outside or drops them', () => {
    const policy = createHeaderPolicy({ TraceParent: 'outer', 'x-debug': 'drop', host: 'protect' });
    const { inner, outer } = policy.split(fields);
    expect(inner.map(([n]) => n)).toEqual(['host', 'authorization', 'cookie']);
    expect(outer.map(([n]) => n)).toEqual(['traceparent']);
  });

  it('passes only configured outer fields to the application, and never framing fields from inside', () => {
    const policy = createHeaderPolicy({ traceparent: 'outer' });
    expect(policy.passThrough([['traceparent', 'x'], ['x-injected', 'evil'], ['authorization', 'Bearer evil']])).toEqual([['traceparent', 'x']]);
    expect(policy.passThrough({ traceparent: 'x', 'x-injected': 'evil', 'set-cookie': ['a', 'b'] })).toEqual([['traceparent', 'x']]);
    expect(createHeaderPolicy().passThrough([['traceparent', 'x']])).toEqual([]);
    for (const name of ['content-length', 'transfer-encoding', 'connection']) expect(policy.acceptsInner(name)).toBe(false);
    expect(policy.acceptsInner('authorization')).toBe(true);
  });

  it('refuses to protect framing fields and unknown dispositions', () => {
    expect(() => createHeaderPolicy({ 'content-length': 'protect' })).toThrow(ContextConfigError);
    expect(() => createHeaderPolicy({ 'x-a': 'encrypt' as 'protect' })).toThrow(ContextConfigError);
  });

  it("refuses 'outer' for the outer message's own fields: a second Content-Type or Content-Length, or Transfer-Encoding over an unchunked body (RFC 9112 §6.1)", () => {
    for (const name of ['Content-Type', 'content-length', 'transfer-encoding', 'oscore', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect']) {
      expect(() => createHeaderPolicy({ [name]: 'outer' }), name).toThrow(ContextConfigError);
    }
    for (const name of ['host', 'proxy-authorization', 'proxy-authenticate', 'traceparent']) expect(() => createHeaderPolicy({ [name]: 'outer' }), name).not.toThrow();
    expect(createHeaderPolicy({ host: 'protect' }).protectsHost).toBe(true);
    expect(createHeaderPolicy({ host: 'outer' }).protectsHost).toBe(false);
  });
});

describe('UnprotectedResponseError', () => {
  it('quotes a fixed OSCORE diagnostic in its message, never other unauthenticated text (kept in `diagnostic` only)', () => {
    for (const reason of ['Replay detected', 'Security context not found', 'Decryption failed', 'Failed to decode COSE']) {
      const err = new UnprotectedResponseError(401, reason);
      expect(err.message).toContain(`("${reason}")`);
      expect(err.diagnostic).toBe(reason);
    }
    const chosen = 'Replay detected<script>alert(1)</script>';
    const err = new UnprotectedResponseError(401, chosen);
    expect(err.message).not.toContain('script');
    expect(err.message).toMatch(/^The server answered with an unprotected 401 response, which cannot be verified; /);
    expect(err.diagnostic).toBe(chosen);
    expect(JSON.stringify(err)).not.toContain('script'); // `diagnostic` is the caller's to log, not the message's
  });
});
