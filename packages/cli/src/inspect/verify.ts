/**
 * Decrypting a captured message with a context file, for `oscore-http inspect --context`.
 *
 * Either side's file works. A request is verified with a context whose Recipient ID is
 * the request's 'kid' (the server's view, §8.2 step 2); in a client's file that is a
 * context whose Sender ID is the kid, mirrored (Sender and Recipient ID swapped, which
 * gives the same keys from the other side, §3.2.1). A response is verified against the
 * request it answers (§7.1, §8.4): with a context whose Sender ID is the request's kid
 * (the client's), or a server's context mirrored.
 *
 * Contexts are derived with an in-memory state store: inspecting never touches a state
 * directory, never moves a replay window, and never spends a sequence number.
 */

import {
  CoapOptionNumber,
  formatCoapCode,
  fromHex,
  MemoryStateStore,
  OscoreError,
  bindingForCapturedRequest,
  toHex,
  verifyRequest,
  verifyResponse,
  type AeadAlgorithm,
  type InnerMessage,
  type PartialIV,
  type SecurityContext,
} from '@oscore-http/core';
import {
  ContextConfigError,
  createContextSet,
  decodeRequest,
  decodeResponse,
  HTTP_CODE_OPTION,
  HTTP_FIELD_OPTION,
  type ContextConfig,
  type ContextSetOptions,
  type HeaderList,
} from '@oscore-http/http';
import { parseContextJson, type ContextFileText } from '../context-file.js';
import { InputError } from '../errors.js';
import type { OuterOscore } from './outer.js';

/** A context file read for inspection: its entries, validated. */
export interface InspectContexts {
  /** The path as the user gave it. */
  readonly label: string;
  readonly entries: readonly ContextConfig[];
  readonly options: ContextSetOptions;
}

/** How a context of the file was used. */
export type ContextView = 'configured' | 'mirrored';

/** One context tried for a message. */
export interface Candidate {
  /** Its index in the file's `contexts`. */
  readonly index: number;
  readonly name: string | undefined;
  readonly view: ContextView;
  readonly context: SecurityContext;
}

/** A candidate and why it did not verify the message. */
export interface Attempt {
  readonly candidate: Candidate;
  readonly error: { readonly code: string; readonly message: string } | undefined;
}

/** The decrypted inner message as HTTP. */
export interface InnerView {
  readonly kind: 'request' | 'response';
  readonly method?: string | undefined;
  readonly target?: string | undefined;
  readonly status?: number | undefined;
  readonly reason?: string | undefined;
  readonly headers: HeaderList;
  readonly body: Uint8Array;
  /** The CoAP view: code and options (number, name, length). */
  readonly coap: { readonly code: string; readonly options: readonly { readonly number: number; readonly name: string; readonly length: number }[] };
  /** Set when the plaintext decrypted but is not an HTTP message this mapping reads. */
  readonly error?: { readonly code: string; readonly message: string } | undefined;
}

/** The outcome of verification. */
export interface Verification {
  readonly verified: boolean;
  /** The side the contexts had to take: Recipient ID = kid (requests) or Sender ID = kid (responses). */
  readonly role: 'recipient' | 'sender';
  /** The request kid and kid context the contexts were looked up by. */
  readonly kid: Uint8Array | undefined;
  readonly kidContext: Uint8Array | undefined;
  readonly attempts: readonly Attempt[];
  /** The candidate that verified the message. */
  readonly candidate?: Candidate | undefined;
  readonly inner?: InnerView | undefined;
  /** Why nothing was tried, when nothing was (no kid, no matching context). */
  readonly problem?: string | undefined;
  /** The AEAD algorithm, when the contexts tell it. */
  readonly algorithm: AeadAlgorithm | undefined;
}

/** The request a response answers: its kid, kid context and Partial IV (§7.1). */
export interface RequestIdentity {
  readonly kid: Uint8Array;
  readonly kidContext: Uint8Array | undefined;
  readonly partialIV: PartialIV;
  readonly sequenceNumber: number;
  readonly label: string;
}

/**
 * Validates a context file already read (once: see ../context-file.ts), with secrets
 * from `env` and an in-memory store, as `loadContextFile` would after reading it.
 * @throws {InputError} for any problem a service would refuse the file for.
 */
export function readInspectContexts(file: ContextFileText, env: Readonly<Record<string, string | undefined>>): InspectContexts {
  const { label } = file;
  const data = parseContextJson(file, 'the context file ');
  // A store instance, not 'memory': replicated senders (senderIdSuffix) need one given (a shared store).
  const options: ContextSetOptions = { store: new MemoryStateStore(), env, baseDir: file.baseDir, source: label };
  const refuse = (where: string, detail: string): never => {
    throw new InputError(`the context file ${label} cannot be used: ${where}: ${detail} ("oscore-http doctor ${label === 'stdin' ? '-' : label}" lists every problem)`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) refuse('(root)', 'must be an object with "format" and "contexts"');
  const { format, contexts } = data as { format?: unknown; contexts?: unknown };
  if (format !== 'oscore-http-contexts/1') refuse('format', 'must be "oscore-http-contexts/1"');
  try {
    createContextSet(contexts as ContextConfig[], options);
  } catch (err) {
    if (!(err instanceof ContextConfigError)) throw err;
    refuse(err.path, err.detail);
  }
  return { label, entries: contexts as ContextConfig[], options };
}

function idMatches(configured: string | Uint8Array, suffix: number | undefined, kid: Uint8Array): boolean {
  const id = typeof configured === 'string' ? fromHex(configured) : configured;
  if (kid.length !== id.length + (suffix ?? 0)) return false;
  return id.every((b, i) => kid[i] === b);
}

function idContextMatches(entry: ContextConfig, kidContext: Uint8Array | undefined): boolean {
  if (kidContext === undefined) return true;
  if (entry.idContext === undefined) return false;
  const id = typeof entry.idContext === 'string' ? entry.idContext.toLowerCase() : toHex(entry.idContext);
  return id === toHex(kidContext);
}

/**
 * The contexts of the file that can take `role` for `kid`: those configured that way
 * first, then the mirrored ones.
 */
export function candidatesFor(file: InspectContexts, role: 'recipient' | 'sender', kid: Uint8Array, kidContext: Uint8Array | undefined): Candidate[] {
  const configured: Candidate[] = [];
  const mirrored: Candidate[] = [];
  const kidHex = toHex(kid);
  file.entries.forEach((entry, index) => {
    if (!idContextMatches(entry, kidContext)) return;
    // The entry as a context file would configure the side we need, with the full kid. Without
    // 'exp': an endpoint stops using an expired context, but inspecting is not taking part,
    // and what the context protected before it expired can still be read with it.
    const { peer: _peer, senderIdSuffix: _s, recipientIdSuffix: _r, exp: _exp, ...base } = entry;
    // `other`: the ID of the side that is not the kid's.
    const build = (view: ContextView, other: string | Uint8Array): void => {
      const config: ContextConfig = role === 'recipient' ? { ...base, senderId: other, recipientId: kidHex } : { ...base, senderId: kidHex, recipientId: other };
      const context = createContextSet([config], file.options).contexts[0]!;
      (view === 'configured' ? configured : mirrored).push({ index, name: entry.name, view, context });
    };
    const sender = { id: entry.senderId, suffix: entry.senderIdSuffix };
    const recipient = { id: entry.recipientId, suffix: entry.recipientIdSuffix };
    // `mine`: the ID that must equal the kid for the entry to serve as configured; `theirs`: the other one.
    const [mine, theirs] = role === 'recipient' ? [recipient, sender] : [sender, recipient];
    if (idMatches(mine.id, mine.suffix, kid)) build('configured', theirs.id);
    else if (idMatches(theirs.id, theirs.suffix, kid)) build('mirrored', mine.id);
  });
  return [...configured, ...mirrored];
}

const OPTION_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [CoapOptionNumber.IfMatch, 'If-Match'],
  [CoapOptionNumber.ETag, 'ETag'],
  [CoapOptionNumber.IfNoneMatch, 'If-None-Match'],
  [CoapOptionNumber.Observe, 'Observe'],
  [CoapOptionNumber.LocationPath, 'Location-Path'],
  [CoapOptionNumber.UriPath, 'Uri-Path'],
  [CoapOptionNumber.ContentFormat, 'Content-Format'],
  [CoapOptionNumber.MaxAge, 'Max-Age'],
  [CoapOptionNumber.UriQuery, 'Uri-Query'],
  [CoapOptionNumber.Accept, 'Accept'],
  [CoapOptionNumber.LocationQuery, 'Location-Query'],
  [CoapOptionNumber.Block2, 'Block2'],
  [CoapOptionNumber.Block1, 'Block1'],
  [CoapOptionNumber.Size2, 'Size2'],
  [CoapOptionNumber.Size1, 'Size1'],
  [CoapOptionNumber.Echo, 'Echo'],
  [CoapOptionNumber.NoResponse, 'No-Response'],
  [CoapOptionNumber.RequestTag, 'Request-Tag'],
  [HTTP_FIELD_OPTION, 'HTTP-Field'],
  [HTTP_CODE_OPTION, 'HTTP-Code'],
]);

function innerViewOf(kind: 'request' | 'response', message: InnerMessage): InnerView {
  const coap = {
    code: formatCoapCode(message.code),
    options: message.options.map((o) => ({ number: o.number, name: OPTION_NAMES.get(o.number) ?? `option ${o.number}`, length: o.value.length })),
  };
  try {
    if (kind === 'request') {
      const r = decodeRequest(message);
      return { kind, method: r.method, target: r.target, headers: r.headers, body: r.body, coap };
    }
    const r = decodeResponse(message);
    return { kind, status: r.status, reason: r.statusMessage, headers: r.headers, body: r.body, coap };
  } catch (err) {
    if (!(err instanceof OscoreError)) throw err;
    return { kind, headers: [], body: message.payload, coap, error: { code: err.code, message: err.message } };
  }
}

function algorithmOf(candidates: readonly Candidate[], verified: Candidate | undefined): AeadAlgorithm | undefined {
  if (verified !== undefined) return verified.context.aead;
  const names = new Set(candidates.map((c) => c.context.aead.name));
  return names.size === 1 ? candidates[0]!.context.aead : undefined;
}

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof OscoreError) return { code: err.code, message: err.message };
  throw err;
}

/** Tries each candidate in turn; the first that decrypts wins. */
async function tryCandidates(
  candidates: readonly Candidate[],
  base: Pick<Verification, 'role' | 'kid' | 'kidContext'>,
  kind: 'request' | 'response',
  attempt: (c: Candidate) => Promise<InnerMessage>,
): Promise<Verification> {
  const attempts: Attempt[] = [];
  for (const candidate of candidates) {
    try {
      const message = await attempt(candidate);
      attempts.push({ candidate, error: undefined });
      const inner = innerViewOf(kind, message);
      return { ...base, verified: true, attempts, candidate, inner, algorithm: candidate.context.aead };
    } catch (err) {
      attempts.push({ candidate, error: errorOf(err) });
    }
  }
  return { ...base, verified: false, attempts, algorithm: algorithmOf(candidates, undefined) };
}

function noContext(file: InspectContexts, role: 'recipient' | 'sender', kid: Uint8Array, kidContext: Uint8Array | undefined): string {
  const id = toHex(kid) || '(empty)';
  const ctx = kidContext === undefined ? '' : ` and ID Context ${toHex(kidContext) || '(empty)'}`;
  return role === 'recipient'
    ? `no context in ${file.label} has Recipient ID ${id}${ctx} (a server's file) or Sender ID ${id}${ctx} (a client's file)`
    : `no context in ${file.label} has Sender ID ${id}${ctx} (a client's file) or Recipient ID ${id}${ctx} (a server's file)`;
}

/** Verifies a captured request (§8.2) with the file's contexts. */
export async function verifyCapturedRequest(file: InspectContexts, outer: OuterOscore): Promise<Verification> {
  const { kid, kidContext } = outer.fields;
  const base = { role: 'recipient' as const, kid, kidContext };
  if (kid === undefined) return { ...base, verified: false, attempts: [], problem: "the request carries no 'kid', so no context can be looked up (RFC 8613 §5, §8.2)", algorithm: undefined };
  const candidates = candidatesFor(file, 'recipient', kid, kidContext);
  if (candidates.length === 0) return { ...base, verified: false, attempts: [], problem: noContext(file, 'recipient', kid, kidContext), algorithm: undefined };
  // `freshness: 'caller'`: a fresh in-memory window never asks for Echo; nothing is stored.
  return tryCandidates(candidates, base, 'request', async (c) => (await verifyRequest(c.context, outer.option, outer.body, { freshness: 'caller' })).message);
}

/** Verifies a captured response (§8.4) against the request it answers. */
export async function verifyCapturedResponse(file: InspectContexts, outer: OuterOscore, request: RequestIdentity): Promise<Verification> {
  const base = { role: 'sender' as const, kid: request.kid, kidContext: request.kidContext };
  const candidates = candidatesFor(file, 'sender', request.kid, request.kidContext);
  if (candidates.length === 0) return { ...base, verified: false, attempts: [], problem: noContext(file, 'sender', request.kid, request.kidContext), algorithm: undefined };
  return tryCandidates(candidates, base, 'response', async (c) => {
    // The client's record of the request it sent: the binding protectRequest would have returned (§7.1).
    const binding = bindingForCapturedRequest(c.context, request.kid, request.partialIV);
    return (await verifyResponse(binding, outer.option, outer.body)).message;
  });
}
