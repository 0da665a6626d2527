/**
 * BodyBuffer: a body that arrives in chunks, held in one buffer within a limit.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrayBuffersHeld } from '../../fastify/test/support/memory.js';
import { BodyBuffer } from '../src/index.js';

describe('BodyBuffer', () => {
  it('holds exactly the chunks it accepted, in order, however they are split; refuses the chunk that would pass the limit', () => {
    const chunk = fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 60 }), fc.integer({ min: 0, max: 60_000 }), fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }), (chunks, limit, expected) => {
        const body = new BodyBuffer(limit, expected);
        const accepted: Buffer[] = [];
        let total = 0;
        for (const c of chunks) {
          const fits = total + c.length <= limit;
          expect(body.push(c)).toBe(fits);
          if (!fits) break;
          accepted.push(c);
          total += c.length;
          expect(body.size).toBe(total);
        }
        expect(body.bytes().equals(Buffer.concat(accepted))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('a body of one chunk is that chunk, not a copy; an empty body is empty', () => {
    const only = Buffer.from('one chunk');
    const body = new BodyBuffer(100);
    body.push(only);
    expect(body.bytes()).toBe(only);
    expect(new BodyBuffer(100).bytes()).toHaveLength(0);
  });

  it('sets no memory aside for a declared length before the bytes arrive (a sender that declares 1 MB and sends 2 bytes)', () => {
    const before = arrayBuffersHeld();
    const bodies = Array.from({ length: 100 }, () => {
      const body = new BodyBuffer(1_100_000, 1_100_000);
      body.push(Buffer.of(1));
      body.push(Buffer.of(2));
      return body;
    });
    // 100 × 1.1 MB if sized by the declaration; some 16 KiB each as received.
    expect(arrayBuffersHeld() - before).toBeLessThan(8 * 1024 * 1024);
    expect(bodies.every((b) => b.bytes().equals(Buffer.of(1, 2)))).toBe(true);
  });

  it('100,000 one-byte chunks make one body of 100,000 bytes', () => {
    const body = new BodyBuffer(100_000);
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) if (body.push(Buffer.of(i & 0xff))) accepted++;
    expect(accepted).toBe(100_000);
    expect(body.push(Buffer.of(0))).toBe(false);
    const bytes = body.bytes();
    expect(bytes).toHaveLength(100_000);
    expect(bytes.every((b, i) => b === (i & 0xff))).toBe(true);
  });
});
