/**
 * The benchmarks are scripts nobody runs in CI for their numbers; this keeps them runnable:
 * every script must parse, the core benchmark must complete a one-cell run, which
 * checks the engine's round trip byte for byte before timing anything, and the HTTP
 * benchmark's AEAD-floor helper must report a time for each cipher it is asked for.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bench = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function scripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'test' || e.name === 'results' ? [] : scripts(p);
    return e.name.endsWith('.mjs') ? [p] : [];
  });
}

describe('bench scripts', () => {
  const files = scripts(bench);

  it('finds the three benchmarks', () => {
    expect(files.map((f) => path.relative(bench, f))).toEqual(expect.arrayContaining(['core.mjs', 'http.mjs', 'stores.mjs']));
  });

  it.each(files.map((f) => [path.relative(bench, f), f]))('%s parses', (_name, file) => {
    expect(() => execFileSync(process.execPath, ['--check', file], { stdio: 'pipe' })).not.toThrow();
  });

  it('core.mjs runs one cell end to end', () => {
    const out = execFileSync(process.execPath, [path.join(bench, 'core.mjs'), '--quick', '--alg', '10', '--size', '64', '--backend', 'node'], { encoding: 'utf8' });
    expect(out).toMatch(/AES-CCM-16-64-128 \(10\)\s+node:crypto\s+64 B\s+[\d,]+/);
  });

  it('http/aead-floor.mjs reports µs per encrypt + decrypt pair, and refuses bad arguments', () => {
    const script = path.join(bench, 'http', 'aead-floor.mjs');
    const floor = JSON.parse(execFileSync(process.execPath, [script, '64', 'ccm,gcm'], { encoding: 'utf8' })) as Record<string, number>;
    expect(Object.keys(floor).sort()).toEqual(['ccm', 'gcm']);
    for (const us of Object.values(floor)) expect(us).toBeGreaterThan(0);
    expect(() => execFileSync(process.execPath, [script, '64', 'ocb'], { stdio: 'pipe' })).toThrow(expect.objectContaining({ status: 2 }));
  });
});
