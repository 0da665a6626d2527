/** Context files (docs/context-file.md): secret references, validation with located errors, per-origin lookup. */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { coapCode, protectRequest, verifyRequest } from '@oscore-http/core';
import { afterAll, describe, expect, it } from 'vitest';
import { ContextConfigError, createContextSet, loadContextFile, type ContextConfig } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'oscore-ctx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET_HEX = '0102030405060708090a0b0c0d0e0f10';
const base: ContextConfig = { name: 'billing', peer: 'http://Billing.Internal:80', masterSecret: { hex: SECRET_HEX }, senderId: '01', recipientId: '02' };

function problem(fn: () => unknown): ContextConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ContextConfigError);
    return err as ContextConfigError;
  }
  throw new Error('expected a ContextConfigError');
}

describe('secret references', () => {
  it('reads env (hex or base64), file (hex or raw, relative to the file) and inline values to the same key', async () => {
    writeFileSync(join(dir, 'secret.hex'), `${SECRET_HEX}\n`);
    writeFileSync(join(dir, 'secret.bin'), Buffer.from(SECRET_HEX, 'hex'));
    const env = { S_HEX: SECRET_HEX, S_B64: Buffer.from(SECRET_HEX, 'hex').toString('base64') };
    const sources = [
      { env: 'S_HEX' },
      { env: 'S_B64', encoding: 'base64' as const },
      { file: 'secret.hex' },
      { file: 'secret.bin', encoding: 'raw' as const },
      { base64: env.S_B64 },
    ];
    for (const masterSecret of sources) {
      const server = createContextSet([{ ...base, senderId: '02', recipientId: '01' }]).contexts[0]!;
      const file = join(dir, 'contexts.json');
      writeFileSync(file, JSON.stringify({ format: 'oscore-http-contexts/1', contexts: [{ ...base, masterSecret }] }));
      const client = loadContextFile(file, { env }).contexts[0]!;
      const r = await protectRequest(client, { code: coapCode(0, 1), options: [], payload: new Uint8Array() });
      // The same Master Secret on both sides: the server verifies what the client protected.
      await expect(verifyRequest(server, r.option, r.payload), JSON.stringify(masterSecret)).resolves.toBeDefined();
    }
  });

  it('variable names with - and . work (Docker, Kubernetes)', () => {
    for (const env of ['ORDERS-SECRET', 'oscore.master_secret']) {
      expect(createContextSet([{ ...base, masterSecret: { env } }], { env: { [env]: 'ab'.repeat(16) } }).contexts).toHaveLength(1);
    }
  });

  it('a secret written where its variable name belongs is refused without being shown', () => {
    const secret = 'ab'.repeat(16);
    for (const env of [secret, 'c2VjcmV0LXNlY3JldC1zZWNyZXQ=', 'Zx3kQm9TbR2wLp7vHn4cJd8sYf6gAe1u', 'has space']) {
      const err = problem(() => createContextSet([{ ...base, masterSecret: { env } }], { env: {} }));
      expect(err.message).toMatch(/"env" names no environment variable that is set/);
      expect(err.message).not.toContain(env);
      expect(JSON.stringify(err)).not.toContain(env);
    }
  });

  it('says which variable is missing, never its value', () => {
    const err = problem(() => createContextSet([{ ...base, masterSecret: { env: 'NOPE_NOT_SET' } }], { env: {} }));
    expect(err.path).toBe('contexts[0].masterSecret');
    expect(err.message).toMatch(/NOPE_NOT_SET is not set/);
    const bad = problem(() => createContextSet([{ ...base, masterSecret: { env: 'S' } }], { env: { S: 'not-hex-but-secret-ish' } }));
    expect(bad.message).not.toContain('not-hex-but-secret-ish');
  });

  it('a secret file without an end (a device, a FIFO) is refused at a bound instead of read forever', () => {
    const err = problem(() => createContextSet([{ ...base, masterSecret: { file: '/dev/zero' } }], { baseDir: dir }));
    expect(err.path).toBe('contexts[0].masterSecret');
    expect(err.message).toMatch(/\/dev\/zero is larger than 65536 bytes/);
  });

  it('invalid JSON is located by line and column, never quoted: the parser’s excerpt could hold a secret', () => {
    const file = join(dir, 'smart-quotes.json');
    // A smart quote before the secret: V8's message would quote the characters after it.
    writeFileSync(file, `{ "format": "oscore-http-contexts/1",\n  "contexts": [ { "masterSecret": { "hex": \u201c${SECRET_HEX}\u201d } } ] }`);
    const err = problem(() => loadContextFile(file));
    expect(err.message).toMatch(/is not valid JSON \(unexpected character '\u201c' at line 2, column 44\)/);
    expect(err.message).not.toMatch(/0102030405/);
    expect(problem(() => loadContextFile('/dev/zero')).message).toMatch(/larger than 16777216 bytes/);
  });

  it('reports an unreadable file with its path', () => {
    const err = problem(() => createContextSet([{ ...base, masterSecret: { file: 'missing.key' } }], { baseDir: dir }));
    expect(err.message).toMatch(/missing\.key.*ENOENT/);
  });
});

describe('validation', () => {
  it.each([
    [{ senderId: 'zz' }, 'contexts[0].senderId'],
    [{ recipientId: 7 }, 'contexts[0].recipientId'],
    [{ senderId: '0102030405060708' }, 'contexts[0]'], // 8 bytes > 7 for AES-CCM
    [{ recipientId: '01' }, 'contexts[0]'], // equal IDs
    [{ aeadAlgorithm: 'AES-GCM-999' }, 'contexts[0]'],
    [{ replayWindow: 0 }, 'contexts[0].replayWindow'],
    [{ peer: 'not a url' }, 'contexts[0].peer'],
    [{ peer: 'ftp://billing' }, 'contexts[0].peer'],
    [{ peer: 'http://billing/api' }, 'contexts[0].peer'],
    [{ usageLimits: { q: 'lots' } }, 'contexts[0]'],
    [{ exp: '2027-06-30' }, 'contexts[0].exp'], // no time, no offset: the instant would depend on the host
    [{ exp: '2027-06-30T00:00:00' }, 'contexts[0].exp'],
    [{ exp: 'tomorrow' }, 'contexts[0].exp'],
    [{ exp: -5 }, 'contexts[0].exp'],
    [{ exp: 1.5 }, 'contexts[0].exp'],
    [{ masterSecret: 'inline-string' }, 'contexts[0].masterSecret'],
    [{ sendKidContex: true }, 'contexts[0].sendKidContex'],
  ] as [Record<string, unknown>, string][])('%j is refused at %s', (change, path) => {
    expect(problem(() => createContextSet([{ ...base, ...change } as ContextConfig])).path).toBe(path);
  });

  it('takes exp as an RFC 3339 date-time with its offset or as seconds since the epoch', () => {
    // 2027-06-30T00:00:00Z is 1,814,313,600 s: 57 years with 14 leap days from 1970 (20,819 days), then 180 days to June 30.
    expect((57 * 365 + 14 + 180) * 86_400).toBe(1_814_313_600);
    const at = (exp: string | number) => createContextSet([{ ...base, exp }], { store: 'memory' }).contexts[0]!.exp;
    expect(at('2027-06-30T00:00:00Z')).toBe(1_814_313_600);
    expect(at('2027-06-30T02:00:00.750+02:00')).toBe(1_814_313_600);
    expect(at(1_814_313_600)).toBe(1_814_313_600);
    expect(createContextSet([base], { store: 'memory' }).contexts[0]!.exp).toBeUndefined();
  });

  it('refuses duplicate names and duplicate peers; a shared Recipient ID only when the whole Recipient Context repeats', () => {
    expect(problem(() => createContextSet([base, { ...base, peer: 'http://other' }])).path).toBe('contexts[1].name');
    expect(problem(() => createContextSet([base, { ...base, name: 'b', senderId: '03', recipientId: '04', peer: 'http://billing.internal' }])).path).toBe('contexts[1].peer');
    // Two peers with the same Sender ID under different Master Secrets: a server tries each key (RFC 8613 §3.3).
    const twoServers = createContextSet([base, { ...base, name: 'b', peer: 'http://other', masterSecret: { hex: 'ff'.repeat(16) } }]);
    expect(twoServers.forOrigin('http://other')?.name).toBe('b');
    expect(twoServers.registry.size).toBe(2);
    const twice = createContextSet([base, { ...base, name: 'b', peer: 'http://other' }]);
    expect(problem(() => twice.registry).message).toMatch(/Recipient ID 02, same Master Secret/);
  });

  it('names the file for unreadable or malformed files', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "format": "oscore-http-contexts/1", "contexts": [ }');
    expect(problem(() => loadContextFile(file)).message).toContain(file);
    writeFileSync(file, JSON.stringify({ format: 'v0', contexts: [] }));
    expect(problem(() => loadContextFile(file)).path).toBe('format');
    expect(problem(() => loadContextFile(join(dir, 'absent.json'))).message).toMatch(/ENOENT/);
  });
});

describe('lookup', () => {
  it('finds the client context by normalised origin and the server context by kid', () => {
    const set = createContextSet([base, { name: 'ledger', peer: 'https://ledger:8443/', masterSecret: { hex: SECRET_HEX }, senderId: '01', recipientId: '03', idContext: 'aa' }]);
    expect(set.forOrigin('http://billing.internal')?.name).toBe('billing');
    expect(set.forOrigin(new URL('https://LEDGER:8443/path'))?.name).toBe('ledger');
    expect(set.forOrigin('http://billing.internal:8080')).toBeUndefined();
    expect(set.forOrigin('::not a url::')).toBeUndefined();
    expect(set.origins).toEqual(['http://billing.internal', 'https://ledger:8443']);
    expect(set.registry.findRecipientContexts(Uint8Array.of(3), undefined)[0]?.name).toBe('ledger');
  });

  it('never prints secrets', () => {
    const set = createContextSet([base]);
    expect(inspect(set, { depth: 10 }) + JSON.stringify(set.contexts)).not.toMatch(/0102030405060708090a0b0c0d0e0f10|1, 2, 3, 4/);
  });
});

describe('state stores', () => {
  it('uses a given file store instance as it is, so its owner closes it once', async () => {
    const { openFileStateStore } = await import('@oscore-http/core/file-store');
    const { existsSync } = await import('node:fs');
    const stateDir = join(dir, 'given-store');
    const store = openFileStateStore(stateDir);
    const set = createContextSet([base], { store });
    expect(set.store).toBe(store);
    await store.close();
    expect(existsSync(join(stateDir, 'lock'))).toBe(false);
    expect(JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')).clean).toBe(true);
  });

  it('closing a set twice releases its share of a file store once: another set on the directory keeps it', async () => {
    const { existsSync } = await import('node:fs');
    const stateDir = join(dir, 'shared-store');
    const a = createContextSet([base], { store: { directory: stateDir } });
    const b = createContextSet([{ ...base, name: 'other', peer: 'http://other.internal', senderId: '03', recipientId: '04' }], { store: { directory: stateDir } });
    expect(a.store).toBe(b.store);
    await a.close();
    await a.close();
    // b's store is still open: it reserves, its windows check, and the directory is still locked.
    await expect(b.store.reserve('probe', 1)).resolves.toBeTypeOf('number');
    expect(b.store.replayWindow('w', 64).checkAndUpdate(1 as never)).toBe('accepted');
    expect(existsSync(join(stateDir, 'lock'))).toBe(true);
    await b.close();
    expect(existsSync(join(stateDir, 'lock'))).toBe(false);
  });
});
