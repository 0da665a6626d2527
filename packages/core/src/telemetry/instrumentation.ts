/**
 * OpenTelemetry instrumentation (docs/observability.md): a span per protect and verify,
 * and counters and gauges, through `@opentelemetry/api` only. Without an SDK registered
 * everything here is a no-op; spans are filled only when they record.
 *
 * Nothing secret is ever an attribute: algorithm, kid and kid context (public
 * identifiers, sent in clear in the OSCORE option), Partial IV and sequence number (also
 * in clear), sizes, outcome and error code. No key, Common IV, nonce or plaintext.
 */

import { INVALID_SPAN_CONTEXT, metrics, SpanStatusCode, trace, type Attributes, type Counter, type MeterProvider, type Span } from '@opentelemetry/api';
import { toHex } from '../bytes.js';
import type { SecurityContext } from '../context/security-context.js';
import { OscoreError } from '../errors.js';
import { MAX_SEQUENCE_NUMBER } from '../types.js';

const SCOPE = '@oscore-http/core';
const VERSION = '0.1.0';

/** Span and metric names, and attribute keys (docs/observability.md lists them). */
export const TELEMETRY = Object.freeze({
  spans: { protect: 'oscore.protect', verify: 'oscore.verify' },
  metrics: {
    protected: 'oscore.messages.protected',
    verified: 'oscore.messages.verified',
    rejected: 'oscore.messages.rejected',
    replays: 'oscore.replay.rejected',
    sequenceUsed: 'oscore.sender.sequence_numbers.used',
    sequenceUsage: 'oscore.sender.sequence_numbers.usage',
    keyUsage: 'oscore.sender.key.usage',
  },
  attributes: {
    kind: 'oscore.message.kind',
    algorithm: 'oscore.aead.algorithm',
    context: 'oscore.context',
    kid: 'oscore.kid',
    kidContext: 'oscore.kid_context',
    partialIV: 'oscore.partial_iv',
    sequenceNumber: 'oscore.sequence_number',
    size: 'oscore.payload.size',
    outcome: 'oscore.outcome',
    errorCode: 'oscore.error.code',
    reason: 'oscore.reason',
  },
} as const);

const A = TELEMETRY.attributes;
export type MessageKind = 'request' | 'response';

const tracer = trace.getTracer(SCOPE, VERSION);

interface Instruments {
  readonly protected: Counter;
  readonly verified: Counter;
  readonly rejected: Counter;
  readonly replays: Counter;
}

/** Per Sender Key: sequence numbers used and `count_q` against `limit_q`, for the usage gauges. */
const senders = new Map<string, { readonly attributes: Attributes; used: number; keyUses: number; readonly limitQ: number }>();

let provider: MeterProvider | undefined;
let instruments: Instruments | undefined;

/** The instruments of the currently registered meter provider (an SDK may be registered after this module loads). */
function meters(): Instruments {
  const current = metrics.getMeterProvider();
  if (instruments === undefined || current !== provider) {
    const meter = current.getMeter(SCOPE, VERSION);
    const next: Instruments = {
      protected: meter.createCounter(TELEMETRY.metrics.protected, { description: 'Messages protected (encrypted) with OSCORE', unit: '{message}' }),
      verified: meter.createCounter(TELEMETRY.metrics.verified, { description: 'Messages verified (decrypted, replay-checked) with OSCORE', unit: '{message}' }),
      rejected: meter.createCounter(TELEMETRY.metrics.rejected, { description: 'Received messages rejected, by reason (error code)', unit: '{message}' }),
      replays: meter.createCounter(TELEMETRY.metrics.replays, { description: 'Requests rejected by the replay window (RFC 8613 §7.4)', unit: '{message}' }),
    };
    const used = meter.createObservableGauge(TELEMETRY.metrics.sequenceUsed, { description: 'Sender Sequence Numbers used so far', unit: '{number}' });
    const usage = meter.createObservableGauge(TELEMETRY.metrics.sequenceUsage, { description: 'Share of the 2^40 Sender Sequence Numbers used (RFC 8613 §7.2.1)', unit: '1' });
    const keyUsage = meter.createObservableGauge(TELEMETRY.metrics.keyUsage, { description: "Share of the Sender Key's usage limit limit_q used (draft-ietf-core-oscore-key-limits)", unit: '1' });
    meter.addBatchObservableCallback(
      (result) => {
        for (const sender of senders.values()) {
          result.observe(used, sender.used, sender.attributes);
          result.observe(usage, sender.used / (MAX_SEQUENCE_NUMBER + 1), sender.attributes);
          result.observe(keyUsage, sender.keyUses / sender.limitQ, sender.attributes);
        }
      },
      [used, usage, keyUsage],
    );
    // Only once all of it exists: a provider that throws half-way is asked again next time.
    provider = current;
    instruments = next;
  }
  return instruments;
}

/** Adds to a counter; a meter that throws is ignored (see startSpan). */
function count(name: keyof Instruments, attributes: Attributes): void {
  try {
    meters()[name].add(1, attributes);
  } catch {
    // ignored
  }
}

/** Ends a span; a processor that throws is ignored (see startSpan). */
function end(span: Span): void {
  try {
    span.end();
  } catch {
    // ignored
  }
}

interface ContextAttributes {
  readonly base: Attributes;
  readonly request: Attributes;
  readonly response: Attributes;
  /** Rejection attribute sets by kind and error code: a bounded set (the codes are fixed), built once each. */
  readonly rejected: Map<string, Attributes>;
}

/** Attribute sets per context, built once (they are per-message otherwise: allocation on every call). */
const cache = new WeakMap<SecurityContext, ContextAttributes>();

function attributesOf(ctx: SecurityContext): ContextAttributes {
  let a = cache.get(ctx);
  if (a === undefined) {
    const base = { [A.algorithm]: ctx.aead.name, [A.context]: ctx.name ?? ctx.senderStateId.slice(0, 8) };
    a = { base, request: { ...base, [A.kind]: 'request' }, response: { ...base, [A.kind]: 'response' }, rejected: new Map() };
    cache.set(ctx, a);
  }
  return a;
}

function contextAttributes(ctx: SecurityContext): Attributes {
  return attributesOf(ctx).base;
}

const NO_CONTEXT: ContextAttributes = Object.freeze({ base: Object.freeze({}), request: Object.freeze({ [A.kind]: 'request' }), response: Object.freeze({ [A.kind]: 'response' }), rejected: new Map() });

/** The attributes of a rejection: the context's (if known), the kind and the error code — never anything the peer chose. */
function rejectionAttributes(ctx: SecurityContext | undefined, kind: MessageKind, code: string): Attributes {
  const a = ctx === undefined ? NO_CONTEXT : attributesOf(ctx);
  const key = `${kind} ${code}`;
  let attributes = a.rejected.get(key);
  if (attributes === undefined) {
    attributes = { ...a[kind], [A.reason]: code };
    a.rejected.set(key, attributes);
  }
  return attributes;
}

/**
 * Starts a protect or verify span (a non-recording one if the tracer throws). Telemetry
 * never changes what the engine does: a span processor, exporter or meter of the
 * application that throws is ignored here and in the recorders below — else every message
 * would fail with its error, and a verification error would be replaced by it.
 */
export function startSpan(name: string, kind: MessageKind): Span {
  try {
    const span = tracer.startSpan(name);
    if (span.isRecording()) span.setAttribute(A.kind, kind);
    return span;
  } catch {
    return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  }
}

/** Records a successful protect. */
export function protectedMessage(
  span: Span,
  kind: MessageKind,
  ctx: SecurityContext,
  details: { kid: Uint8Array; partialIV?: Uint8Array | undefined; sequenceNumber?: number | undefined; keyUses: number; size: number },
): void {
  const cached = attributesOf(ctx); // one lookup for the counter's and the span's attributes
  const attributes = cached.base;
  let sender = senders.get(ctx.senderStateId);
  if (sender === undefined) {
    sender = { attributes: { ...attributes, [A.kid]: toHex(ctx.senderId) }, used: 0, keyUses: 0, limitQ: ctx.usageLimits.q };
    senders.set(ctx.senderStateId, sender);
  }
  if (details.sequenceNumber !== undefined && details.sequenceNumber + 1 > sender.used) sender.used = details.sequenceNumber + 1;
  if (details.keyUses > sender.keyUses) sender.keyUses = details.keyUses;
  count('protected', cached[kind]);
  try {
    if (span.isRecording()) {
      span.setAttributes({ ...attributes, [A.kid]: toHex(details.kid), [A.size]: details.size, [A.outcome]: 'ok' });
      if (details.partialIV !== undefined) span.setAttribute(A.partialIV, toHex(details.partialIV));
      if (details.sequenceNumber !== undefined) span.setAttribute(A.sequenceNumber, details.sequenceNumber);
    }
  } catch {
    // telemetry never changes what the engine does (see startSpan)
  }
  end(span);
}

/** Records a successful verification. */
export function verifiedMessage(span: Span, kind: MessageKind, ctx: SecurityContext, details: { kid: Uint8Array; kidContext?: Uint8Array | undefined; partialIV?: Uint8Array | undefined; sequenceNumber?: number | undefined; size: number }): void {
  const cached = attributesOf(ctx); // one lookup for the counter's and the span's attributes
  const attributes = cached.base;
  count('verified', cached[kind]);
  try {
    if (span.isRecording()) {
      span.setAttributes({ ...attributes, [A.kid]: toHex(details.kid), [A.size]: details.size, [A.outcome]: 'ok' });
      if (details.kidContext !== undefined) span.setAttribute(A.kidContext, toHex(details.kidContext));
      if (details.partialIV !== undefined) span.setAttribute(A.partialIV, toHex(details.partialIV));
      if (details.sequenceNumber !== undefined) span.setAttribute(A.sequenceNumber, details.sequenceNumber);
    }
  } catch {
    // telemetry never changes what the engine does (see startSpan)
  }
  end(span);
}

/** Records a failed protect or verify; rejections of received messages are counted by reason. */
export function failed(span: Span, kind: MessageKind, err: unknown, received: boolean, identifiers: { kid?: Uint8Array | undefined; kidContext?: Uint8Array | undefined; partialIV?: Uint8Array | undefined; context?: SecurityContext | undefined } = {}): void {
  const code = err instanceof OscoreError ? err.code : 'ERR_UNEXPECTED';
  const attributes: Attributes = identifiers.context === undefined ? NO_CONTEXT.base : contextAttributes(identifiers.context);
  if (received) {
    count('rejected', rejectionAttributes(identifiers.context, kind, code));
    if (code === 'ERR_OSCORE_REPLAY') count('replays', attributes);
  }
  try {
    if (span.isRecording()) {
      span.setAttributes({ ...attributes, [A.outcome]: received ? 'rejected' : 'error', [A.errorCode]: code });
      if (identifiers.kid !== undefined) span.setAttribute(A.kid, toHex(identifiers.kid));
      if (identifiers.kidContext !== undefined) span.setAttribute(A.kidContext, toHex(identifiers.kidContext));
      if (identifiers.partialIV !== undefined) span.setAttribute(A.partialIV, toHex(identifiers.partialIV));
      // The message is the error's fixed sentence: no input, no secret.
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    }
  } catch {
    // telemetry never changes what the engine does (see startSpan)
  }
  end(span);
}
