/**
 * Every vector file in conformance/vectors runs against the engine with both crypto
 * backends: node:crypto (all algorithms) and @noble/ciphers (GCM and ChaCha20/Poly1305;
 * its AES-CCM cases are skipped because the library has no CCM).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aeadAlgorithm, nobleBackend, nodeBackend, type CryptoBackend } from '@oscore-http/core';
import { describe, expect, it } from 'vitest';
import { findVectorFiles, loadVectorFile, MAX_VECTOR_STRING, runVectorFiles, VectorFileError, type CaseResult } from '../src/index.js';

const VECTORS = fileURLToPath(new URL('../vectors', import.meta.url));
const backends: [string, CryptoBackend][] = [
  ['node:crypto', nodeBackend()!],
  ['@noble/ciphers', nobleBackend],
];

function failures(cases: readonly CaseResult[]): string[] {
  return cases
    .filter((c) => c.status === 'failed')
    .map((c) => `${c.id}: ${c.detail ?? c.checks.filter((k) => !k.passed).map((k) => `${k.name} expected ${k.expected} got ${k.actual}`).join('; ')}`);
}

describe.each(backends)('vector files with the %s backend', (name, backend) => {
  it('validate against the schema and pass', async () => {
    const files = await findVectorFiles(VECTORS);
    expect(files.length).toBeGreaterThan(0);
    const results = await runVectorFiles(files, { backend });
    for (const file of results) {
      expect(file.error?.problems ?? [], file.file).toEqual([]);
      expect(failures(file.cases), file.file).toEqual([]);
      for (const c of file.cases.filter((c) => c.status === 'skipped')) {
        // Only algorithms the backend lacks may be skipped.
        expect(c.detail, c.id).toMatch(/does not implement/);
      }
    }
    const ran = results.flatMap((f) => f.cases).filter((c) => c.status === 'passed');
    expect(ran.length).toBeGreaterThan(0);
  }, 120_000);
});

describe('RFC 8613 Appendix C', () => {
  const file = fileURLToPath(new URL('../vectors/rfc8613-appendix-c.json', import.meta.url));

  it('reproduces C.1–C.8 byte for byte with node:crypto', async () => {
    const [result] = await runVectorFiles([file], { backend: nodeBackend()! });
    const byId = Object.fromEntries(result!.cases.map((c) => [c.id, c]));
    for (const id of ['c1-client', 'c1-server', 'c2-client', 'c2-server', 'c3-client', 'c3-server', 'c4-request', 'c5-request', 'c6-request', 'c7-response', 'c8-response-with-partial-iv']) {
      expect(byId[id]?.status, id).toBe('passed');
    }
    // The protected messages are compared field by field, including every intermediate the RFC lists.
    const c4 = byId['c4-request']!;
    expect(c4.checks.map((c) => c.name)).toEqual(['plaintext', 'Partial IV', 'aad_array', 'AAD', 'nonce', 'OSCORE option', 'ciphertext', 'verified request']);
  });

  it('derives C.1–C.3 with the @noble/hashes HKDF as well', async () => {
    const [result] = await runVectorFiles([file], { backend: nobleBackend });
    const derivations = result!.cases.filter((c) => c.kind === 'derivation');
    expect(derivations).toHaveLength(6);
    expect(derivations.every((c) => c.status === 'passed')).toBe(true);
    // C.4–C.8 use AES-CCM-16-64-128, which @noble/ciphers does not implement.
    expect(result!.cases.filter((c) => c.kind !== 'derivation').every((c) => c.status === 'skipped')).toBe(true);
    expect(nobleBackend.supports(aeadAlgorithm(10))).toBe(false);
  });
});

describe('the runner', () => {
  it('fails a case whose expected bytes are wrong, naming the field', async () => {
    const file = await loadVectorFile(fileURLToPath(new URL('../vectors/rfc8613-appendix-c.json', import.meta.url)));
    const c4 = file.vectors.find((v) => v.id === 'c4-request')!;
    if (c4.kind !== 'request') throw new Error('unexpected kind');
    const { runVector } = await import('../src/index.js');
    const corrupted = { ...c4, expect: { ...c4.expect, payload: c4.expect.payload.replace(/^61/, '60') } };
    const result = await runVector(corrupted);
    expect(result.status).toBe('failed');
    // Protecting no longer matches, and verifying the altered bytes fails to decrypt.
    expect(result.detail ?? '').toMatch(/ERR_OSCORE_DECRYPTION_FAILED/);
    expect(result.checks.find((c) => c.name === 'ciphertext')?.passed).toBe(false);
  });
});

describe('the runner, given a response vector that claims a Partial IV (found in review)', () => {
  it('fails the case when the response carries none, instead of skipping the check', async () => {
    const file = await loadVectorFile(fileURLToPath(new URL('../vectors/rfc8613-appendix-c.json', import.meta.url)));
    const c7 = file.vectors.find((v) => v.id === 'c7-response')!;
    if (c7.kind !== 'response') throw new Error('unexpected kind');
    const { runVector } = await import('../src/index.js');
    expect((await runVector(c7)).status).toBe('passed');
    const claimed = { ...c7, expect: { ...c7.expect, partialIv: 'ffffffff' } };
    const result = await runVector(claimed);
    expect(result.status).toBe('failed');
    expect(result.checks.find((c) => c.name === 'Partial IV')).toMatchObject({ passed: false, expected: 'ffffffff', actual: '(none)' });
  });
});

describe('loading a file the schema refuses (found in review)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oscore-vectors-'));
  const appendixC = JSON.parse(readFileSync(fileURLToPath(new URL('../vectors/rfc8613-appendix-c.json', import.meta.url)), 'utf8'));
  const write = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  const problemsOf = async (path: string) => {
    try {
      await loadVectorFile(path);
    } catch (err) {
      if (err instanceof VectorFileError) return err.problems;
      throw err;
    }
    throw new Error('the file was accepted');
  };

  it('names the problem of the kind the vector declares, not every other kind\'s', async () => {
    const vector = appendixC.vectors.find((v: { id: string }) => v.id === 'c4-request');
    const file = { ...appendixC, vectors: [{ ...vector, request: { ...vector.request, sequenceNumber: 1e308 } }] };
    expect(await problemsOf(write('bignum.json', file))).toEqual(['/vectors/0/request/sequenceNumber: must be <= 1099511627775']);
    const unknown = { ...appendixC, vectors: [{ ...vector, kind: 'teapot' }] };
    expect(await problemsOf(write('kind.json', unknown))).toEqual([expect.stringMatching(/^\/vectors\/0\/kind: must be one of derivation, request, response, /)]);
  });

  it('refuses strings longer than the runner takes and nesting no vector has, naming where, without exhausting the stack', async () => {
    const vector = appendixC.vectors.find((v: { id: string }) => v.id === 'c4-request');
    const huge = { ...appendixC, vectors: [{ ...vector, context: { ...vector.context, masterSecret: '00'.repeat(8 * 1024 * 1024) } }] };
    expect(await problemsOf(write('huge.json', huge))).toEqual([`/vectors/0/context/masterSecret: is longer than ${MAX_VECTOR_STRING} characters, the longest value the runner takes`]);
    const deep = `{"format":"oscore-vectors/1","vectors":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`;

    expect(await problemsOf(write('deep.json', deep))).toEqual([expect.stringMatching(/^\/vectors\/0(\/0)+: is nested deeper than 32 levels/)]);
    expect(await problemsOf(write('null.json', 'null'))).toEqual(['/: must be object']);
  });
});

describe('the independent generator', () => {
  it('reproduces the committed vector files byte for byte (nothing edited by hand, nothing stale)', () => {
    const generator = fileURLToPath(new URL('../generator/generate.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [generator, '--check'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Appendix C vectors .* reproduced exactly/);
  });
});
