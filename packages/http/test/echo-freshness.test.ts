/**
 * Freshness after a lost replay window (RFC 8613 Appendix B.1.2, RFC 9175 §2.2–2.4): the
 * server's Echo challenge, and what an attacker on the path can do with the messages of
 * such an exchange.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import {
  CoapOptionNumber,
  coapCode,
  createSecurityContext,
  protectRequest,
  ReplayWindow,
  verifyResponse,
  type ReplayProtection,
  type ReplayVerdict,
  type SequenceNumber,
} from '@oscore-http/core';
import { createOscoreHandler, ECHO_OPTION, EchoIssuer, encodeOscoreHeader, decodeOscoreHeader } from '@oscore-http/http';
import { closeServer, listen, Resources } from '../../fastify/test/support/oscore-peers.js';

const secret = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');

/** A replay window the test can lose, as a state store does when its data is gone. */
class LosableWindow implements ReplayProtection {
  window = ReplayWindow.lost(64);
  lose(): void {
    this.window = ReplayWindow.lost(64);
  }
  checkAndUpdate(seq: SequenceNumber): ReplayVerdict {
    return this.window.checkAndUpdate(seq);
  }
  establish(seq: SequenceNumber): ReplayVerdict {
    return this.window.establish(seq);
  }
}

const resources = new Resources();
const served: string[] = [];
const window = new LosableWindow();
let origin: string;
const client = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([2]), recipientId: new Uint8Array([1]) });

beforeAll(async () => {
  const server = createSecurityContext({ masterSecret: secret, senderId: new Uint8Array([1]), recipientId: new Uint8Array([2]), replayProtection: window });
  const handler = createOscoreHandler({ contexts: [server] }, (req: IncomingMessage, res: ServerResponse) => {
    served.push(`${req.method} ${req.url}`);
    res.end('ok');
  });
  origin = await listen(resources.add(createServer(handler), closeServer));
});

afterAll(() => resources.closeAll());

interface Wire {
  option: Uint8Array;
  payload: Uint8Array;
}

/** POSTs a protected request as it travels; returns the outer status and the protected answer. */
async function post(wire: Wire): Promise<{ status: number; option?: Uint8Array; payload?: Uint8Array }> {
  const res = await request(`${origin}/oscore`, {
    method: 'POST',
    headers: { 'content-type': 'application/oscore', oscore: encodeOscoreHeader(wire.option) },
    body: Buffer.from(wire.payload),
  });
  const body = new Uint8Array(await res.body.arrayBuffer());
  if (res.headers['content-type'] !== 'application/oscore') return { status: res.statusCode };
  return { status: res.statusCode, option: decodeOscoreHeader(res.headers.oscore as string), payload: body };
}

function get(path: string, echo?: Uint8Array) {
  const options = [{ number: CoapOptionNumber.UriPath, value: Buffer.from(path) }];
  if (echo !== undefined) options.push({ number: ECHO_OPTION, value: Buffer.from(echo) });
  return { code: coapCode(0, 1), options, payload: new Uint8Array(0) };
}

/** Sends GET `path` (with `echo`) and returns the verified answer and the request's wire form. */
async function exchange(path: string, echo?: Uint8Array) {
  const sent = await protectRequest(client, get(path, echo));
  const answer = await post(sent);
  if (answer.option === undefined) return { wire: sent, status: answer.status, code: undefined, echo: undefined };
  const { message, partialIV } = await verifyResponse(sent.binding, answer.option, answer.payload!);
  return { wire: sent, status: answer.status, code: message.code, partialIV, echo: message.options.find((o) => o.number === ECHO_OPTION)?.value };
}

describe('Echo challenge after a lost replay window (Appendix B.1.2)', () => {
  it('challenges with a protected 4.01 carrying the server Partial IV and a short Echo; the answer with Echo is served', async () => {
    window.lose();
    served.length = 0;
    const first = await exchange('a');
    expect(first.code).toBe(coapCode(4, 1));
    expect(first.partialIV).toBeDefined();
    expect(first.echo!.length).toBeGreaterThan(0);
    expect(first.echo!.length).toBeLessThanOrEqual(40); // RFC 9175 §2.2.1
    expect(served).toEqual([]);
    const second = await exchange('a', first.echo);
    expect(second.code).toBe(coapCode(2, 5));
    expect(served).toEqual(['GET /a']);
    // The captured first request, delivered again, is now below the window's lower limit.
    expect((await post(first.wire)).status).toBe(401);
  });

  it('concurrent first requests get distinct Echo values, so each retry proves its own freshness', async () => {
    window.lose();
    const [a, b] = await Promise.all([exchange('a'), exchange('b')]);
    expect(a.code).toBe(coapCode(4, 1));
    expect(b.code).toBe(coapCode(4, 1));
    expect(Buffer.from(a.echo!).equals(Buffer.from(b.echo!))).toBe(false);
  });

  it('a request that proved its freshness with Echo is not accepted again when the window is lost once more (RFC 9175 §2.4: the value is used once)', async () => {
    window.lose();
    served.length = 0;
    const challenged = await exchange('once');
    const proved = await exchange('once', challenged.echo);
    expect(proved.code).toBe(coapCode(2, 5));
    expect(served).toEqual(['GET /once']);
    // The window is lost again within the Echo's lifetime (the store lost a key), and an attacker
    // who captured the request with Echo sends it again: it must not be processed a second time.
    window.lose();
    const replayed = await post(proved.wire);
    expect(served).toEqual(['GET /once']);
    expect(replayed.status === 401 || replayed.option !== undefined).toBe(true);
  });
});

describe('a request replayed while the window is lost', () => {
  it('every copy gets the challenge the first got: no new Partial IV, no Sender Key use, however often it comes (a captured request could otherwise use up limit_q)', async () => {
    window.lose();
    served.length = 0;
    const sent = await protectRequest(client, get('replayed'));
    const answer = await post(sent);
    const { message, partialIV } = await verifyResponse(sent.binding, answer.option!, answer.payload!);
    expect(message.code).toBe(coapCode(4, 1));
    const copies = await Promise.all(Array.from({ length: 50 }, () => post(sent)));
    for (const copy of copies) {
      // The same answer, byte for byte: the same nonce over the same plaintext, nothing encrypted again.
      expect(copy.status).toBe(200);
      expect(Buffer.from(copy.option!).equals(Buffer.from(answer.option!))).toBe(true);
      expect(Buffer.from(copy.payload!).equals(Buffer.from(answer.payload!))).toBe(true);
    }
    // The next challenge takes the next Partial IV: the 50 copies took none.
    const next = await exchange('next');
    expect(next.code).toBe(coapCode(4, 1));
    const number = (piv: Uint8Array) => Buffer.from(piv).readUIntBE(0, piv.length);
    expect(number(next.partialIV!)).toBe(number(partialIV!) + 1);
    expect(served).toEqual([]);
  });
});

describe('concurrent requests when the window is lost', () => {
  it('a retry that finds the window re-established by another retry still spends its Echo: after a second loss, its captured copy is not served again', async () => {
    window.lose();
    served.length = 0;
    const [a, b] = await Promise.all([exchange('first'), exchange('second')]);
    expect([a.code, b.code]).toEqual([coapCode(4, 1), coapCode(4, 1)]);
    // The retry of `a` re-establishes the window; the retry of `b` (a higher Partial IV) then
    // passes the window as any request does.
    const retryA = await exchange('first', a.echo);
    const retryB = await exchange('second', b.echo);
    expect([retryA.code, retryB.code]).toEqual([coapCode(2, 5), coapCode(2, 5)]);
    expect(served).toEqual(['GET /first', 'GET /second']);
    // The window is lost again within the Echo's lifetime; the retry of `b`, captured, is sent again.
    window.lose();
    const replayed = await post(retryB.wire);
    expect(served).toEqual(['GET /first', 'GET /second']);
    expect(replayed.status === 401 || replayed.option !== undefined).toBe(true);
  });
});

describe('EchoIssuer', () => {
  it('dates values on a monotonic clock (RFC 9175 §5): a wall clock stepped back does not make an expired value good again', () => {
    const issuer = new EchoIssuer(30);
    const value = issuer.issue('s');
    const wall = Date.now();
    const monotonic = performance.now();
    // An hour passes (monotonic time), and the wall clock is stepped back by that hour.
    const now = vi.spyOn(performance, 'now').mockReturnValue(monotonic + 3_600_000);
    const date = vi.spyOn(Date, 'now').mockReturnValue(wall);
    try {
      expect(issuer.verify(value, 's')).toBe(false);
    } finally {
      now.mockRestore();
      date.mockRestore();
    }
    // Without monotonic time passing, a wall clock stepped back or forward changes nothing.
    const fresh = issuer.issue('s');
    const stepped = vi.spyOn(Date, 'now').mockReturnValue(wall - 3_600_000);
    try {
      expect(issuer.verify(fresh, 's')).toBe(true);
      expect(issuer.verify(fresh, 's')).toBe(false);
    } finally {
      stepped.mockRestore();
    }
  });

  it('values are bound to their scope, bounded in size, and accepted once', () => {
    const issuer = new EchoIssuer(30);
    const value = issuer.issue('scope-1');
    expect(value.length).toBeLessThanOrEqual(40);
    expect(issuer.verify(value, 'scope-2')).toBe(false);
    expect(issuer.verify(value, 'scope-1')).toBe(true);
    expect(issuer.verify(value, 'scope-1')).toBe(false);
  });

  it('two values issued for one scope in the same second differ', () => {
    const issuer = new EchoIssuer(30);
    expect(Buffer.from(issuer.issue('s')).equals(Buffer.from(issuer.issue('s')))).toBe(false);
  });

  it('a value from another issuer (another process, or before a restart) is refused', () => {
    expect(new EchoIssuer(30).verify(new EchoIssuer(30).issue('s'), 's')).toBe(false);
  });
});
