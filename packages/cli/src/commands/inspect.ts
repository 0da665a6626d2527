/**
 * `oscore-http inspect <message>` — decodes a captured OSCORE-over-HTTP message (RFC 8613
 * §11): the outer message, the OSCORE option (§6.1) and the body; with `--context`, also
 * verifies it and shows the inner request or response as HTTP.
 */

import { resolve } from 'node:path';
import { parseCommandArgs, choiceOption } from '../args.js';
import { readContextFileText } from '../context-file.js';
import { InputError, UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { readFileBounded } from '@oscore-http/http';
import type { CliIo } from '../io.js';
import { parseCapturedInput, type HttpMessage } from '../inspect/http-message.js';
import { decodeOuter, decodeOuterHeader, type OuterOscore } from '../inspect/outer.js';
import { inspectJson, inspectSucceeded, renderInspectText, type InspectReport } from '../inspect/report.js';
import { readInspectContexts, verifyCapturedRequest, verifyCapturedResponse, type RequestIdentity, type Verification } from '../inspect/verify.js';
import { colorEnabled, createStyle } from '../style.js';
import { writeJson } from './output.js';
import type { Command } from './types.js';

const HELP = 'inspect';

const usage = `Usage: oscore-http inspect [options] <message-file | ->
       oscore-http inspect --header <value> [--body <file>] [--as request|response] [options]

Decodes a captured OSCORE message (RFC 8613 §11): the outer request or response, the
OSCORE option (flag bits, Partial IV and sequence number, kid, kid context) and the
body sizes. With --context it also verifies the message and prints the inner request
or response as HTTP: method, target, header fields and body. Nothing is stored, and no
replay window is kept: no state directory is touched, and a replay verifies like the
original.

Input, from a file or "-" (standard input):
  raw HTTP/1.1           start line, header fields, empty line, body (binary is fine;
                         CRLF or LF line endings; chunked bodies are decoded)
  curl -v dump           "> " request and "< " response lines; the body from --body,
                         as curl does not print binary bodies
  --header <value>       the OSCORE header field value alone, with --body <file>

Options:
  --context <file>       Verify with this context file (docs/context-file.md; "-" for
                         standard input); either
                         side's file works: a request is verified with the context whose
                         Recipient ID is its kid, or a client's context mirrored
  --request <file>       For a response: the request it answers (raw HTTP or curl -v).
                         A response is verified against its request's kid and Partial
                         IV (§7.1); a curl -v dump holding both needs no --request
  --body <file>          The body (ciphertext) from a file, replacing the message's
  --as <kind>            request or response: which message of a curl -v dump (default
                         the response, if it has one); for --header (default: request
                         if the value has a kid, else response)
  --json                 Write one JSON document (oscore-http-inspect/1) to stdout
  -h, --help             Show this help

Key material is never printed. The decrypted inner message is: keep the output as
confidential as the traffic.

Exit codes: 0 decoded (and verified, with --context), 1 the message does not verify
with the contexts or no context matches its kid, 2 usage error, 3 the input cannot be
read or is not an OSCORE message (the message says what is missing or malformed).

Examples:
  oscore-http inspect capture/01.request.http
  oscore-http inspect --context orders.contexts.json capture/01.request.http
  oscore-http inspect --context shop.contexts.json --request capture/01.request.http \\
    capture/01.response.http
  curl -sv -o body.bin ... 2> curl.txt; oscore-http inspect --body body.bin curl.txt
`;

/** Largest input read, far above any OSCORE message (the HTTP layer's default limit is 1 MiB). */
const MAX_INPUT = 64 * 1024 * 1024;

async function readInput(path: string, io: CliIo, what: string): Promise<{ bytes: Uint8Array; label: string }> {
  if (path === '-') {
    if (io.readStdin === undefined) throw new InputError('standard input is not available here');
    const bytes = await io.readStdin(MAX_INPUT);
    if (bytes.length > MAX_INPUT) throw new InputError(`stdin: more than ${MAX_INPUT} bytes; is this one HTTP message?`);
    return { bytes, label: 'stdin' };
  }
  const absolute = resolve(io.cwd, path);
  let bytes: Uint8Array;
  try {
    // Bounded while reading, not by stat: /dev/zero, a FIFO or /dev/fd/N have no size.
    bytes = readFileBounded(absolute, MAX_INPUT);
  } catch (err) {
    throw new InputError(`cannot read ${what} ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  if (bytes.length > MAX_INPUT) throw new InputError(`${path}: more than ${MAX_INPUT} bytes; is this one HTTP message?`);
  return { bytes, label: path };
}

/** The kid, kid context and Partial IV of the request a response answers. */
function requestIdentity(message: HttpMessage, label: string): RequestIdentity {
  const outer = decodeOuter(message, label, message.body ?? new Uint8Array(0));
  const { kid, kidContext, partialIV } = outer.fields;
  if (kid === undefined || partialIV === undefined) {
    throw new InputError(`${label}: the request carries no ${kid === undefined ? "'kid'" : 'Partial IV'}, so no response can be bound to it (RFC 8613 §5, §7.1)`);
  }
  return { kid, kidContext, partialIV, sequenceNumber: outer.sequenceNumber!, label };
}

/** What the message argument (or `--header`) held. */
interface Inspected {
  readonly outer: OuterOscore;
  readonly form: InspectReport['form'];
  readonly input: string;
  /** In a curl -v dump whose response is inspected: the request before it. */
  readonly requestInDump?: HttpMessage | undefined;
  readonly warnings: string[];
}

/** `--header <value>`: a request if the value has a kid, else a response, unless `--as` says. */
function fromHeader(value: string, body: Uint8Array | undefined, as: 'request' | 'response' | undefined): Inspected {
  let outer = decodeOuterHeader(as ?? 'request', value, body ?? new Uint8Array(0), '--header');
  if (as === undefined && outer.fields.kid === undefined) outer = decodeOuterHeader('response', value, body ?? new Uint8Array(0), '--header');
  return { outer, form: 'header', input: '--header', warnings: [] };
}

/** A raw HTTP message or a curl -v dump, from a file or stdin. */
async function fromFile(path: string, body: Uint8Array | undefined, as: 'request' | 'response' | undefined, verifying: boolean, io: CliIo): Promise<Inspected> {
  const { bytes, label } = await readInput(path, io, 'the message file');
  const captured = parseCapturedInput(bytes, label);
  const warnings = [...captured.warnings];
  let message: HttpMessage | undefined;
  let requestInDump: HttpMessage | undefined;
  if (captured.form === 'curl') {
    message = as === 'request' ? captured.request : as === 'response' ? captured.response : (captured.response ?? captured.request);
    if (message === undefined) throw new InputError(`${label}: the curl -v dump holds no ${as}`);
    if (body === undefined) {
      if (verifying) throw new UsageError('a curl -v dump does not hold the body (the ciphertext); give it with --body <file>', HELP);
      warnings.push(`${label}: a curl -v dump does not hold the body; give it with --body <file> for its size`);
    }
    if (message.kind === 'response') requestInDump = captured.request;
  } else {
    message = captured.request ?? captured.response!;
    if (as !== undefined && as !== message.kind) throw new InputError(`${label} holds a ${message.kind}, not a ${as}`);
  }
  const outer = decodeOuter(message, label, body ?? message.body);
  return { outer, form: captured.form, input: label, requestInDump, warnings };
}

/** The `inspect` command. */
export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Decode a captured OSCORE message; with --context, decrypt it',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      {
        args: [...argv],
        strict: true,
        allowPositionals: true,
        options: {
          context: { type: 'string' },
          request: { type: 'string' },
          body: { type: 'string' },
          header: { type: 'string' },
          as: { type: 'string' },
          json: { type: 'boolean' },
        },
      },
      HELP,
    );
    const as = choiceOption(values.as, 'as', HELP, ['request', 'response'] as const);
    if (values.header !== undefined && positionals.length > 0) throw new UsageError('give either a message file or --header, not both', HELP);
    if (values.header === undefined && positionals.length === 0) throw new UsageError('give a message file ("-" for standard input), or --header <value> with --body <file>', HELP);
    if (positionals.length > 1) throw new UsageError(`give one message file, not ${positionals.length}`, HELP);
    if ([positionals[0], values.body, values.request, values.context].filter((p) => p === '-').length > 1) throw new UsageError('only one input can be "-" (standard input)', HELP);

    const override = values.body === undefined ? undefined : (await readInput(values.body, io, 'the body file')).bytes;
    const { outer, form, input, requestInDump, warnings } =
      values.header !== undefined ? fromHeader(values.header, override, as) : await fromFile(positionals[0]!, override, as, values.context !== undefined, io);
    warnings.push(...outer.warnings);

    if (values.request !== undefined && outer.kind === 'request') throw new UsageError('--request names the request a response answers; the message inspected is a request', HELP);
    let request: RequestIdentity | undefined;
    if (values.request !== undefined) {
      const { bytes, label } = await readInput(values.request, io, 'the request file');
      const captured = parseCapturedInput(bytes, label);
      if (captured.request === undefined) throw new InputError(`${label}: holds no request (a response was given as --request)`);
      request = requestIdentity(captured.request, label);
    } else if (requestInDump !== undefined) {
      try {
        request = requestIdentity(requestInDump, `${input}, its request`);
      } catch (err) {
        // Only needed to verify; without --context the response is decoded alone.
        if (values.context !== undefined) throw err;
      }
    }

    let verification: Verification | undefined;
    let contextsLabel: string | undefined;
    if (values.context !== undefined) {
      if (outer.kind === 'response' && request === undefined) {
        throw new UsageError('a response is verified against the request it answers (RFC 8613 §7.1, §8.4): give that request with --request <file>', HELP);
      }
      const contexts = readInspectContexts(await readContextFileText(values.context, io, 'the context file'), io.env);
      contextsLabel = contexts.label;
      verification = outer.kind === 'request' ? await verifyCapturedRequest(contexts, outer) : await verifyCapturedResponse(contexts, outer, request!);
    }

    const report: InspectReport = { input, form, outer, request, contexts: contextsLabel, verification, warnings };
    for (const warning of warnings) io.stderr.write(`oscore-http: warning: ${warning}\n`);
    if (values.json === true) writeJson(io, inspectJson(report));
    else io.stdout.write(renderInspectText(report, createStyle(colorEnabled(io.stdout, io.env))));
    return inspectSucceeded(report) ? ExitCode.OK : ExitCode.FAILURES;
  },
};
