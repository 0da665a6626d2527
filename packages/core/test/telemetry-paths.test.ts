/**
 * Every protect and verify span ends exactly once with an outcome and, on failure, an ERROR
 * status, on every path; rejection metrics carry no peer-chosen value; the rejection
 * counter's attribute sets are built once (a flood of bad requests allocates none).
 */

import { metrics, trace, type Attributes } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coapCode, createSecurityContext, fromHex, protectRequest, protectResponse, verifyRequest, verifyResponse } from '../src/index.js';

const started: Span[] = [];
const ended: ReadableSpan[] = [];
const tracking: SpanProcessor = {
  onStart: (span) => void started.push(span as Span),
  onEnd: (span) => void ended.push(span),
  forceFlush: async () => {},
  shutdown: async () => {},
};
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });

const params = { masterSecret: fromHex('0102030405060708090a0b0c0d0e0f10'), masterSalt: fromHex('9e7ca92223786340') };
const newPair = () => ({
  client: createSecurityContext({ ...params, name: 'shop', senderId: fromHex('0a'), recipientId: fromHex('0b') }),
  server: createSecurityContext({ ...params, name: 'orders', senderId: fromHex('0b'), recipientId: fromHex('0a') }),
});
const get = { code: coapCode(0, 1), options: [], payload: new Uint8Array([1, 2, 3]) };
const ok = { code: coapCode(2, 5), options: [], payload: new Uint8Array([4]) };

describe('with an SDK', () => {
  beforeAll(() => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [tracking, new SimpleSpanProcessor(spans)] }));
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  });
  afterAll(() => {
    trace.disable();
    metrics.disable();
  });

  it('ends every span once, with an outcome and error code, on each failure path', async () => {
    const { client, server } = newPair();
    const failures: Array<[string, () => Promise<unknown>]> = [
      ['protect request: not a request', () => protectRequest(client, ok)],
      ['verify request: malformed option', () => verifyRequest(server, new Uint8Array([0xff]), new Uint8Array([1]))],
      ['verify request: no kid', () => verifyRequest(server, new Uint8Array([0x01, 0x00]), new Uint8Array([1]))],
      ['verify request: unknown kid', () => verifyRequest(server, new Uint8Array([0x09, 0x00, 0xee]), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))],
      ['verify request: lookup throws', () => verifyRequest(() => { throw new Error('lookup down: kid=ee secret-path'); }, new Uint8Array([0x09, 0x00, 0xee]), new Uint8Array([1]))],
      [
        'verify request: replay',
        async () => {
          const r = await protectRequest(client, get);
          await verifyRequest(server, r.option, r.payload);
          return verifyRequest(server, r.option, r.payload);
        },
      ],
      [
        'protect response: client binding',
        async () => protectResponse((await protectRequest(client, get)).binding, ok),
      ],
      [
        'verify response: server binding, then forged, then twice',
        async () => {
          const r = await protectRequest(client, get);
          const v = await verifyRequest(server, r.option, r.payload);
          await expect(verifyResponse(v.binding, new Uint8Array(), new Uint8Array([1]))).rejects.toThrow();
          const a = await protectResponse(v.binding, ok);
          await expect(verifyResponse(r.binding, a.option, a.payload.map((b, i) => (i === 0 ? b ^ 1 : b)))).rejects.toThrow();
          await verifyResponse(r.binding, a.option, a.payload);
          return verifyResponse(r.binding, a.option, a.payload);
        },
      ],
    ];
    for (const [name, run] of failures) await expect(run(), name).rejects.toThrow();

    expect(started.length).toBeGreaterThan(10);
    expect(ended.length, 'every started span ended').toBe(started.length);
    expect(new Set(ended).size, 'no span ended twice').toBe(ended.length);
    for (const span of ended) {
      expect(span.attributes['oscore.outcome'], span.name).toMatch(/^(ok|rejected|error)$/);
      if (span.attributes['oscore.outcome'] === 'ok') expect(span.status.code).toBe(0);
      else {
        expect(span.status.code).toBe(2);
        expect(span.status.message).toBe(span.attributes['oscore.error.code']);
        expect(span.events, 'no exception events: their message may hold peer input').toEqual([]);
      }
    }
    const text = JSON.stringify(ended.map((s) => ({ n: s.name, a: s.attributes, s: s.status, e: s.events })));
    expect(text).not.toContain('secret-path');
    expect(text).not.toContain('lookup down');
  });

  it('keeps the kid a peer sent out of metric attributes: random kids add no time series', async () => {
    const { server } = newPair();
    const before = await seriesCount();
    for (let i = 0; i < 50; i++) {
      const kid = [0x10 + i, i, 0x77];
      await expect(verifyRequest(server, new Uint8Array([0x0b, 0x00, ...kid]), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).rejects.toThrow();
    }
    const after = await seriesCount();
    expect(after - before).toBeLessThanOrEqual(1);
    const all = JSON.stringify(metricExporter.getMetrics());
    expect(all).not.toMatch(/"oscore\.kid(_context)?":"[0-9a-f]*77"/);
  });
});

async function seriesCount(): Promise<number> {
  await reader.forceFlush();
  const last = metricExporter.getMetrics().at(-1);
  return last === undefined ? 0 : last.scopeMetrics.flatMap((s) => s.metrics).reduce((n, m) => n + m.dataPoints.length, 0);
}

describe('cost', () => {
  it('reuses one metric attribute set per context, kind and reason: nothing built per rejection', async () => {
    const { server } = newPair();
    // A meter that records the attribute objects it is handed: the same objects every time
    // means nothing is allocated per message.
    const seen: Attributes[] = [];
    const counter = { add: (_: number, attributes?: Attributes) => void seen.push(attributes!) };
    const provider = { getMeter: () => ({ createCounter: () => counter, createObservableGauge: () => ({}), addBatchObservableCallback: () => {} }) };
    metrics.setGlobalMeterProvider(provider as never);
    try {
      for (let i = 0; i < 3; i++) {
        await expect(verifyRequest(server, new Uint8Array([0x09, 0x00, 0x0a]), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).rejects.toThrow();
        await expect(verifyRequest(server, new Uint8Array([0x09, 0x00, 0xee]), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).rejects.toThrow();
      }
    } finally {
      metrics.disable();
    }
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect(new Set(seen).size).toBe(2);
  });
});
