/**
 * What the server answers to an authentic request whose inner message it cannot process.
 *
 * RFC 8613 §8.3: "CoAP error responses derived from CoAP processing (step 8 in Section 8.2)
 * are protected", unlike the OSCORE errors of steps 2, 3 and 6. The codes are CoAP's:
 * 4.02 for an unrecognized critical option (RFC 7252 §5.4.1), 4.05 for an unsupported
 * method code (§5.8), 5.05 for a forward-proxy request (§5.10.2), 4.00 for a plaintext
 * that is not a well-formed request (§5.3).
 *
 * The requests are sealed, and the responses opened, by an independent implementation of
 * RFC 8613 §3.2, §5.2 and §5.4 written here on node:crypto, so any plaintext can be sent —
 * also the malformed ones the engine refuses to protect.
 */

import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createSecurityContext, ReplayWindow } from '@oscore-http/core';
import { createContextSet, createOscoreHandler, type OscoreServerEvent } from '@oscore-http/http';
import { closeServer, listen, Resources, SECRET_A, serverContextA } from '../../fastify/test/support/oscore-peers.js';

// ---------------------------------------------------------------------------------
// Client A's side of the pair (Sender ID 02, Recipient ID 01, no salt, no ID Context,
// AES-CCM-16-64-128), derived by hand
// ---------------------------------------------------------------------------------

const CLIENT_ID = Buffer.from([0x02]);
const SERVER_ID = Buffer.from([0x01]);

/** RFC 8613 §3.2.1: info = [id, id_context, alg_aead, type, L] in CBOR; ids here are 0 or 1 byte. */
function info(id: Buffer, type: 'Key' | 'IV', length: number): Buffer {
  const idBstr = id.length === 0 ? Buffer.from([0x40]) : Buffer.concat([Buffer.from([0x40 | id.length]), id]);
  const typeTstr = Buffer.concat([Buffer.from([0x60 | type.length]), Buffer.from(type, 'ascii')]);
  // 0x85 array(5); 0xf6 null ID Context; 0x0a alg 10; L < 24 as one byte.
  return Buffer.concat([Buffer.from([0x85]), idBstr, Buffer.from([0xf6, 0x0a]), typeTstr, Buffer.from([length])]);
}

const secret = Buffer.from(SECRET_A, 'hex');
const derive = (id: Buffer, type: 'Key' | 'IV', length: number) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info(id, type, length), length));
const clientKey = derive(CLIENT_ID, 'Key', 16);
const serverKey = derive(SERVER_ID, 'Key', 16);
const commonIV = derive(Buffer.alloc(0), 'IV', 13);

/** §5.2: the nonce from a sender's ID and a Partial IV (the client's for requests, the server's for a response with its own). */
function nonceOf(piv: Buffer, id: Buffer = CLIENT_ID): Buffer {
  const nonce = Buffer.alloc(13);
  nonce[0] = id.length;
  id.copy(nonce, 13 - 5 - id.length);
  piv.copy(nonce, 13 - piv.length);
  for (let i = 0; i < 13; i++) nonce[i]! ^= commonIV[i]!;
  return nonce;
}

/** §5.4: Enc_structure ["Encrypt0", h'', external_aad] with external_aad [1, [10], kid, piv, h'']. */
function aadOf(piv: Buffer): Buffer {
  const externalAad = Buffer.concat([Buffer.from([0x85, 0x01, 0x81, 0x0a, 0x41]), CLIENT_ID, Buffer.from([0x40 | piv.length]), piv, Buffer.from([0x40])]);
  return Buffer.concat([Buffer.from([0x83, 0x68]), Buffer.from('Encrypt0'), Buffer.from([0x40, 0x40 | externalAad.length]), externalAad]);
}

function seal(key: Buffer, nonce: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  const c = createCipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([body, c.getAuthTag()]);
}

function open(key: Buffer, nonce: Buffer, aad: Buffer, ciphertext: Buffer): Buffer {
  const d = createDecipheriv('aes-128-ccm', key, nonce, { authTagLength: 8 });
  d.setAuthTag(ciphertext.subarray(-8));
  d.setAAD(aad, { plaintextLength: ciphertext.length - 8 });
  return Buffer.concat([d.update(ciphertext.subarray(0, -8)), d.final()]);
}

// ---------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------

const resources = new Resources();
const events: OscoreServerEvent[] = [];
const served: string[] = [];
let origin: string;
/** A server that lost its replay window (a restart without state): freshness is unknown. */
let lostOrigin: string;
let nextSeq = 0;

beforeAll(async () => {
  const handler = createOscoreHandler(
    { contexts: createContextSet([serverContextA()], { store: 'memory' }), onEvent: (e) => events.push(e) },
    (req: IncomingMessage, res: ServerResponse) => {
      served.push(`${req.method} ${req.url}`);
      res.end('ok');
    },
  );
  origin = await listen(resources.add(createServer(handler), closeServer));
  const lost = createSecurityContext({ masterSecret: secret, senderId: SERVER_ID, recipientId: CLIENT_ID, replayProtection: ReplayWindow.lost() });
  const lostHandler = createOscoreHandler({ contexts: [lost] }, (req: IncomingMessage, res: ServerResponse) => {
    served.push(`${req.method} ${req.url}`);
    res.end('ok');
  });
  lostOrigin = await listen(resources.add(createServer(lostHandler), closeServer));
});

afterAll(() => resources.closeAll());

interface Answer {
  status: number;
  isProtected: boolean;
  /** The inner code byte and payload when the answer is protected. */
  code?: number;
  payload?: string;
}

/** Seals `plaintext` as client A's request with the next sequence number (or `seq`) and opens the answer. */
async function send(plaintext: Buffer, seq = nextSeq++, target = origin): Promise<Answer> {
  const piv = seq === 0 ? Buffer.from([0]) : Buffer.from(seq.toString(16).padStart(2, '0'), 'hex');
  const nonce = nonceOf(piv);
  const aad = aadOf(piv);
  // §6.1: flags (k = 1, n = Partial IV length), Partial IV, kid.
  const option = Buffer.concat([Buffer.from([0x08 | piv.length]), piv, CLIENT_ID]);
  const res = await request(`${target}/oscore`, {
    method: 'POST',
    headers: { 'content-type': 'application/oscore', oscore: option.toString('base64url') },
    body: seal(clientKey, nonce, aad, plaintext),
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.headers['content-type'] !== 'application/oscore') return { status: res.statusCode, isProtected: false };
  // A response without its own Partial IV uses the request's nonce (§5.2, §8.3); with one, the server's.
  const responsePiv = Buffer.from(res.headers.oscore as string, 'base64url');
  const ownPiv = responsePiv.length > 1 ? responsePiv.subarray(1, 1 + (responsePiv[0]! & 7)) : undefined;
  const inner = open(serverKey, ownPiv === undefined ? nonce : nonceOf(ownPiv, SERVER_ID), aad, body);
  const marker = inner.indexOf(0xff);
  return { status: res.statusCode, isProtected: true, code: inner[0]!, payload: marker === -1 ? '' : inner.subarray(marker + 1).toString('utf8') };
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('authentic requests the server cannot process get protected CoAP errors', () => {
  it('the hand-made sealer works: GET /x (Uri-Path "x") reaches the application and gets 2.05', async () => {
    const answer = await send(hex('01 b1 78'));
    expect(answer).toMatchObject({ status: 200, isProtected: true, code: 0x45, payload: 'ok' });
    expect(served).toEqual(['GET /x']);
  });

  it.each([
    // [what, outcome, rule, plaintext, code byte]
    ['an unrecognized critical option (2049)', '4.02', 'RFC 7252 §5.4.1', '01 e0 06f4', 0x82],
    ['an unrecognized critical option (27, Block1 is hop-by-hop)', '4.02', 'RFC 7252 §5.4.1', '02 d1 0e 02', 0x82],
    ['an unsupported method code (0.08)', '4.05', 'RFC 7252 §5.8', '08', 0x85],
    ['a payload marker without payload', '4.00', 'RFC 7252 §3', '01 ff', 0x80],
    ['a response code in a request', '4.00', 'RFC 8613 §5.3', '45', 0x80],
    ['a truncated option', '4.00', 'RFC 7252 §3.1', '02 d2 0e', 0x80],
    ['a second Accept (a supernumerary critical option)', '4.02', 'RFC 7252 §5.4.5', '01 d1 04 32 01 32', 0x82],
    ['a Uri-Path ".."', '4.00', 'RFC 7252 §5.10.1', '01 b2 2e2e', 0x80],
    // HTTP-Code (65003 = Δ 14 + 0xfcde + 269): critical, not repeatable, 1-16 bytes (docs/wire-format.md §3).
    ['an empty HTTP-Code (critical, value outside 1-16 bytes)', '4.02', 'RFC 7252 §5.4.3', '02 e0 fcde', 0x82],
    ['a 17-byte HTTP-Code (critical, value outside 1-16 bytes)', '4.02', 'RFC 7252 §5.4.3', `02 ed fcde 04 ${'41'.repeat(17)}`, 0x82],
    ['a second HTTP-Code (a supernumerary critical option)', '4.02', 'RFC 7252 §5.4.5', '02 e4 fcde 48454144 04 48454144', 0x82],
    ['a Proxy-Uri (35): this server is no forward proxy', '5.05', 'RFC 7252 §5.10.2', '01 d9 16 636f61703a2f2f782f', 0xa5],
  ])('%s → protected %s (%s)', async (_what, outcome, _rule, plaintext, code) => {
    served.length = 0;
    events.length = 0;
    const seq = nextSeq++;
    const answer = await send(hex(plaintext), seq);
    expect(answer.isProtected).toBe(true);
    expect(answer.code).toBe(code);
    expect(answer.payload.length).toBeGreaterThan(0);
    expect(served).toEqual([]);
    expect(events).toMatchObject([{ type: 'rejected', protected: true, kid: '02', peer: 'client-a', error: { outcome } }]);
    // The request was authentic, so its sequence number is spent: sending it again is a replay.
    const again = await send(hex(plaintext), seq);
    expect(again).toMatchObject({ status: 401, isProtected: false });
  });

  it('while the replay window is lost, a malformed request is refused unprotected: a protected answer would reuse the nonce of a possible replay', async () => {
    served.length = 0;
    const malformed = await send(hex('01 ff'), 40, lostOrigin);
    expect(malformed).toMatchObject({ status: 400, isProtected: false });
    // A well-formed one gets the Echo challenge, protected with the server's own Partial IV (Appendix B.1.2).
    const wellFormed = await send(hex('01 b1 78'), 41, lostOrigin);
    expect(wellFormed).toMatchObject({ status: 200, isProtected: true, code: 0x81 });
    expect(served).toEqual([]);
  });
});
