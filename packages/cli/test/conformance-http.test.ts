/**
 * `oscore-http conformance http`, run as the real built binary against real servers on
 * 127.0.0.1:
 *  - the example conformance server, started with its one command, passes every test,
 *    with each context of its client file;
 *  - a variant whose replay protection accepts everything (started only here, in this
 *    process) fails exactly the tests of category `replay`, and nothing else.
 * The JUnit files of both runs are read back as a CI system would.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_TEST_CATEGORIES, HTTP_TESTS, type HttpReport } from '@oscore-http/conformance';
import { loadContextFile } from '@oscore-http/http';
// @ts-expect-error -- a JavaScript example without type declarations
import { createConformanceServer } from '@oscore-http/example-conformance-server/app.mjs';
import { CLIENT_CONTEXTS, runCli, SERVER_CONTEXTS, startExampleServer, type ExampleServer } from './support/cli.js';
import { parseJUnit } from './support/junit.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oscore-http-suite-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const REPLAY_TESTS = HTTP_TESTS.filter((t) => t.category === 'replay').map((t) => t.id);

describe('against the example conformance server', () => {
  let server: ExampleServer;
  beforeAll(async () => {
    server = await startExampleServer(join(dir, 'server-state'));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('prints its URL and passes every test (JSON report, exit 0)', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const run = await runCli(['conformance', 'http', '--target', server.url, '--contexts', CLIENT_CONTEXTS, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as HttpReport;
    expect(report.format).toBe('oscore-conformance-report/1');
    expect(report.target).toMatchObject({ origin: server.url, outerPath: '/oscore', path: '/conformance/echo', context: 'conformance-suite', echo: true });
    expect(report.tests.map((t) => t.id)).toEqual(HTTP_TESTS.map((t) => t.id));
    expect(report.tests.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.detail}`)).toEqual([]);
    expect(report.summary).toMatchObject({ total: HTTP_TESTS.length, passed: HTTP_TESTS.length, failed: 0 });
    expect(new Set(report.tests.map((t) => t.category))).toEqual(new Set(HTTP_TEST_CATEGORIES));
    // Every test says what it sent, which RFC section it checks, and what it expected and saw.
    for (const t of report.tests) {
      expect(t.rfc, t.id).toMatch(/RFC \d{4}/);
      expect(t.requests.length, t.id).toBeGreaterThan(0);
      expect(t.expected, t.id).not.toBe('');
      expect(t.observed, t.id).not.toBe('');
      for (const r of t.requests) expect(r.response.status ?? r.response.error, `${t.id} ${r.label}`).toBeDefined();
    }
    // The negative tests proved through the echo count that the application never ran.
    const replay = report.tests.find((t) => t.id === 'replay.identical')!;
    expect(replay.checks.find((c) => c.name === 'application not run')?.passed).toBe(true);
    expect(replay.requests.map((r) => [r.label, r.response.status, r.response.protected])).toEqual([
      ['#1', 200, true],
      ['replay of #1', 401, false],
      ['witness', 200, true],
    ]);
  });

  it('passes every test with the ID Context / A128GCM context too (table and JUnit, exit 0)', async () => {
    const junit = join(dir, 'http-ok.xml');
    const run = await runCli(['conformance', 'http', '--target', server.url, '--contexts', CLIENT_CONTEXTS, '--context', 'conformance-suite-idctx', '--junit', junit]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('context conformance-suite-idctx');
    for (const test of HTTP_TESTS) expect(run.stdout).toMatch(new RegExp(`^PASS\\s+${test.id.replace('.', '\\.')}\\s`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^PASS ${HTTP_TESTS.length} tests: ${HTTP_TESTS.length} passed, 0 failed`, 'm'));
    const suites = parseJUnit(await readFile(junit, 'utf8'));
    expect(suites.map((s) => s.name)).toEqual(HTTP_TEST_CATEGORIES.map((c) => `http.${c}`));
    const cases = suites.flatMap((s) => s.cases);
    expect(cases).toHaveLength(HTTP_TESTS.length);
    expect(cases.filter((c) => c.failure !== undefined || c.error !== undefined)).toEqual([]);
    expect(cases.find((c) => c.name.startsWith('replay.identical:'))!.output).toContain('rfc: RFC 8613 §7.4');
  });
});

describe('against a server that skips the replay check', () => {
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    // The example service, except that every context's replay protection accepts every number.
    const contexts = loadContextFile(SERVER_CONTEXTS, { store: 'memory', state: () => ({ replayProtection: { checkAndUpdate: () => 'accepted' as const } }) });
    app = (await createConformanceServer({ contexts })) as FastifyInstance;
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('fails exactly the replay tests (exit 1), in the table, the JSON and the JUnit file', async () => {
    expect(REPLAY_TESTS).toEqual(['replay.identical', 'replay.older', 'replay.concurrent', 'replay.outside-window', 'replay.after-error']);
    const junit = join(dir, 'http-broken.xml');
    const json = await runCli(['conformance', 'http', '--target', url, '--contexts', CLIENT_CONTEXTS, '--json', '--junit', junit]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as HttpReport;
    const failed = report.tests.filter((t) => t.status === 'failed');
    expect(failed.map((t) => t.id)).toEqual(REPLAY_TESTS);
    expect(report.summary).toMatchObject({ failed: REPLAY_TESTS.length, passed: HTTP_TESTS.length - REPLAY_TESTS.length });
    for (const t of failed) {
      // The replayed (or too old) request was answered with a protected response that verifies against it: it was processed.
      const processed = t.id === 'replay.concurrent' ? /^exactly one accepted: expected 1 protected response that verifies, got 2$/ : /refused without OSCORE processing: expected an unprotected error response \(RFC 8613 §8\.3\), or none \(Appendix D\.5\.3\), got protected, verified, inner \d+/;
      expect(t.detail, t.id).toMatch(processed);
      // A replay answered with the same protected error (an unknown critical option inside) runs nothing.
      expect(t.checks.find((c) => c.name === 'application not run')?.passed, t.id).toBe(t.id === 'replay.after-error');
    }
    const [identical] = failed;
    expect(identical!.requests[1]).toMatchObject({ label: 'replay of #1', response: { status: 200, protected: true } });

    const suites = parseJUnit(await readFile(junit, 'utf8'));
    const failures = suites.flatMap((s) => s.cases.filter((c) => c.failure !== undefined).map((c) => ({ suite: s.name, name: c.name, message: c.failure!.message })));
    expect(failures.map((f) => f.name.split(':')[0])).toEqual(REPLAY_TESTS);
    expect(new Set(failures.map((f) => f.suite))).toEqual(new Set(['http.replay']));
    expect(failures[0]!.message).toContain('replay of #1: refused without OSCORE processing');

    // The table names each failing test with what it sent, expected and saw.
    const table = await runCli(['conformance', 'http', '--target', url, '--contexts', CLIENT_CONTEXTS, '--context', 'conformance-suite-idctx']);
    expect(table.code).toBe(1);
    // Table rows are padded ("FAIL    id"); the details below them are not ("FAIL id — title").
    expect(table.stdout.match(/^FAIL {2,}\S+/gm)!.map((line) => line.split(/\s+/)[1])).toEqual(REPLAY_TESTS);
    expect(table.stdout).toMatch(/^FAIL replay\.identical — An accepted request sent again is rejected \(RFC 8613 §7\.4, §8\.2 step 3\)$/m);
    expect(table.stdout).toMatch(/^ {4}replay of #1: POST \/oscore \[inner POST \/conformance\/echo, seq \d+\], \d+ B body \(the bytes of #1, unchanged\)$/m);
    expect(table.stdout).toMatch(/^ {2}observed: .*replay of #1: protected 200/m);
    expect(table.stdout).toMatch(new RegExp(`^FAIL ${HTTP_TESTS.length} tests: ${HTTP_TESTS.length - REPLAY_TESTS.length} passed, ${REPLAY_TESTS.length} failed`, 'm'));
  });
});

describe('oscore-http conformance http, refused before anything is sent (found in review)', () => {
  it('a --junit file that cannot be written: exit 74 before the run, which would move the target\'s replay window', async () => {
    // Port 9 (discard): nothing is sent there, since the check comes first.
    const run = await runCli(['conformance', 'http', '--target', 'http://127.0.0.1:9', '--contexts', CLIENT_CONTEXTS, '--junit', '/nonexistent-dir/report.xml']);
    expect(run.code).toBe(74);
    expect(run.stderr).toMatch(/cannot write the JUnit report to \/nonexistent-dir\/report\.xml \(ENOENT\); give --junit a file in a writable directory/);
    expect(run.stdout).toBe('');
  });

  it('an --oversize beyond what can be built in memory: a usage error, exit 2', async () => {
    const run = await runCli(['conformance', 'http', '--target', 'http://127.0.0.1:9', '--contexts', CLIENT_CONTEXTS, '--oversize', '9007199254740991']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--oversize must be at most 268435456');
  });
});
