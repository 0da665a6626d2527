/**
 * Decoder fuzzing of the OSCORE engine: well over 100,000 random and mutated inputs fed
 * to decodeOscoreOption, decodeInnerMessage, verifyRequest (a ContextRegistry of several
 * contexts, one pair sharing a Recipient ID under different ID Contexts) and verifyResponse.
 *
 * Invariants checked on every case:
 *  - nothing but the documented typed errors (OscoreError subclasses) is ever thrown;
 *  - the decoders return views into their input (no copy, no allocation from a claimed
 *    length): the byte lengths of the fields sum to at most the input length;
 *  - both codecs are canonical: re-encoding a successful decode gives back the input;
 *  - a mutated protected message is only accepted when it carries the same authenticated
 *    content as the message it came from (no forgery through the unprotected fields);
 *  - inputs are never modified;
 *  - memory stays bounded over the whole run (heap and ArrayBuffers, measured after GC).
 *
 * Mutations: bit flips, byte overwrites, insertions, deletions, truncations, prefix drops,
 * length-field corruption (nibbles 13/14/15 with 0xff extensions, 'kid context' length
 * byte, Partial IV length n), concatenations, slice duplication, large extensions, and
 * wholly random inputs.
 *
 * Every run uses one seed, printed in any failure; OSCORE_FUZZ_SEED=<n> replays it.
 */

import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContextNotFoundError,
  ContextRegistry,
  DecryptionFailedError,
  MalformedCoseError,
  MalformedOptionError,
  MalformedPlaintextError,
  MAX_OPTIONS,
  MAX_OPTION_LENGTH,
  MemorySequenceNumberSource,
  OscoreError,
  ReplayDetectedError,
  ResponseBindingError,
  aeadAlgorithm,
  coapCode,
  computeNonce,
  createSecurityContext,
  decodeInnerMessage,
  decodeOscoreOption,
  deriveParameters,
  encodeAad,
  encodeInnerMessage,
  encodeOscoreOption,
  encodePartialIV,
  hkdfAlgorithm,
  isRequestCode,
  isResponseCode,
  nobleBackend,
  nodeBackend,
  partialIVToSequenceNumber,
  protectRequest,
  protectResponse,
  toHex,
  verifyRequest,
  verifyResponse,
  type AeadAlgorithm,
  type AeadKey,
  type CoapOption,
  type CryptoBackend,
  type InnerMessage,
  type OscoreOptionFields,
  type RequestBinding,
  type SecurityContext,
} from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------------------------

const SEED = process.env.OSCORE_FUZZ_SEED !== undefined ? Number(process.env.OSCORE_FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;

class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** mulberry32 */
  u32(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }
  chance(p: number): boolean {
    return this.u32() < p * 2 ** 32;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v;
      if (i + 1 < n) out[i + 1] = v >>> 8;
      if (i + 2 < n) out[i + 2] = v >>> 16;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }
  /** Lengths biased to small: mostly < 32, sometimes < 512, rarely up to max. */
  length(max: number): number {
    const r = this.int(100);
    if (r < 70) return this.int(Math.min(32, max) + 1);
    if (r < 95) return this.int(Math.min(512, max) + 1);
    return this.int(max + 1);
  }
}

const rng = new Rng(SEED);

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

const INTERESTING = [0x00, 0x01, 0x07, 0x08, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x1f, 0x20, 0x7f, 0x80, 0xd0, 0xdd, 0xe0, 0xee, 0xf0, 0xfe, 0xff];
/** Hard cap on mutated input sizes (keeps one case cheap). */
const MAX_MUTATED = 140_000;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Applies one random mutation; never modifies `input`. `pool` supplies material for concatenations. */
function mutateOnce(input: Uint8Array, pool: readonly Uint8Array[]): Uint8Array {
  const n = input.length;
  const pos = rng.int(n + 1);
  switch (rng.int(12)) {
    case 0: {
      // bit flips
      if (n === 0) return Uint8Array.of(rng.int(256));
      const out = input.slice();
      const flips = rng.range(1, 4);
      for (let i = 0; i < flips; i++) {
        const bit = rng.int(n * 8);
        out[bit >>> 3]! ^= 1 << (bit & 7);
      }
      return out;
    }
    case 1: {
      // overwrite bytes with random or interesting values
      if (n === 0) return Uint8Array.of(rng.pick(INTERESTING));
      const out = input.slice();
      const count = rng.range(1, 3);
      for (let i = 0; i < count; i++) out[rng.int(n)] = rng.chance(0.5) ? rng.pick(INTERESTING) : rng.int(256);
      return out;
    }
    case 2: // insertion
      return concat(input.subarray(0, pos), rng.bytes(rng.range(1, 16)), input.subarray(pos));
    case 3: {
      // deletion
      const len = rng.range(1, Math.max(1, Math.min(16, n - pos)));
      return concat(input.subarray(0, pos), input.subarray(Math.min(n, pos + len)));
    }
    case 4: // truncation
      return input.slice(0, rng.int(n + 1));
    case 5: // drop a prefix
      return input.slice(rng.int(n + 1));
    case 6: {
      // length-field corruption: a CoAP option header with nibble 13/14/15 and 0xff extensions,
      // or a huge one-byte length (OSCORE 'kid context' s, flag n).
      const out = input.length === 0 ? new Uint8Array(1) : input.slice();
      const at = rng.int(out.length);
      const nib = rng.pick([13, 14, 15]);
      const v = out[at]!;
      switch (rng.int(4)) {
        case 0:
          out[at] = (v & 0xf0) | nib; // length nibble
          break;
        case 1:
          out[at] = (nib << 4) | (v & 0x0f); // delta nibble
          break;
        case 2:
          out[at] = rng.pick([0xff, 0xfe, 0x80, 0x7f, 0xee, 0xdd, 0xde, 0xed]);
          break;
        default:
          out[at] = (v & 0xf8) | rng.pick([5, 6, 7]); // OSCORE n = 5 or reserved 6/7
      }
      return rng.chance(0.5) ? concat(out.subarray(0, at + 1), Uint8Array.of(0xff, 0xff), out.subarray(at + 1)) : out;
    }
    case 7: // concatenation with another input (or itself)
      return rng.chance(0.5) ? concat(input, rng.pick(pool)) : concat(rng.pick(pool), input);
    case 8: {
      // duplicate a slice
      const from = rng.int(n + 1);
      const len = rng.int(Math.min(64, n - from) + 1);
      return concat(input.subarray(0, pos), input.subarray(from, from + len), input.subarray(pos));
    }
    case 9: // wholly random
      return rng.bytes(rng.length(600));
    case 10: {
      // large extension (claimed-length territory, and the AES-CCM bound); zero bytes are the
      // costliest plaintext (one empty option per byte), random bytes the common case.
      if (!rng.chance(0.15)) return concat(input, rng.bytes(rng.range(1, 300)));
      const size = rng.range(60_000, 70_000);
      return concat(input, rng.chance(0.3) ? new Uint8Array(size) : rng.bytes(size));
    }
    default: {
      // splice: the head of this input with the tail of another
      const other = rng.pick(pool);
      return concat(input.subarray(0, pos), other.subarray(rng.int(other.length + 1)));
    }
  }
}

function mutate(input: Uint8Array, pool: readonly Uint8Array[]): Uint8Array {
  let out = input;
  const rounds = rng.chance(0.6) ? 1 : rng.range(2, 4);
  for (let i = 0; i < rounds; i++) {
    out = mutateOnce(out, pool);
    if (out.length > MAX_MUTATED) out = out.subarray(0, MAX_MUTATED);
  }
  return out === input ? input.slice() : out;
}

// ---------------------------------------------------------------------------------------------
// Findings: every violation is recorded (deduplicated by signature) so one run reports them all.
// ---------------------------------------------------------------------------------------------

const sample = (b: Uint8Array | undefined): string =>
  b === undefined ? 'undefined' : `${b.length}B ${toHex(b.subarray(0, 40))}${b.length > 40 ? '…' : ''}`;

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return `${e.constructor.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${e.message.slice(0, 110)}`;
  }
  return `non-Error thrown: ${typeof e} ${String(e).slice(0, 80)}`;
}

class Findings {
  readonly #map = new Map<string, { count: number; example: string }>();
  add(signature: string, example: string): void {
    const entry = this.#map.get(signature);
    if (entry !== undefined) entry.count++;
    else if (this.#map.size < 50) this.#map.set(signature, { count: 1, example });
  }
  report(): string[] {
    return [...this.#map].map(([sig, { count, example }]) => `${sig} ×${count} — e.g. ${example}`);
  }
}

function isTyped(e: unknown): e is OscoreError {
  return e instanceof OscoreError && typeof e.code === 'string' && e.code.startsWith('ERR_OSCORE_');
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/** `view` is a view into `input`'s memory (same buffer, within its byte range). */
function isViewOf(view: Uint8Array, input: Uint8Array): boolean {
  return view.buffer === input.buffer && view.byteOffset >= input.byteOffset && view.byteOffset + view.byteLength <= input.byteOffset + input.byteLength;
}

function sameMessage(a: InnerMessage, b: InnerMessage): boolean {
  return (
    a.code === b.code &&
    a.options.length === b.options.length &&
    a.options.every((o, i) => o.number === b.options[i]!.number && sameBytes(o.value, b.options[i]!.value)) &&
    sameBytes(a.payload, b.payload)
  );
}

let totalCases = 0;
let memoryReport = 'not measured';
let heapPerByte = Number.NaN;

// ---------------------------------------------------------------------------------------------
// Security contexts
// ---------------------------------------------------------------------------------------------

const NODE = nodeBackend();
if (NODE === undefined) throw new Error('the fuzz test needs node:crypto');

interface PeerSpec {
  readonly name: string;
  readonly alg: number;
  readonly clientId: number[];
  readonly serverId: number[];
  readonly idContext?: number[];
  readonly sendKidContext?: boolean;
  readonly backend?: CryptoBackend;
  readonly hkdf?: string;
  readonly startSeq: number;
}

/**
 * The server's registry: Recipient IDs 01, (empty), 02 ×3 (ID Contexts 8 bytes / aa / none),
 * 03 04, 7-byte; AES-CCM, AES-GCM and ChaCha20/Poly1305; node:crypto and noble.
 */
const PEERS: readonly PeerSpec[] = [
  { name: 'ccm-16-64-128', alg: 10, clientId: [0x01], serverId: [], startSeq: 0 },
  { name: 'ccm-16-128-256 7-byte id', alg: 31, clientId: [1, 2, 3, 4, 5, 6, 7], serverId: [0x0f], hkdf: 'HKDF-SHA-512', startSeq: 2 ** 32 - 3 },
  { name: 'gcm-128 id-context', alg: 1, clientId: [0x02], serverId: [0x12], idContext: [0x37, 0xcb, 0xf3, 0x21, 0x00, 0x17, 0xa2, 0xd3], sendKidContext: true, startSeq: 20 },
  { name: 'gcm-256 id-context aa (noble)', alg: 3, clientId: [0x02], serverId: [0x13], idContext: [0xaa], sendKidContext: true, backend: nobleBackend, startSeq: 255 },
  { name: 'gcm-192 same rid, no id-context', alg: 2, clientId: [0x02], serverId: [0x14], startSeq: 65_530 },
  { name: 'chacha20 (noble)', alg: 24, clientId: [0x03, 0x04], serverId: [0x05], backend: nobleBackend, startSeq: 1000 },
  { name: 'ccm-16-64-256 id-context not sent', alg: 11, clientId: [], serverId: [0x06], idContext: [1, 2, 3], sendKidContext: false, startSeq: 2 ** 40 - 50_000 },
];

interface Peer {
  readonly spec: PeerSpec;
  readonly aead: AeadAlgorithm;
  readonly client: SecurityContext;
  /** Registered in the fuzzed registry. */
  readonly server: SecurityContext;
  /** Registered in the second registry, for the forged-plaintext cases (its window moves fast). */
  readonly forgeServer: SecurityContext;
  /** Verifies the seeds and protects the seed responses, so the fuzzed windows stay untouched. */
  readonly responder: SecurityContext;
  readonly backend: CryptoBackend;
  readonly clientSenderKey: AeadKey;
  readonly serverSenderKey: AeadKey;
  readonly commonIV: Uint8Array;
  forgeSeq: number;
}

function makePeer(spec: PeerSpec): Peer {
  const masterSecret = rng.bytes(rng.range(16, 48));
  const masterSalt = rng.chance(0.5) ? rng.bytes(8) : undefined;
  const clientId = Uint8Array.from(spec.clientId);
  const serverId = Uint8Array.from(spec.serverId);
  const idContext = spec.idContext === undefined ? undefined : Uint8Array.from(spec.idContext);
  const backend = spec.backend ?? NODE!;
  const common = {
    masterSecret,
    masterSalt,
    idContext,
    sendKidContext: spec.sendKidContext ?? false,
    aeadAlgorithm: spec.alg,
    hkdfAlgorithm: spec.hkdf ?? 'HKDF-SHA-256',
    backend,
  };
  const serverParams = { ...common, senderId: serverId, recipientId: clientId };
  const aead = aeadAlgorithm(spec.alg);
  const derived = deriveParameters(
    { masterSecret, masterSalt: masterSalt ?? new Uint8Array(0), senderId: clientId, recipientId: serverId, idContext, aead, hkdf: hkdfAlgorithm(common.hkdfAlgorithm) },
    backend,
  );
  return {
    spec,
    aead,
    client: createSecurityContext({ ...common, senderId: clientId, recipientId: serverId, senderSequence: new MemorySequenceNumberSource(spec.startSeq) }),
    server: createSecurityContext(serverParams),
    forgeServer: createSecurityContext(serverParams),
    responder: createSecurityContext(serverParams),
    backend,
    clientSenderKey: backend.importKey(aead, derived.senderKey),
    serverSenderKey: backend.importKey(aead, derived.recipientKey),
    commonIV: derived.commonIV,
    // The client's own numbers stay below start + 1,000 (seeds, exchanges, the forged responses' requests).
    forgeSeq: spec.startSeq + 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Seed messages
// ---------------------------------------------------------------------------------------------

function randomOptions(): CoapOption[] {
  const count = rng.chance(0.9) ? rng.int(6) : rng.int(24);
  const options: CoapOption[] = [];
  for (let i = 0; i < count; i++) {
    const r = rng.int(10);
    let number = r < 4 ? rng.pick([1, 3, 4, 11, 12, 13, 14, 15, 17, 60, 252, 258, 268, 269, 270, 292, 65_535]) : r < 8 ? rng.int(300) : rng.int(65_536);
    if (number === 9) number = 11;
    const len = rng.chance(0.9) ? rng.int(20) : rng.pick([12, 13, 268, 269, 270, rng.int(1000)]);
    options.push({ number, value: rng.bytes(len) });
  }
  return options;
}

function randomMessage(kind: 'request' | 'response' | 'any', payloadMax = 2000): InnerMessage {
  const code =
    kind === 'request' ? coapCode(0, rng.range(1, 31)) : kind === 'response' ? coapCode(rng.pick([2, 4, 5]), rng.int(32)) : rng.int(256);
  const payload = rng.chance(0.3) ? new Uint8Array(0) : rng.bytes(rng.length(payloadMax));
  return { code, options: randomOptions(), payload };
}

/** A message whose plaintext is exactly `size` bytes (size ≥ 2). */
function messageOfSize(kind: 'request' | 'response', size: number): InnerMessage {
  const base = { code: kind === 'request' ? coapCode(0, 2) : coapCode(2, 5), options: [{ number: 11, value: Uint8Array.of(0x61) }] };
  const overhead = encodeInnerMessage({ ...base, payload: new Uint8Array(0) }).length + 1;
  return { ...base, payload: rng.bytes(size - overhead) };
}

interface RequestSeed {
  readonly peer: Peer;
  readonly option: Uint8Array;
  readonly payload: Uint8Array;
  readonly fields: OscoreOptionFields;
  readonly message: InnerMessage;
}

interface ResponseSeed {
  readonly option: Uint8Array;
  readonly payload: Uint8Array;
  readonly partialIV: Uint8Array | undefined;
  readonly message: InnerMessage;
}

interface Exchange {
  readonly peer: Peer;
  readonly binding: RequestBinding;
  readonly serverBinding: RequestBinding;
  readonly responses: ResponseSeed[];
}

let peers: Peer[] = [];
let registry: ContextRegistry;
let forgeRegistry: ContextRegistry;
const requestSeeds: RequestSeed[] = [];
const exchanges: Exchange[] = [];
const plaintextSeeds: Uint8Array[] = [];
/** Every seed byte string, as material for concatenations and splices. */
const pool: Uint8Array[] = [];

async function makeExchange(peer: Peer): Promise<Exchange> {
  const sent = await protectRequest(peer.client, randomMessage('request', 64));
  const verified = await verifyRequest(peer.responder, sent.option, sent.payload);
  const responses: ResponseSeed[] = [];
  for (const partialIV of [false, true, true]) {
    const message = randomMessage('response', 300);
    const r = await protectResponse(verified.binding, message, { partialIV });
    // As the receiver sees it: options in transmission order (by number).
    const received = decodeInnerMessage(encodeInnerMessage(message));
    responses.push({ option: r.option, payload: r.payload, partialIV: decodeOscoreOption(r.option).partialIV, message: received });
  }
  return { peer, binding: sent.binding, serverBinding: verified.binding, responses };
}

type Memory = { heapUsed: number; arrayBuffers: number };
let gc: (() => void) | undefined;
let baseline: Memory;

function exposeGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn = vm.runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
}

function memory(): Memory {
  if (gc !== undefined) {
    gc();
    gc();
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

beforeAll(async () => {
  gc = exposeGc();
  peers = PEERS.map(makePeer);
  registry = new ContextRegistry(peers.map((p) => p.server));
  forgeRegistry = new ContextRegistry(peers.map((p) => p.forgeServer));
  expect(registry.size).toBe(PEERS.length);

  for (const peer of peers) {
    const messages: InnerMessage[] = [];
    for (let i = 0; i < 14; i++) messages.push(randomMessage('request'));
    // One seed at the AES-CCM bound (exactly 65,535 bytes of plaintext), one larger for the others.
    messages.push(messageOfSize('request', peer.aead.mode === 'ccm' ? 65_535 : 70_000));
    for (const message of messages) {
      const sent = await protectRequest(peer.client, message);
      // Every seed is a valid request (checked on a context outside the fuzzed registry).
      const received = await verifyRequest(peer.responder, sent.option, sent.payload);
      expect(sameMessage(received.message, decodeInnerMessage(encodeInnerMessage(message)))).toBe(true);
      requestSeeds.push({ peer, option: sent.option, payload: sent.payload, fields: decodeOscoreOption(sent.option), message: received.message });
      pool.push(sent.option, sent.payload.length > 4096 ? sent.payload.subarray(0, 4096) : sent.payload);
    }
    for (let i = 0; i < 6; i++) exchanges.push(await makeExchange(peer));
  }
  for (const ex of exchanges) for (const r of ex.responses) pool.push(r.option, r.payload);
  for (let i = 0; i < 300; i++) {
    const plaintext = encodeInnerMessage(randomMessage(rng.pick(['request', 'response', 'any'] as const)));
    plaintextSeeds.push(plaintext);
    pool.push(plaintext);
  }
  baseline = memory();
}, 60_000);

afterAll(() => {
  // Shown with the results: the seed to replay this run, and whether GC could be forced.
  console.info(`fuzz seed ${SEED} (OSCORE_FUZZ_SEED=${SEED} replays it); ${totalCases} cases; gc ${gc === undefined ? 'not ' : ''}available; ${memoryReport}; worst-case decoded plaintext retains ${heapPerByte.toFixed(0)} B of heap per input byte`);
});

// ---------------------------------------------------------------------------------------------
// Oracles
// ---------------------------------------------------------------------------------------------

/** Checks one decodeOscoreOption call; returns a violation or undefined. */
function checkOptionDecode(input: Uint8Array): string | undefined {
  const copy = input.slice();
  let fields: OscoreOptionFields;
  try {
    fields = decodeOscoreOption(input);
  } catch (e) {
    if (!sameBytes(input, copy)) return 'decodeOscoreOption modified its input';
    // §6.1: the decoder throws MalformedOptionError and nothing else.
    return e instanceof MalformedOptionError && isTyped(e) ? undefined : `decodeOscoreOption threw ${describeError(e)}`;
  }
  if (!sameBytes(input, copy)) return 'decodeOscoreOption modified its input';
  const parts = [fields.partialIV, fields.kidContext, fields.kid].filter((p): p is Uint8Array => p !== undefined);
  if (input.length === 0) return parts.length === 0 ? undefined : 'an empty option value decoded to fields';
  if (input.length > 255) return 'an option value over 255 bytes was accepted';
  if (!parts.every((p) => isViewOf(p, input))) return 'a decoded field is not a view into the option value';
  if (parts.reduce((n, p) => n + p.byteLength, 0) > input.length - 1) return 'decoded fields are larger than the option value';
  if (fields.partialIV !== undefined && (fields.partialIV.length < 1 || fields.partialIV.length > 5)) return 'Partial IV length outside 1..5';
  // §5's "All leading bytes of value zero SHALL be removed" binds the sender; a receiver
  // reads any 1..5 bytes as the same number (checked against the sender's shortest form).
  if (fields.partialIV !== undefined) {
    const shortest = encodePartialIV(partialIVToSequenceNumber(fields.partialIV));
    const stripped = fields.partialIV.subarray(fields.partialIV.length - shortest.length);
    if (!sameBytes(shortest, stripped) || fields.partialIV.subarray(0, fields.partialIV.length - shortest.length).some((b) => b !== 0)) {
      return 'a Partial IV decoded to the wrong number';
    }
  }
  if (!sameBytes(encodeOscoreOption(fields), input)) return 'encode(decode(v)) differs from v (non-canonical value accepted)';
  return undefined;
}

/** Checks one decodeInnerMessage call; returns a violation or undefined. */
function checkInnerDecode(input: Uint8Array): string | undefined {
  const copy = input.length <= 8192 ? input.slice() : undefined;
  let message: InnerMessage;
  try {
    message = decodeInnerMessage(input);
  } catch (e) {
    if (copy !== undefined && !sameBytes(input, copy)) return 'decodeInnerMessage modified its input';
    // The decoder "throws only MalformedPlaintextError".
    return e instanceof MalformedPlaintextError && isTyped(e) ? undefined : `decodeInnerMessage threw ${describeError(e)}`;
  }
  if (copy !== undefined && !sameBytes(input, copy)) return 'decodeInnerMessage modified its input';
  if (input.length === 0) return 'an empty plaintext decoded';
  if (message.code !== input[0]) return 'code is not the first byte';
  let total = message.payload.byteLength;
  if (!isViewOf(message.payload, input)) return 'the payload is not a view into the plaintext';
  let previous = 0;
  for (const o of message.options) {
    if (!isViewOf(o.value, input)) return 'an option value is not a view into the plaintext';
    if (!Number.isInteger(o.number) || o.number < previous || o.number > 65_535) return `option numbers out of order or range (${o.number})`;
    if (o.value.length > MAX_OPTION_LENGTH) return 'option value longer than MAX_OPTION_LENGTH';
    previous = o.number;
    total += o.value.byteLength;
  }
  // Each option costs at least its header byte, the payload at least its marker.
  if (total + message.options.length + (message.payload.length > 0 ? 1 : 0) > input.length - 1) return 'decoded parts are larger than the plaintext';
  if (!sameBytes(encodeInnerMessage(message), input)) return 'encode(decode(p)) differs from p (non-canonical plaintext accepted)';
  return undefined;
}

const REQUEST_ERRORS = [MalformedOptionError, MalformedCoseError, ContextNotFoundError, ReplayDetectedError, DecryptionFailedError, MalformedPlaintextError];
const RESPONSE_ERRORS = [MalformedOptionError, MalformedCoseError, DecryptionFailedError, MalformedPlaintextError];

function caseLabel(peer: Peer, option: Uint8Array, payload: Uint8Array): string {
  return `peer ${peer.spec.name}, option ${sample(option)}, payload ${payload.length}B`;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe(`decoder fuzzing (seed ${SEED})`, () => {
  it('decodeOscoreOption: 40,000 mutated and random option values → MalformedOptionError or a canonical decode of views', () => {
    const findings = new Findings();
    const optionSeeds = [...requestSeeds.map((s) => s.option), ...exchanges.flatMap((e) => e.responses.map((r) => r.option))];
    for (let i = 0; i < 40_000; i++) {
      let input: Uint8Array;
      const r = rng.int(100);
      if (r < 55) input = mutate(rng.pick(optionSeeds), pool);
      else if (r < 75) input = rng.bytes(rng.chance(0.98) ? rng.length(260) : rng.range(256, 100_000));
      else {
        // Structured: flag byte (reserved bits rarely), Partial IV bytes, s byte (often lying), rest.
        const flags = rng.chance(0.9) ? rng.int(32) : rng.int(256);
        input = concat(Uint8Array.of(flags), rng.bytes(rng.int(6)), Uint8Array.of(rng.chance(0.5) ? rng.int(16) : rng.int(256)), rng.bytes(rng.length(255)));
      }
      const violation = checkOptionDecode(input);
      if (violation !== undefined) findings.add(violation, sample(input));
      totalCases++;
    }
    expect(findings.report(), `seed ${SEED}`).toEqual([]);
  });

  it('decodeInnerMessage: 40,000 mutated and random plaintexts → MalformedPlaintextError or a canonical decode of views', () => {
    const findings = new Findings();
    for (let i = 0; i < 40_000; i++) {
      let input: Uint8Array;
      const r = rng.int(100);
      if (r < 60) input = mutate(rng.pick(plaintextSeeds), pool);
      else if (r < 80) input = rng.bytes(rng.length(600));
      else {
        // Structured: option headers with every nibble (13/14 extensions, reserved 15), often 0xff extension bytes.
        const parts: Uint8Array[] = [Uint8Array.of(rng.int(256))];
        const count = rng.int(8);
        for (let k = 0; k < count; k++) {
          const delta = rng.int(16);
          const length = rng.int(16);
          parts.push(Uint8Array.of((delta << 4) | length));
          for (const nib of [delta, length]) {
            if (nib === 13) parts.push(Uint8Array.of(rng.chance(0.5) ? 0xff : rng.int(256)));
            if (nib === 14) parts.push(rng.chance(0.5) ? Uint8Array.of(0xff, 0xff) : rng.bytes(2));
          }
          parts.push(rng.bytes(rng.chance(0.8) ? rng.int(Math.min(length, 12) + 1) : rng.int(300)));
        }
        if (rng.chance(0.5)) parts.push(Uint8Array.of(0xff), rng.bytes(rng.int(8)));
        input = concat(...parts);
      }
      const violation = checkInnerDecode(input);
      if (violation !== undefined) findings.add(violation, sample(input));
      totalCases++;
    }
    expect(findings.report(), `seed ${SEED}`).toEqual([]);
  });

  it('verifyRequest (ContextRegistry of 7 contexts): 25,000 mutated requests → typed errors; accepted only with the authenticated content unchanged', async () => {
    const findings = new Findings();
    let accepted = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 25_000; i++) {
      const seed = rng.pick(requestSeeds);
      let option = seed.option;
      let payload = seed.payload;
      const r = rng.int(100);
      if (r < 45) option = mutate(option, pool);
      else if (r < 80) payload = mutate(payload, pool);
      else if (r < 90) {
        option = mutate(option, pool);
        payload = mutate(payload, pool);
      } else if (r < 95) {
        option = rng.bytes(rng.length(40));
        payload = rng.bytes(rng.length(300));
      } else {
        // A valid option with a random ciphertext of any length, sometimes beyond the AES-CCM bound.
        payload = rng.bytes(rng.chance(0.8) ? rng.length(2000) : rng.range(60_000, 70_000));
      }
      const optionCopy = option.slice();
      const payloadCopy = payload.length <= 4096 ? payload.slice() : undefined;
      const label = caseLabel(seed.peer, option, payload);
      try {
        const v = await verifyRequest(registry, option, payload);
        accepted++;
        // Only the unauthenticated 'kid context' may differ (it selects contexts but is not in the AAD, §5.4):
        // Partial IV, kid, ciphertext and hence the message must be the seed's, under the seed's context.
        const f = decodeOscoreOption(option);
        const ok =
          v.context === seed.peer.server &&
          sameBytes(payload, seed.payload) &&
          sameBytes(f.partialIV, seed.fields.partialIV) &&
          sameBytes(f.kid, seed.fields.kid) &&
          sameMessage(v.message, seed.message);
        if (!ok) findings.add('verifyRequest accepted an altered request', label);
        const parts = v.message.options.reduce((n, o) => n + o.value.byteLength, v.message.payload.byteLength);
        if (parts > payload.length) findings.add('verified message larger than its ciphertext', label);
      } catch (e) {
        seen.add(e instanceof Error ? e.constructor.name : typeof e);
        if (!isTyped(e) || !REQUEST_ERRORS.some((C) => e instanceof C)) findings.add(`verifyRequest threw ${describeError(e)}`, label);
      }
      if (!sameBytes(option, optionCopy) || (payloadCopy !== undefined && !sameBytes(payload, payloadCopy))) findings.add('verifyRequest modified its input', label);
      totalCases++;
    }
    expect(findings.report(), `seed ${SEED}`).toEqual([]);
    // The mutations reached every stage of §8.2.
    for (const name of ['MalformedOptionError', 'MalformedCoseError', 'ContextNotFoundError', 'DecryptionFailedError']) expect(seen, name).toContain(name);
    expect(accepted).toBeLessThan(2500);
  });

  it('verifyResponse: 20,000 mutated responses → typed errors; accepted only with the authenticated content unchanged', async () => {
    const findings = new Findings();
    const seen = new Set<string>();
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const slot = rng.int(exchanges.length);
      const ex = exchanges[slot]!;
      // Mostly this exchange's responses; sometimes another exchange's (wrong request binding).
      const source = rng.chance(0.85) ? ex : rng.pick(exchanges);
      const seed = rng.pick(source.responses);
      let option = seed.option;
      let payload = seed.payload;
      const r = rng.int(100);
      if (r < 40) option = mutate(option, pool);
      else if (r < 80) payload = mutate(payload, pool);
      else if (r < 92) {
        option = mutate(option, pool);
        payload = mutate(payload, pool);
      } else if (r < 96) {
        option = rng.bytes(rng.length(20));
        payload = rng.bytes(rng.length(300));
      } else {
        payload = rng.bytes(rng.chance(0.7) ? rng.length(2000) : rng.range(60_000, 70_000));
      }
      const label = caseLabel(ex.peer, option, payload);
      const useServerBinding = rng.chance(0.02);
      try {
        const v = await verifyResponse(useServerBinding ? ex.serverBinding : ex.binding, option, payload);
        accepted++;
        // Response kid / kid context are not authenticated (§5.4 uses the request's kid and Partial IV);
        // the Partial IV (nonce) and the ciphertext must be those of a response to this very request.
        const f = decodeOscoreOption(option);
        const ok = !useServerBinding && source === ex && sameBytes(payload, seed.payload) && sameBytes(f.partialIV, seed.partialIV) && sameMessage(v.message, seed.message);
        if (!ok) findings.add('verifyResponse accepted an altered response', label);
        // The binding is spent now (§7.4): give the slot a fresh exchange.
        exchanges[slot] = await makeExchange(ex.peer);
      } catch (e) {
        seen.add(e instanceof Error ? e.constructor.name : typeof e);
        const allowed = useServerBinding ? e instanceof ResponseBindingError : RESPONSE_ERRORS.some((C) => e instanceof C);
        if (!isTyped(e) || !allowed) findings.add(`verifyResponse threw ${describeError(e)}`, label);
      }
      totalCases++;
    }
    expect(findings.report(), `seed ${SEED}`).toEqual([]);
    for (const name of ['MalformedOptionError', 'MalformedCoseError', 'DecryptionFailedError', 'ResponseBindingError']) expect(seen, name).toContain(name);
    expect(accepted).toBeLessThan(2000);
  });

  it('verifyRequest / verifyResponse on forged plaintexts that decrypt (10,000 + 3,000): the message of a valid plaintext, else MalformedPlaintextError', async () => {
    const findings = new Findings();
    const outcomes = { ok: 0, malformed: 0 };
    const forgePlaintext = (peer: Peer): Uint8Array => {
      let p = rng.chance(0.85) ? mutate(rng.pick(plaintextSeeds), pool) : rng.bytes(rng.length(600));
      if (p.length > peer.aead.maxPlaintextLength) p = p.subarray(0, peer.aead.maxPlaintextLength);
      return p;
    };
    const expected = (plaintext: Uint8Array, kind: 'request' | 'response'): InnerMessage | undefined => {
      try {
        const m = decodeInnerMessage(plaintext);
        const codeOk = kind === 'request' ? isRequestCode(m.code) : isResponseCode(m.code);
        return codeOk && !m.options.some((o) => o.number === 9) ? m : undefined;
      } catch {
        return undefined;
      }
    };
    const judge = (result: InnerMessage | unknown, threw: boolean, want: InnerMessage | undefined, label: string) => {
      if (want === undefined) {
        if (!threw) findings.add('a malformed plaintext was accepted', label);
        else if (!(result instanceof MalformedPlaintextError)) findings.add(`expected MalformedPlaintextError, got ${describeError(result)}`, label);
        else outcomes.malformed++;
      } else if (threw) findings.add(`a valid plaintext was refused: ${describeError(result)}`, label);
      else if (!sameMessage(result as InnerMessage, want)) findings.add('the verified message differs from the plaintext', label);
      else outcomes.ok++;
    };

    for (let i = 0; i < 10_000; i++) {
      const peer = rng.pick(peers);
      const plaintext = forgePlaintext(peer);
      const partialIV = encodePartialIV(peer.forgeSeq++ as never);
      const kid = Uint8Array.from(peer.spec.clientId);
      const nonce = computeNonce(peer.commonIV, kid, partialIV);
      const payload = peer.backend.encrypt(peer.clientSenderKey, nonce, encodeAad(peer.aead, kid, partialIV), plaintext);
      const idContext = peer.spec.sendKidContext === true ? Uint8Array.from(peer.spec.idContext!) : undefined;
      const option = encodeOscoreOption({ partialIV, kid, kidContext: idContext });
      const label = `peer ${peer.spec.name}, plaintext ${sample(plaintext)}`;
      try {
        const v = await verifyRequest(forgeRegistry, option, payload);
        if (v.context !== peer.forgeServer) findings.add('verified under the wrong context', label);
        judge(v.message, false, expected(plaintext, 'request'), label);
      } catch (e) {
        judge(e, true, expected(plaintext, 'request'), label);
      }
      totalCases++;
    }
    for (let i = 0; i < 3_000; i++) {
      const peer = rng.pick(peers);
      const plaintext = forgePlaintext(peer);
      const { binding } = await protectRequest(peer.client, { code: coapCode(0, 1), options: [], payload: new Uint8Array(0) });
      // A response without Partial IV: the request nonce, under the server's Sender Key (§5.2, §8.3).
      const nonce = computeNonce(peer.commonIV, binding.kid, binding.partialIV);
      const payload = peer.backend.encrypt(peer.serverSenderKey, nonce, encodeAad(peer.aead, binding.kid, binding.partialIV), plaintext);
      const label = `peer ${peer.spec.name}, response plaintext ${sample(plaintext)}`;
      try {
        const v = await verifyResponse(binding, new Uint8Array(0), payload);
        judge(v.message, false, expected(plaintext, 'response'), label);
      } catch (e) {
        judge(e, true, expected(plaintext, 'response'), label);
      }
      totalCases++;
    }
    expect(findings.report(), `seed ${SEED}`).toEqual([]);
    expect(outcomes.ok).toBeGreaterThan(100);
    expect(outcomes.malformed).toBeGreaterThan(100);
  });
});

describe('huge claimed lengths allocate nothing', () => {
  it('inner-message headers claiming up to 65,804-byte options: typed errors, or views sharing the input buffer', () => {
    const code = coapCode(0, 1);
    const truncated: Uint8Array[] = [
      Uint8Array.of(code, 0x0e, 0xff, 0xff), // length 65,535 + 269, no value bytes
      Uint8Array.of(code, 0x0e, 0xff), // extension itself truncated
      Uint8Array.of(code, 0x0d, 0xff, 1, 2, 3), // length 268, 3 value bytes
      Uint8Array.of(code, 0xee, 0xff, 0xff, 0xff, 0xff), // delta 65,804 > 65,535
      Uint8Array.of(code, 0xe0, 0xfe, 0xf3), // delta exactly 65,536
      concat(Uint8Array.of(code), new Uint8Array(600).map((_, i) => (i % 2 === 0 ? 0xd0 : 0xff))), // delta 268, 300 times: past 65,535
      Uint8Array.of(code, 0xf0), // reserved nibble 15
      Uint8Array.of(code, 0x0f),
      Uint8Array.of(code, 0xff), // marker without payload
    ];
    for (const input of truncated) {
      expect(() => decodeInnerMessage(input), toHex(input.subarray(0, 8))).toThrow(MalformedPlaintextError);
      totalCases++;
    }
    // The largest option value there is, present in full: decoded as a view, not a copy.
    const full = concat(Uint8Array.of(code, 0x0e, 0xff, 0xff), rng.bytes(MAX_OPTION_LENGTH));
    const before = memory();
    const retained: InnerMessage[] = [];
    for (let i = 0; i < 2_000; i++) {
      retained.push(decodeInnerMessage(full));
      for (const input of truncated) expect(checkInnerDecode(input)).toBeUndefined();
      totalCases += 1 + truncated.length;
    }
    const after = memory();
    expect(retained[0]!.options[0]!.value.length).toBe(MAX_OPTION_LENGTH);
    expect(retained.every((m) => isViewOf(m.options[0]!.value, full))).toBe(true);
    // 2,000 retained decodes of a 65,808-byte input: copies would hold ~130 MB of ArrayBuffers.
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(8 * 2 ** 20);
  });

  it('a decoded plaintext holds at most MAX_OPTIONS options, so its heap is bounded (worst case: one empty option per byte)', () => {
    // Option values are views, so no ArrayBuffer grows; but every option is an object holding a
    // Uint8Array view. A plaintext of zero bytes (option 0, delta 0, empty value, repeated) would
    // decode to one object per input byte; the decoder stops at MAX_OPTIONS instead.
    const input = new Uint8Array(65_535);
    input[0] = coapCode(0, 2);
    expect(() => decodeInnerMessage(input)).toThrow(MalformedPlaintextError);
    const atLimit = input.subarray(0, 1 + MAX_OPTIONS);
    const before = memory();
    const decoded = decodeInnerMessage(atLimit);
    const after = memory();
    expect(decoded.options.length).toBe(MAX_OPTIONS);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(2 ** 20);
    if (gc !== undefined) {
      heapPerByte = (after.heapUsed - before.heapUsed) / atLimit.length;
      // ~150 B per option; the bound leaves room for what V8 may allocate meanwhile (code it
      // optimizes), and is still 10 times below one object per input byte (65,535 of them).
      expect(after.heapUsed - before.heapUsed).toBeLessThan(MAX_OPTIONS * 1024);
    }
    totalCases++;
  });

  it('OSCORE option values claiming more than they hold, or over 255 bytes: MalformedOptionError', () => {
    const cases: Uint8Array[] = [
      concat(Uint8Array.of(0x19, 1), Uint8Array.of(0xff), rng.bytes(10)), // s = 255 with 10 bytes left
      Uint8Array.of(0x1d), // h and n = 5, nothing else
      Uint8Array.of(0x05, 1, 2), // n = 5 with 2 bytes
      Uint8Array.of(0x0e, 1), // n = 6, reserved
      Uint8Array.of(0x2a), // reserved bit
      concat(Uint8Array.of(0x09, 1), new Uint8Array(300)), // 302 bytes
      new Uint8Array(1_000_000).fill(0x09), // 1 MB
    ];
    for (const input of cases) {
      expect(() => decodeOscoreOption(input), sample(input)).toThrow(MalformedOptionError);
      expect(checkOptionDecode(input)).toBeUndefined();
      totalCases++;
    }
  });

  it('verifyRequest / verifyResponse refuse ciphertexts of any length, including beyond the AES-CCM bound, with typed errors', async () => {
    // AES-CCM (L = 2) cannot carry more than 65,535 plaintext bytes; a received ciphertext longer
    // than that plus the tag cannot be authentic and must fail like any other forgery (§8.2 step 6).
    const failures: string[] = [];
    for (const peer of peers) {
      // A fresh Partial IV (no seed, forged request or client request ever used start + 40,000).
      const option = encodeOscoreOption({
        partialIV: encodePartialIV((peer.spec.startSeq + 40_000) as never),
        kid: Uint8Array.from(peer.spec.clientId),
        kidContext: peer.spec.sendKidContext === true ? Uint8Array.from(peer.spec.idContext!) : undefined,
      });
      const sizes = [peer.aead.tagLength - 1, peer.aead.tagLength, 65_535 + peer.aead.tagLength, 65_536 + peer.aead.tagLength, 70_000, 1 << 20];
      for (const size of sizes) {
        for (const [what, run] of [
          ['verifyRequest', () => verifyRequest(registry, option, new Uint8Array(size))],
          ['verifyResponse', () => verifyResponse(exchanges.find((e) => e.peer === peer)!.binding, new Uint8Array(0), new Uint8Array(size))],
        ] as const) {
          try {
            await run();
            failures.push(`${what} accepted ${size} zero bytes (${peer.spec.name})`);
          } catch (e) {
            if (!(e instanceof DecryptionFailedError)) failures.push(`${what}, ${peer.spec.name}, ciphertext of ${size} B: ${describeError(e)}`);
          }
          totalCases++;
        }
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('resource bounds', () => {
  it(`ran at least 100,000 cases and memory stayed bounded`, () => {
    expect(totalCases).toBeGreaterThanOrEqual(100_000);
    const now = memory();
    // After GC the run must not have kept more than a few MB (the fresh exchanges of the response
    // test are the only state that grows); without forced GC, allow garbage that is not yet collected.
    const bound = gc !== undefined ? 16 * 2 ** 20 : 64 * 2 ** 20;
    memoryReport = `heapUsed +${((now.heapUsed - baseline.heapUsed) / 2 ** 20).toFixed(1)} MB, arrayBuffers +${((now.arrayBuffers - baseline.arrayBuffers) / 2 ** 20).toFixed(1)} MB`;
    expect(now.heapUsed - baseline.heapUsed, `heapUsed grew ${now.heapUsed - baseline.heapUsed} B (gc ${gc !== undefined})`).toBeLessThan(bound);
    expect(now.arrayBuffers - baseline.arrayBuffers, `arrayBuffers grew ${now.arrayBuffers - baseline.arrayBuffers} B`).toBeLessThan(bound);
  });
});
