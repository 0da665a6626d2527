/**
 * Runs one vector of the `oscore-vectors/1` format against the engine, in both
 * directions: protecting must reproduce the expected bytes, verifying the expected
 * bytes must yield the inner message — or, for rejection vectors, the named error.
 */

import {
  aeadAlgorithm,
  computeNonce,
  createSecurityContext,
  DEFAULT_HKDF,
  defaultBackend,
  deriveParameters,
  encodeAad,
  encodeAadArray,
  encodeInnerMessage,
  encodePartialIV,
  fromHex,
  hkdfAlgorithm,
  hkdfInfo,
  MemorySequenceNumberSource,
  OscoreError,
  protectRequest,
  protectResponse,
  ReplayWindow,
  sequenceNumber,
  toHex,
  verifyRequest,
  verifyResponse,
  type CryptoBackend,
  type InnerMessage,
} from '@oscore-http/core';
import type {
  DerivationVector,
  RequestRejectionVector,
  RequestVector,
  ResponseRejectionVector,
  ResponseVector,
  Vector,
  VectorContext,
  VectorError,
  VectorIntermediates,
  VectorMessage,
  VectorProtected,
} from './format.js';

/** One comparison inside a case. */
export interface Check {
  readonly name: string;
  readonly expected: string;
  readonly actual: string;
  readonly passed: boolean;
}

/** The outcome of one vector. */
export interface CaseResult {
  readonly id: string;
  readonly kind: Vector['kind'];
  readonly reference: string;
  readonly description?: string | undefined;
  readonly status: 'passed' | 'failed' | 'skipped';
  /** Why a case was skipped, or the unexpected error that failed it. */
  readonly detail?: string | undefined;
  readonly checks: readonly Check[];
}

/** Options of {@link runVector}. */
export interface RunVectorOptions {
  /** Crypto backend of the engine under test; default node:crypto. Cases it cannot run are skipped. */
  readonly backend?: CryptoBackend;
}

class Checks {
  readonly list: Check[] = [];
  equal(name: string, expected: string | undefined, actual: string): void {
    if (expected === undefined) return;
    const e = expected.toLowerCase();
    this.list.push({ name, expected: e, actual, passed: e === actual });
  }
  error(name: string, expected: VectorError, thrown: unknown): void {
    const actual = thrown instanceof OscoreError ? thrown.code : thrown === undefined ? '(no error)' : `untyped ${describe(thrown)}`;
    this.list.push({ name, expected: expected.error, actual, passed: actual === expected.error });
    if (expected.outcome !== undefined) {
      const outcome = thrown instanceof OscoreError ? String(thrown.outcome) : '(none)';
      this.list.push({ name: `${name} outcome`, expected: expected.outcome, actual: outcome, passed: outcome === expected.outcome });
    }
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function innerMessage(m: VectorMessage): InnerMessage {
  return { code: m.code, options: m.options.map((o) => ({ number: o.number, value: fromHex(o.value) })), payload: fromHex(m.payload) };
}

/** A canonical text form of an inner message: options in transmission order (by number, stable). */
function messageText(m: InnerMessage): string {
  const options = [...m.options].sort((a, b) => a.number - b.number).map((o) => `${o.number}:${toHex(o.value)}`);
  return `code=${m.code} options=[${options.join(',')}] payload=${toHex(m.payload)}`;
}

function contextPair(c: VectorContext, backend: CryptoBackend, seqs: { client?: number; server?: number }, windowSize?: number) {
  const common = {
    masterSecret: fromHex(c.masterSecret),
    masterSalt: fromHex(c.masterSalt ?? ''),
    idContext: c.idContext === undefined || c.idContext === null ? undefined : fromHex(c.idContext),
    aeadAlgorithm: c.aeadAlgorithm ?? 10,
    hkdfAlgorithm: c.hkdfAlgorithm ?? DEFAULT_HKDF.name,
    backend,
  };
  const client = createSecurityContext({
    ...common,
    senderId: fromHex(c.clientId),
    recipientId: fromHex(c.serverId),
    ...(c.sendKidContext === undefined ? {} : { sendKidContext: c.sendKidContext }),
    senderSequence: new MemorySequenceNumberSource(seqs.client ?? 0),
  });
  const server = createSecurityContext({
    ...common,
    senderId: fromHex(c.serverId),
    recipientId: fromHex(c.clientId),
    senderSequence: new MemorySequenceNumberSource(seqs.server ?? 0),
    replayProtection: new ReplayWindow(windowSize),
  });
  return { client, server, commonIV: deriveParameters({ ...common, senderId: fromHex(c.clientId), recipientId: fromHex(c.serverId), aead: aeadAlgorithm(common.aeadAlgorithm), hkdf: hkdfAlgorithm(common.hkdfAlgorithm) }, backend).commonIV };
}

function unsupported(backend: CryptoBackend, alg: number | undefined): string | undefined {
  try {
    const a = aeadAlgorithm(alg ?? 10);
    return backend.supports(a) ? undefined : `${backend.name} does not implement ${a.name}`;
  } catch {
    return undefined; // an unknown algorithm is the engine's to reject
  }
}

async function runDerivation(v: DerivationVector, backend: CryptoBackend, checks: Checks): Promise<void> {
  const i = v.input;
  const params = {
    masterSecret: fromHex(i.masterSecret),
    masterSalt: fromHex(i.masterSalt ?? ''),
    senderId: fromHex(i.senderId),
    recipientId: fromHex(i.recipientId),
    idContext: i.idContext === undefined || i.idContext === null ? undefined : fromHex(i.idContext),
    aeadAlgorithm: i.aeadAlgorithm ?? 10,
    hkdfAlgorithm: i.hkdfAlgorithm ?? DEFAULT_HKDF.name,
    backend,
  };
  if ('error' in v.expect) {
    let thrown: unknown;
    try {
      createSecurityContext(params);
    } catch (err) {
      thrown = err;
    }
    checks.error('context creation', v.expect, thrown);
    return;
  }
  const e = v.expect;
  const aead = aeadAlgorithm(params.aeadAlgorithm);
  if (backend.supports(aead)) createSecurityContext(params); // must accept what it derives
  const d = deriveParameters({ ...params, aead, hkdf: hkdfAlgorithm(params.hkdfAlgorithm) }, backend);
  checks.equal('info (Sender Key)', e.senderKeyInfo, toHex(hkdfInfo(params.senderId, params.idContext, aead, 'Key', aead.keyLength)));
  checks.equal('info (Recipient Key)', e.recipientKeyInfo, toHex(hkdfInfo(params.recipientId, params.idContext, aead, 'Key', aead.keyLength)));
  checks.equal('info (Common IV)', e.commonIvInfo, toHex(hkdfInfo(new Uint8Array(0), params.idContext, aead, 'IV', aead.nonceLength)));
  checks.equal('Sender Key', e.senderKey, toHex(d.senderKey));
  checks.equal('Recipient Key', e.recipientKey, toHex(d.recipientKey));
  checks.equal('Common IV', e.commonIv, toHex(d.commonIV));
  if (e.nonces !== undefined) {
    const piv = fromHex(e.nonces.partialIv);
    checks.equal('sender nonce', e.nonces.sender, toHex(computeNonce(d.commonIV, params.senderId, piv)));
    checks.equal('recipient nonce', e.nonces.recipient, toHex(computeNonce(d.commonIV, params.recipientId, piv)));
  }
}

function checkIntermediates(checks: Checks, e: VectorIntermediates, actual: { plaintext: Uint8Array; partialIv?: Uint8Array; aadArray: Uint8Array; aad: Uint8Array; nonce: Uint8Array }): void {
  checks.equal('plaintext', e.plaintext, toHex(actual.plaintext));
  // A response without its own Partial IV has none to show: an expected one must then fail, not be skipped.
  checks.equal('Partial IV', e.partialIv, actual.partialIv === undefined ? '(none)' : toHex(actual.partialIv));
  checks.equal('aad_array', e.aadArray, toHex(actual.aadArray));
  checks.equal('AAD', e.aad, toHex(actual.aad));
  checks.equal('nonce', e.nonce, toHex(actual.nonce));
}

function checkProtected(checks: Checks, e: VectorProtected, actual: { option: Uint8Array; payload: Uint8Array }): void {
  checks.equal('OSCORE option', e.option, toHex(actual.option));
  checks.equal('ciphertext', e.payload, toHex(actual.payload));
}

async function runRequest(v: RequestVector, backend: CryptoBackend, checks: Checks): Promise<void> {
  const { client, server, commonIV } = contextPair(v.context, backend, { client: v.request.sequenceNumber });
  const message = innerMessage(v.request.message);
  // Protect: must reproduce the bytes (§8.1).
  const sent = await protectRequest(client, message);
  const piv = encodePartialIV(sequenceNumber(v.request.sequenceNumber));
  const aead = client.aead;
  const kid = fromHex(v.context.clientId);
  checkIntermediates(checks, v.expect, {
    plaintext: encodeInnerMessage(message),
    partialIv: piv,
    aadArray: encodeAadArray(aead, kid, piv),
    aad: encodeAad(aead, kid, piv),
    nonce: computeNonce(commonIV, kid, piv),
  });
  checkProtected(checks, v.expect, sent);
  // Verify the expected bytes: must yield the message (§8.2).
  const received = await verifyRequest(server, fromHex(v.expect.option), fromHex(v.expect.payload));
  checks.equal('verified request', messageText(message), messageText(received.message));
}

async function runResponse(v: ResponseVector, backend: CryptoBackend, checks: Checks): Promise<void> {
  const ownPiv = v.response.sequenceNumber !== undefined;
  const { client, server, commonIV } = contextPair(v.context, backend, { client: v.request.sequenceNumber, server: v.response.sequenceNumber ?? 0 });
  const request = await protectRequest(client, innerMessage(v.request.message));
  const received = await verifyRequest(server, request.option, request.payload);
  const message = innerMessage(v.response.message);
  // Protect: must reproduce the bytes (§8.3).
  const sent = await protectResponse(received.binding, message, { partialIV: ownPiv });
  const aead = server.aead;
  const kid = fromHex(v.context.clientId);
  const requestPiv = encodePartialIV(sequenceNumber(v.request.sequenceNumber));
  const responsePiv = ownPiv ? encodePartialIV(sequenceNumber(v.response.sequenceNumber!)) : undefined;
  checkIntermediates(checks, v.expect, {
    plaintext: encodeInnerMessage(message),
    ...(responsePiv === undefined ? {} : { partialIv: responsePiv }),
    aadArray: encodeAadArray(aead, kid, requestPiv),
    aad: encodeAad(aead, kid, requestPiv),
    nonce: responsePiv === undefined ? computeNonce(commonIV, kid, requestPiv) : computeNonce(commonIV, fromHex(v.context.serverId), responsePiv),
  });
  checkProtected(checks, v.expect, sent);
  // Verify the expected bytes against the request sent: must yield the message (§8.4).
  const verified = await verifyResponse(request.binding, fromHex(v.expect.option), fromHex(v.expect.payload));
  checks.equal('verified response', messageText(message), messageText(verified.message));
}

async function runRequestRejection(v: RequestRejectionVector, backend: CryptoBackend, checks: Checks): Promise<void> {
  const { server } = contextPair(v.context, backend, {}, v.replayWindowSize);
  const last = v.received.length - 1;
  for (let i = 0; i < last; i++) {
    const m = v.received[i]!;
    await verifyRequest(server, fromHex(m.option), fromHex(m.payload)); // must be accepted
  }
  let thrown: unknown;
  try {
    await verifyRequest(server, fromHex(v.received[last]!.option), fromHex(v.received[last]!.payload));
  } catch (err) {
    thrown = err;
  }
  checks.error(`request ${last + 1} of ${v.received.length}`, v.expect, thrown);
}

async function runResponseRejection(v: ResponseRejectionVector, backend: CryptoBackend, checks: Checks): Promise<void> {
  const { client } = contextPair(v.context, backend, { client: v.request.sequenceNumber });
  const request = await protectRequest(client, innerMessage(v.request.message));
  let thrown: unknown;
  try {
    await verifyResponse(request.binding, fromHex(v.received.option), fromHex(v.received.payload));
  } catch (err) {
    thrown = err;
  }
  checks.error('response', v.expect, thrown);
}

/**
 * Runs one vector. Never throws: an unexpected exception fails the case with its message.
 */
export async function runVector(vector: Vector, options: RunVectorOptions = {}): Promise<CaseResult> {
  const backend = options.backend ?? defaultBackend();
  const base = { id: vector.id, kind: vector.kind, reference: vector.reference, description: vector.description };
  // A derivation needs only the HKDF, so it runs on every backend unless it must build a context.
  const needsAead = vector.kind !== 'derivation' || 'error' in vector.expect;
  const skip = needsAead ? unsupported(backend, vector.kind === 'derivation' ? vector.input.aeadAlgorithm : vector.context.aeadAlgorithm) : undefined;
  if (skip !== undefined) return { ...base, status: 'skipped', detail: skip, checks: [] };
  const checks = new Checks();
  try {
    switch (vector.kind) {
      case 'derivation':
        await runDerivation(vector, backend, checks);
        break;
      case 'request':
        await runRequest(vector, backend, checks);
        break;
      case 'response':
        await runResponse(vector, backend, checks);
        break;
      case 'request-rejection':
        await runRequestRejection(vector, backend, checks);
        break;
      case 'response-rejection':
        await runResponseRejection(vector, backend, checks);
        break;
    }
  } catch (err) {
    return { ...base, status: 'failed', detail: err instanceof OscoreError ? `${err.code}: ${err.message}` : describe(err), checks: checks.list };
  }
  const passed = checks.list.length > 0 && checks.list.every((c) => c.passed);
  return { ...base, status: passed ? 'passed' : 'failed', checks: checks.list };
}

