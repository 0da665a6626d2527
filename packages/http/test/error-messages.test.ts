/**
 * Error messages reach logs: they carry no input bytes — no decrypted field, no caller's
 * malformed header or method, no secret written where a file name belongs (docs/errors.md).
 */

import { coapCode } from '@oscore-http/core';
import { expect, it } from 'vitest';
import { decodeRequest, encodeRequest, HTTP_FIELD_OPTION, resolveSecret } from '../src/index.js';

const SECRET = 'sk_live_4f1c9a7e2b';
const messageOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('no error');
};

it('a decrypted HTTP-Field with an invalid name or value: the message says what is wrong, not what it was', () => {
  for (const line of [`authorization bearer ${SECRET}:x`, `x-token:${SECRET}\u0000`]) {
    const message = { code: coapCode(0, 1), options: [{ number: HTTP_FIELD_OPTION, value: Buffer.from(line, 'latin1') }], payload: new Uint8Array(0) };
    const text = messageOf(() => decodeRequest(message));
    expect(text).toMatch(/HTTP-Field option carries a (name|value)/);
    expect(text).not.toContain(SECRET);
  }
});

it('a caller’s invalid header name or method is not quoted; a valid name over 40 characters is cut', () => {
  const request = (method: string, name: string, value = 'v') => () => encodeRequest({ method, target: '/', headers: [[name, value]], body: new Uint8Array(0) });
  expect(messageOf(request('GET', `Authorization Bearer ${SECRET}`))).not.toContain(SECRET);
  expect(messageOf(request(`GET ${SECRET}`, 'x-a'))).not.toContain(SECRET);
  const long = `x-${'a'.repeat(70_000)}`;
  expect(messageOf(request('GET', long, 'bad\u0000')).length).toBeLessThan(200);
});

it('a secret file path that looks like a secret is not shown; an ordinary one is', () => {
  expect(messageOf(() => resolveSecret({ file: `/run/secrets/${'5a1c0ffee5ee5ec2e7b00c0ffee5ee5e'}` }, 'contexts[0].masterSecret'))).not.toContain('5a1c0ffee5ee5ec2');
  expect(messageOf(() => resolveSecret({ file: '/run/secrets/orders-master.key' }, 'contexts[0].masterSecret'))).toContain('/run/secrets/orders-master.key (ENOENT)');
});

it('an unset variable’s message names the encoding only when it is one (a secret written as the encoding is not echoed); a long path is cut', () => {
  const unset = messageOf(() => resolveSecret({ env: 'OSCORE_UNSET_FOR_TEST', encoding: SECRET } as never, 'contexts[0].masterSecret', { env: {} }));
  expect(unset).toContain('OSCORE_UNSET_FOR_TEST is not set');
  expect(unset).not.toContain(SECRET);
  expect(messageOf(() => resolveSecret({ file: `/${'dir-'.repeat(3000)}x.key` }, 'contexts[0].masterSecret')).length).toBeLessThan(400);
});
