/**
 * What `oscore-http inspect` prints: the outer message, the OSCORE option decoded, the
 * body's sizes and, with a context file, the verified inner message as HTTP — as text
 * for people, or as one JSON document (`oscore-http-inspect/1`) for machines.
 *
 * Key material never appears: contexts are shown by their place in the file, name and
 * IDs. The decrypted inner message does, because that is what `--context` asks for.
 */

import { toHex } from '@oscore-http/core';
import type { Style } from '../style.js';
import type { OuterOscore } from './outer.js';
import type { Candidate, InnerView, RequestIdentity, Verification } from './verify.js';

/** Everything one inspection found. */
export interface InspectReport {
  /** The input as the user named it (`stdin` for `-`). */
  readonly input: string;
  readonly form: 'raw' | 'curl' | 'header';
  readonly outer: OuterOscore;
  /** For a response: the request it answers, when one was given. */
  readonly request?: RequestIdentity | undefined;
  /** With `--context`: the file and the outcome. */
  readonly contexts?: string | undefined;
  readonly verification?: Verification | undefined;
  readonly warnings: readonly string[];
}

const FORM: Record<InspectReport['form'], string> = { raw: 'raw HTTP', curl: 'curl -v dump', header: 'OSCORE header field' };

/** Whether the report is a success: decoded, and verified into a valid HTTP message when a context file was given. */
export function inspectSucceeded(report: InspectReport): boolean {
  const v = report.verification;
  return v === undefined || (v.verified && v.inner?.error === undefined);
}

const hexOrEmpty = (bytes: Uint8Array) => toHex(bytes) || '(empty)';
const spaced = (bytes: Uint8Array) => toHex(bytes).replace(/(..)(?=.)/g, '$1 ');

/** The body as text when it is printable UTF-8, else `undefined`. */
function textOf(body: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
  return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) ? undefined : text;
}

function sizes(report: InspectReport): { size: number; tagLength: number | undefined; ciphertextSize: number | undefined; algorithm: string | undefined } {
  const alg = report.verification?.algorithm;
  const size = report.outer.body.length;
  return {
    size,
    tagLength: alg?.tagLength,
    ciphertextSize: alg === undefined ? undefined : Math.max(0, size - alg.tagLength),
    algorithm: alg?.name,
  };
}

function viewText(c: Candidate, role: Verification['role'], kid: Uint8Array | undefined): string {
  const id = hexOrEmpty(kid ?? new Uint8Array(0));
  const what = role === 'recipient' ? 'kid' : "the request's kid";
  if (c.view === 'configured') return `as configured: ${role === 'recipient' ? 'Recipient' : 'Sender'} ID ${id} = ${what}`;
  return `mirrored: a ${role === 'recipient' ? "client's" : "server's"} context, its ${role === 'recipient' ? 'Sender' : 'Recipient'} ID ${id} = ${what}`;
}

const contextName = (c: Candidate) => `contexts[${c.index}]${c.name === undefined ? '' : ` "${c.name}"`}`;

function bodyLines(body: Uint8Array, indent: string): string[] {
  if (body.length === 0) return [`${indent}(no body)`];
  const text = textOf(body);
  if (text !== undefined) return text.replace(/\r?\n$/, '').split(/\r?\n/).map((l) => `${indent}${l}`);
  const shown = body.subarray(0, 64);
  return [`${indent}(binary, ${body.length} bytes) ${toHex(shown)}${body.length > shown.length ? '…' : ''}`];
}

function innerLines(inner: InnerView, style: Style): string[] {
  const options = inner.coap.options.map((o) => o.name);
  const out = [style.bold(`Inner ${inner.kind}`) + style.dim(` (CoAP ${inner.coap.code}${options.length === 0 ? ', no options' : `; options ${options.join(', ')}`})`)];
  if (inner.error !== undefined) {
    out.push(`not an HTTP message: ${inner.error.code}: ${inner.error.message}`, '', ...bodyLines(inner.body, ''));
    return out;
  }
  // The message as HTTP, unindented: start line, header fields, empty line, body.
  out.push(inner.kind === 'request' ? `${inner.method} ${inner.target}` : `${inner.status} ${inner.reason ?? ''}`.trimEnd());
  for (const [name, value] of inner.headers) out.push(`${name}: ${value}`);
  out.push('', ...bodyLines(inner.body, ''));
  return out;
}

/** The report as text. */
export function renderInspectText(report: InspectReport, style: Style): string {
  const { outer } = report;
  const f = outer.fields;
  const out: string[] = [style.bold(`OSCORE ${outer.kind}`) + style.dim(` (${FORM[report.form]}, ${report.input})`)];
  if (outer.message !== undefined) {
    out.push(outer.message.startLine);
    for (const [name, value] of outer.message.headers) out.push(`${name}: ${value}`);
  } else {
    out.push(`OSCORE: ${outer.header}`);
  }
  out.push('');
  const fl = outer.flags;
  const row = (label: string, value: string) => `  ${label.padEnd(12)} ${value}`;
  out.push(style.bold('OSCORE option') + ` ${outer.option.length === 0 ? '(empty)' : `${spaced(outer.option)} (${outer.option.length} ${outer.option.length === 1 ? 'byte' : 'bytes'})`}`);
  out.push(
    row(
      'flags',
      outer.option.length === 0
        ? 'none (the empty value: no Partial IV, no kid, no kid context)'
        : `0x${fl.byte.toString(16).padStart(2, '0')}: n=${fl.n} (Partial IV length), k=${fl.k} (kid ${fl.k ? 'present' : 'absent'}), h=${fl.h} (kid context ${fl.h ? 'present' : 'absent'}), reserved=${fl.reserved}`,
    ),
  );
  out.push(
    row(
      'Partial IV',
      f.partialIV === undefined
        ? outer.kind === 'response'
          ? "(absent: the response uses the request's nonce)"
          : '(absent)'
        : `${toHex(f.partialIV)} (sequence number ${outer.sequenceNumber})`,
    ),
  );
  out.push(row('kid', f.kid === undefined ? '(absent)' : hexOrEmpty(f.kid)));
  out.push(row('kid context', f.kidContext === undefined ? '(absent)' : hexOrEmpty(f.kidContext)));
  const s = sizes(report);
  let body = `${s.size} bytes`;
  if (s.algorithm !== undefined) {
    body += s.size < s.tagLength! ? `: shorter than the ${s.tagLength}-byte tag of ${s.algorithm} (truncated)` : `: ${s.ciphertextSize} bytes of ciphertext + ${s.tagLength}-byte tag (${s.algorithm})`;
  } else if (s.size > 0) {
    body += s.size < 8 ? ' (shorter than any AEAD tag: truncated)' : ' (ciphertext and tag; the tag length depends on the algorithm)';
  }
  out.push(`Body ${body}`);

  if (report.request !== undefined) {
    const r = report.request;
    out.push(
      '',
      `Answers the request with kid ${hexOrEmpty(r.kid)}${r.kidContext === undefined ? '' : `, kid context ${hexOrEmpty(r.kidContext)}`}, Partial IV ${toHex(r.partialIV)} (sequence number ${r.sequenceNumber})` +
        style.dim(` (${r.label})`),
    );
  }

  const v = report.verification;
  if (v !== undefined) {
    out.push('');
    if (v.verified) {
      out.push(`${style.pass('VERIFIED')} with ${contextName(v.candidate!)} of ${report.contexts} (${viewText(v.candidate!, v.role, v.kid)})`, '');
      out.push(...innerLines(v.inner!, style));
    } else {
      out.push(`${style.fail('NOT VERIFIED')}: ${v.problem ?? `the message does not verify with the contexts in ${report.contexts}`}`);
      for (const a of v.attempts) out.push(`  ${contextName(a.candidate)} (${viewText(a.candidate, v.role, v.kid)}): ${a.error?.code}: ${a.error?.message}`);
    }
  }
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

function bodyJson(body: Uint8Array): { size: number; text: string } | { size: number; hex: string } {
  const text = textOf(body);
  return text !== undefined ? { size: body.length, text } : { size: body.length, hex: toHex(body) };
}

const candidateJson = (c: Candidate) => ({ index: c.index, name: c.name ?? null, view: c.view });

/** The report as a JSON document (`oscore-http-inspect/1`). */
export function inspectJson(report: InspectReport): unknown {
  const { outer } = report;
  const f = outer.fields;
  const m = outer.message;
  const v = report.verification;
  const s = sizes(report);
  const inner = v?.inner;
  return {
    format: 'oscore-http-inspect/1',
    kind: outer.kind,
    input: { file: report.input, form: report.form },
    outer: {
      startLine: m?.startLine ?? null,
      method: m?.method ?? null,
      target: m?.target ?? null,
      status: m?.status ?? null,
      headers: m?.headers ?? [['OSCORE', outer.header]],
    },
    oscore: {
      header: outer.header,
      option: toHex(outer.option),
      optionLength: outer.option.length,
      flags: { byte: outer.flags.byte, n: outer.flags.n, k: outer.flags.k, h: outer.flags.h, reserved: outer.flags.reserved },
      partialIV: f.partialIV === undefined ? null : toHex(f.partialIV),
      sequenceNumber: outer.sequenceNumber ?? null,
      kid: f.kid === undefined ? null : toHex(f.kid),
      kidContext: f.kidContext === undefined ? null : toHex(f.kidContext),
    },
    body: { size: s.size, ciphertextSize: s.ciphertextSize ?? null, tagLength: s.tagLength ?? null, algorithm: s.algorithm ?? null },
    request:
      report.request === undefined
        ? null
        : {
            file: report.request.label,
            kid: toHex(report.request.kid),
            kidContext: report.request.kidContext === undefined ? null : toHex(report.request.kidContext),
            partialIV: toHex(report.request.partialIV),
            sequenceNumber: report.request.sequenceNumber,
          },
    verification:
      v === undefined
        ? null
        : {
            contexts: report.contexts,
            verified: v.verified,
            context: v.candidate === undefined ? null : candidateJson(v.candidate),
            problem: v.problem ?? null,
            attempts: v.attempts.map((a) => ({ ...candidateJson(a.candidate), error: a.error ?? null })),
          },
    inner:
      inner === undefined
        ? null
        : {
            method: inner.method ?? null,
            target: inner.target ?? null,
            status: inner.status ?? null,
            reason: inner.reason ?? null,
            headers: inner.headers,
            body: bodyJson(inner.body),
            coap: inner.coap,
            error: inner.error ?? null,
          },
    warnings: report.warnings,
  };
}
