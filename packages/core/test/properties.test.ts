/**
 * Property-based tests of the OSCORE engine (RFC 8613) with fast-check.
 *
 * - protect → verify round-trips for requests and responses (§8.1–8.4) over random
 *   security contexts (every AEAD algorithm, both HKDFs, both crypto backends where the
 *   algorithm allows, random IDs / ID Context / sequence numbers), random option lists
 *   and payloads from 0 B to 64 KiB;
 * - the AES-CCM plaintext bound (65,535 bytes, RFC 9053 §4.2) is enforced on protect;
 * - any single-bit change of a protected message is rejected with a typed error
 *   (exactly the one an independent oracle predicts), and the rejection leaves the
 *   replay window / request binding untouched;
 * - the inner-message codec (§5.3) and the OSCORE option codec (§6.1) round-trip;
 * - protecting never throws anything but typed errors for any context the engine accepts.
 *
 * fast-check prints the seed and the shrunk counterexample of any failure; rerun with
 * `{ seed, path }` in the fc.assert options to reproduce.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ContextNotFoundError,
  DecryptionFailedError,
  MalformedCoseError,
  MalformedOptionError,
  MAX_SEQUENCE_NUMBER,
  MemorySequenceNumberSource,
  MessageTooLargeError,
  OscoreError,
  ReplayDetectedError,
  ResponseBindingError,
  coapCode,
  createSecurityContext,
  decodeInnerMessage,
  decodeOscoreOption,
  encodeInnerMessage,
  encodeOscoreOption,
  encodePartialIV,
  nobleBackend,
  nodeBackend,
  partialIVToSequenceNumber,
  protectRequest,
  protectResponse,
  toHex,
  verifyRequest,
  verifyResponse,
  type CoapOption,
  type CryptoBackend,
  type InnerMessage,
  type OscoreOptionFields,
  type SecurityContext,
} from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const NODE = nodeBackend();
if (NODE === undefined) throw new Error('these tests need node:crypto');
const BACKENDS: Record<'node' | 'noble', CryptoBackend> = { node: NODE, noble: nobleBackend };

const AEAD_IDS = [10, 11, 30, 31, 1, 2, 3, 24] as const;
type AeadId = (typeof AEAD_IDS)[number];
const CCM_IDS: readonly AeadId[] = [10, 11, 30, 31];
const isCcm = (alg: number): boolean => (CCM_IDS as readonly number[]).includes(alg);
/** RFC 9053 §4.2: AES-CCM with a 13-byte nonce has L = 2, so at most 2^16 − 1 bytes of plaintext. */
const CCM_LIMIT = 65_535;
const OSCORE_OPTION = 9;
const TAG_LENGTH: Record<AeadId, number> = { 10: 8, 11: 8, 30: 16, 31: 16, 1: 16, 2: 16, 3: 16, 24: 16 };

/** Deterministic pseudo-random bytes (mulberry32): big payloads without fast-check generating them byte by byte. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i += 4) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t = (t ^ (t >>> 14)) >>> 0;
    out[i] = t & 0xff;
    if (i + 1 < length) out[i + 1] = (t >>> 8) & 0xff;
    if (i + 2 < length) out[i + 2] = (t >>> 16) & 0xff;
    if (i + 3 < length) out[i + 3] = t >>> 24;
  }
  return out;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : toHex(b));

/** Options in transmission order: by number, repeated numbers in their given order (stable sort). */
function expectedOptions(options: readonly CoapOption[]): [number, string][] {
  return options
    .map((o, i) => ({ o, i }))
    .sort((a, b) => a.o.number - b.o.number || a.i - b.i)
    .map(({ o }) => [o.number, toHex(o.value)]);
}

const optionsView = (options: readonly CoapOption[]): [number, string][] => options.map((o) => [o.number, toHex(o.value)]);

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >>> 3]! ^= 0x80 >>> (bit & 7);
  return out;
}

async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Asserts `error` is a typed engine error: an OscoreError subclass with an ERR_OSCORE_* code. */
function expectTypedError(error: unknown, context: string): asserts error is OscoreError {
  expect(error, `${context}: expected an OscoreError, got ${String(error)}`).toBeInstanceOf(OscoreError);
  const code = (error as { code?: unknown }).code;
  expect(typeof code, context).toBe('string');
  expect(code as string, context).toMatch(/^ERR_OSCORE_/);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

/** Sender Sequence Numbers: small, Partial IV length boundaries, and huge ones up to 2^40 − 1 minus a few. */
const sequenceNumberArb: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(0, 255, 256, 65_535, 65_536, 2 ** 24 - 1, 2 ** 24, 2 ** 32 - 1, 2 ** 32, MAX_SEQUENCE_NUMBER - 4),
  fc.bigInt({ min: 0n, max: BigInt(MAX_SEQUENCE_NUMBER - 4) }).map(Number),
  fc.bigInt({ min: BigInt(MAX_SEQUENCE_NUMBER - 1000), max: BigInt(MAX_SEQUENCE_NUMBER - 4) }).map(Number),
);

interface ContextSpec {
  readonly alg: AeadId;
  readonly clientBackend: 'node' | 'noble';
  readonly serverBackend: 'node' | 'noble';
  readonly masterSecret: Uint8Array;
  readonly masterSalt: Uint8Array | undefined;
  readonly hkdf: 'HKDF-SHA-256' | 'HKDF-SHA-512';
  /** Client Sender ID = server Recipient ID. */
  readonly clientId: Uint8Array;
  /** Server Sender ID = client Recipient ID. */
  readonly serverId: Uint8Array;
  readonly idContext: Uint8Array | undefined;
  readonly sendKidContext: boolean;
  readonly clientSeq: number;
  readonly serverSeq: number;
}

function contextSpecArb(algs: readonly AeadId[] = AEAD_IDS, idContextArb?: fc.Arbitrary<Uint8Array | undefined>): fc.Arbitrary<ContextSpec> {
  return fc.constantFrom(...algs).chain((alg) => {
    // RFC 8613 §3.3: an ID is at most nonce length − 6 bytes: 7 for AES-CCM (13-byte nonce), 6 for the others (12-byte nonce).
    const maxId = isCcm(alg) ? 7 : 6;
    // The noble backend has no AES-CCM; for the others, client and server pick a backend independently (interop).
    const backend = isCcm(alg) ? fc.constant('node' as const) : fc.constantFrom('node' as const, 'noble' as const);
    return fc.record({
      alg: fc.constant(alg),
      clientBackend: backend,
      serverBackend: backend,
      masterSecret: fc.uint8Array({ minLength: 16, maxLength: 64 }),
      masterSalt: fc.option(fc.uint8Array({ maxLength: 32 }), { nil: undefined }),
      hkdf: fc.constantFrom('HKDF-SHA-256' as const, 'HKDF-SHA-512' as const),
      ids: fc.uniqueArray(fc.uint8Array({ maxLength: maxId }), { minLength: 2, maxLength: 2, selector: (id) => toHex(id) }),
      idContext: idContextArb ?? fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
      sendKidContext: fc.boolean(),
      clientSeq: sequenceNumberArb,
      serverSeq: sequenceNumberArb,
    }).map(({ ids, ...rest }) => ({ ...rest, clientId: ids[0]!, serverId: ids[1]!, sendKidContext: rest.sendKidContext && rest.idContext !== undefined }));
  });
}

interface Pair {
  readonly client: SecurityContext;
  readonly server: SecurityContext;
  readonly clientSeq: MemorySequenceNumberSource;
  readonly serverSeq: MemorySequenceNumberSource;
}

/** Client and server as mirror images: the server's Sender ID is the client's Recipient ID and vice versa. */
function makePair(spec: ContextSpec): Pair {
  const common = {
    masterSecret: spec.masterSecret,
    masterSalt: spec.masterSalt,
    idContext: spec.idContext,
    aeadAlgorithm: spec.alg,
    hkdfAlgorithm: spec.hkdf,
    sendKidContext: spec.sendKidContext,
  };
  const clientSeq = new MemorySequenceNumberSource(spec.clientSeq);
  const serverSeq = new MemorySequenceNumberSource(spec.serverSeq);
  const client = createSecurityContext({
    ...common,
    senderId: spec.clientId,
    recipientId: spec.serverId,
    backend: BACKENDS[spec.clientBackend],
    senderSequence: clientSeq,
  });
  const server = createSecurityContext({
    ...common,
    senderId: spec.serverId,
    recipientId: spec.clientId,
    backend: BACKENDS[spec.serverBackend],
    senderSequence: serverSeq,
  });
  return { client, server, clientSeq, serverSeq };
}

/** Option numbers 0 … 65,535: small ones (so numbers repeat), delta-encoding boundaries (12/13, 268/269) and any. */
function optionNumberArb(allowOscore: boolean): fc.Arbitrary<number> {
  const arb = fc.oneof(
    fc.constantFrom(0, 1, 4, 11, 12, 13, 14, 15, 60, 268, 269, 270, 65_535),
    fc.integer({ min: 0, max: 300 }),
    fc.integer({ min: 0, max: 65_535 }),
  );
  return allowOscore ? arb : arb.filter((n) => n !== OSCORE_OPTION);
}

/** Option values of 0 … 300 bytes, with the length-encoding boundaries 12/13 and 268/269/270. */
const optionValueArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 16 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(fc.constantFrom(12, 13, 14, 268, 269, 270, 300), fc.integer({ min: 0, max: 300 })), fc.integer())
      .map(([n, seed]) => pseudoRandomBytes(n, seed)),
  },
);

function optionsArb(allowOscore: boolean, maxLength = 8): fc.Arbitrary<CoapOption[]> {
  return fc.array(fc.record({ number: optionNumberArb(allowOscore), value: optionValueArb }), { maxLength });
}

/** Payload length request: biased to small sizes, but with a good share near the 64 KiB top; 'max' = as large as fits. */
const payloadSizeArb: fc.Arbitrary<number | 'max'> = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 4096 }) },
  { weight: 3, arbitrary: fc.integer({ min: 60_000, max: 65_536 }) },
  { weight: 1, arbitrary: fc.constant('max' as const) },
);

interface MessageSpec {
  readonly detail: number;
  readonly codeClass: number;
  readonly options: CoapOption[];
  readonly size: number | 'max';
  readonly seed: number;
}

const requestSpecArb: fc.Arbitrary<MessageSpec> = fc.record({
  codeClass: fc.constant(0),
  detail: fc.integer({ min: 1, max: 31 }),
  options: optionsArb(false),
  size: payloadSizeArb,
  seed: fc.integer(),
});

const responseSpecArb: fc.Arbitrary<MessageSpec> = fc.record({
  codeClass: fc.constantFrom(2, 4, 5),
  detail: fc.integer({ min: 0, max: 31 }),
  options: optionsArb(false),
  size: payloadSizeArb,
  seed: fc.integer(),
});

/** Small messages, for the properties whose cost is not in the payload. */
const smallRequestSpecArb = requestSpecArb.map((m) => ({ ...m, size: typeof m.size === 'number' ? m.size % 2048 : 300 }));
const smallResponseSpecArb = responseSpecArb.map((m) => ({ ...m, size: typeof m.size === 'number' ? m.size % 2048 : 300 }));

/**
 * Builds the message. Without payload, the plaintext is 1 + options bytes; a payload adds a
 * marker byte. For AES-CCM the payload is capped so that the plaintext is at most 65,535 bytes;
 * 'max' gives exactly 65,535 for CCM and 64 KiB of payload otherwise.
 */
function buildMessage(spec: MessageSpec, alg: AeadId): InnerMessage {
  const code = coapCode(spec.codeClass, spec.detail);
  const base = encodeInnerMessage({ code, options: spec.options, payload: new Uint8Array(0) }).length;
  let size = spec.size === 'max' ? 65_536 : spec.size;
  if (isCcm(alg)) size = spec.size === 'max' ? CCM_LIMIT - base - 1 : Math.min(size, Math.max(0, CCM_LIMIT - base - 1));
  return { code, options: spec.options, payload: pseudoRandomBytes(size, spec.seed) };
}

function expectSameMessage(actual: InnerMessage, expected: InnerMessage): void {
  expect(actual.code).toBe(expected.code);
  expect(optionsView(actual.options)).toEqual(expectedOptions(expected.options));
  expect(actual.payload.length).toBe(expected.payload.length);
  expect(sameBytes(actual.payload, expected.payload), 'payload bytes').toBe(true);
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

describe('protect → verify round trips (RFC 8613 §8)', () => {
  it('requests and responses (with and without Partial IV) round-trip for every algorithm, HKDF and backend', async () => {
    let largestPlaintext = 0;
    let ccmAtLimit = 0;
    const seenAlgs = new Set<string>();
    await fc.assert(
      fc.asyncProperty(contextSpecArb(), requestSpecArb, responseSpecArb, fc.boolean(), async (spec, reqSpec, resSpec, responsePiv) => {
        const { client, server, clientSeq, serverSeq } = makePair(spec);
        seenAlgs.add(`${spec.alg}/${spec.clientBackend}/${spec.serverBackend}`);

        // --- request (§8.1, §8.2)
        const request = buildMessage(reqSpec, spec.alg);
        const plaintextLength = encodeInnerMessage(request).length;
        largestPlaintext = Math.max(largestPlaintext, plaintextLength);
        if (isCcm(spec.alg)) {
          expect(plaintextLength).toBeLessThanOrEqual(CCM_LIMIT);
          if (plaintextLength === CCM_LIMIT) ccmAtLimit++;
        }
        const protectedRequest = await protectRequest(client, request);
        expect(clientSeq.upcoming).toBe(spec.clientSeq + 1);
        // §5.3: the ciphertext is the plaintext plus the tag; §6.1: the option carries piv, kid and (maybe) kid context.
        expect(protectedRequest.payload.length).toBe(plaintextLength + TAG_LENGTH[spec.alg]);
        const fields = decodeOscoreOption(protectedRequest.option);
        expect(hex(fields.partialIV)).toBe(toHex(encodePartialIV(spec.clientSeq as never)));
        expect(hex(fields.kid)).toBe(toHex(spec.clientId));
        expect(hex(fields.kidContext)).toBe(spec.sendKidContext ? hex(spec.idContext) : undefined);

        const verified = await verifyRequest(server, protectedRequest.option, protectedRequest.payload);
        expect(verified.context).toBe(server);
        expect(verified.sequenceNumber).toBe(spec.clientSeq);
        expect(toHex(verified.binding.partialIV)).toBe(toHex(encodePartialIV(spec.clientSeq as never)));
        expect(toHex(verified.binding.kid)).toBe(toHex(spec.clientId));
        expectSameMessage(verified.message, request);

        // --- response (§8.3, §8.4)
        const response = buildMessage(resSpec, spec.alg);
        const protectedResponse = await protectResponse(verified.binding, response, { partialIV: responsePiv });
        expect(protectedResponse.payload.length).toBe(encodeInnerMessage(response).length + TAG_LENGTH[spec.alg]);
        if (responsePiv) {
          expect(serverSeq.upcoming).toBe(spec.serverSeq + 1);
          const responseFields = decodeOscoreOption(protectedResponse.option);
          expect(hex(responseFields.partialIV)).toBe(toHex(encodePartialIV(spec.serverSeq as never)));
          expect(responseFields.kid).toBeUndefined();
          expect(responseFields.kidContext).toBeUndefined();
        } else {
          // §8.3 step 4 / §2: no Partial IV, so all flags are zero and the option value is empty.
          expect(protectedResponse.option.length).toBe(0);
          expect(serverSeq.upcoming).toBe(spec.serverSeq);
        }
        const verifiedResponse = await verifyResponse(protectedRequest.binding, protectedResponse.option, protectedResponse.payload);
        expectSameMessage(verifiedResponse.message, response);
        expect(hex(verifiedResponse.partialIV)).toBe(responsePiv ? toHex(encodePartialIV(spec.serverSeq as never)) : undefined);

        // --- single use (§7.4): the request is a replay now, the binding is spent.
        await expect(verifyRequest(server, protectedRequest.option, protectedRequest.payload)).rejects.toBeInstanceOf(ReplayDetectedError);
        await expect(verifyResponse(protectedRequest.binding, protectedResponse.option, protectedResponse.payload)).rejects.toBeInstanceOf(
          ResponseBindingError,
        );
      }),
      { numRuns: 300 },
    );
    // The runs did reach the top of the size range, and CCM plaintexts of exactly 65,535 bytes.
    expect(largestPlaintext).toBeGreaterThan(65_000);
    expect(ccmAtLimit).toBeGreaterThan(0);
    // Every algorithm ran, and the noble backend on both sides.
    for (const alg of AEAD_IDS) expect([...seenAlgs].some((s) => s.startsWith(`${alg}/`)), `algorithm ${alg} ran`).toBe(true);
    expect([...seenAlgs].some((s) => s.includes('noble'))).toBe(true);
  });

  it('AES-CCM refuses a plaintext over 65,535 bytes with MessageTooLargeError (limit 65535) before spending anything', async () => {
    await fc.assert(
      fc.asyncProperty(
        contextSpecArb(CCM_IDS),
        optionsArb(false, 4),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 31 }),
        fc.integer(),
        async (spec, options, excess, detail, seed) => {
          const { client, server, clientSeq, serverSeq } = makePair(spec);
          const base = encodeInnerMessage({ code: coapCode(0, detail), options, payload: new Uint8Array(0) }).length;
          // Payload sized so that the plaintext is exactly 65,535 + excess bytes.
          const big = pseudoRandomBytes(CCM_LIMIT + excess - base - 1, seed);
          const fits = big.subarray(0, big.length - excess);
          const tooLargeRequest: InnerMessage = { code: coapCode(0, detail), options, payload: big };
          expect(encodeInnerMessage(tooLargeRequest).length).toBe(CCM_LIMIT + excess);

          const refused = await outcome(protectRequest(client, tooLargeRequest));
          expect(refused.ok).toBe(false);
          const error = (refused as { error: unknown }).error;
          expect(error).toBeInstanceOf(MessageTooLargeError);
          expect((error as MessageTooLargeError).limit).toBe(CCM_LIMIT);
          expect((error as MessageTooLargeError).code).toBe('ERR_OSCORE_MESSAGE_TOO_LARGE');
          expect((error as MessageTooLargeError).outcome).toBe('4.13');
          // No sequence number was spent on the refused message.
          expect(clientSeq.upcoming).toBe(spec.clientSeq);

          // Exactly 65,535 bytes is accepted and round-trips.
          const request: InnerMessage = { code: coapCode(0, detail), options, payload: fits };
          expect(encodeInnerMessage(request).length).toBe(CCM_LIMIT);
          const sent = await protectRequest(client, request);
          const received = await verifyRequest(server, sent.option, sent.payload);
          expectSameMessage(received.message, request);

          // Responses: refused with and without Partial IV; neither the server's sequence nor the binding is spent.
          const tooLargeResponse: InnerMessage = { code: coapCode(2, 5), options, payload: big };
          for (const partialIV of [true, false]) {
            const r = await outcome(protectResponse(received.binding, tooLargeResponse, { partialIV }));
            expect(r.ok).toBe(false);
            expect((r as { error: unknown }).error).toBeInstanceOf(MessageTooLargeError);
            expect(((r as { error: unknown }).error as MessageTooLargeError).limit).toBe(CCM_LIMIT);
          }
          expect(serverSeq.upcoming).toBe(spec.serverSeq);
          const response: InnerMessage = { code: coapCode(2, 5), options, payload: fits };
          const answer = await protectResponse(received.binding, response);
          const verified = await verifyResponse(sent.binding, answer.option, answer.payload);
          expectSameMessage(verified.message, response);
        },
      ),
      { numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------------------------

type ErrorClass = abstract new (...args: never[]) => OscoreError;

/**
 * Oracle for a request whose option value was altered (RFC 8613 §8.2): which typed error the
 * server (a single context) must answer with, derived from the altered value alone.
 */
function expectedRequestError(option: Uint8Array, spec: ContextSpec): ErrorClass {
  let fields: OscoreOptionFields;
  try {
    fields = decodeOscoreOption(option);
  } catch {
    return MalformedOptionError;
  }
  if (fields.partialIV === undefined || fields.kid === undefined) return MalformedCoseError;
  if (toHex(fields.kid) !== toHex(spec.clientId)) return ContextNotFoundError;
  if (fields.kidContext !== undefined && (spec.idContext === undefined || toHex(fields.kidContext) !== toHex(spec.idContext))) {
    return ContextNotFoundError;
  }
  // The kid and kid context still select the context, so only the Partial IV can differ: the nonce
  // and AAD change and the tag no longer verifies. (A fresh window cannot report a replay.)
  return DecryptionFailedError;
}

/**
 * Payloads under 2 KiB for many runs (the flips' outcome does not depend on the size), and the
 * full 0 B – 64 KiB range for fewer: a flip deep in a long ciphertext, or in the tag after it.
 */
const TAMPER_SIZES = [
  { sizes: 'payloads under 2 KiB', requests: smallRequestSpecArb, responses: smallResponseSpecArb, runs: 300, largest: 0 },
  { sizes: 'payloads from 0 B to 64 KiB', requests: requestSpecArb, responses: responseSpecArb, runs: 40, largest: 60_000 },
];

describe.each(TAMPER_SIZES)('tampering is detected (RFC 8613 §8.2 steps 2–6, §8.4 steps 2–5), $sizes', ({ requests, responses, runs, largest }) => {
  it('any single-bit change of a protected request is refused with the typed error the oracle predicts; the original still verifies', async () => {
    const seen = new Map<string, number>();
    let longest = 0;
    await fc.assert(
      fc.asyncProperty(
        contextSpecArb(),
        requests,
        fc.constantFrom('option' as const, 'payload' as const),
        fc.nat(),
        async (spec, reqSpec, target, bitSeed) => {
          const { client, server } = makePair(spec);
          const request = buildMessage(reqSpec, spec.alg);
          longest = Math.max(longest, request.payload.length);
          const sent = await protectRequest(client, request);
          const original = target === 'option' ? sent.option : sent.payload;
          const bit = bitSeed % (original.length * 8);
          const tampered = flipBit(original, bit);
          const option = target === 'option' ? tampered : sent.option;
          const payload = target === 'payload' ? tampered : sent.payload;
          const label = `${target} bit ${bit} (option ${toHex(sent.option)} → ${toHex(option)}, alg ${spec.alg})`;

          const result = await outcome(verifyRequest(server, option, payload));
          expect(result.ok, `${label}: a tampered request was accepted`).toBe(false);
          const error = (result as { error: unknown }).error;
          expectTypedError(error, label);
          const expected = target === 'payload' ? DecryptionFailedError : expectedRequestError(option, spec);
          expect(error, label).toBeInstanceOf(expected);
          seen.set(error.constructor.name, (seen.get(error.constructor.name) ?? 0) + 1);

          // A refused request does not touch the replay window (§8.2 step 6: update only after decryption succeeds).
          const genuine = await verifyRequest(server, sent.option, sent.payload);
          expectSameMessage(genuine.message, request);
        },
      ),
      { numRuns: runs },
    );
    expect(longest).toBeGreaterThanOrEqual(largest);
    // The flips reached the decryption and the option/COSE checks.
    expect(seen.get('DecryptionFailedError')).toBeGreaterThan(0);
    expect((seen.get('MalformedOptionError') ?? 0) + (seen.get('ContextNotFoundError') ?? 0)).toBeGreaterThan(0);
  });

  it('any single-bit change of a protected response is refused (except adding the unauthenticated kid flag); the binding stays usable', async () => {
    let kidFlagAccepted = 0;
    let refused = 0;
    let longest = 0;
    await fc.assert(
      fc.asyncProperty(
        contextSpecArb(),
        requests,
        responses,
        fc.boolean(),
        fc.constantFrom('option' as const, 'payload' as const),
        fc.nat(),
        async (spec, reqSpec, resSpec, responsePiv, targetChoice, bitSeed) => {
          const { client, server } = makePair(spec);
          const sent = await protectRequest(client, buildMessage(reqSpec, spec.alg));
          const received = await verifyRequest(server, sent.option, sent.payload);
          const response = buildMessage(resSpec, spec.alg);
          longest = Math.max(longest, response.payload.length);
          const answer = await protectResponse(received.binding, response, { partialIV: responsePiv });
          // Without a Partial IV the option value is empty: there is no bit of it to change.
          const target = answer.option.length === 0 ? 'payload' : targetChoice;
          const original = target === 'option' ? answer.option : answer.payload;
          const bit = bitSeed % (original.length * 8);
          const tampered = flipBit(original, bit);
          const option = target === 'option' ? tampered : answer.option;
          const payload = target === 'payload' ? tampered : answer.payload;
          const label = `${target} bit ${bit} (option ${toHex(answer.option)} → ${toHex(option)}, alg ${spec.alg})`;

          const result = await outcome(verifyResponse(sent.binding, option, payload));

          if (target === 'option') {
            // Oracle (§8.4): the response outcome depends only on the decoded Partial IV. The response
            // 'kid' / 'kid context' are not in the AAD (§5.4 uses the request's kid and piv) and "kid ...
            // will not typically be present in responses" (§5) but is allowed, so setting the k flag
            // (an empty kid) leaves a valid response. Every other flip must be refused.
            let decoded: OscoreOptionFields | undefined;
            try {
              decoded = decodeOscoreOption(option);
            } catch {
              decoded = undefined;
            }
            if (decoded !== undefined && sameBytes(decoded.partialIV, decodeOscoreOption(answer.option).partialIV)) {
              expect(bit, label).toBe(4); // the k flag, 0x08 of the flag byte
              expect(result.ok, `${label}: expected acceptance`).toBe(true);
              expectSameMessage((result as { value: { message: InnerMessage } }).value.message, response);
              kidFlagAccepted++;
              return;
            }
            expect(result.ok, `${label}: a tampered response was accepted`).toBe(false);
            const error = (result as { error: unknown }).error;
            expectTypedError(error, label);
            expect(error, label).toBeInstanceOf(decoded === undefined ? MalformedOptionError : DecryptionFailedError);
          } else {
            expect(result.ok, `${label}: a tampered response was accepted`).toBe(false);
            const error = (result as { error: unknown }).error;
            expectTypedError(error, label);
            expect(error, label).toBeInstanceOf(DecryptionFailedError);
          }
          refused++;
          // A refused response does not spend the binding (§7.4 accepts the first *valid* response).
          const genuine = await verifyResponse(sent.binding, answer.option, answer.payload);
          expectSameMessage(genuine.message, response);
        },
      ),
      { numRuns: runs },
    );
    expect(longest).toBeGreaterThanOrEqual(largest);
    expect(refused).toBeGreaterThan(0);
    expect(kidFlagAccepted + refused).toBe(runs);
  });
});

// ---------------------------------------------------------------------------------------------
// Codecs
// ---------------------------------------------------------------------------------------------

describe('codecs round-trip', () => {
  it('inner message (RFC 8613 §5.3): decode(encode(m)) = m with options by number (stable), and encode(decode(b)) = b', () => {
    const largeValueArb = fc.tuple(fc.constantFrom(65_535 + 268, 65_535 + 269, 1000, 4096), fc.integer()).map(([n, s]) => pseudoRandomBytes(n, s));
    const codecOptionsArb = fc.array(
      fc.record({ number: optionNumberArb(true), value: fc.oneof({ weight: 30, arbitrary: optionValueArb }, { weight: 1, arbitrary: largeValueArb }) }),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        codecOptionsArb,
        fc.oneof(fc.uint8Array({ maxLength: 32 }), fc.tuple(fc.integer({ min: 0, max: 70_000 }), fc.integer()).map(([n, s]) => pseudoRandomBytes(n, s))),
        (code, options, payload) => {
          const message: InnerMessage = { code, options, payload };
          const encoded = encodeInnerMessage(message);
          const decoded = decodeInnerMessage(encoded);
          expect(decoded.code).toBe(code);
          expect(optionsView(decoded.options)).toEqual(expectedOptions(options));
          expect(sameBytes(decoded.payload, payload)).toBe(true);
          // Payload marker iff payload (RFC 7252 §3).
          const optionBytes = encodeInnerMessage({ code, options, payload: new Uint8Array(0) }).length;
          expect(encoded.length).toBe(optionBytes + (payload.length > 0 ? 1 + payload.length : 0));
          // The option encoding is canonical, so re-encoding gives the same bytes.
          expect(sameBytes(encodeInnerMessage(decoded), encoded)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('Partial IV (RFC 8613 §5): shortest big-endian encoding of any sequence number, and back', () => {
    fc.assert(
      fc.property(fc.oneof(sequenceNumberArb, fc.constant(MAX_SEQUENCE_NUMBER)), (seq) => {
        const piv = encodePartialIV(seq as never);
        const expectedLength = seq === 0 ? 1 : Math.ceil(seq.toString(2).length / 8);
        expect(piv.length).toBe(expectedLength);
        if (piv.length > 1) expect(piv[0]).not.toBe(0);
        expect(partialIVToSequenceNumber(piv)).toBe(seq);
      }),
      { numRuns: 2000 },
    );
  });

  it('OSCORE option (RFC 8613 §6.1): decode(encode(f)) = f for any fields, and encode(decode(v)) = v', () => {
    const fieldsArb = fc
      .record({
        seq: fc.option(fc.oneof(sequenceNumberArb, fc.constant(MAX_SEQUENCE_NUMBER)), { nil: undefined }),
        kidContext: fc.option(fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 255 })), { nil: undefined }),
        kid: fc.option(fc.oneof(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 255 })), { nil: undefined }),
      })
      .map(({ seq, kidContext, kid }) => {
        const partialIV = seq === undefined ? undefined : encodePartialIV(seq as never);
        // Keep the whole value within 255 bytes (CoAP option length of OSCORE, RFC 8613 §2).
        const room = 255 - 1 - (partialIV?.length ?? 0) - (kidContext === undefined ? 0 : 1 + kidContext.length);
        return { seq, partialIV, kidContext, kid: kid === undefined ? undefined : kid.subarray(0, Math.max(0, room)) };
      })
      .filter(({ partialIV, kidContext }) => 1 + (partialIV?.length ?? 0) + (kidContext === undefined ? 0 : 1 + kidContext.length) <= 255);
    fc.assert(
      fc.property(fieldsArb, ({ seq, partialIV, kidContext, kid }) => {
        const value = encodeOscoreOption({ partialIV, kidContext, kid });
        expect(value.length).toBeLessThanOrEqual(255);
        if (partialIV === undefined && kidContext === undefined && kid === undefined) expect(value.length).toBe(0);
        const decoded = decodeOscoreOption(value);
        expect(hex(decoded.partialIV)).toBe(hex(partialIV));
        expect(hex(decoded.kidContext)).toBe(hex(kidContext));
        expect(hex(decoded.kid)).toBe(hex(kid));
        if (seq !== undefined) expect(partialIVToSequenceNumber(decoded.partialIV!)).toBe(seq);
        expect(sameBytes(encodeOscoreOption(decoded), value)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Protect never throws untyped errors
// ---------------------------------------------------------------------------------------------

describe('protecting with any accepted context', () => {
  it('protectRequest succeeds or throws an OscoreError for every context createSecurityContext accepts (ID Context up to 255 bytes)', async () => {
    // createSecurityContext accepts a 'kid context' of up to 255 bytes (§6.1: s is one byte), but the
    // whole OSCORE option value has at most 255 bytes (§2). Whatever the engine decides for contexts
    // whose option cannot fit, a caller must only ever see typed errors (index.ts: "OscoreError").
    const idContextArb = fc.oneof(
      fc.uint8Array({ maxLength: 255 }),
      fc.integer({ min: 230, max: 255 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
    );
    await fc.assert(
      fc.asyncProperty(contextSpecArb(AEAD_IDS, idContextArb).map((s) => ({ ...s, sendKidContext: true })), smallRequestSpecArb, async (spec, reqSpec) => {
        let pair: Pair;
        try {
          pair = makePair(spec);
        } catch (error) {
          expectTypedError(error, 'createSecurityContext');
          return;
        }
        const result = await outcome(protectRequest(pair.client, buildMessage(reqSpec, spec.alg)));
        if (!result.ok) {
          expectTypedError(
            result.error,
            `protectRequest with ID Context of ${spec.idContext!.length} bytes, Sender ID of ${spec.clientId.length} bytes, sequence number ${spec.clientSeq}`,
          );
          return;
        }
        expect(result.value.option.length).toBeLessThanOrEqual(255);
        const received = await verifyRequest(pair.server, result.value.option, result.value.payload);
        expect(received.context).toBe(pair.server);
      }),
      { numRuns: 200 },
    );
  });
});
