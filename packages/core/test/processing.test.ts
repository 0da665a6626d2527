/** Message processing rules of RFC 8613 §7–§8 beyond the test vectors. */

import { describe, expect, it } from 'vitest';
import {
  coapCode,
  CoapOptionNumber,
  ContextNotFoundError,
  ContextRegistry,
  createSecurityContext,
  DecryptionFailedError,
  establishFreshness,
  fromHex,
  InvalidContextError,
  InvalidMessageError,
  MalformedCoseError,
  MessageTooLargeError,
  protectRequest,
  protectResponse,
  ReplayDetectedError,
  ReplayWindow,
  ResponseBindingError,
  toHex,
  verifyRequest,
  verifyResponse,
  type InnerMessage,
  type RecipientContextLookup,
  type SecurityContextParams,
} from '../src/index.js';

const masterSecret = fromHex('0102030405060708090a0b0c0d0e0f10');
const get: InnerMessage = { code: coapCode(0, 1), options: [{ number: CoapOptionNumber.UriPath, value: new TextEncoder().encode('orders') }], payload: new Uint8Array() };
const ok = (body: string): InnerMessage => ({ code: coapCode(2, 5), options: [], payload: new TextEncoder().encode(body) });

function pair(extra: Partial<SecurityContextParams> = {}, clientId = '', serverId = '01') {
  const client = createSecurityContext({ masterSecret, ...extra, senderId: fromHex(clientId), recipientId: fromHex(serverId) });
  const server = createSecurityContext({ masterSecret, ...extra, senderId: fromHex(serverId), recipientId: fromHex(clientId) });
  return { client, server };
}

describe('response binding (§7.1, §7.4, §5.2)', () => {
  it('verifies a response only against the request it answers', async () => {
    const { client, server } = pair();
    const r1 = await protectRequest(client, get);
    const r2 = await protectRequest(client, get);
    const v1 = await verifyRequest(server, r1.option, r1.payload);
    const v2 = await verifyRequest(server, r2.option, r2.payload);
    const a1 = await protectResponse(v1.binding, ok('one'));
    const a2 = await protectResponse(v2.binding, ok('two'));
    // Swapped responses fail: the AAD and nonce carry the other request's Partial IV.
    await expect(verifyResponse(r1.binding, a2.option, a2.payload)).rejects.toBeInstanceOf(DecryptionFailedError);
    await expect(verifyResponse(r2.binding, a1.option, a1.payload)).rejects.toBeInstanceOf(DecryptionFailedError);
    // A failed attempt does not spend the binding; the right response still verifies.
    expect(new TextDecoder().decode((await verifyResponse(r1.binding, a1.option, a1.payload)).message.payload)).toBe('one');
    expect(new TextDecoder().decode((await verifyResponse(r2.binding, a2.option, a2.payload)).message.payload)).toBe('two');
  });

  it('binds responses with their own Partial IV as well', async () => {
    const { client, server } = pair();
    const r1 = await protectRequest(client, get);
    const r2 = await protectRequest(client, get);
    const v1 = await verifyRequest(server, r1.option, r1.payload);
    const a1 = await protectResponse(v1.binding, ok('one'), { partialIV: true });
    expect(toHex(a1.option)).toBe('0100'); // the server's first sequence number
    await expect(verifyResponse(r2.binding, a1.option, a1.payload)).rejects.toBeInstanceOf(DecryptionFailedError);
    const verified = await verifyResponse(r1.binding, a1.option, a1.payload);
    expect(toHex(verified.partialIV!)).toBe('00');
  });

  it('accepts one response per request (§7.4)', async () => {
    const { client, server } = pair();
    const r = await protectRequest(client, get);
    const v = await verifyRequest(server, r.option, r.payload);
    const a = await protectResponse(v.binding, ok('x'));
    await verifyResponse(r.binding, a.option, a.payload);
    await expect(verifyResponse(r.binding, a.option, a.payload)).rejects.toBeInstanceOf(ResponseBindingError);
  });

  it('never protects two responses with the request nonce; later ones need their own Partial IV', async () => {
    const { client, server } = pair();
    const r = await protectRequest(client, get);
    const v = await verifyRequest(server, r.option, r.payload);
    await protectResponse(v.binding, ok('first'));
    await expect(protectResponse(v.binding, ok('second'))).rejects.toBeInstanceOf(ResponseBindingError);
    const second = await protectResponse(v.binding, ok('second'), { partialIV: true });
    expect(second.option.length).toBe(2);
  });

  it('answers a request verified without a replay window only with its own Partial IV until its freshness is proved (Appendix B.1.2)', async () => {
    const { client } = pair({}, '01', '');
    const lost = createSecurityContext({ masterSecret, senderId: fromHex(''), recipientId: fromHex('01'), replayProtection: ReplayWindow.lost() });
    const r = await protectRequest(client, get);
    const first = await verifyRequest(lost, r.option, r.payload, { freshness: 'caller' });
    const replay = await verifyRequest(lost, r.option, r.payload, { freshness: 'caller' }); // the window cannot tell
    expect([first.fresh, replay.fresh]).toEqual([false, false]);
    // Two responses under the request nonce would be two ciphertexts under one (key, nonce).
    await expect(protectResponse(first.binding, ok('one'))).rejects.toBeInstanceOf(ResponseBindingError);
    await expect(protectResponse(replay.binding, ok('two'))).rejects.toBeInstanceOf(ResponseBindingError);
    const challenge = await protectResponse(first.binding, ok('echo'), { partialIV: true });
    expect(challenge.option.length).toBe(2);
    await verifyResponse(r.binding, challenge.option, challenge.payload);
    // Proved fresh (an Echo exchange): the request nonce may now protect one response; the replay stays refused.
    await establishFreshness(first);
    await expect(protectResponse(first.binding, ok('one'))).resolves.toMatchObject({ option: new Uint8Array() });
    await expect(establishFreshness(replay)).rejects.toBeInstanceOf(ReplayDetectedError);
    await expect(protectResponse(replay.binding, ok('two'))).rejects.toBeInstanceOf(ResponseBindingError);
  });

  it('refuses a binding on the wrong side', async () => {
    const { client, server } = pair();
    const r = await protectRequest(client, get);
    const v = await verifyRequest(server, r.option, r.payload);
    await expect(protectResponse(r.binding, ok('x'))).rejects.toBeInstanceOf(ResponseBindingError);
    await expect(verifyResponse(v.binding, r.option, r.payload)).rejects.toBeInstanceOf(ResponseBindingError);
    expect(String(r.binding)).toBe('RequestBinding(client, kid=, piv=00)');
  });
});

describe('request verification (§8.2)', () => {
  it('requires kid, Partial IV and a payload (§2, §5)', async () => {
    const { client, server } = pair();
    const r = await protectRequest(client, get);
    await expect(verifyRequest(server, fromHex(''), r.payload)).rejects.toBeInstanceOf(MalformedCoseError);
    await expect(verifyRequest(server, fromHex('0800'), r.payload)).rejects.toBeInstanceOf(MalformedCoseError); // kid only
    await expect(verifyRequest(server, fromHex('0100'), r.payload)).rejects.toBeInstanceOf(MalformedCoseError); // PIV only
    await expect(verifyRequest(server, r.option, new Uint8Array())).rejects.toMatchObject({ code: 'ERR_OSCORE_MALFORMED_COSE', outcome: '4.02' });
  });

  it('finds the Recipient Context by kid and kid context among many (§8.2 step 2, §5.1)', async () => {
    const clients = [pair({}, '01', 'ff'), pair({}, '02', 'ff'), pair({ idContext: fromHex('aa') }, '03', 'ff'), pair({ idContext: fromHex('bb') }, '03', 'ff')];
    const registry = new ContextRegistry(clients.map((p) => p.server));
    expect(registry.size).toBe(4);
    for (const [i, { client }] of clients.entries()) {
      const r = await protectRequest(client, { ...get, payload: new Uint8Array([i]) });
      const v = await verifyRequest(registry, r.option, r.payload);
      expect(v.context).toBe(clients[i]!.server);
      expect(v.message.payload[0]).toBe(i);
    }
    const stranger = pair({}, '09', 'ff').client;
    const s = await protectRequest(stranger, get);
    await expect(verifyRequest(registry, s.option, s.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_CONTEXT_NOT_FOUND', outcome: '4.01' });
    // A known kid with an unknown kid context is not found either.
    const wrongCtx = pair({ idContext: fromHex('cc') }, '03', 'ff').client;
    const w = await protectRequest(wrongCtx, get);
    await expect(verifyRequest(registry, w.option, w.payload)).rejects.toBeInstanceOf(ContextNotFoundError);
  });

  it("holds a lookup's answer to the request's kid and kid context (§5: the server SHALL use a context with that ID Context)", async () => {
    const { client, server } = pair({ idContext: fromHex('aa') }, '03', 'ff');
    const loose: RecipientContextLookup = { findRecipientContexts: () => [server] }; // matches nothing, answers everything
    const r = await protectRequest(client, get);
    expect(toHex(r.option)).toBe('190001aa03'); // flags h|n=1, Partial IV 00, kid context aa, kid 03 (§6.1)
    await expect(verifyRequest(loose, r.option, r.payload)).resolves.toMatchObject({ context: server });
    // The AAD and nonce come from the context's own Recipient ID, and 'kid context' is in neither: rewritten on the path, only the lookup can notice.
    const rewrittenContext = fromHex('190001bb03');
    const rewrittenKid = fromHex('190001aa04');
    const r2 = await protectRequest(client, get);
    await expect(verifyRequest(loose, rewrittenContext, r2.payload)).rejects.toBeInstanceOf(ContextNotFoundError);
    await expect(verifyRequest(loose, rewrittenKid, r2.payload)).rejects.toBeInstanceOf(ContextNotFoundError);
    const asyncLoose: RecipientContextLookup = { findRecipientContexts: async () => [server] };
    await expect(verifyRequest(asyncLoose, rewrittenContext, r2.payload)).rejects.toBeInstanceOf(ContextNotFoundError);
  });

  it('tries each context sharing a Recipient ID when the request has no kid context (§3.3)', async () => {
    const a = pair({ idContext: fromHex('aa'), sendKidContext: false }, '03', 'ff');
    const b = pair({ idContext: fromHex('bb'), sendKidContext: false }, '03', 'ff');
    const registry = new ContextRegistry([a.server, b.server]);
    const r = await protectRequest(b.client, get);
    expect((await verifyRequest(registry, r.option, r.payload)).context).toBe(b.server);
  });

  it('refuses the same Recipient Context twice', () => {
    expect(() => new ContextRegistry([pair({}, '01', 'ff').server, pair({}, '01', 'ff').server])).toThrow(InvalidContextError);
  });

  it('holds contexts sharing a Recipient ID under different Master Secrets and tries each (§3.3: IDs "SHOULD be unique")', async () => {
    const a = pair({}, '01', 'ff');
    const b = pair({ masterSecret: fromHex('0f'.repeat(16)) }, '01', 'ff');
    const registry = new ContextRegistry([a.server, b.server]);
    for (const peer of [a, b, a]) {
      const r = await protectRequest(peer.client, get);
      expect((await verifyRequest(registry, r.option, r.payload)).context).toBe(peer.server);
    }
  });

  it('counts a message another candidate opens as a failed decryption for each key that did not (key-limits §2.3.2): peers sharing a Recipient ID use up each other\'s limit_v', async () => {
    const a = pair({ usageLimits: { v: 1 } }, '01', 'ff');
    const b = pair({ masterSecret: fromHex('0f'.repeat(16)) }, '01', 'ff');
    const registry = { findRecipientContexts: () => [a.server, b.server] }; // a's key is tried first, for b's requests too
    const first = await protectRequest(b.client, get);
    expect((await verifyRequest(registry, first.option, first.payload)).context).toBe(b.server); // a: count_v 1 = limit_v
    const fromA = await protectRequest(a.client, get);
    expect((await verifyRequest(registry, fromA.option, fromA.payload)).context).toBe(a.server);
    const second = await protectRequest(b.client, get);
    expect((await verifyRequest(registry, second.option, second.payload)).context).toBe(b.server); // a: count_v 2, past its limit
    const later = await protectRequest(a.client, get);
    await expect(verifyRequest(a.server, later.option, later.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_USAGE_LIMIT', limit: 'v' });
  });
});

describe('byte arrays', () => {
  it('are plain Uint8Arrays in every result, so slice() copies (Buffer#slice would alias)', async () => {
    for (const aeadAlgorithm of [10, 1]) {
      const { client, server } = pair({ aeadAlgorithm });
      const r = await protectRequest(client, { ...get, payload: new Uint8Array([1, 2, 3]) });
      const v = await verifyRequest(server, r.option, r.payload);
      const a = await protectResponse(v.binding, ok('x'));
      const back = await verifyResponse(r.binding, a.option, a.payload);
      for (const bytes of [r.option, r.payload, v.message.payload, a.payload, back.message.payload]) {
        expect(bytes.constructor).toBe(Uint8Array);
      }
    }
  });
});

describe('what may be protected', () => {
  it('refuses nested OSCORE (§4.1.3.7), wrong code classes and non-messages', async () => {
    const { client, server } = pair();
    await expect(protectRequest(client, { ...get, options: [{ number: CoapOptionNumber.Oscore, value: new Uint8Array() }] })).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(protectRequest(client, ok('not a request'))).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(protectRequest(client, { code: 0, options: [], payload: new Uint8Array() })).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(protectRequest(client, null as unknown as InnerMessage)).rejects.toBeInstanceOf(InvalidMessageError);
    const r = await protectRequest(client, get);
    const v = await verifyRequest(server, r.option, r.payload);
    await expect(protectResponse(v.binding, get)).rejects.toBeInstanceOf(InvalidMessageError);
  });

  it('refuses a plaintext beyond the AES-CCM bound of 65,535 bytes without spending a sequence number', async () => {
    const { client } = pair();
    const big = { code: coapCode(0, 2), options: [], payload: new Uint8Array(65_535 - 1) }; // + code + marker = 65,536
    await expect(protectRequest(client, big)).rejects.toMatchObject({ code: 'ERR_OSCORE_MESSAGE_TOO_LARGE', limit: 65_535 });
    await expect(protectRequest(client, big)).rejects.toBeInstanceOf(MessageTooLargeError);
    const fits = await protectRequest(client, { ...big, payload: new Uint8Array(65_535 - 2) });
    expect(fits.binding.sequenceNumber).toBe(0);
  });

  it('carries large plaintexts with GCM and ChaCha20/Poly1305', async () => {
    for (const aeadAlgorithm of [1, 24]) {
      const { client, server } = pair({ aeadAlgorithm });
      const payload = new Uint8Array(1 << 20).fill(0x5a);
      const r = await protectRequest(client, { code: coapCode(0, 2), options: [], payload });
      const v = await verifyRequest(server, r.option, r.payload);
      expect(v.message.payload.length).toBe(1 << 20);
    }
  });
});
