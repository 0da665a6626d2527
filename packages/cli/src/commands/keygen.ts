/**
 * `oscore-http keygen` — creates a pair of context files (docs/context-file.md), one per
 * side, sharing a fresh random Master Secret (32 bytes) and Master Salt (8 bytes) from
 * the operating system's CSPRNG, with mirrored Sender and Recipient IDs (RFC 8613 §3.1,
 * §3.3, §12.3). Files are created with mode 0600 and never overwritten.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { AEAD_ALGORITHMS, aeadAlgorithm, toHex, UnsupportedAlgorithmError, type AeadAlgorithm } from '@oscore-http/core';
import { ContextConfigError, createContextSet, normalizeOrigin, type ContextConfig } from '@oscore-http/http';
import { parseCommandArgs } from '../args.js';
import { InputError, UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import type { Command } from './types.js';

const HELP = 'keygen';

/** Master Secret length: 32 bytes (docs/key-management.md; RFC 8613 §12.3 asks for "a good amount of randomness"). */
export const MASTER_SECRET_LENGTH = 32;
/** Master Salt length: 8 bytes, as in RFC 8613 Appendix C. */
export const MASTER_SALT_LENGTH = 8;

const ALGORITHMS = AEAD_ALGORITHMS.map((a) => `${a.name} (${a.id})`).join(', ');

const usage = `Usage: oscore-http keygen [options]

Creates a pair of context files, one for the server and one for the client, sharing a
fresh random Master Secret (${MASTER_SECRET_LENGTH} bytes) and Master Salt (${MASTER_SALT_LENGTH} bytes) with distinct
Sender IDs. Files are created with mode 0600; existing files are never overwritten.
The secrets are written inline as hex: before deploying, move them to an environment
variable or a secret file and reference it (docs/context-file.md).

Options:
  --peer <origin>        The server's origin, e.g. http://orders.internal:8080; the
                         client's context gets it as "peer"
  --server-name <name>   The server's name (default server): names the client file's
                         context and the server's file, <server-name>.contexts.json
  --client-name <name>   The client's name (default client): names the server file's
                         context and the client's file, <client-name>.contexts.json
  --server-id <hex>      The server's Sender ID (default 01)
  --client-id <hex>      The client's Sender ID (default 02); "" is the empty ID
  --alg <name|number>    AEAD algorithm, name or COSE number (default AES-CCM-16-64-128,
                         10): AES-CCM-16-64-256 (11), AES-CCM-16-128-128 (30),
                         AES-CCM-16-128-256 (31), A128GCM (1), A192GCM (2), A256GCM (3),
                         ChaCha20/Poly1305 (24)
  --id-context <hex>     An ID Context for the pair (RFC 8613 §5.1)
  --exp <date-time>      When the pair expires ('exp', draft-ietf-core-oscore-key-limits
                         §2.2.1), with its offset, e.g. 2027-06-30T00:00:00Z: from then on
                         neither side protects or verifies anything under it
  --out-dir <dir>        Where to write both files (default .; created if missing)
  --server-file <path>   The server's file, instead of <out-dir>/<server-name>.contexts.json
  --client-file <path>   The client's file, instead of <out-dir>/<client-name>.contexts.json
  -h, --help             Show this help

Nothing is written to stdout; stderr says what was written. Secrets are never printed.

Exit codes: 0 both files written, 2 usage error, 3 a file exists or cannot be written.

Example:
  oscore-http keygen --peer http://orders.internal:8080 --server-name orders \\
    --client-name shop --out-dir ./secrets
`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function hexOption(value: string, name: string): string {
  if (!/^([0-9a-fA-F]{2})*$/.test(value)) throw new UsageError(`--${name} must be hex (an even number of 0-9a-f digits), not "${value}"`, HELP);
  return value.toLowerCase();
}

function algorithmOption(value: string | undefined): AeadAlgorithm | undefined {
  if (value === undefined) return undefined;
  try {
    return aeadAlgorithm(/^-?\d+$/.test(value) ? Number(value) : value);
  } catch (err) {
    if (err instanceof UnsupportedAlgorithmError) throw new UsageError(`--alg: unknown AEAD algorithm "${value}"; use one of ${ALGORITHMS}`, HELP);
    throw err;
  }
}

function nameOption(value: string | undefined, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (!NAME.test(value)) throw new UsageError(`--${name} must be letters, digits, ".", "_" or "-" (it names a file), not "${value}"`, HELP);
  return value;
}

/** An environment variable name suggested for a context's secret, e.g. OSCORE_SHOP_SECRET. */
function envName(name: string): string {
  return `OSCORE_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_SECRET`;
}

/** Makes a new directory entry durable (the file's own fsync does not cover its name). */
function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `path` with `content` and mode 0600, failing if it exists ('wx': O_CREAT|O_EXCL,
 * so a file appearing after the check is not overwritten either).
 */
function createPrivateFile(path: string, content: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    // The umask may have removed bits, never added any; set exactly 0600.
    fchmodSync(fd, 0o600);
    // All of it or an error (a bare writeSync may write part of it on a full disk), on disk.
    writeFileSync(fd, content);
    fsyncSync(fd);
    closeSync(fd); // a late write error can surface here (NFS)
  } catch (err) {
    // Created by this call ('wx'), so removed by it: an empty or partial file would make
    // the next run refuse ("already exists") over a file that holds no usable key.
    try {
      closeSync(fd);
    } catch {
      // closed already, or failing again: the file is removed either way
    }
    unlinkSync(path);
    throw err;
  }
}

/**
 * Creates `dir` and its missing parents with mode 0700. `mkdir`'s mode is filtered by the
 * umask (under `umask 277` a recursive mkdir gave 0500 directories the files could not be
 * created in, and not the documented 0700), so each directory this run creates is then set
 * to exactly 0700 before anything is created in it.
 */
function createPrivateDirectory(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !exists(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    mkdirSync(d, { mode: 0o700 });
    chmodSync(d, 0o700);
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new InputError(`cannot check ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
}

function fileContent(context: ContextConfig): string {
  return `${JSON.stringify({ format: 'oscore-http-contexts/1', contexts: [context] }, null, 2)}\n`;
}

/** The `keygen` command. */
export const keygenCommand: Command = {
  name: 'keygen',
  summary: 'Create a pair of context files with a fresh random Master Secret',
  usage,
  async run(argv, io: CliIo) {
    const { values, positionals } = parseCommandArgs(
      {
        args: [...argv],
        strict: true,
        allowPositionals: true,
        options: {
          peer: { type: 'string' },
          'server-name': { type: 'string' },
          'client-name': { type: 'string' },
          'server-id': { type: 'string' },
          'client-id': { type: 'string' },
          alg: { type: 'string' },
          'id-context': { type: 'string' },
          exp: { type: 'string' },
          'out-dir': { type: 'string' },
          'server-file': { type: 'string' },
          'client-file': { type: 'string' },
        },
      },
      HELP,
    );
    if (positionals.length > 0) throw new UsageError(`keygen takes no arguments, only options (got "${positionals[0]}")`, HELP);
    const alg = algorithmOption(values.alg);
    const maxId = (alg?.nonceLength ?? 13) - 6;
    const serverName = nameOption(values['server-name'], 'server-name', 'server');
    const clientName = nameOption(values['client-name'], 'client-name', 'client');
    const serverId = hexOption(values['server-id'] ?? '01', 'server-id');
    const clientId = hexOption(values['client-id'] ?? '02', 'client-id');
    // RFC 8613 §3.3: IDs of at most nonce length − 6 bytes, and distinct within the pair.
    for (const [name, id] of [['server-id', serverId], ['client-id', clientId]] as const) {
      if (id.length / 2 > maxId) throw new UsageError(`--${name} is ${id.length / 2} bytes but ${alg?.name ?? 'AES-CCM-16-64-128'} allows at most ${maxId} (nonce length − 6, RFC 8613 §3.3)`, HELP);
    }
    if (serverId === clientId) throw new UsageError(`--server-id and --client-id are both "${serverId}"; the two sides need distinct Sender IDs (RFC 8613 §3.3)`, HELP);
    const idContext = values['id-context'] === undefined ? undefined : hexOption(values['id-context'], 'id-context');
    let peer: string | undefined;
    if (values.peer !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(values.peer);
      } catch {
        url = undefined;
      }
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
        throw new UsageError(`--peer must be an origin like http://orders.internal:8080 (scheme, host, port; no path), not "${values.peer}"`, HELP);
      }
      peer = normalizeOrigin(url.origin);
    }
    const outDir = resolve(io.cwd, values['out-dir'] ?? '.');
    const serverFile = values['server-file'] !== undefined ? resolve(io.cwd, values['server-file']) : join(outDir, `${serverName}.contexts.json`);
    const clientFile = values['client-file'] !== undefined ? resolve(io.cwd, values['client-file']) : join(outDir, `${clientName}.contexts.json`);
    if (serverFile === clientFile) throw new UsageError(`both files would be ${serverFile}; give the two sides different names (--server-name, --client-name) or files`, HELP);

    // Check both targets before writing either: no partial pair.
    const existing = [serverFile, clientFile].filter(exists);
    if (existing.length > 0) {
      throw new InputError(`${existing.map((f) => relative(io.cwd, f) || f).join(' and ')} already ${existing.length === 1 ? 'exists' : 'exist'}; keygen never overwrites a context file (remove ${existing.length === 1 ? 'it' : 'them'}, or choose another --out-dir or names)`);
    }

    const masterSecret = { hex: toHex(randomBytes(MASTER_SECRET_LENGTH)) };
    const masterSalt = { hex: toHex(randomBytes(MASTER_SALT_LENGTH)) };
    const common = {
      aeadAlgorithm: (alg ?? aeadAlgorithm(10)).name,
      masterSecret,
      masterSalt,
      ...(idContext === undefined ? {} : { idContext }),
      ...(values.exp === undefined ? {} : { exp: values.exp }),
    };
    // The server's context is named after its peer, the client, and the other way round.
    const server: ContextConfig = { name: clientName, ...common, senderId: serverId, recipientId: clientId };
    const client: ContextConfig = { name: serverName, ...(peer === undefined ? {} : { peer }), ...common, senderId: clientId, recipientId: serverId };
    // Both must load as context files do; anything left (an ID Context too long for the option) is a usage error.
    for (const [side, config] of [['server', server], ['client', client]] as const) {
      let exp: number | undefined;
      try {
        exp = createContextSet([config], { store: 'memory' }).contexts[0]?.exp;
      } catch (err) {
        if (err instanceof ContextConfigError) throw new UsageError(`these options give an invalid ${side} context: ${err.message.replace(/^contexts\[0\]: /, '')}`, HELP);
        throw err;
      }
      if (exp !== undefined && exp * 1000 <= Date.now()) throw new UsageError(`--exp ${values.exp} has passed; a pair that expired could not be used`, HELP);
    }

    if (values['out-dir'] !== undefined && !exists(outDir)) {
      try {
        createPrivateDirectory(outDir);
      } catch (err) {
        throw new InputError(`cannot create the directory ${outDir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
      }
    }
    const written: string[] = [];
    try {
      for (const [file, config] of [[serverFile, server], [clientFile, client]] as const) {
        createPrivateFile(file, fileContent(config));
        written.push(file);
      }
      // The new names durable too: after a power loss both files exist or neither does.
      for (const d of new Set(written.map((f) => dirname(f)))) fsyncDirectory(d);
    } catch (err) {
      // Leave nothing half-done: remove what this run created.
      for (const file of written) unlinkSync(file);
      const code = (err as NodeJS.ErrnoException).code;
      const failed = written.length === 0 ? serverFile : clientFile;
      throw new InputError(code === 'EEXIST' ? `${failed} appeared while writing; nothing was written` : `cannot write ${failed} (${code ?? String(err)}); nothing was written`, { cause: err });
    }

    const shown = (f: string) => relative(io.cwd, f) || f;
    const algName = common.aeadAlgorithm;
    const ctx = `${idContext === undefined ? '' : `, ID Context ${idContext}`}${values.exp === undefined ? '' : `, expires ${values.exp}`}`;
    io.stderr.write(`wrote ${shown(serverFile)} (mode 0600): the server's context "${clientName}", Sender ID ${serverId || '(empty)'}, Recipient ID ${clientId || '(empty)'}, ${algName}${ctx}\n`);
    io.stderr.write(
      `wrote ${shown(clientFile)} (mode 0600): the client's context "${serverName}", Sender ID ${clientId || '(empty)'}, Recipient ID ${serverId || '(empty)'}, ${algName}${ctx}${peer === undefined ? ', no peer (add "peer": the server\'s origin)' : `, peer ${peer}`}\n`,
    );
    io.stderr.write(
      `The Master Secret is inline in both files. To deploy, move it to your secret store and reference it, e.g. "masterSecret": { "env": "${envName(clientName)}" } on the server and { "env": "${envName(serverName)}" } on the client, or { "file": "/run/secrets/…" } (docs/context-file.md); then run "oscore-http doctor <file>".\n`,
    );
    return ExitCode.OK;
  },
};
