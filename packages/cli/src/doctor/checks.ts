/**
 * The checks of `oscore-http doctor`: every problem a context file (docs/context-file.md)
 * can have, each with where it is and how to fix it — not only the first, as loading
 * does. Entries are checked one by one, then against each other; finally the file is
 * loaded as a service would load it, so doctor never passes a file a service refuses.
 *
 * Secrets are resolved to check their length and shape and compared with each other;
 * no finding contains a secret value.
 */

import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { aeadAlgorithm, defaultUsageLimits, hkdfAlgorithm, MemoryStateStore, OscoreError, type AeadAlgorithm } from '@oscore-http/core';
import { CONTEXT_CONFIG_KEYS, ContextConfigError, createContextSet, isShowableEnvName, normalizeOrigin, resolveSecret, type ContextConfig } from '@oscore-http/http';
import { parseContextJson, type ContextFileText } from '../context-file.js';
import { lowEntropy } from './entropy.js';

/** How serious a finding is: an error stops a service or breaks security; a warning should be fixed; info is worth knowing. */
export type Level = 'error' | 'warning' | 'info';

/** One problem found. */
export interface Finding {
  readonly level: Level;
  /** A stable identifier of the check, e.g. `secret.inline`. */
  readonly check: string;
  /** Where: `(file)`, `format`, `contexts[1].masterSecret`, … */
  readonly path: string;
  readonly message: string;
  readonly fix: string;
}

/** The result of checking one file. */
export interface DoctorResult {
  /** Number of entries in `contexts` (0 if there is no array). */
  readonly contexts: number;
  readonly findings: readonly Finding[];
}

/** The settings a context entry may have (docs/context-file.md; the loader refuses others). */
const KNOWN_KEYS = CONTEXT_CONFIG_KEYS;
/** An 'exp' closer than this is a warning: time to plan the rotation. */
const EXP_WARNING_DAYS = 30;

/** The smallest Master Secret accepted without an error (docs/key-management.md). */
const MIN_SECRET = 16;
/** What keygen makes and the docs recommend. */
const RECOMMENDED_SECRET = 32;
/** The HTTP default replay window, which the client interceptor assumes of its peers. */
const HTTP_WINDOW = 1024;

type Entry = Record<string, unknown>;

const isObject = (v: unknown): v is Entry => typeof v === 'object' && v !== null && !Array.isArray(v);

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function suggestion(key: string): string {
  const best = KNOWN_KEYS.map((k) => [k, editDistance(key, k)] as const).sort((a, b) => a[1] - b[1])[0]!;
  return best[1] <= 3 ? `did you mean "${best[0]}"? ` : '';
}

/** The detail of a ContextConfigError, without the file and place it starts with. */
function detailOf(err: ContextConfigError): string {
  return err.detail;
}

/** An environment variable name for a context's secret, e.g. OSCORE_SHOP_SECRET. */
function envNameFor(entry: Entry, index: number): string {
  const name = typeof entry.name === 'string' && entry.name !== '' ? entry.name : `CONTEXT_${index}`;
  return `OSCORE_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_SECRET`;
}

/** What a checked entry contributes to the checks across entries. */
interface Checked {
  readonly index: number;
  readonly entry: Entry;
  readonly errors: number;
  readonly alg: AeadAlgorithm | undefined;
  readonly secret: Uint8Array | undefined;
  readonly salt: Uint8Array | undefined;
  readonly senderId: string | undefined;
  readonly recipientId: string | undefined;
  readonly idContext: string | undefined;
  readonly origin: string | undefined;
}

class Checker {
  readonly findings: Finding[] = [];
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #baseDir: string;

  constructor(env: Readonly<Record<string, string | undefined>>, baseDir: string) {
    this.#env = env;
    this.#baseDir = baseDir;
  }

  add(level: Level, check: string, path: string, message: string, fix: string): void {
    this.findings.push({ level, check, path, message, fix });
  }

  /** A hex ID: `undefined` if absent or invalid (reported). */
  id(entry: Entry, key: 'senderId' | 'recipientId' | 'idContext', at: string, required: boolean): string | undefined {
    const value = entry[key];
    if (value === undefined) {
      if (required) this.add('error', 'id.missing', `${at}.${key}`, `is missing`, `set it to this side's ${key === 'senderId' ? 'Sender' : 'Recipient'} ID in hex ("" for the empty ID); the peer has the same two IDs swapped`);
      return undefined;
    }
    if (typeof value !== 'string' || !(value === '' || /^([0-9a-fA-F]{2})+$/.test(value.trim()))) {
      this.add('error', 'id.invalid', `${at}.${key}`, 'is not a hex string', `write it as hex digits in pairs, e.g. "01"${key === 'idContext' ? '' : ', or "" for the empty ID'}`);
      return undefined;
    }
    return value.trim().toLowerCase();
  }

  /** Resolves a secret reference; reports what is wrong with it. */
  secret(entry: Entry, key: 'masterSecret' | 'masterSalt', at: string, index: number): Uint8Array | undefined {
    const source = entry[key];
    const path = `${at}.${key}`;
    const what = key === 'masterSecret' ? 'Master Secret' : 'Master Salt';
    if (source === undefined) {
      if (key === 'masterSecret') this.add('error', 'secret.missing', path, 'is missing', `reference the pair's Master Secret: { "env": "${envNameFor(entry, index)}" } or { "file": "…" } (oscore-http keygen makes one)`);
      return undefined;
    }
    let bytes: Uint8Array;
    try {
      bytes = resolveSecret(source, path, { env: this.#env, baseDir: this.#baseDir });
    } catch (err) {
      if (!(err instanceof ContextConfigError)) throw err;
      const ref = isObject(source) ? source : {};
      const fix =
        'env' in ref && !isShowableEnvName(String(ref.env))
          ? `put the ${what} in an environment variable and name that: { "env": "${envNameFor(entry, index)}" }`
          : 'env' in ref
          ? `export ${String(ref.env)} with the ${what} in ${typeof ref.encoding === 'string' ? ref.encoding : 'hex'} where the service and this check run (or fix the variable's name)`
          : 'file' in ref
            ? `make ${resolve(this.#baseDir, String(ref.file))} readable by the service, holding the ${what} (${typeof ref.encoding === 'string' ? ref.encoding : 'hex'}); relative paths start at the context file's directory`
            : 'hex' in ref || 'base64' in ref
              ? `write the ${what} as ${'hex' in ref ? 'hex digits in pairs' : 'base64'}`
              : `use { "env": NAME }, { "file": PATH }, { "hex": … } or { "base64": … } (docs/context-file.md)`;
      // The loader's message ends with its own short fix ("; export it with …"): the fix here says more.
      this.add('error', 'secret.unresolved', path, detailOf(err).replace(/; export it with .*$/, ''), fix);
      return undefined;
    }
    if (key === 'masterSecret' && isObject(source) && ('hex' in source || 'base64' in source)) {
      this.add(
        'warning',
        'secret.inline',
        path,
        'the Master Secret is written in the context file, so everyone who can read the file, its backups or its repository has it',
        `move it to an environment variable or a secret file and reference it: { "env": "${envNameFor(entry, index)}" } or { "file": "/run/secrets/…" } (docs/context-file.md)`,
      );
    }
    return bytes;
  }

  /** Length and shape of a resolved Master Secret. */
  secretStrength(secret: Uint8Array, alg: AeadAlgorithm | undefined, path: string): void {
    const keygen = 'generate a new pair with "oscore-http keygen" (32 random bytes) and deploy it to both sides';
    if (secret.length < MIN_SECRET) {
      this.add('error', 'secret.short', path, `is ${secret.length} bytes; a Master Secret needs at least ${MIN_SECRET} random bytes (RFC 8613 §12.3)`, keygen);
    } else if (alg !== undefined && secret.length < alg.keyLength) {
      this.add('warning', 'secret.shorter-than-key', path, `is ${secret.length} bytes, shorter than the ${alg.keyLength}-byte key of ${alg.name}: the keys have at most ${secret.length * 8} bits of strength`, keygen);
    } else if (secret.length < RECOMMENDED_SECRET) {
      this.add('info', 'secret.length', path, `is ${secret.length} bytes; ${RECOMMENDED_SECRET} are recommended`, `${keygen} at the next rotation`);
    }
    const shape = lowEntropy(secret);
    if (shape !== undefined) {
      this.add(
        shape.level,
        'secret.low-entropy',
        path,
        `does not look random: ${shape.reason} (a heuristic: random bytes almost never look like this)`,
        `never type or derive a Master Secret from a password; ${keygen}`,
      );
    }
  }

  algorithm(entry: Entry, at: string): AeadAlgorithm | undefined {
    const value = entry.aeadAlgorithm;
    let alg: AeadAlgorithm;
    try {
      alg = aeadAlgorithm(value === undefined ? 10 : (value as number | string));
      if (typeof value !== 'undefined' && typeof value !== 'number' && typeof value !== 'string') throw new TypeError();
    } catch {
      this.add(
        'error',
        'alg.unknown',
        `${at}.aeadAlgorithm`,
        `${JSON.stringify(value)} is not a supported AEAD algorithm`,
        'use a COSE name or number: AES-CCM-16-64-128 (10, the default), AES-CCM-16-64-256 (11), AES-CCM-16-128-128 (30), AES-CCM-16-128-256 (31), A128GCM (1), A192GCM (2), A256GCM (3), ChaCha20/Poly1305 (24)',
      );
      return undefined;
    }
    const path = `${at}.aeadAlgorithm`;
    if (alg.id === 10) {
      this.add(
        'info',
        'alg.default',
        path,
        `${alg.name}${value === undefined ? ' (the default)' : ''} is the interoperable choice (mandatory to implement, RFC 8613 §3.2), with an 8-byte tag; it protects at most 65,535 bytes per message, so bodies stay under about 64 KiB`,
        'keep it for interoperability; for larger bodies use A128GCM or ChaCha20/Poly1305 on both sides',
      );
    } else if (alg.mode === 'ccm' && alg.tagLength === 8) {
      this.add(
        'info',
        'alg.short-tag',
        path,
        `${alg.name} has the default's 8-byte tag (the failed-decryption limit is 2^14) and its 64 KiB message bound; the 256-bit key adds no integrity, and it is less widely implemented than the default`,
        'for a 256-bit key with a 16-byte tag use AES-CCM-16-128-256 (31) or A256GCM (3); otherwise the default AES-CCM-16-64-128',
      );
    } else if (alg.mode === 'ccm') {
      this.add('info', 'alg.ccm-size', path, `${alg.name} protects at most 65,535 bytes per message, so bodies stay under about 64 KiB`, 'for larger bodies use A128GCM/A256GCM or ChaCha20/Poly1305 on both sides');
    }
    return alg;
  }

  entry(entry: unknown, index: number): Checked | undefined {
    const at = `contexts[${index}]`;
    const before = this.findings.length;
    const errorsSince = () => this.findings.slice(before).filter((f) => f.level === 'error').length;
    if (!isObject(entry)) {
      this.add('error', 'entry.type', at, 'is not an object', 'write each context as an object with at least masterSecret, senderId and recipientId (docs/context-file.md)');
      return undefined;
    }
    for (const key of Object.keys(entry)) {
      if (!KNOWN_KEYS.includes(key)) this.add('error', 'entry.unknown-key', `${at}.${key}`, 'is not a known setting; a service refuses the file', `${suggestion(key)}remove it or correct its spelling (settings: ${KNOWN_KEYS.join(', ')})`);
    }
    if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name === '')) {
      this.add('error', 'name.invalid', `${at}.name`, 'must be a non-empty string', 'name the peer, e.g. "billing"');
    }
    let origin: string | undefined;
    if (entry.peer !== undefined) origin = this.peer(entry.peer, `${at}.peer`);
    if (entry.hkdfAlgorithm !== undefined) {
      try {
        hkdfAlgorithm(entry.hkdfAlgorithm as number | string);
      } catch {
        this.add('error', 'hkdf.unknown', `${at}.hkdfAlgorithm`, `${JSON.stringify(entry.hkdfAlgorithm)} is not a supported HKDF algorithm`, 'use HKDF-SHA-256 (the default) or HKDF-SHA-512, the same on both sides');
      }
    }
    const alg = this.algorithm(entry, at);
    const secret = this.secret(entry, 'masterSecret', at, index);
    if (secret !== undefined) this.secretStrength(secret, alg, `${at}.masterSecret`);
    const salt = this.secret(entry, 'masterSalt', at, index);
    const senderId = this.id(entry, 'senderId', at, true);
    const recipientId = this.id(entry, 'recipientId', at, true);
    const idContext = this.id(entry, 'idContext', at, false);
    this.suffixes(entry, at, origin);
    if (alg !== undefined) {
      // RFC 8613 §3.3: "The maximum length of Sender ID in bytes equals the length of the AEAD nonce minus 6."
      const max = alg.nonceLength - 6;
      for (const [key, id, suffix] of [
        ['senderId', senderId, entry.senderIdSuffix],
        ['recipientId', recipientId, entry.recipientIdSuffix],
      ] as const) {
        if (id === undefined) continue;
        const length = id.length / 2 + (suffix === 1 || suffix === 2 ? suffix : 0);
        if (length > max) {
          this.add(
            'error',
            'id.too-long',
            `${at}.${key}`,
            `is ${length} bytes${suffix === 1 || suffix === 2 ? ` with its ${suffix}-byte instance suffix` : ''}; ${alg.name} allows at most ${max} (nonce length ${alg.nonceLength} − 6, RFC 8613 §3.3)`,
            `use shorter IDs on both sides (1 byte suffices for 256 peers)${alg.nonceLength === 12 ? ', or an AES-CCM algorithm (7 bytes)' : ''}`,
          );
        }
      }
    }
    if (senderId !== undefined && recipientId !== undefined && senderId === recipientId && entry.senderIdSuffix === undefined && entry.recipientIdSuffix === undefined) {
      this.add(
        'error',
        'id.equal',
        `${at}.recipientId`,
        `equals senderId (${senderId || 'the empty ID'}): both directions would use the same key and nonces (RFC 8613 §3.3)`,
        'give the two sides distinct Sender IDs, e.g. "01" and "02", mirrored in the peer\'s file',
      );
    }
    if (entry.sendKidContext !== undefined) {
      if (typeof entry.sendKidContext !== 'boolean') this.add('error', 'kid-context.invalid', `${at}.sendKidContext`, 'must be true or false', 'write true or false, without quotes');
      else if (entry.sendKidContext && entry.idContext === undefined) this.add('error', 'kid-context.without-id-context', `${at}.sendKidContext`, 'is true but there is no idContext to send', 'set idContext on both sides, or remove sendKidContext');
    }
    this.replayWindow(entry.replayWindow, `${at}.replayWindow`);
    this.usageLimits(entry.usageLimits, alg, `${at}.usageLimits`);
    return { index, entry, errors: errorsSince(), alg, secret, salt, senderId, recipientId, idContext, origin };
  }

  peer(value: unknown, path: string): string | undefined {
    const fix = 'write the server\'s origin: scheme, host and port, e.g. "http://billing.internal:8080"';
    let url: URL;
    try {
      url = new URL(String(value));
      if (typeof value !== 'string') throw new TypeError();
    } catch {
      this.add('error', 'peer.invalid', path, `${JSON.stringify(value)} is not an origin`, fix);
      return undefined;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      this.add('error', 'peer.scheme', path, `"${value}" is not an http or https origin, so no request ever matches it`, fix);
      return undefined;
    }
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      this.add('warning', 'peer.not-origin', path, `"${value}" has more than an origin; the client picks contexts by origin only, so the rest is ignored`, `write only the origin, "${url.origin}"`);
    }
    return normalizeOrigin(url.origin);
  }

  suffixes(entry: Entry, at: string, origin: string | undefined): void {
    for (const key of ['senderIdSuffix', 'recipientIdSuffix'] as const) {
      const value = entry[key];
      if (value === undefined) continue;
      if (value !== 1 && value !== 2) this.add('error', 'suffix.invalid', `${at}.${key}`, 'must be 1 or 2 (bytes)', 'use 1 for up to 256 instances over the pair\'s lifetime, 2 for up to 65,536 (docs/scaling.md)');
    }
    if (entry.senderIdSuffix !== undefined && entry.peer === undefined && origin === undefined) {
      this.add('error', 'suffix.no-peer', `${at}.senderIdSuffix`, 'is set but the context has no "peer": a replicated sender is a client', 'add "peer" (the server\'s origin), or move the suffix to the server side as recipientIdSuffix');
    }
  }

  /** 'exp' (draft-ietf-core-oscore-key-limits §2.2.1): passed, or near enough to plan the rotation. */
  expiry(exp: number, path: string): void {
    const when = new Date(exp * 1000).toISOString();
    const left = exp - Date.now() / 1000;
    const fix = 'rotate the context (oscore-http keygen; docs/key-management.md) and give the new one a later exp';
    if (left <= 0) this.add('error', 'exp.passed', path, `the context expired at ${when}: it protects and verifies nothing`, fix);
    else if (left < EXP_WARNING_DAYS * 86_400) this.add('warning', 'exp.soon', path, `the context expires at ${when}, in ${Math.ceil(left / 86_400)} day(s)`, fix);
  }

  replayWindow(value: unknown, path: string): void {
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_536) {
      this.add('error', 'replay-window.range', path, `${JSON.stringify(value)} is not an integer between 1 and 65536`, `remove it for the default of ${HTTP_WINDOW}, or give an integer in range`);
    } else if (value < HTTP_WINDOW) {
      this.add(
        'info',
        'replay-window.small',
        path,
        `is ${value}, below the HTTP default of ${HTTP_WINDOW}: requests spread over a connection pool arrive reordered, and those older than the window are refused as replays`,
        `set the client's peerReplayWindow to ${value} (docs/wire-format.md §7), or remove it for the default`,
      );
    }
  }

  usageLimits(value: unknown, alg: AeadAlgorithm | undefined, path: string): void {
    if (value === undefined) return;
    if (!isObject(value)) {
      this.add('error', 'usage-limits.invalid', path, 'must be an object { "q": n, "v": n, "l": n }', 'remove it for the draft\'s limits, or give positive integers');
      return;
    }
    for (const key of Object.keys(value)) {
      if (key !== 'q' && key !== 'v' && key !== 'l') this.add('error', 'usage-limits.invalid', `${path}.${key}`, 'is not a usage limit (q, v or l)', 'remove it');
    }
    const defaults = alg === undefined ? undefined : defaultUsageLimits(alg);
    for (const key of ['q', 'v', 'l'] as const) {
      const n = value[key];
      if (n === undefined) continue;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
        this.add('error', 'usage-limits.invalid', `${path}.${key}`, `${JSON.stringify(n)} is not a positive integer`, 'remove it for the draft\'s limit, or give a positive integer');
      } else if (defaults !== undefined && n > defaults[key]) {
        const ccm8 = alg!.mode === 'ccm' && alg!.tagLength === 8;
        this.add(
          'warning',
          'usage-limits.above-recommendation',
          `${path}.${key}`,
          `${n} is above draft-ietf-core-oscore-key-limits' ${key === 'l' ? 'l' : `limit_${key}`} of ${defaults[key]}${key === 'l' ? ' blocks' : ''} for ${alg!.name}${ccm8 ? ', whose 8-byte tag leaves no margin for it' : ''}`,
          ccm8 ? 'remove it; rotate the context before the limit instead' : 'keep it only after computing the advantage for your message sizes (draft-irtf-cfrg-aead-limits); else remove it',
        );
      }
    }
  }
}

/** Checks across entries: names, peers, shared secrets, reused IDs. */
function crossChecks(c: Checker, checked: readonly Checked[]): void {
  const byName = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  for (const e of checked) {
    const at = `contexts[${e.index}]`;
    if (typeof e.entry.name === 'string' && e.entry.name !== '') {
      const first = byName.get(e.entry.name);
      if (first !== undefined) c.add('error', 'name.duplicate', `${at}.name`, `"${e.entry.name}" is also the name of contexts[${first}]`, 'give every context its own name');
      else byName.set(e.entry.name, e.index);
    }
    if (e.origin !== undefined) {
      const first = byOrigin.get(e.origin);
      if (first !== undefined) c.add('error', 'peer.duplicate', `${at}.peer`, `${e.origin} is also the peer of contexts[${first}]; a client has one context per origin`, 'remove one of them; during a rotation, the client keeps only the new context');
      else byOrigin.set(e.origin, e.index);
    }
  }
  // Each context is reported against the first one it collides with, not against every
  // earlier one: one finding per context, so a file of many copies stays a short report
  // (pairwise, n copies would give n²/2 findings).
  const hex = (b: Uint8Array | undefined) => (b === undefined ? '-' : Buffer.from(b).toString('hex'));
  const bySender = new Map<string, Checked>();
  const bySecret = new Map<string, Checked>();
  const byRecipient = new Map<string, { first: Checked; withoutPeer: Checked | undefined }>();
  /** By everything the Recipient Context's state id is derived from: the same context twice. */
  const byContext = new Map<string, Checked>();
  for (const b of checked) {
    const ctx = b.idContext === undefined ? '' : ` and ID Context ${b.idContext}`;
    const against = (a: Checked) => `contexts[${a.index}] and contexts[${b.index}]`;
    if (b.secret !== undefined) {
      const senderKey = b.senderId === undefined ? undefined : [hex(b.secret), hex(b.salt ?? new Uint8Array(0)), b.senderId, b.idContext ?? '-'].join(' ');
      const sender = senderKey === undefined ? undefined : bySender.get(senderKey);
      const secret = bySecret.get(hex(b.secret));
      if (sender !== undefined) {
        c.add(
          'error',
          'ids.sender-reused',
          `contexts[${b.index}].senderId`,
          `${against(sender)} share the Master Secret and Salt, Sender ID ${b.senderId || '(empty)'}${ctx}: the same Sender Key and nonce space serve two peers, and each peer can forge this service's messages to the other`,
          'give each pair of services its own Master Secret ("oscore-http keygen")',
        );
      } else if (secret !== undefined) {
        c.add('warning', 'secret.shared', `contexts[${b.index}].masterSecret`, `${against(secret)} use the same Master Secret`, 'give each pair of services its own Master Secret ("oscore-http keygen"), so one compromised peer cannot read or forge the traffic of another');
      }
      if (senderKey !== undefined && sender === undefined) bySender.set(senderKey, b);
      if (secret === undefined) bySecret.set(hex(b.secret), b);
    }
    // The server finds a request's context by kid (its Recipient ID) and kid context (§8.2
    // step 2); two contexts that both name a peer origin are a client's, chosen by origin.
    if (b.recipientId !== undefined) {
      const key = `${b.recipientId} ${b.idContext ?? '-'}`;
      const seen = byRecipient.get(key);
      const clash = seen === undefined ? undefined : b.origin === undefined ? seen.first : seen.withoutPeer;
      // The same Master Secret, Salt and algorithms too: the same Recipient Context twice, which
      // a server refuses. Otherwise allowed (RFC 8613 §3.3: Recipient IDs "SHOULD be unique"), at a cost.
      const full = b.secret === undefined ? undefined : [key, hex(b.secret), hex(b.salt), b.alg?.id ?? '-', String(b.entry.hkdfAlgorithm ?? '-')].join(' ');
      const twin = full === undefined ? undefined : byContext.get(full);
      if (clash !== undefined) {
        const same = twin !== undefined && (b.origin === undefined || twin.origin === undefined);
        c.add(
          same ? 'error' : 'warning',
          'ids.recipient-reused',
          `contexts[${b.index}].recipientId`,
          same
            ? `${against(twin)} have the same Recipient ID ${b.recipientId || '(empty)'}${ctx}, Master Secret and algorithms: the same Recipient Context twice (a server refuses to start serving them)`
            : `${against(clash)} have the same Recipient ID ${b.recipientId || '(empty)'}${ctx}: a server tries every such request with each of their keys (RFC 8613 §3.3), and each key that does not open it counts a failed decryption, so they use up each other's limit_v`,
          'give each client its own Sender ID (the Recipient ID here) and mirror it in the client\'s file, or distinct ID Contexts',
        );
      }
      if (full !== undefined && !byContext.has(full)) byContext.set(full, b);
      if (seen === undefined) byRecipient.set(key, { first: b, withoutPeer: b.origin === undefined ? b : undefined });
      else if (seen.withoutPeer === undefined && b.origin === undefined) seen.withoutPeer = b;
    }
  }
}

/**
 * Checks a context file, read once by the caller ({@link readContextFileText}: a FIFO or
 * `<(…)` can be read only once, and standard input has no path).
 * @throws {InputError} when the file is not JSON.
 */
export function checkContextFile(file: ContextFileText, env: Readonly<Record<string, string | undefined>>): DoctorResult {
  const { label, path } = file;
  const data = parseContextJson(file);
  const c = new Checker(env, file.baseDir);
  if (!isObject(data)) {
    c.add('error', 'file.root', '(root)', 'is not an object', 'write { "format": "oscore-http-contexts/1", "contexts": [ … ] } (docs/context-file.md)');
    return { contexts: 0, findings: c.findings };
  }
  if (data.format !== 'oscore-http-contexts/1') {
    c.add('error', 'file.format', 'format', data.format === undefined ? 'is missing' : `is ${JSON.stringify(data.format)}, not "oscore-http-contexts/1"`, 'set "format": "oscore-http-contexts/1"');
  }
  const entries = data.contexts;
  if (!Array.isArray(entries) || entries.length === 0) {
    c.add('error', 'file.contexts', 'contexts', entries === undefined ? 'is missing' : 'must be a non-empty array', 'list the service\'s contexts, one per peer: "contexts": [ { … } ]');
    return { contexts: 0, findings: c.findings };
  }
  const checked = entries.map((e, i) => c.entry(e, i)).filter((e): e is Checked => e !== undefined);
  crossChecks(c, checked);

  const inline = checked.some((e) => isObject(e.entry.masterSecret) && ('hex' in e.entry.masterSecret || 'base64' in e.entry.masterSecret));
  // Standard input has no file mode to check.
  if (inline && path !== undefined) {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      c.add('warning', 'file.permissions', '(file)', `holds an inline Master Secret and is readable by ${mode & 0o007 ? 'everyone' : 'its group'} (mode 0${mode.toString(8)})`, `chmod 600 ${label}, or better, move the secret out of the file`);
    }
  }

  // Whatever the checks above missed, the loader would refuse: load each clean entry, then the file.
  // A store instance, not 'memory': replicated senders (senderIdSuffix) need one given (a shared store).
  const options = { store: new MemoryStateStore(), env, baseDir: file.baseDir };
  for (const e of checked.filter((x) => x.errors === 0)) {
    try {
      const exp = createContextSet([e.entry as unknown as ContextConfig], options).contexts[0]?.exp;
      if (exp !== undefined) c.expiry(exp, `contexts[${e.index}].exp`);
    } catch (err) {
      if (!(err instanceof ContextConfigError || err instanceof OscoreError)) throw err;
      const at = err instanceof ContextConfigError ? err.path.replace(/^contexts\[0\]/, `contexts[${e.index}]`) : `contexts[${e.index}]`;
      c.add('error', 'load', at, err instanceof ContextConfigError ? detailOf(err) : err.message, 'fix the context as the message says (docs/context-file.md)');
    }
  }
  if (!c.findings.some((f) => f.level === 'error')) {
    try {
      // What loadContextFile does after reading (root and format are checked above), on the
      // text already read: reading the path again would find a FIFO or <(…) empty.
      createContextSet((data as { contexts: ContextConfig[] }).contexts, { ...options, source: label });
    } catch (err) {
      if (!(err instanceof ContextConfigError)) throw err;
      c.add('error', 'load', err.path, detailOf(err), 'fix the file as the message says (docs/context-file.md)');
    }
  }
  return { contexts: entries.length, findings: mergeInfo(c.findings) };
}

/**
 * Info findings that say the same about several contexts (the default algorithm in
 * every entry) become one, placed at all of them: `contexts[0,3].aeadAlgorithm`.
 */
function mergeInfo(findings: readonly Finding[]): Finding[] {
  const out: Finding[] = [];
  const merged = new Map<string, { finding: Finding; indexes: string[]; field: string }>();
  for (const f of findings) {
    const place = /^contexts\[(\d+)\](.*)$/.exec(f.path);
    if (f.level !== 'info' || place === null) {
      out.push(f);
      continue;
    }
    const key = `${f.check}\n${place[2]}\n${f.message}\n${f.fix}`;
    const seen = merged.get(key);
    if (seen !== undefined) {
      seen.indexes.push(place[1]!);
      continue;
    }
    const entry = { finding: f, indexes: [place[1]!], field: place[2]! };
    merged.set(key, entry);
    out.push(f);
  }
  return out.map((f) => {
    const place = /^contexts\[(\d+)\](.*)$/.exec(f.path);
    if (f.level !== 'info' || place === null) return f;
    const entry = merged.get(`${f.check}\n${place[2]}\n${f.message}\n${f.fix}`)!;
    return entry.indexes.length === 1 ? f : { ...f, path: `contexts[${entry.indexes.join(',')}]${entry.field}` };
  });
}
