/**
 * `oscore-http doctor`, run as the real built binary on real files: a pair from
 * `oscore-http keygen` passes (with the inline-secret warning until the secret moves to
 * the environment or a file), and a file with many mistakes gets every one of them
 * reported, with its place and fix, without a secret value in the output. The
 * low-entropy heuristic is checked in-process against random and hand-made secrets.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lowEntropy } from '../src/doctor/entropy.js';
import type { Finding } from '../src/doctor/checks.js';
import { runCli } from './support/cli.js';

let dir: string;
const at = (name: string) => join(dir, name);
const write = (name: string, content: unknown, mode = 0o600) => {
  writeFileSync(at(name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  chmodSync(at(name), mode);
  return name;
};
const doctor = (args: string[], env: Record<string, string> = {}) => runCli(['doctor', ...args], env, { cwd: dir });
const file = (contexts: unknown[]) => ({ format: 'oscore-http-contexts/1', contexts });

interface Report {
  format: string;
  file: string;
  contexts: number;
  findings: Finding[];
  summary: { errors: number; warnings: number; info: number };
}

let keygenSecret: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oscore-doctor-'));
  const run = await runCli(['keygen', '--server-name', 'orders', '--client-name', 'shop', '--peer', 'http://orders.internal:8080'], {}, { cwd: dir });
  expect(run.code).toBe(0);
  keygenSecret = (JSON.parse(readFileSync(at('orders.contexts.json'), 'utf8')) as { contexts: { masterSecret: { hex: string } }[] }).contexts[0]!.masterSecret.hex;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a pair from keygen', () => {
  it('passes (exit 0) with a warning for the inline secret and a note on the algorithm', async () => {
    const run = await doctor(['orders.contexts.json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        'info    contexts[0].aeadAlgorithm: AES-CCM-16-64-128 is the interoperable choice (mandatory to implement, RFC 8613 §3.2), with an 8-byte tag; it protects at most 65,535 bytes per message, so bodies stay under about 64 KiB — fix: keep it for interoperability; for larger bodies use A128GCM or ChaCha20/Poly1305 on both sides',
        'warning contexts[0].masterSecret: the Master Secret is written in the context file, so everyone who can read the file, its backups or its repository has it — fix: move it to an environment variable or a secret file and reference it: { "env": "OSCORE_SHOP_SECRET" } or { "file": "/run/secrets/…" } (docs/context-file.md)',
        '',
        'OK orders.contexts.json (1 context): 0 errors, 1 warning, 1 info',
        '',
      ].join('\n'),
    );
    expect(run.stdout).not.toContain(keygenSecret);
  });

  it('with the secret moved to an environment variable or a file: no warning; the variable unset is an error (exit 1)', async () => {
    const entry = (JSON.parse(readFileSync(at('shop.contexts.json'), 'utf8')) as { contexts: Record<string, unknown>[] }).contexts[0]!;
    write('shop-env.json', file([{ ...entry, masterSecret: { env: 'OSCORE_ORDERS_SECRET' } }]));
    const ok = await doctor(['shop-env.json'], { OSCORE_ORDERS_SECRET: keygenSecret });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/\nOK shop-env\.json \(1 context\): 0 errors, 0 warnings, 1 info\n$/);
    expect(ok.stdout).not.toContain(keygenSecret);

    const unset = await doctor(['shop-env.json']);
    expect(unset.code).toBe(1);
    expect(unset.stdout).toContain(
      'error   contexts[0].masterSecret: environment variable OSCORE_ORDERS_SECRET is not set — fix: export OSCORE_ORDERS_SECRET with the Master Secret in hex where the service and this check run (or fix the variable\'s name)\n',
    );
    expect(unset.stdout).toMatch(/\nFAIL shop-env\.json \(1 context\): 1 error, 0 warnings, 1 info\n$/);

    writeFileSync(at('orders.key'), `${keygenSecret}\n`);
    write('shop-file.json', file([{ ...entry, masterSecret: { file: 'orders.key' } }]));
    const fromFile = await doctor(['shop-file.json']);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toMatch(/0 errors, 0 warnings, 1 info\n$/);
    expect(fromFile.stdout).not.toContain(keygenSecret);
  });

  it('--json: the same findings as one document', async () => {
    const run = await doctor(['--json', 'orders.contexts.json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report).toMatchObject({ format: 'oscore-http-doctor/1', file: 'orders.contexts.json', contexts: 1, summary: { errors: 0, warnings: 1, info: 1 } });
    expect(report.findings.map((f) => [f.level, f.check, f.path])).toEqual([
      ['info', 'alg.default', 'contexts[0].aeadAlgorithm'],
      ['warning', 'secret.inline', 'contexts[0].masterSecret'],
    ]);
  });
});

describe('a file with many mistakes: every one reported, with place and fix (exit 1)', () => {
  const passwordSecret = Buffer.from('correct horse battery staple').toString('base64');
  const sharedSecret = '8f3a9c2e71d04b6a95e3c8f1027db4e6a1c9385f7e20d64b';
  const envSecret = randomBytes(32).toString('hex');
  let report: Report;
  let text: string;

  beforeAll(async () => {
    write(
      'bad.json',
      file([
        { name: 'billing', peer: 'http://billing.internal:8080/api', masterSecret: { env: 'OSCORE_BILLING_SECRET' }, senderId: '01', recipientId: '02', sendKidContex: true },
        { name: 'billing', peer: 'http://BILLING.internal:8080', aeadAlgorithm: 'A128GCM', masterSecret: { hex: '00112233445566778899aabbccddeeff' }, senderId: '01020304050607', recipientId: '02' },
        { name: 'shop', aeadAlgorithm: 'AES-GCM-9', masterSecret: { hex: 'ab'.repeat(32) }, senderId: '03', recipientId: '03', replayWindow: 0 },
        { name: 'pw', masterSecret: { base64: passwordSecret }, senderId: '01', recipientId: '04', usageLimits: { q: 2_000_000, v: 100_000, l: 1024 } },
        { name: 'short', peer: 'ftp://x', aeadAlgorithm: 11, masterSecret: { hex: '5e2d7a91c3f0' }, senderId: '01', recipientId: '05', replayWindow: 32 },
        { name: 'file', masterSecret: { file: 'nope.key' }, senderId: '01', recipientId: '06', hkdfAlgorithm: 'HKDF-MD5' },
        { name: 'same1', masterSecret: { hex: sharedSecret }, senderId: '0a', recipientId: '07' },
        { name: 'same2', masterSecret: { hex: sharedSecret }, senderId: '0a', recipientId: '07' },
        { name: 'env-ok', masterSecret: { env: 'OSCORE_ENV_OK_SECRET' }, masterSalt: { env: 'OSCORE_MISSING_SALT' }, senderId: 'zz', recipientId: '09' },
        'not an object',
      ]),
      0o644,
    );
    const json = await doctor(['--json', 'bad.json'], { OSCORE_ENV_OK_SECRET: envSecret });
    expect(json.code).toBe(1);
    report = JSON.parse(json.stdout) as Report;
    const table = await doctor(['bad.json'], { OSCORE_ENV_OK_SECRET: envSecret });
    expect(table.code).toBe(1);
    expect(table.stderr).toBe('');
    text = table.stdout;
  });

  it.each([
    ['error', 'entry.unknown-key', 'contexts[0].sendKidContex', /is not a known setting/, /did you mean "sendKidContext"\?/],
    ['warning', 'peer.not-origin', 'contexts[0].peer', /has more than an origin/, /write only the origin, "http:\/\/billing\.internal:8080"/],
    ['error', 'secret.unresolved', 'contexts[0].masterSecret', /^environment variable OSCORE_BILLING_SECRET is not set$/, /^export OSCORE_BILLING_SECRET with the Master Secret in hex/],
    ['error', 'secret.low-entropy', 'contexts[1].masterSecret', /does not look random: its bytes count up or down in equal steps.*\(a heuristic: /, /oscore-http keygen/],
    ['error', 'id.too-long', 'contexts[1].senderId', /^is 7 bytes; A128GCM allows at most 6 \(nonce length 12 − 6, RFC 8613 §3\.3\)$/, /shorter IDs/],
    ['error', 'alg.unknown', 'contexts[2].aeadAlgorithm', /^"AES-GCM-9" is not a supported AEAD algorithm$/, /A128GCM \(1\)/],
    ['error', 'secret.low-entropy', 'contexts[2].masterSecret', /every byte is 0xab/, /keygen/],
    ['error', 'id.equal', 'contexts[2].recipientId', /equals senderId \(03\)/, /distinct Sender IDs/],
    ['error', 'replay-window.range', 'contexts[2].replayWindow', /^0 is not an integer between 1 and 65536$/, /default of 1024/],
    ['warning', 'secret.low-entropy', 'contexts[3].masterSecret', /every byte is printable ASCII/, /password/],
    ['warning', 'usage-limits.above-recommendation', 'contexts[3].usageLimits.q', /^2000000 is above .*limit_q of 1048576 for AES-CCM-16-64-128/, /remove it/],
    ['warning', 'usage-limits.above-recommendation', 'contexts[3].usageLimits.v', /limit_v of 16384/, /remove it/],
    ['warning', 'usage-limits.above-recommendation', 'contexts[3].usageLimits.l', /^1024 is above .* l of 256 blocks for AES-CCM-16-64-128/, /remove it/],
    ['error', 'peer.scheme', 'contexts[4].peer', /"ftp:\/\/x" is not an http or https origin/, /server's origin/],
    ['info', 'alg.short-tag', 'contexts[4].aeadAlgorithm', /AES-CCM-16-64-256 has the default's 8-byte tag/, /AES-CCM-16-128-256 \(31\) or A256GCM \(3\)/],
    ['error', 'secret.short', 'contexts[4].masterSecret', /^is 6 bytes; a Master Secret needs at least 16 random bytes \(RFC 8613 §12\.3\)$/, /keygen/],
    ['info', 'replay-window.small', 'contexts[4].replayWindow', /is 32, below the HTTP default of 1024/, /peerReplayWindow to 32/],
    ['error', 'hkdf.unknown', 'contexts[5].hkdfAlgorithm', /"HKDF-MD5" is not a supported HKDF algorithm/, /HKDF-SHA-256/],
    ['error', 'secret.unresolved', 'contexts[5].masterSecret', /^cannot read .*\/nope\.key \(ENOENT\)$/, /readable by the service/],
    ['error', 'secret.unresolved', 'contexts[8].masterSalt', /environment variable OSCORE_MISSING_SALT is not set/, /Master Salt/],
    ['error', 'id.invalid', 'contexts[8].senderId', /^is not a hex string$/, /hex digits in pairs/],
    ['error', 'entry.type', 'contexts[9]', /^is not an object$/, /masterSecret, senderId and recipientId/],
    ['error', 'name.duplicate', 'contexts[1].name', /"billing" is also the name of contexts\[0\]/, /own name/],
    ['error', 'peer.duplicate', 'contexts[1].peer', /http:\/\/billing\.internal:8080 is also the peer of contexts\[0\]/, /one of them/],
    ['error', 'ids.sender-reused', 'contexts[7].senderId', /contexts\[6\] and contexts\[7\] share the Master Secret and Salt, Sender ID 0a/, /its own Master Secret/],
    ['error', 'ids.recipient-reused', 'contexts[7].recipientId', /contexts\[6\] and contexts\[7\] have the same Recipient ID 07, Master Secret and algorithms: the same Recipient Context twice/, /its own Sender ID/],
    ['warning', 'file.permissions', '(file)', /holds an inline Master Secret and is readable by everyone \(mode 0644\)/, /chmod 600 bad\.json/],
    ['info', 'alg.default', 'contexts[0,3,5,6,7,8].aeadAlgorithm', /AES-CCM-16-64-128 \(the default\) is the interoperable choice/, /A128GCM or ChaCha20\/Poly1305/],
  ])('%s %s at %s', (level, check, path, message, fix) => {
    const found = report.findings.filter((f) => f.check === check && f.path === path);
    expect(found, JSON.stringify(report.findings.filter((f) => f.path === path))).toHaveLength(1);
    expect(found[0]!.level).toBe(level);
    expect(found[0]!.message).toMatch(message);
    expect(found[0]!.fix).toMatch(fix);
    // The same finding is one line of the table.
    expect(text).toContain(`${level.padEnd(7)} ${path}: ${found[0]!.message} — fix: ${found[0]!.fix}\n`);
  });

  it('finds nothing wrong where nothing is: the env secret that is set, distinct IDs, an explicit valid algorithm', () => {
    expect(report.findings.filter((f) => f.path.startsWith('contexts[8].masterSecret'))).toEqual([]);
    expect(report.findings.filter((f) => f.path.startsWith('contexts[6]'))).toEqual([expect.objectContaining({ check: 'secret.inline' })]);
    expect(report.findings.filter((f) => f.path === 'contexts[6,7].masterSecret')).toEqual([expect.objectContaining({ level: 'info', check: 'secret.length', message: 'is 24 bytes; 32 are recommended' })]);
  });

  it('counts every finding in the summary, and prints no secret value', () => {
    const count = (level: string) => report.findings.filter((f) => f.level === level).length;
    expect(report.summary).toEqual({ errors: count('error'), warnings: count('warning'), info: count('info') });
    expect(report.contexts).toBe(10);
    expect(text).toMatch(new RegExp(`\\nFAIL bad\\.json \\(10 contexts\\): ${count('error')} errors, ${count('warning')} warnings, ${count('info')} info\\n$`));
    expect(text.trim().split('\n')).toHaveLength(report.findings.length + 2);
    for (const secret of [sharedSecret, envSecret, passwordSecret, 'correct horse', '00112233445566778899aabbccddeeff', '5e2d7a91c3f0']) {
      expect(text).not.toContain(secret);
      expect(JSON.stringify(report)).not.toContain(secret);
    }
  });
});

describe('other files', () => {
  it("a client's file may have the same Recipient ID for several servers", async () => {
    const secret = () => ({ hex: randomBytes(32).toString('hex') });
    write('client.json', file([
      { name: 'a', peer: 'http://a.internal', masterSecret: secret(), senderId: '02', recipientId: '01' },
      { name: 'b', peer: 'http://b.internal', masterSecret: secret(), senderId: '02', recipientId: '01' },
    ]));
    const run = await doctor(['--json', 'client.json']);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as Report).findings.map((f) => f.check).sort()).toEqual(['alg.default', 'secret.inline', 'secret.inline']);
  });

  it('a secret written as the name of its variable is reported without being printed', async () => {
    const secret = randomBytes(16).toString('hex').replace(/^[0-9]/, 'a');
    write('env-secret.json', file([{ masterSecret: { env: secret }, senderId: '01', recipientId: '02' }]));
    const run = await doctor(['env-secret.json']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/contexts\[0\]\.masterSecret: "env" names no environment variable that is set/);
    expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it('a file of 1,000 copies of one context: each copy reported once, against the first (linear, not one finding per pair)', async () => {
    const copy = { masterSecret: { env: 'COPY_SECRET' }, senderId: '01', recipientId: '02' };
    write('copies.json', file(Array.from({ length: 1_000 }, () => copy)));
    const run = await doctor(['--json', 'copies.json'], { COPY_SECRET: randomBytes(32).toString('hex') });
    expect(run.code).toBe(1);
    const findings = (JSON.parse(run.stdout) as Report).findings;
    const of = (check: string) => findings.filter((f) => f.check === check);
    expect(of('ids.sender-reused')).toHaveLength(999);
    expect(of('ids.recipient-reused')).toHaveLength(999);
    expect(of('secret.shared')).toHaveLength(0); // the sender finding says it
    expect(of('ids.sender-reused')[998]!.message).toMatch(/^contexts\[0\] and contexts\[999\] share/);
  });

  it('two peers sharing a Recipient ID under different Master Secrets: a warning (RFC 8613 §3.3 SHOULD), and the file still loads', async () => {
    const s1 = randomBytes(32).toString('hex');
    const s2 = randomBytes(32).toString('hex');
    const peer = (secret: string, sender: string, extra = {}) => ({ masterSecret: { hex: secret }, senderId: sender, recipientId: '07', ...extra });
    write('shared-rid.json', file([peer(s1, '01'), peer(s2, '02'), peer(s2, '03', { aeadAlgorithm: 1 }), peer(s2, '04')]));
    const run = await doctor(['--json', 'shared-rid.json']);
    const findings = (JSON.parse(run.stdout) as Report).findings.filter((f) => f.check === 'ids.recipient-reused' || f.check === 'load');
    // [1] and [2] only share the Recipient ID with an earlier one (another secret, or another algorithm: other keys);
    // [3] repeats [1] entirely, which a server refuses — found although [0] is the first with that ID.
    expect(findings.map((f) => [f.level, f.path])).toEqual([
      ['warning', 'contexts[1].recipientId'],
      ['warning', 'contexts[2].recipientId'],
      ['error', 'contexts[3].recipientId'],
    ]);
    expect(findings[0]!.message).toMatch(/tries every such request with each of their keys \(RFC 8613 §3\.3\).*use up each other's limit_v/);
    expect(findings[2]!.message).toMatch(/^contexts\[1\] and contexts\[3\] have the same Recipient ID 07, Master Secret and algorithms/);
  });

  it('what only loading finds is still reported: an ID Context too long for the OSCORE option', async () => {
    write('long-idctx.json', file([{ masterSecret: { hex: randomBytes(32).toString('hex') }, senderId: '01', recipientId: '02', idContext: 'ab'.repeat(250) }]));
    const run = await doctor(['--json', 'long-idctx.json']);
    expect(run.code).toBe(1);
    const load = (JSON.parse(run.stdout) as Report).findings.find((f) => f.check === 'load')!;
    expect(load).toMatchObject({ level: 'error', path: 'contexts[0]' });
    expect(load.message).toMatch(/do not fit the 255-byte OSCORE option as 'kid context' and 'kid'/);
  });

  it("an exp that has passed is an error, one within 30 days a warning, an invalid one the loader's error", async () => {
    const secret = () => ({ hex: randomBytes(32).toString('hex') });
    const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
    write('exp.json', file([
      { name: 'passed', masterSecret: secret(), senderId: '01', recipientId: '02', exp: '2020-01-01T00:00:00Z' },
      { name: 'soon', masterSecret: secret(), senderId: '03', recipientId: '04', exp: inDays(10) },
      { name: 'later', masterSecret: secret(), senderId: '05', recipientId: '06', exp: inDays(90) },
      { name: 'local', masterSecret: secret(), senderId: '07', recipientId: '08', exp: '2030-01-01T00:00:00' },
    ]));
    const run = await doctor(['--json', 'exp.json']);
    expect(run.code).toBe(1);
    const findings = (JSON.parse(run.stdout) as Report).findings.filter((f) => f.path.endsWith('.exp'));
    expect(findings).toEqual([
      expect.objectContaining({ level: 'error', check: 'exp.passed', path: 'contexts[0].exp', message: 'the context expired at 2020-01-01T00:00:00.000Z: it protects and verifies nothing' }),
      expect.objectContaining({ level: 'warning', check: 'exp.soon', path: 'contexts[1].exp', message: expect.stringMatching(/in 10 day\(s\)$/) }),
      expect.objectContaining({ level: 'error', check: 'load', path: 'contexts[3].exp', message: expect.stringMatching(/with its offset/) }),
    ]);
    expect(findings[0]!.fix).toMatch(/rotate the context/);
  });

  it.each([
    ['not an object', [1, 2], 'file.root', '(root)'],
    ['no format', { contexts: [] }, 'file.format', 'format'],
    ['an empty contexts array', { format: 'oscore-http-contexts/1', contexts: [] }, 'file.contexts', 'contexts'],
  ])('%s: exit 1 with the finding', async (_name, content, check, path) => {
    write('shape.json', content);
    const run = await doctor(['--json', 'shape.json']);
    expect(run.code).toBe(1);
    expect((JSON.parse(run.stdout) as Report).findings).toContainEqual(expect.objectContaining({ level: 'error', check, path }));
  });

  it('a file that cannot be read or is not JSON: exit 3', async () => {
    const missing = await doctor(['nowhere.json']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe('oscore-http: cannot read nowhere.json (ENOENT)\n');
    expect(missing.stdout).toBe('');
    write('broken.json', '{ "format": "oscore-http-contexts/1", ');
    const broken = await doctor(['broken.json']);
    expect(broken.code).toBe(3);
    // The line and column, never V8's excerpt of the file (it may quote a secret).
    expect(broken.stderr).toBe('oscore-http: broken.json is not valid JSON: expected double-quoted property name at line 1, column 39\n');
    expect(broken.stdout).toBe('');
  });

  it.each([
    [[], /^oscore-http: give the context file to check\n/],
    [['a.json', 'b.json'], /give one context file, not 2/],
    [['--fix', 'a.json'], /Unknown option '--fix'/],
  ])('usage error %j: exit 2', async (args, message) => {
    const run = await doctor(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/Run "oscore-http doctor --help" for usage\.\n$/);
  });

  it('--help prints the usage on stdout', async () => {
    const run = await runCli(['doctor', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: oscore-http doctor \[options\] <contexts-file \| ->\n/);
    expect(run.stdout).toContain('Exit codes: 0 no errors (warnings and info allowed), 1 errors found, 2 usage error,\n3 the file cannot be read or is not JSON.');
  });
});

describe('the low-entropy heuristic', () => {
  it('never flags random secrets of 16 or 32 bytes', () => {
    for (let i = 0; i < 20_000; i++) {
      const secret = randomBytes(i % 2 === 0 ? 16 : 32);
      expect(lowEntropy(secret), secret.toString('hex')).toBeUndefined();
    }
  });

  it.each([
    ['one byte repeated', Buffer.alloc(32, 0), 'error', /every byte is 0x00/],
    ['counting up', Buffer.from(Array.from({ length: 16 }, (_, i) => i)), 'error', /count up or down/],
    ['counting down, wrapping', Buffer.from(Array.from({ length: 32 }, (_, i) => (5 - 3 * i + 256 * 4) % 256)), 'error', /count up or down/],
    ['a repeated pattern', Buffer.from('1f8a3c'.repeat(8), 'hex'), 'error', /repeats a 3-byte pattern/],
    ['a password', Buffer.from('Tr0ub4dor&3-is-my-secret!!'), 'warning', /printable ASCII/],
    ['hex encoded twice', Buffer.from(randomBytes(16).toString('hex')), 'warning', /printable ASCII/],
    ['few distinct values', Buffer.from(Array.from({ length: 32 }, (_, i) => [0x00, 0x80, 0xff, 0x81, 0x01][(i * 7 + (i >> 2)) % 5]!)), 'warning', /only \d distinct byte values in 32 bytes, where random bytes have about 30/],
  ])('%s', (_name, secret, level, reason) => {
    const found = lowEntropy(secret);
    expect(found?.level).toBe(level);
    expect(found?.reason).toMatch(reason);
  });
});
