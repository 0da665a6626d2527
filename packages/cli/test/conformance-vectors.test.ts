/**
 * `oscore-http conformance vectors`, run as the real built binary: it passes on this
 * project's vectors, and fails — exit 1, the case named in the table, the JSON and the
 * JUnit file — on a copy of a vector file with one expected value corrupted.
 */

import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './support/cli.js';
import { parseJUnit } from './support/junit.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oscore-vectors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A copy of the Appendix C file with one hex digit of C.4's ciphertext changed. */
async function corruptedCopy(): Promise<{ file: string; original: string; changed: string }> {
  const file = join(dir, 'corrupted.json');
  const data = JSON.parse(await readFile(join(ROOT, 'conformance/vectors/rfc8613-appendix-c.json'), 'utf8')) as { vectors: { id: string; expect: { payload: string } }[] };
  const c4 = data.vectors.find((v) => v.id === 'c4-request')!;
  const original = c4.expect.payload;
  const last = original.at(-1)!;
  c4.expect.payload = original.slice(0, -1) + (last === '0' ? '1' : '0');
  await writeFile(file, JSON.stringify(data, null, 2));
  return { file, original, changed: c4.expect.payload };
}

describe('oscore-http conformance vectors', () => {
  it('passes on conformance/vectors: every file, every case, exit 0', async () => {
    const run = await runCli(['conformance', 'vectors', 'conformance/vectors']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const file of ['generated-large.json', 'generated-negative.json', 'generated-positive.json', 'rfc8613-appendix-c.json']) {
      expect(run.stdout).toContain(`conformance/vectors/${file}`);
    }
    expect(run.stdout).toMatch(/^PASS\s+c4-request\s+request\s+RFC 8613 Appendix C\.4/m);
    expect(run.stdout).toMatch(/^PASS 408 cases in 4 files \(backend node:crypto\): 408 passed, 0 failed, 0 skipped/m);
    expect(run.stdout).not.toMatch(/^FAIL/m);
  });

  it('fails on a corrupted copy: exit 1, the case named, its mismatch shown, in the table, JSON and JUnit', async () => {
    const { file, changed } = await corruptedCopy();
    const junit = join(dir, 'vectors.xml');
    const table = await runCli(['conformance', 'vectors', file, '--junit', junit]);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^FAIL\s+c4-request\s+request\s+RFC 8613 Appendix C\.4\s+ciphertext: expected /m);
    // Only the corrupted case fails; the file's other cases still pass.
    expect(table.stdout.match(/^FAIL\s+\S+\s+(request|response|derivation)/gm)).toHaveLength(1);
    expect(table.stdout).toMatch(/^FAIL 11 cases in 1 file .*: 10 passed, 1 failed, 0 skipped/m);
    expect(table.stdout).toContain(`expected ${changed}`);
    expect(table.stdout).toContain('ERR_OSCORE_DECRYPTION_FAILED');
    expect(table.stderr).toContain(`JUnit report written to ${junit}`);

    const [suite] = parseJUnit(await readFile(junit, 'utf8'));
    expect(suite!.cases).toHaveLength(11);
    const failed = suite!.cases.filter((c) => c.failure !== undefined);
    expect(failed.map((c) => c.name)).toEqual(['c4-request']);
    expect(failed[0]!.failure!.message).toMatch(/^ciphertext: expected /);
    expect(failed[0]!.failure!.text).toContain(changed);

    const json = await runCli(['conformance', 'vectors', file, '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as {
      format: string;
      summary: { failed: number; passed: number };
      files: { cases: { id: string; status: string; checks: { name: string; passed: boolean; expected?: string }[] }[] }[];
    };
    expect(report.format).toBe('oscore-conformance-report/1');
    expect(report.summary).toMatchObject({ failed: 1, passed: 10 });
    const c4 = report.files[0]!.cases.find((c) => c.id === 'c4-request')!;
    expect(c4.status).toBe('failed');
    expect(c4.checks.find((c) => c.name === 'ciphertext')).toEqual(expect.objectContaining({ passed: false, expected: changed }));
  });

  it('refuses what is not a vector file with exit 3, naming the file and the problem', async () => {
    const file = join(dir, 'not-vectors.json');
    await writeFile(file, JSON.stringify({ format: 'oscore-vectors/1', title: 'bad', vectors: [{ id: 'x', kind: 'request' }] }));
    const run = await runCli(['conformance', 'vectors', file]);
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('ERROR');
    expect(run.stderr).toContain(`${file} is not a valid oscore-vectors/1 file`);
    const missing = await runCli(['conformance', 'vectors', join(dir, 'nowhere')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/cannot read .*nowhere \(ENOENT\)/);
  });

  it('checks that the --junit file can be written before it runs: exit 74, and a full disk is 74 too', async () => {
    const missing = await runCli(['conformance', 'vectors', 'conformance/vectors/rfc8613-appendix-c.json', '--junit', join(dir, 'no-such-dir', 'r.xml')]);
    expect(missing.code).toBe(74);
    expect(missing.stderr).toMatch(/cannot write the JUnit report to .*r\.xml \(ENOENT\)/);
    expect(missing.stdout).toBe('');
    const full = await runCli(['conformance', 'vectors', 'conformance/vectors/rfc8613-appendix-c.json', '--junit', '/dev/full']);
    expect(full.code).toBe(74);
    expect(full.stderr).toMatch(/cannot write the JUnit report to \/dev\/full \(ENOSPC\)/);
  });

  it('runs with the @noble/ciphers backend, skipping the AES-CCM cases it cannot run', async () => {
    const file = join(dir, 'appendix-c.json');
    await copyFile(join(ROOT, 'conformance/vectors/rfc8613-appendix-c.json'), file);
    const run = await runCli(['conformance', 'vectors', file, '--backend', 'noble']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^SKIP\s+c4-request\s+request\s+.*does not implement AES-CCM-16-64-128/m);
    expect(run.stdout).toMatch(/6 passed, 0 failed, 5 skipped/);
  });

  it('runs with the OpenSSL backend of @oscore-http/openssl, every case of every file', async () => {
    const run = await runCli(['conformance', 'vectors', join(ROOT, 'conformance/vectors'), '--backend', 'openssl']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^PASS 408 cases in 4 files \(backend openssl \(kept contexts\)\): 408 passed, 0 failed, 0 skipped/m);
  });
});
