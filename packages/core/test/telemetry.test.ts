/**
 * OpenTelemetry instrumentation against the SDK's in-memory exporters, checked against the
 * names and attributes docs/observability.md lists, and for the absence of secrets.
 */

import { readFileSync } from 'node:fs';
import { metrics, trace } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coapCode, createSecurityContext, deriveParameters, fromHex, protectRequest, protectResponse, toHex, verifyRequest, verifyResponse } from '../src/index.js';

const doc = readFileSync(new URL('../../../docs/observability.md', import.meta.url), 'utf8');
/** Backticked names in the first column of the doc's tables, by section. */
function documented(section: string): string[] {
  const body = doc.split(/^## /m).find((s) => s.startsWith(section))!;
  return [...body.matchAll(/^\| `([a-z._]+)` \|/gm)].map((m) => m[1]!);
}
const documentedSpansAndAttributes = documented('Spans');
const documentedMetrics = documented('Metrics');

const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });

beforeAll(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});
afterAll(() => {
  trace.disable();
  metrics.disable();
});

async function collected(): Promise<MetricData[]> {
  await reader.forceFlush();
  return metricExporter.getMetrics().at(-1)!.scopeMetrics.flatMap((s) => s.metrics);
}

describe('spans and metrics', () => {
  const params = { masterSecret: fromHex('0102030405060708090a0b0c0d0e0f10'), masterSalt: fromHex('9e7ca92223786340') };
  const client = createSecurityContext({ ...params, name: 'shop', senderId: fromHex('0a'), recipientId: fromHex('0b') });
  const server = createSecurityContext({ ...params, name: 'orders', senderId: fromHex('0b'), recipientId: fromHex('0a') });
  const get = { code: coapCode(0, 1), options: [], payload: new TextEncoder().encode('card 4111 1111 1111 1111') };

  it('records each protect and verify, rejections by reason and replays, and only documented names', async () => {
    const r1 = await protectRequest(client, get);
    const v1 = await verifyRequest(server, r1.option, r1.payload);
    const a1 = await protectResponse(v1.binding, { code: coapCode(2, 5), options: [], payload: new TextEncoder().encode('secret reply') });
    await verifyResponse(r1.binding, a1.option, a1.payload);
    await expect(verifyRequest(server, r1.option, r1.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_REPLAY' });
    const r2 = await protectRequest(client, get);
    const forged = r2.payload.slice();
    forged[1]! ^= 1;
    await expect(verifyRequest(server, r2.option, forged)).rejects.toMatchObject({ code: 'ERR_OSCORE_DECRYPTION_FAILED' });

    const finished = spans.getFinishedSpans();
    expect(finished.map((s) => s.name)).toEqual(['oscore.protect', 'oscore.verify', 'oscore.protect', 'oscore.verify', 'oscore.verify', 'oscore.protect', 'oscore.verify']);
    for (const name of new Set(finished.map((s) => s.name))) expect(documentedSpansAndAttributes).toContain(name);
    for (const span of finished) for (const key of Object.keys(span.attributes)) expect(documentedSpansAndAttributes, key).toContain(key);

    const [protect, verify] = finished;
    expect(protect!.attributes).toEqual({
      'oscore.message.kind': 'request',
      'oscore.aead.algorithm': 'AES-CCM-16-64-128',
      'oscore.context': 'shop',
      'oscore.kid': '0a',
      'oscore.partial_iv': '00',
      'oscore.sequence_number': 0,
      'oscore.payload.size': r1.payload.length,
      'oscore.outcome': 'ok',
    });
    expect(verify!.attributes).toMatchObject({ 'oscore.message.kind': 'request', 'oscore.context': 'orders', 'oscore.kid': '0a', 'oscore.outcome': 'ok' });
    const replay = finished[4]!;
    expect(replay.attributes).toMatchObject({ 'oscore.outcome': 'rejected', 'oscore.error.code': 'ERR_OSCORE_REPLAY', 'oscore.kid': '0a', 'oscore.partial_iv': '00' });
    expect(replay.status).toEqual({ code: 2, message: 'ERR_OSCORE_REPLAY' }); // SpanStatusCode.ERROR

    const byName = new Map((await collected()).map((m) => [m.descriptor.name, m]));
    expect([...byName.keys()].sort()).toEqual([...documentedMetrics].sort());
    const sum = (name: string, match: Record<string, unknown>) =>
      byName
        .get(name)!
        .dataPoints.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
        .reduce((n, p) => n + (p.value as number), 0);
    expect(sum('oscore.messages.protected', { 'oscore.message.kind': 'request', 'oscore.context': 'shop' })).toBe(2);
    expect(sum('oscore.messages.protected', { 'oscore.message.kind': 'response', 'oscore.context': 'orders' })).toBe(1);
    expect(sum('oscore.messages.verified', { 'oscore.message.kind': 'request' })).toBe(1);
    expect(sum('oscore.messages.verified', { 'oscore.message.kind': 'response' })).toBe(1);
    expect(sum('oscore.messages.rejected', { 'oscore.reason': 'ERR_OSCORE_REPLAY' })).toBe(1);
    expect(sum('oscore.messages.rejected', { 'oscore.reason': 'ERR_OSCORE_DECRYPTION_FAILED' })).toBe(1);
    expect(sum('oscore.replay.rejected', { 'oscore.context': 'orders' })).toBe(1);
    expect(sum('oscore.sender.sequence_numbers.used', { 'oscore.context': 'shop', 'oscore.kid': '0a' })).toBe(2);
    expect(sum('oscore.sender.sequence_numbers.usage', { 'oscore.context': 'shop' })).toBeCloseTo(2 / 2 ** 40, 20);
    // count_q against the draft's limit_q of 2^20: two requests from the client, one response from the server.
    expect(sum('oscore.sender.key.usage', { 'oscore.context': 'shop', 'oscore.kid': '0a' })).toBe(2 / 2 ** 20);
    expect(sum('oscore.sender.key.usage', { 'oscore.context': 'orders', 'oscore.kid': '0b' })).toBe(1 / 2 ** 20);
    expect(sum('oscore.sender.sequence_numbers.used', { 'oscore.context': 'orders' })).toBe(0); // a response without its own Partial IV uses none
  });

  it('emits every span attribute the doc lists (the doc names nothing that is never set)', async () => {
    const withContext = { ...params, idContext: fromHex('37cbf3210017a2d3'), sendKidContext: true };
    const c = createSecurityContext({ ...withContext, name: 'kid-context client', senderId: fromHex('0c'), recipientId: fromHex('0d') });
    const s = createSecurityContext({ ...withContext, name: 'kid-context server', senderId: fromHex('0d'), recipientId: fromHex('0c') });
    const sent = await protectRequest(c, get);
    await verifyRequest(s, sent.option, sent.payload);
    await expect(verifyRequest(s, sent.option, sent.payload)).rejects.toMatchObject({ code: 'ERR_OSCORE_REPLAY' });
    const emitted = new Set(spans.getFinishedSpans().flatMap((span) => [span.name, ...Object.keys(span.attributes)]));
    expect(documentedSpansAndAttributes.filter((name) => !emitted.has(name))).toEqual([]);
    expect(emitted.has('oscore.kid_context')).toBe(true);
  });

  it('never records a key, the Common IV or plaintext', async () => {
    const d = deriveParameters({ ...params, senderId: fromHex('0a'), recipientId: fromHex('0b'), idContext: undefined, aead: client.aead, hkdf: client.hkdf }, (await import('../src/index.js')).defaultBackend());
    const secrets = [toHex(params.masterSecret), toHex(d.senderKey), toHex(d.recipientKey), toHex(d.commonIV), '4111', 'secret reply'];
    const everything = JSON.stringify(spans.getFinishedSpans().map((s) => ({ a: s.attributes, st: s.status, e: s.events }))) + JSON.stringify(await collected());
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
