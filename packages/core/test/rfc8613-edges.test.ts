/**
 * Edge cases of RFC 8613 checked against an independent computation: node:crypto for HKDF
 * and the AEAD, cbor-x for every CBOR item, and the nonce of §5.2 built by hand here.
 * Nothing expected below comes from the engine's own output.
 */

import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { Encoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import {
  ContextNotFoundError,
  createSecurityContext,
  decodeOscoreOption,
  fromHex,
  MemoryStateStore,
  protectRequest,
  protectResponse,
  ReplayDetectedError,
  toHex,
  verifyRequest,
  verifyResponse,
} from '../src/index.js';

const cbor = new Encoder({ useRecords: false, tagUint8Array: false, useTag259ForMaps: false, variableMapSize: true, mapsAsObjects: false });
const enc = (item: unknown) => new Uint8Array(cbor.encode(item));
const EMPTY = new Uint8Array(0);

// RFC 8613 Appendix C.1.1 input parameters.
const masterSecret = fromHex('0102030405060708090a0b0c0d0e0f10');
const masterSalt = fromHex('9e7ca92223786340');
const clientId = fromHex('');
const serverId = fromHex('01');

/** §3.2.1, independently: HKDF-SHA-256 with info = [id, id_context / nil, alg_aead, type, L]. */
function derive(id: Uint8Array, idContext: Uint8Array | undefined, alg: number, type: 'Key' | 'IV', length: number, salt = masterSalt): Uint8Array {
  const info = enc([id, idContext ?? null, alg, type, length]);
  return new Uint8Array(hkdfSync('sha256', masterSecret, salt, info, length));
}

/** §5.2, by hand: S | ID_PIV left-padded to nonce length − 6 | PIV left-padded to 5, XOR Common IV. */
function nonce(commonIV: Uint8Array, idPiv: Uint8Array, piv: Uint8Array): Uint8Array {
  const len = commonIV.length;
  const out = new Uint8Array(len);
  out[0] = idPiv.length;
  for (let i = 0; i < idPiv.length; i++) out[len - 5 - idPiv.length + i] = idPiv[i]!;
  for (let i = 0; i < piv.length; i++) out[len - piv.length + i] = piv[i]!;
  return out.map((b, i) => b ^ commonIV[i]!);
}

/** §5.4 and RFC 9052 §5.3: ["Encrypt0", h'', bstr .cbor [1, [alg], kid, piv, h'']]. */
function aad(alg: number, kid: Uint8Array, piv: Uint8Array): Uint8Array {
  return enc(['Encrypt0', EMPTY, enc([1, [alg], kid, piv, EMPTY])]);
}

function ccmEncrypt(key: Uint8Array, iv: Uint8Array, a: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-ccm', key, iv, { authTagLength: 8 });
  c.setAAD(a, { plaintextLength: plaintext.length });
  return new Uint8Array(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
}

function ccmDecrypt(key: Uint8Array, iv: Uint8Array, a: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const d = createDecipheriv('aes-128-ccm', key, iv, { authTagLength: 8 });
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 8));
  d.setAAD(a, { plaintextLength: ciphertext.length - 8 });
  return new Uint8Array(Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 8)), d.final()]));
}

const clientKey = derive(clientId, undefined, 10, 'Key', 16);
const serverKey = derive(serverId, undefined, 10, 'Key', 16);
const commonIV = derive(EMPTY, undefined, 10, 'IV', 13);
// Inner GET /tv1 (RFC 8613 Appendix C.4): code 0.01, Uri-Path "tv1".
const getTv1 = fromHex('01b3747631');

/** A request as an independent client builds it, with the Partial IV bytes given. */
function independentRequest(piv: Uint8Array): { option: Uint8Array; payload: Uint8Array } {
  const option = Uint8Array.from([0x08 | piv.length, ...piv, ...clientId]);
  const payload = ccmEncrypt(clientKey, nonce(commonIV, clientId, piv), aad(10, clientId, piv), getTv1);
  return { option, payload };
}

const server = () => createSecurityContext({ masterSecret, masterSalt, senderId: serverId, recipientId: clientId });

describe('Partial IV with leading zero bytes on receipt (§5, §5.2, §5.4, §6.1)', () => {
  // §5 tells the *sender* to remove leading zero bytes; nothing tells the receiver to refuse
  // them. The nonce pads the Partial IV to 5 bytes either way; the AAD carries the bytes received.
  it('decodes a 2-byte Partial IV 0x0005', () => {
    const d = decodeOscoreOption(fromHex('0a000525'));
    expect(toHex(d.partialIV!)).toBe('0005');
    expect(toHex(d.kid!)).toBe('25');
  });

  it('verifies the request, and answers with the AAD of the bytes received and the request nonce', async () => {
    const srv = server();
    const piv = fromHex('0005');
    const req = independentRequest(piv);
    const verified = await verifyRequest(srv, req.option, req.payload);
    expect(verified.sequenceNumber).toBe(5);
    expect(toHex(verified.binding.partialIV)).toBe('0005');
    const res = await protectResponse(verified.binding, { code: 0x45, options: [], payload: new TextEncoder().encode('x') });
    expect(toHex(res.option)).toBe('');
    const plain = ccmDecrypt(serverKey, nonce(commonIV, clientId, piv), aad(10, clientId, piv), res.payload);
    expect(toHex(plain)).toBe('45ff78');
  });

  it('treats 0x05 after 0x0005 as a replay of sequence number 5 (§7.4)', async () => {
    const srv = server();
    const first = independentRequest(fromHex('0005'));
    await verifyRequest(srv, first.option, first.payload);
    const again = independentRequest(fromHex('05'));
    await expect(verifyRequest(srv, again.option, again.payload)).rejects.toBeInstanceOf(ReplayDetectedError);
  });
});

describe('§3.2.1 info: an empty ID Context is not an absent one', () => {
  it('derives different keys for id_context h\'\' and nil, each as computed independently', async () => {
    const withEmpty = createSecurityContext({ masterSecret, masterSalt, senderId: clientId, recipientId: serverId, idContext: EMPTY });
    const srvEmpty = createSecurityContext({ masterSecret, masterSalt, senderId: serverId, recipientId: clientId, idContext: EMPTY });
    const req = await protectRequest(withEmpty, { code: 1, options: [{ number: 11, value: new TextEncoder().encode('tv1') }], payload: EMPTY });
    // kid context h'' is sent: flags h|k|n=1, PIV 00, s = 0, kid ''.
    expect(toHex(req.option)).toBe('190000');
    const key = derive(clientId, EMPTY, 10, 'Key', 16);
    const iv = derive(EMPTY, EMPTY, 10, 'IV', 13);
    expect(toHex(key)).not.toBe(toHex(clientKey));
    expect(toHex(ccmDecrypt(key, nonce(iv, clientId, fromHex('00')), aad(10, clientId, fromHex('00')), req.payload))).toBe(toHex(getTv1));
    // A server without ID Context finds no context for a request with a kid context (§8.2 step 2).
    await expect(verifyRequest(server(), req.option, req.payload)).rejects.toBeInstanceOf(ContextNotFoundError);
    await expect(verifyRequest(srvEmpty, req.option, req.payload)).resolves.toMatchObject({ sequenceNumber: 0 });
  });
});

describe('§5.2 nonce with A128GCM (12 bytes) and a Sender ID of nonce length − 6 = 6 bytes', () => {
  it('matches the independent nonce and AEAD, request and response with its own Partial IV (§8.3, §8.4)', async () => {
    const longId = fromHex('a1a2a3a4a5a6');
    const peerId = fromHex('b1');
    const client = createSecurityContext({ masterSecret, masterSalt, senderId: longId, recipientId: peerId, aeadAlgorithm: 1 });
    const srv = createSecurityContext({ masterSecret, masterSalt, senderId: peerId, recipientId: longId, aeadAlgorithm: 1 });
    const req = await protectRequest(client, { code: 1, options: [], payload: EMPTY });
    const key = derive(longId, undefined, 1, 'Key', 16);
    const iv = derive(EMPTY, undefined, 1, 'IV', 12);
    const n = nonce(iv, longId, fromHex('00'));
    const d = createDecipheriv('aes-128-gcm', key, n);
    d.setAAD(aad(1, longId, fromHex('00')));
    d.setAuthTag(req.payload.subarray(req.payload.length - 16));
    expect(toHex(Buffer.concat([d.update(req.payload.subarray(0, req.payload.length - 16)), d.final()]))).toBe('01');

    const verified = await verifyRequest(srv, req.option, req.payload);
    await protectRequest(srv, { code: 1, options: [], payload: EMPTY }); // the server's sequence number moves on to 1
    const res = await protectResponse(verified.binding, { code: 0x44, options: [], payload: EMPTY }, { partialIV: true });
    expect(toHex(res.option)).toBe('0101');
    // Nonce from the server's Sender ID and its Partial IV; AAD from the request's kid and Partial IV.
    const sKey = derive(peerId, undefined, 1, 'Key', 16);
    const d2 = createDecipheriv('aes-128-gcm', sKey, nonce(iv, peerId, fromHex('01')));
    d2.setAAD(aad(1, longId, fromHex('00')));
    d2.setAuthTag(res.payload.subarray(res.payload.length - 16));
    expect(toHex(Buffer.concat([d2.update(res.payload.subarray(0, res.payload.length - 16)), d2.final()]))).toBe('44');
    await expect(verifyResponse(req.binding, res.option, res.payload)).resolves.toMatchObject({ message: { code: 0x44 } });
  });
});

describe('§7.4 a response is accepted once', () => {
  it.each([
    ['in memory', () => ({})],
    ['with a state store (asynchronous first use)', () => ({ state: new MemoryStateStore() })],
  ])('%s: of two concurrent deliveries of one response, exactly one is accepted', async (_label, state) => {
    const client = createSecurityContext({ masterSecret, masterSalt, senderId: clientId, recipientId: serverId, ...state() });
    const srv = server();
    const req = await protectRequest(client, { code: 1, options: [], payload: EMPTY });
    const verified = await verifyRequest(srv, req.option, req.payload);
    const res = await protectResponse(verified.binding, { code: 0x45, options: [], payload: EMPTY });
    const results = await Promise.allSettled([verifyResponse(req.binding, res.option, res.payload), verifyResponse(req.binding, res.option, res.payload)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });
});
