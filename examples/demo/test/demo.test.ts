/**
 * The demo runs with one command, and what the proxy printed and recorded holds none of the
 * plaintext the services printed; a message captured from it decrypts with `oscore-http inspect`.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const run = promisify(execFile);

/** Runs a node script from the repository root; its temporary files go to `tmp`. */
function node(args: string[], tmp: string) {
  return run(process.execPath, args, { cwd: root, timeout: 30_000, env: { ...process.env, NO_COLOR: '1', TMPDIR: tmp, COLUMNS: '' } }); // the 100-column layout
}

/** The two printed columns, split where the heading of the right one starts. */
function columns(stdout: string): { proxy: string[]; services: string[] } {
  const lines = stdout.split('\n');
  const heading = lines.findIndex((l) => l.startsWith('WHAT THE PROXY SAW'));
  const end = lines.indexOf('In short');
  expect(heading).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(heading);
  const at = lines[heading]!.indexOf('WHAT THE SERVICES SAW');
  const rows = lines.slice(heading + 1, end).filter((l) => !l.startsWith('──'));
  return { proxy: rows.map((l) => l.slice(0, at)), services: rows.map((l) => l.slice(at)) };
}

/**
 * The distinctive values in the services' column: paths and their segments, queries,
 * protected header values, JSON string values, the real statuses' reason phrases and the
 * uploaded file's text. Left out: what the services rebuild from the outer message (host,
 * content-length, date), and values short or hex-like enough to occur in a hex dump by chance.
 */
function distinctiveValues(services: string[]): string[] {
  const values = new Set<string>();
  for (const line of services.map((l) => l.trim())) {
    let m: RegExpExecArray | null;
    if ((m = /^(?:GET|POST|PUT|PATCH|DELETE) (\S+)$/.exec(line))) {
      const [path, query] = m[1]!.split('?');
      values.add(path!);
      for (const segment of path!.split('/')) values.add(segment);
      if (query !== undefined) for (const part of [query, ...query.split(/[&=,]/)]) values.add(part);
    } else if ((m = /^\d{3} (.+)$/.exec(line))) values.add(m[1]!);
    else if ((m = /^"[^"]+": "(.*)",?$/.exec(line))) values.add(m[1]!);
    else if ((m = /^> (.+)$/.exec(line))) values.add(m[1]!);
    else if ((m = /^([a-z][a-z0-9-]*): (.+)$/.exec(line)) && !['host', 'content-length', 'date'].includes(m[1]!)) values.add(m[2]!);
  }
  return [...values].filter((v) => v.length >= 4 && (/[g-z]/i.test(v) || v.length >= 12));
}

/**
 * Every word the services' column printed, for an exact-token comparison with the proxy's
 * column: path segments, query parts, header names and values, JSON keys and values, the
 * file's text, wrapped continuation lines included. Left out: the demo's own captions, and the
 * lines the services rebuild from the outer message (host, content-length, date).
 */
const CAPTIONS = [/^the orders route got \(from peer "\w+"\)$/, /^the shop got \(verified response\)$/, /^the orders service: nothing reached a route$/, /^\(no hook, no handler ran\)$/, /^the shop: not involved/, /^requests that reached a route:/, /^orders stored:/];
function words(text: string): string[] {
  return text.split(/[\s"'(),;:{}[\]<>?&]+/).filter((w) => w.length >= 3);
}
function serviceWords(services: string[]): string[] {
  const lines = services.map((l) => l.trim()).filter((l) => l !== '' && !CAPTIONS.some((c) => c.test(l)) && !/^(host|content-length|date): /.test(l));
  return [...new Set(lines.flatMap(words))];
}
/**
 * Words both columns print by design: the shared header name and body caption; the outer
 * method and status every exchange has ("POST", "200"), which an inner POST or 200 coincides
 * with; and the charset of the unprotected replay refusal's text/plain.
 */
const SHARED_BY_DESIGN = new Set(['content-type', 'body', 'bytes', 'POST', '200', 'charset=utf-8']);

describe('npm run demo', () => {
  let tmp: string;
  let capture: string;
  let stdout: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'oscore-demo-test-'));
    capture = join(tmp, 'capture');
    ({ stdout } = await node(['examples/demo/demo.mjs', '--capture-dir', capture], tmp));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('runs, exits 0, and the proxy column holds none of the plaintext the services printed', async () => {
    const tmpPlain = mkdtempSync(join(tmpdir(), 'oscore-demo-test-'));
    try {
      // As `npm run demo` runs it: no arguments, no configuration. A failure rejects (exit code ≠ 0).
      const plain = await node(['examples/demo/demo.mjs'], tmpPlain);
      expect(plain.stderr).toBe('');
      // Its per-run state directory is gone after exit.
      expect(readdirSync(tmpPlain)).toEqual([]);

      const { proxy, services } = columns(plain.stdout);
      const values = distinctiveValues(services);
      // The extraction found what the demo sends: a bad parse must not pass the test vacuously.
      for (const expected of ['Ada Lovelace', 'ada.lovelace@example.org', '221B Baker Street, London NW1 6XE', '4111 1111 1111 1111', '/orders', 'fields=status,address', 'Bearer shop-api-token-6Hq2vZ', 'Created', 'Not Found', '%PDF-1.4']) {
        expect(values).toContain(expected);
      }
      expect(values.some((v) => /^\/orders\/ord_[\w-]+\/invoice$/.test(v))).toBe(true);
      expect(values.filter((v) => /^ord_/.test(v)).length).toBeGreaterThanOrEqual(2); // the created one and the unknown one

      const proxyText = proxy.join('\n');
      expect(values.filter((v) => proxyText.includes(v))).toEqual([]);

      // And word for word: nothing the services printed — header names, JSON keys, wrapped
      // continuation lines included — is a word of the proxy's column.
      const printed = serviceWords(services);
      for (const expected of ['authorization', 'x-request-id', 'content-disposition', 'location', 'email', 'Lovelace', 'PUT', 'GET', 'invoice', '1111', 'EUR']) {
        expect(printed).toContain(expected);
      }
      expect(printed.some((w) => /^invoice-ord_[\w-]+\.pdf$/.test(w)), "the wrapped filename").toBe(true);
      const proxyWords = new Set(words(proxyText));
      expect(printed.filter((w) => proxyWords.has(w) && !SHARED_BY_DESIGN.has(w))).toEqual([]);

      // What the proxy did see: five opaque POSTs, four 200s with ciphertext, and the replay's 401.
      const startLines = proxy.map((l) => l.trim()).filter((l) => /^[A-Z]+ \S+ HTTP\/1\.1$/.test(l));
      expect(startLines).toEqual(Array(5).fill('POST /oscore HTTP/1.1'));
      const statusLines = proxy.map((l) => l.trim()).filter((l) => /^HTTP\/1\.1 \d{3}/.test(l));
      expect(statusLines).toEqual([...Array(4).fill('HTTP/1.1 200 OK'), 'HTTP/1.1 401 Unauthorized']);
      expect(proxy.filter((l) => /^content-type:/i.test(l.trim())).map((l) => l.trim().toLowerCase())).toEqual([
        ...Array(9).fill('content-type: application/oscore'),
        'content-type: text/plain; charset=utf-8',
      ]);
      expect(proxy.filter((l) => /^oscore: [\w-]+$/.test(l.trim()))).toHaveLength(9);
      expect(proxyText).toContain('body: "Replay detected"');
      // The replay reached no route.
      expect(plain.stdout).toMatch(/requests that reached a route: 4 before, 4 after/);
      expect(plain.stdout).toMatch(/orders stored: 1 before, 1 after/);
    } finally {
      rmSync(tmpPlain, { recursive: true, force: true });
    }
  });

  it('fits an 80-column terminal (COLUMNS when not a terminal), still without plaintext in the proxy column, and never exceeds 100', async () => {
    const narrow = mkdtempSync(join(tmpdir(), 'oscore-demo-test-'));
    try {
      for (const [columnsEnv, width] of [['80', 80], ['200', 100]] as const) {
        const { stdout: out, stderr } = await run(process.execPath, ['examples/demo/demo.mjs'], { cwd: root, timeout: 30_000, env: { ...process.env, NO_COLOR: '1', TMPDIR: narrow, COLUMNS: columnsEnv } });
        expect(stderr).toBe('');
        expect(out).not.toContain('\x1b[');
        const lines = out.split('\n');
        expect(Math.max(...lines.map((l) => [...l].length))).toBe(width);
        const { proxy, services } = columns(out);
        const proxyWords = new Set(words(proxy.join('\n')));
        const printed = serviceWords(services);
        expect(printed).toContain('shop-api-token-6Hq2vZ');
        expect(printed.filter((w) => proxyWords.has(w) && !SHARED_BY_DESIGN.has(w))).toEqual([]);
      }
      expect(readdirSync(narrow)).toEqual([]);
    } finally {
      rmSync(narrow, { recursive: true, force: true });
    }
  });

  it('--capture-dir writes raw outer messages without plaintext, and both context files (mode 0600)', () => {
    const files = readdirSync(capture).sort();
    const slugs = ['01-create-order', '02-upload-invoice', '03-get-order', '04-unknown-order', '05-replay'];
    expect(files).toEqual([...slugs.flatMap((s) => [`${s}.request.http`, `${s}.response.http`]), 'orders.contexts.json', 'shop.contexts.json'].sort());

    const values = distinctiveValues(columns(stdout).services);
    expect(values).toContain('ada.lovelace@example.org');
    for (const slug of slugs) {
      const request = readFileSync(join(capture, `${slug}.request.http`));
      const response = readFileSync(join(capture, `${slug}.response.http`));
      expect(request.subarray(0, 23).toString()).toBe('POST /oscore HTTP/1.1\r\n');
      expect(request.toString('latin1')).toMatch(/\r\ncontent-type: application\/oscore\r\n/);
      expect(response.subarray(0, 17).toString()).toBe(slug === '05-replay' ? 'HTTP/1.1 401 Unau' : 'HTTP/1.1 200 OK\r\n');
      expect(values.filter((v) => request.includes(v) || response.includes(v)), slug).toEqual([]);
      // Every longer word the services printed too (header names, JSON keys): too long to occur in ciphertext by chance.
      const long = serviceWords(columns(stdout).services).filter((w) => w.length >= 6 && !SHARED_BY_DESIGN.has(w));
      expect(long).toContain('authorization');
      expect(long.filter((w) => request.includes(w) || response.includes(w)), slug).toEqual([]);
    }
    // The replay is the captured request 1, byte for byte.
    expect(readFileSync(join(capture, '05-replay.request.http')).equals(readFileSync(join(capture, '01-create-order.request.http')))).toBe(true);

    for (const name of ['orders.contexts.json', 'shop.contexts.json']) {
      expect(statSync(join(capture, name)).mode & 0o777).toBe(0o600);
      const file = JSON.parse(readFileSync(join(capture, name), 'utf8'));
      expect(file.format).toBe('oscore-http-contexts/1');
      expect(file.contexts[0].masterSecret.hex).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('oscore-http inspect --context decrypts a request captured from the running demo', async () => {
    const { stdout: inner } = await node(
      ['packages/cli/dist/bin.js', 'inspect', '--context', join(capture, 'orders.contexts.json'), join(capture, '01-create-order.request.http')],
      tmp,
    );
    expect(inner).toMatch(/^POST \/orders\b/m);
    for (const value of ['Ada Lovelace', 'ada.lovelace@example.org', '221B Baker Street, London NW1 6XE', '4111 1111 1111 1111', 'Bearer shop-api-token-6Hq2vZ']) {
      expect(inner).toContain(value);
    }
  });

  it('oscore-http inspect --context --request decrypts the response bound to that request', async () => {
    const id = /location: \/orders\/(ord_[\w-]+)/.exec(stdout)?.[1];
    expect(id).toBeDefined();
    const { stdout: inner } = await node(
      [
        'packages/cli/dist/bin.js',
        'inspect',
        '--context',
        join(capture, 'shop.contexts.json'),
        '--request',
        join(capture, '01-create-order.request.http'),
        join(capture, '01-create-order.response.http'),
      ],
      tmp,
    );
    expect(inner).toMatch(/\b201\b/);
    expect(inner).toContain(`/orders/${id}`);
    expect(inner).toContain('**** 1111');
  });
});
