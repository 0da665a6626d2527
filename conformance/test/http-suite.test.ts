/**
 * The black-box HTTP suite as a library, against real servers on 127.0.0.1: its sequence
 * numbers, the echo switch, and what it reports for targets that are wrong in ways the
 * replay-broken server of packages/cli/test does not cover — an application that acts
 * on requests before they are verified, and a server without OSCORE at all.
 */

import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplayWindow } from '@oscore-http/core';
import { createOscoreHandler, loadContextFile } from '@oscore-http/http';
import {
  HTTP_TEST_CATEGORIES,
  HTTP_TESTS,
  initialSequenceNumber,
  runHttpSuite,
  selectTests,
  SEQUENCE_NUMBERS_PER_SECOND,
  SuiteInputError,
  type HttpSuiteResult,
} from '../src/index.js';
import { SuiteSequence } from '../src/http/sequence.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/conformance-server/', import.meta.url));
const CLIENT = `${EXAMPLE}contexts.client.json`;
const SERVER = `${EXAMPLE}contexts.server.json`;

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  servers = [];
});

async function listen(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A plain application without OSCORE: 200 text/plain for everything. */
const plain: RequestListener = (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello');
  });
};

/** The echo contract (docs/conformance.md §3) as a bare node:http application. */
function echo(counter: { n: number }): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      counter.n += 1;
      res.writeHead(200, {
        'x-echo-method': req.method!,
        'x-echo-target': req.url!,
        'x-echo-count': String(counter.n),
        'content-type': req.headers['content-type'] ?? 'application/octet-stream',
      });
      res.end(req.method === 'HEAD' ? undefined : Buffer.concat(chunks));
    });
  };
}

const failedIds = (r: HttpSuiteResult) => r.tests.filter((t) => t.status === 'failed').map((t) => t.id);

describe('sequence numbers', () => {
  it('start from the clock, 4,096 per second, so successive runs never overlap', () => {
    const t = Date.UTC(2026, 0, 1);
    expect(initialSequenceNumber(t + 1000) - initialSequenceNumber(t)).toBe(SEQUENCE_NUMBERS_PER_SECOND);
    expect(initialSequenceNumber(Date.UTC(2032, 5, 1))).toBeLessThan(2 ** 40);
    expect(initialSequenceNumber(0)).toBe(0);
  });

  it('are never handed out twice, and reserved ones only once and on request', () => {
    const seq = new SuiteSequence(100);
    expect([seq.next(), seq.next()]).toEqual([100, 101]);
    const base = seq.reserve(11);
    expect(base).toBe(102);
    expect(seq.next()).toBe(113);
    seq.use(base + 10);
    seq.use(base + 5);
    expect([seq.next(), seq.next()]).toEqual([112, 107]);
    expect(() => seq.use(base + 5)).toThrow(/not reserved or was already used/);
    expect(() => seq.use(500)).toThrow(/not reserved/);
  });
});

describe('the test list', () => {
  it('has unique ids named after their category, each citing an RFC section', () => {
    const ids = HTTP_TESTS.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const t of HTTP_TESTS) {
      expect(t.id.startsWith(`${t.category}.`), t.id).toBe(true);
      expect(HTTP_TEST_CATEGORIES).toContain(t.category);
      expect(t.rfc, t.id).toMatch(/RFC \d{4} (§|Appendix)/);
    }
    expect(new Set(HTTP_TESTS.map((t) => t.category))).toEqual(new Set(HTTP_TEST_CATEGORIES));
  });

  it('selects by id or category, and refuses unknown names', () => {
    expect(selectTests(['kid-context', 'binding.cross-request']).map((t) => t.id)).toEqual(['kid-context.unknown', 'binding.cross-request']);
    expect(() => selectTests(['replay', 'nope'])).toThrow(SuiteInputError);
  });
});

describe('runHttpSuite', () => {
  it('without the echo checks sends no witness requests, and still judges every outcome', async () => {
    const url = await listen(createOscoreHandler({ contexts: loadContextFile(SERVER, { store: 'memory' }) }, echo({ n: 0 })));
    const result = await runHttpSuite({ target: url, contexts: CLIENT, echo: 'off', only: ['replay.identical', 'tamper'], sequenceStart: 1_000 });
    expect(result.target.echo).toBe(false);
    expect(failedIds(result)).toEqual([]);
    expect(result.tests.map((t) => t.id)).toEqual(['replay.identical', 'tamper.ciphertext', 'tamper.tag', 'tamper.truncated', 'tamper.partial-iv', 'tamper.kid', 'tamper.empty-body', 'tamper.window']);
    expect(result.tests.flatMap((t) => t.requests).some((r) => r.label === 'witness')).toBe(false);
    expect(result.tests[0]!.requests.map((r) => r.inner?.sequenceNumber)).toEqual([1_001, 1_001]);
  });

  it('answers an Echo challenge from a server that lost its replay window, then runs as usual', async () => {
    // Appendix B.1.2: after losing the window, the server proves freshness with Echo (RFC 9175).
    const contexts = loadContextFile(SERVER, { store: 'memory', state: () => ({ replayProtection: ReplayWindow.lost(1024) }) });
    const url = await listen(createOscoreHandler({ contexts }, echo({ n: 0 })));
    const result = await runHttpSuite({ target: url, contexts: CLIENT, only: ['method.post', 'replay.identical'], sequenceStart: 1_000 });
    expect(result.preflight.map((r) => [r.label, r.response.status, r.response.innerStatus])).toEqual([
      ['preflight', 200, 401],
      ['preflight (Echo)', 200, 200],
    ]);
    expect(result.warnings).toEqual([]);
    expect(result.target.echo).toBe(true);
    expect(failedIds(result)).toEqual([]);
  });

  it('catches an application that acts on requests before they are verified: the witness sees the count move', async () => {
    const counter = { n: 0 };
    const verified = createOscoreHandler({ contexts: loadContextFile(SERVER, { store: 'memory' }) }, echo(counter));
    // "Logging" that counts as an application effect, before the OSCORE layer decides.
    const url = await listen((req, res) => {
      counter.n += 1;
      verified(req, res);
    });
    const result = await runHttpSuite({ target: url, contexts: CLIENT, only: ['tamper', 'unprotected', 'method.get'], sequenceStart: 1_000 });
    expect(result.target.echo).toBe(true);
    expect(failedIds(result)).toEqual(['tamper.ciphertext', 'tamper.tag', 'tamper.truncated', 'tamper.partial-iv', 'tamper.kid', 'tamper.empty-body', 'tamper.window', 'unprotected.get', 'unprotected.post']);
    for (const t of result.tests.filter((t) => t.status === 'failed')) {
      // The rejection itself was right; only the side effect gives the target away.
      expect(t.checks.filter((c) => !c.passed).map((c) => c.name), t.id).toEqual(['application not run']);
    }
  });

  it('reports a server without OSCORE: a warning, no protected answers, plain 200s are not refusals', async () => {
    const url = await listen(plain);
    const result = await runHttpSuite({ target: url, contexts: CLIENT, only: ['method.get', 'unprotected.get', 'tamper.tag'], sequenceStart: 1_000 });
    expect(result.warnings[0]).toMatch(/^The preflight request \(a protected GET \/conformance\/echo\) did not get a protected response that verifies: 200/);
    expect(result.preflight.map((r) => r.response)).toMatchObject([{ status: 200, protected: false }]);
    // Suite order: method, tamper, unprotected.
    expect(failedIds(result)).toEqual(['method.get', 'tamper.tag', 'unprotected.get']);
    expect(result.tests[0]!.detail).toBe('#1: protected response: expected protected 200 (application/oscore, OSCORE; RFC 8613 §11.1), got unprotected 200');
    expect(result.tests[1]!.detail).toBe('#1: refused without OSCORE processing: expected an unprotected error response (RFC 8613 §8.3), or none (Appendix D.5.3), got unprotected 200');
    expect(result.tests[2]!.detail).toBe('#1: refused without OSCORE processing: expected an unprotected error response (RFC 8613 §9: unprotected access is not supported), got unprotected 200');
  });
});

describe('targets that answer badly (found in review)', () => {
  it('ends every exchange within three times the timeout, also with a body that drips forever, and still reports', async () => {
    const drips: NodeJS.Timeout[] = [];
    const url = await listen((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain' });
      drips.push(setInterval(() => res.write('.'), 50));
      res.on('close', () => clearInterval(drips.pop()));
    });
    const started = performance.now();
    const result = await runHttpSuite({ target: url, contexts: CLIENT, only: ['method.get', 'tamper.tag'], sequenceStart: 1_000, timeoutMs: 600 });
    // Three exchanges (preflight, two tests) of at most 1.8 s each, far from "forever".
    expect(performance.now() - started).toBeLessThan(20_000);
    for (const timer of drips) clearInterval(timer);
    expect(failedIds(result)).toEqual(['method.get']); // a 404, even incomplete, refuses the altered tag
    // (On a stalled machine the 600 ms between chunks may run out first: undici's body timeout.)
    expect(result.tests[0]!.observed).toMatch(/unprotected 404 "\.+" \(body incomplete: (no complete response within 1800 ms|UND_ERR_BODY_TIMEOUT)\)/);
  });

  it('fails the replay tests when a replay gets a protected 200 whose body then stalls', async () => {
    const verified = createOscoreHandler({ contexts: loadContextFile(SERVER, { store: 'memory' }) }, echo({ n: 0 }));
    const seen = new Set<string>();
    const url = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const key = `${String(req.headers.oscore)} ${Buffer.concat(chunks).toString('hex')}`;
        if (!seen.has(key)) {
          seen.add(key);
          return verified(Object.assign(Readable.from(chunks), { headers: req.headers, rawHeaders: req.rawHeaders, method: req.method, url: req.url, socket: req.socket, httpVersion: req.httpVersion }) as unknown as IncomingMessage, res);
        }
        // "Answered" from a cache: framed as a protected response, body never finished.
        res.writeHead(200, { 'content-type': 'application/oscore', oscore: 'AA', 'content-length': '64' });
        res.write(Buffer.alloc(16));
      });
    });
    const result = await runHttpSuite({ target: url, contexts: CLIENT, only: ['replay.identical'], sequenceStart: 1_000, timeoutMs: 300 });
    expect(failedIds(result)).toEqual(['replay.identical']);
    expect(result.tests[0]!.detail).toMatch(/refused without OSCORE processing: expected .*, got protected, not verified \(the body did not arrive whole \((UND_ERR_BODY_TIMEOUT|no complete response within 900 ms)\)\)$/);
  });

  it('takes a --timeout beyond what a Node timer holds (2^31 − 1 ms) without failing at once', async () => {
    const url = await listen(createOscoreHandler({ contexts: loadContextFile(SERVER, { store: 'memory' }) }, echo({ n: 0 })));
    const result = await runHttpSuite({ target: url, contexts: CLIENT, only: ['method.get'], sequenceStart: 1_000, timeoutMs: 1_500_000_000 });
    expect(failedIds(result)).toEqual([]);
  });

  it('does not count a status outside HTTP\'s 100–599 as an error response', async () => {
    const url = await listen((req, res) => {
      req.resume();
      res.writeHead(999, { 'content-type': 'text/plain' });
      res.end('odd');
    });
    const result = await runHttpSuite({ target: url, contexts: CLIENT, only: ['tamper.tag'], sequenceStart: 1_000 });
    expect(failedIds(result)).toEqual(['tamper.tag']);
  });
});
