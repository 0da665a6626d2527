/**
 * An application's telemetry that throws — a span processor, a meter — never changes what
 * the engine does: messages are protected and verified, and a rejection keeps its own typed
 * error (docs/observability.md).
 */

import { metrics, trace, type Context } from '@opentelemetry/api';
import { MeterProvider, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { coapCode, createSecurityContext, DecryptionFailedError, protectRequest, protectResponse, verifyRequest, verifyResponse } from '../src/index.js';

/** What breaks: the span processor, the meter, or both. */
const broken = { spans: true, meter: true };
let ended = 0;

class Throwing implements SpanProcessor {
  onStart(_span: Span, _context: Context): void {
    if (broken.spans) throw new Error('processor broke on start');
  }
  onEnd(_span: ReadableSpan): void {
    if (broken.spans) throw new Error('processor broke on end');
    ended++;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

beforeAll(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new Throwing()] }));
  const meters = new MeterProvider({ readers: [] as MetricReader[] });
  // A meter whose counters throw on every add.
  metrics.setGlobalMeterProvider({
    getMeter: (...args: Parameters<typeof meters.getMeter>) => {
      const meter = meters.getMeter(...args);
      return new Proxy(meter, {
        get: (target, key) =>
          key === 'createCounter' || key === 'createUpDownCounter' || key === 'createHistogram'
            ? (...args: unknown[]) => {
                const instrument = (Reflect.get(target, key) as (...a: unknown[]) => { add: (...a: unknown[]) => void }).apply(target, args);
                return {
                  add: (...a: unknown[]) => {
                    if (broken.meter) throw new Error('meter broke');
                    instrument.add(...a);
                  },
                };
              }
            : Reflect.get(target, key),
      });
    },
  });
});
afterAll(() => {
  trace.disable();
  metrics.disable();
});

async function exchange(): Promise<void> {
  const masterSecret = new Uint8Array(16).fill(3);
  const client = createSecurityContext({ masterSecret, senderId: Uint8Array.of(1), recipientId: Uint8Array.of(2) });
  const server = createSecurityContext({ masterSecret, senderId: Uint8Array.of(2), recipientId: Uint8Array.of(1) });
  const request = await protectRequest(client, { code: coapCode(0, 1), options: [], payload: new Uint8Array(0) });
  const verified = await verifyRequest(server, request.option, request.payload);
  const response = await protectResponse(verified.binding, { code: coapCode(2, 5), options: [], payload: Uint8Array.of(7) });
  expect((await verifyResponse(request.binding, response.option, response.payload)).message.payload).toEqual(Uint8Array.of(7));
  const again = await protectRequest(client, { code: coapCode(0, 1), options: [], payload: new Uint8Array(0) });
  const tampered = Uint8Array.from(again.payload, (x, i) => (i === 0 ? x ^ 1 : x));
  await expect(verifyRequest(server, again.option, tampered)).rejects.toBeInstanceOf(DecryptionFailedError);
}

it('protects and verifies, and a tampered message is still refused with its own typed error, when the span processor and the meter throw', async () => {
  Object.assign(broken, { spans: true, meter: true });
  await exchange();
});

it('a meter that throws does not cost the spans: every protect and verify still ends its span', async () => {
  Object.assign(broken, { spans: false, meter: true });
  ended = 0;
  await exchange(); // two requests protected, two verified (one refused), one response protected and verified
  expect(ended).toBe(6);
});

it('uses the application’s @opentelemetry/api, a peer dependency: an SDK registered through it is the one the engine reports to', async () => {
  const { createRequire } = await import('node:module');
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
  // A copy of its own (a dependency) would be another API version, whose globals the SDK's does not share.
  expect(pkg.dependencies?.['@opentelemetry/api']).toBeUndefined();
  expect(pkg.peerDependencies?.['@opentelemetry/api']).toMatch(/^\^1\./);
  const fromEngine = createRequire(new URL('../src/telemetry/instrumentation.ts', import.meta.url)).resolve('@opentelemetry/api');
  const fromSdk = createRequire(createRequire(new URL('../../../package.json', import.meta.url)).resolve('@opentelemetry/sdk-trace-base')).resolve('@opentelemetry/api');
  expect(fromEngine).toBe(fromSdk);
});
