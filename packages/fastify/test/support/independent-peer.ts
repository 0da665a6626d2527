/**
 * A small, independent RFC 8613 peer for interoperability tests: written from the RFC
 * text on node:crypto and cbor-x only, without any of the project's engine or mapping
 * code (same approach as conformance/generator/generate.mjs). AES-CCM-16-64-128 (COSE
 * alg 10) with HKDF-SHA-256, the mandatory-to-implement pair (RFC 8613 §3.2).
 *
 * It speaks CoAP inside (RFC 8613 §5.3: code, Class E options, payload) and RFC 8613
 * §11 outside: `POST`, `Content-Type: application/oscore`, `OSCORE:` base64url.
 */

import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { Encoder } from 'cbor-x';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false, variableMapSize: true });
const enc = (x: unknown): Uint8Array => new Uint8Array(cbor.encode(x));

const ALG = 10; // AES-CCM-16-64-128
const KEY_LEN = 16;
const NONCE_LEN = 13;
const TAG_LEN = 8;

/** CoAP option numbers (RFC 7252 §12.2, RFC 7641, RFC 7959, RFC 9175). */
export const Opt = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  LocationPath: 8,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23,
  Size2: 28,
  Block1: 27,
  Size1: 60,
} as const;

export const code = (cls: number, detail: number): number => (cls << 5) | detail;
export const codeString = (c: number): string => `${c >> 5}.${String(c & 31).padStart(2, '0')}`;

export interface CoapOpt {
  readonly number: number;
  readonly value: Uint8Array;
}
export interface CoapMessage {
  readonly code: number;
  readonly options: readonly CoapOpt[];
  readonly payload: Uint8Array;
}

export const opt = (number: number, value: string | Uint8Array | number[]): CoapOpt => ({
  number,
  value: typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'utf8')) : Uint8Array.from(value),
});
/** A uint option value (RFC 7252 §3.2): minimal big-endian, 0 is empty. */
export function uint(n: number): Uint8Array {
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return Uint8Array.from(out);
}
export function readUint(v: Uint8Array): number {
  let n = 0;
  for (const b of v) n = n * 256 + b;
  return n;
}
export const values = (m: CoapMessage, number: number): Uint8Array[] => m.options.filter((o) => o.number === number).map((o) => o.value);
export const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

// --- Plaintext (RFC 8613 §5.3, RFC 7252 §3.1) -------------------------------------

function nibble(v: number): [number, number[]] {
  if (v < 13) return [v, []];
  if (v < 269) return [13, [v - 13]];
  return [14, [(v - 269) >> 8, (v - 269) & 0xff]];
}

export function encodePlaintext(m: CoapMessage): Uint8Array {
  const out: number[] = [m.code];
  let prev = 0;
  const sorted = [...m.options].sort((a, b) => a.number - b.number);
  for (const o of sorted) {
    const [dn, dx] = nibble(o.number - prev);
    const [ln, lx] = nibble(o.value.length);
    out.push((dn << 4) | ln, ...dx, ...lx, ...o.value);
    prev = o.number;
  }
  if (m.payload.length > 0) out.push(0xff, ...m.payload);
  return Uint8Array.from(out);
}

export function parsePlaintext(pt: Uint8Array): CoapMessage {
  if (pt.length < 1) throw new Error('no code');
  const options: CoapOpt[] = [];
  let i = 1;
  let number = 0;
  const ext = (n: number): number => {
    if (n < 13) return n;
    if (n === 13) return pt[i++]! + 13;
    if (n === 14) {
      const v = ((pt[i]! << 8) | pt[i + 1]!) + 269;
      i += 2;
      return v;
    }
    throw new Error('nibble 15');
  };
  while (i < pt.length) {
    const b = pt[i++]!;
    if (b === 0xff) {
      if (i === pt.length) throw new Error('empty payload after marker');
      return { code: pt[0]!, options, payload: pt.subarray(i) };
    }
    const delta = ext(b >> 4);
    const len = ext(b & 15);
    number += delta;
    if (i + len > pt.length) throw new Error('truncated option');
    options.push({ number, value: pt.subarray(i, i + len) });
    i += len;
  }
  return { code: pt[0]!, options, payload: new Uint8Array(0) };
}

// --- Security context (RFC 8613 §3.2) ------------------------------------------------

export interface PeerContext {
  readonly senderId: Uint8Array;
  readonly recipientId: Uint8Array;
  readonly senderKey: Buffer;
  readonly recipientKey: Buffer;
  readonly commonIv: Uint8Array;
}

export function deriveContext(p: { secret: Uint8Array; salt?: Uint8Array; senderId: Uint8Array; recipientId: Uint8Array; idContext?: Uint8Array }): PeerContext {
  const salt = p.salt ?? new Uint8Array(0);
  const idc = p.idContext ?? null;
  // info = [ id, id_context, alg_aead, type, L ]
  const derive = (id: Uint8Array, type: string, len: number) => Buffer.from(hkdfSync('sha256', p.secret, salt, enc([id, idc, ALG, type, len]), len));
  return {
    senderId: p.senderId,
    recipientId: p.recipientId,
    senderKey: derive(p.senderId, 'Key', KEY_LEN),
    recipientKey: derive(p.recipientId, 'Key', KEY_LEN),
    commonIv: new Uint8Array(derive(new Uint8Array(0), 'IV', NONCE_LEN)),
  };
}

function piv(seq: number): Uint8Array {
  if (seq === 0) return Uint8Array.of(0);
  return uint(seq);
}

/** §5.2: nonce = (S ‖ pad(ID_PIV) ‖ pad(PIV)) XOR Common IV. */
function nonce(commonIv: Uint8Array, idPiv: Uint8Array, partialIv: Uint8Array): Uint8Array {
  const n = new Uint8Array(NONCE_LEN);
  n[0] = idPiv.length;
  n.set(idPiv, 1 + (NONCE_LEN - 6) - idPiv.length);
  n.set(partialIv, NONCE_LEN - partialIv.length);
  for (let i = 0; i < NONCE_LEN; i++) n[i]! ^= commonIv[i]!;
  return n;
}

/** §5.4: Enc_structure ["Encrypt0", h'', external_aad = bstr .cbor [1, [alg], kid, piv, h'']]. */
function aad(requestKid: Uint8Array, requestPiv: Uint8Array): Uint8Array {
  return enc(['Encrypt0', new Uint8Array(0), enc([1, [ALG], requestKid, requestPiv, new Uint8Array(0)])]);
}

function seal(key: Buffer, n: Uint8Array, a: Uint8Array, pt: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-ccm', key, n, { authTagLength: TAG_LEN });
  c.setAAD(a, { plaintextLength: pt.length });
  return new Uint8Array(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}

function open(key: Buffer, n: Uint8Array, a: Uint8Array, ct: Uint8Array): Uint8Array {
  const body = ct.subarray(0, ct.length - TAG_LEN);
  const d = createDecipheriv('aes-128-ccm', key, n, { authTagLength: TAG_LEN });
  d.setAuthTag(ct.subarray(ct.length - TAG_LEN));
  d.setAAD(a, { plaintextLength: body.length });
  const pt = d.update(body);
  d.final(); // throws on a bad tag
  return new Uint8Array(pt);
}

// --- OSCORE option (§6.1) and HTTP header (§11.2, §11.3) ---------------------------------

export interface OptionFields {
  piv?: Uint8Array;
  kidContext?: Uint8Array;
  kid?: Uint8Array;
}

export function encodeOption(f: OptionFields): Uint8Array {
  const n = f.piv?.length ?? 0;
  const flags = n | (f.kid !== undefined ? 0x08 : 0) | (f.kidContext !== undefined ? 0x10 : 0);
  if (flags === 0) return new Uint8Array(0);
  const out = [flags, ...(f.piv ?? [])];
  if (f.kidContext !== undefined) out.push(f.kidContext.length, ...f.kidContext);
  if (f.kid !== undefined) out.push(...f.kid);
  return Uint8Array.from(out);
}

export function decodeOption(v: Uint8Array): OptionFields {
  if (v.length === 0) return {};
  const flags = v[0]!;
  const n = flags & 7;
  let i = 1;
  const out: OptionFields = {};
  if (n > 0) {
    out.piv = v.subarray(i, i + n);
    i += n;
  }
  if (flags & 0x10) {
    const s = v[i++]!;
    out.kidContext = v.subarray(i, i + s);
    i += s;
  }
  if (flags & 0x08) out.kid = v.subarray(i);
  return out;
}

/** §11.2: base64url without padding; AA for the empty option. */
export const headerOf = (option: Uint8Array): string => (option.length === 0 ? 'AA' : Buffer.from(option).toString('base64url'));
/** §11.3: AA is the empty option. */
export function optionOf(header: string): Uint8Array {
  const b = Buffer.from(header, 'base64url');
  return b.length === 1 && b[0] === 0 ? new Uint8Array(0) : new Uint8Array(b);
}

// --- Endpoints (§8) ----------------------------------------------------------------

/** What a response must be verified against (§8.4: request kid, Partial IV and nonce). */
export interface Binding {
  readonly kid: Uint8Array;
  readonly piv: Uint8Array;
  readonly nonce: Uint8Array;
}

export class IndependentClient {
  seq = 0;
  /** @param kidContext sent as 'kid context' in every request (§6.1), e.g. the ID Context. */
  constructor(
    readonly ctx: PeerContext,
    readonly kidContext?: Uint8Array,
  ) {}

  /** §8.1. */
  protect(m: CoapMessage, seq = this.seq++): { option: Uint8Array; payload: Uint8Array; binding: Binding } {
    const p = piv(seq);
    const n = nonce(this.ctx.commonIv, this.ctx.senderId, p);
    const payload = seal(this.ctx.senderKey, n, aad(this.ctx.senderId, p), encodePlaintext(m));
    const option = encodeOption({ piv: p, kid: this.ctx.senderId, ...(this.kidContext ? { kidContext: this.kidContext } : {}) });
    return { option, payload, binding: { kid: this.ctx.senderId, piv: p, nonce: n } };
  }

  /** §8.4: the request nonce unless the response carries its own Partial IV. */
  verify(binding: Binding, option: Uint8Array, payload: Uint8Array): { message: CoapMessage; piv: Uint8Array | undefined } {
    const f = decodeOption(option);
    const n = f.piv === undefined ? binding.nonce : nonce(this.ctx.commonIv, this.ctx.recipientId, f.piv);
    const pt = open(this.ctx.recipientKey, n, aad(binding.kid, binding.piv), payload);
    return { message: parsePlaintext(pt), piv: f.piv };
  }
}

export class IndependentServer {
  seq = 0;
  constructor(readonly ctx: PeerContext) {}

  /** §8.2 (no replay window: the tests do not replay to this side). */
  verify(option: Uint8Array, payload: Uint8Array): { message: CoapMessage; binding: Binding } {
    const f = decodeOption(option);
    if (f.piv === undefined || f.kid === undefined || Buffer.compare(f.kid, this.ctx.recipientId) !== 0) throw new Error('not for this context');
    const n = nonce(this.ctx.commonIv, this.ctx.recipientId, f.piv);
    const pt = open(this.ctx.recipientKey, n, aad(f.kid, f.piv), payload);
    return { message: parsePlaintext(pt), binding: { kid: f.kid, piv: f.piv, nonce: n } };
  }

  /** §8.3: with `ownPiv`, a fresh Partial IV and nonce, else the request's nonce; `withKid` adds its Sender ID as 'kid' (optional in responses, §6.1). */
  protect(binding: Binding, m: CoapMessage, ownPiv = false, withKid = false): { option: Uint8Array; payload: Uint8Array } {
    const a = aad(binding.kid, binding.piv);
    const kid = withKid ? { kid: this.ctx.senderId } : {};
    if (!ownPiv) return { option: encodeOption(kid), payload: seal(this.ctx.senderKey, binding.nonce, a, encodePlaintext(m)) };
    const p = piv(this.seq++);
    return { option: encodeOption({ piv: p, ...kid }), payload: seal(this.ctx.senderKey, nonce(this.ctx.commonIv, this.ctx.senderId, p), a, encodePlaintext(m)) };
  }
}
