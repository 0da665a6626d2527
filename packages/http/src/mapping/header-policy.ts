/**
 * Which header fields are protected (docs/wire-format.md, "Header policy").
 *
 * Default: every end-to-end field is protected (Class E); fields that belong to the
 * hop or the transport are never carried inside, because a peer rebuilds them:
 * the hop-by-hop fields of RFC 9110 §7.6.1 and those named in `Connection`, framing
 * (Content-Length, Transfer-Encoding), Host, proxy authentication, and OSCORE itself.
 * Each end-to-end field can be set to `outer` (sent unprotected, e.g. `traceparent` for
 * a mesh) or `drop` (never sent).
 *
 * On the receiving side the application sees the protected fields, the transport
 * fields the server rebuilds (Host, Content-Length), and — only when configured as
 * `outer` — that unprotected field from the outer message. No other outer field
 * reaches application code: an intermediary cannot inject one.
 */

import { ContextConfigError } from '../errors.js';
import { toHeaderList, type HeaderList } from './fields.js';

/** What happens to a header field. */
export type HeaderDisposition = 'protect' | 'outer' | 'drop';

/** Per-field overrides, keyed by field name (any case). */
export type HeaderPolicyOptions = Readonly<Record<string, HeaderDisposition>>;

// RFC 9110 §7.6.1 hop-by-hop fields, framing, and what the transport or proxies own.
const TRANSPORT = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
  'host',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
  'oscore',
]);
// Host may be protected on request; the others never: the receiver rebuilds them.
const NEVER_INSIDE = new Set([...TRANSPORT].filter((n) => n !== 'host'));
// Fields of the outer message that the OSCORE layer or Node and undici write: the outer
// Content-Type is application/oscore (RFC 8613 §11.2), the framing is the ciphertext's, and
// connection management is the hop's. An application's value beside them would give the
// outer message two Content-Types or Content-Lengths, or Transfer-Encoding over a body that
// is not chunked (RFC 9112 §6.1: a sender MUST NOT send both): such fields are never 'outer'.
// Only Host and proxy authentication, which belong to the hop, may be sent outside as they are.
const NEVER_OUTER = new Set(['content-type', ...[...NEVER_INSIDE].filter((n) => n !== 'proxy-authorization' && n !== 'proxy-authenticate')]);

/** A compiled header policy. */
export interface HeaderPolicy {
  /** Splits outgoing fields into those to protect and those to send outside. */
  split(headers: HeaderList): { inner: HeaderList; outer: HeaderList };
  /** Outer fields the application may see, unprotected, on the receiving side; any shape {@link toHeaderList} reads. */
  passThrough(outer: HeaderList | Readonly<Record<string, string | readonly string[] | undefined>>): HeaderList;
  /** The same from Node's flat `rawHeaders` list (names in any case). */
  passThroughRaw(rawHeaders: readonly string[]): HeaderList;
  /** Whether a protected field may be handed to the application (framing fields are rebuilt, not trusted). */
  acceptsInner(name: string): boolean;
  /**
   * Keeps, in place, the protected fields that may be handed to the application
   * ({@link acceptsInner}), and returns `list`: for a list made for one message alone (the
   * decoded one), so no second array per message.
   */
  keepInner(list: HeaderList): HeaderList;
  /** Whether Host is configured `protect`: a client then puts the request's authority inside. */
  readonly protectsHost: boolean;
}

/**
 * Builds a policy from per-field overrides.
 * @throws {ContextConfigError} for an unknown disposition, a transport field set to `protect`,
 *   or a field of the outer message's own (Content-Type, framing, connection) set to `outer`.
 */
export function createHeaderPolicy(overrides: HeaderPolicyOptions = {}): HeaderPolicy {
  const table = new Map<string, HeaderDisposition>();
  for (const [raw, disposition] of Object.entries(overrides)) {
    const name = raw.toLowerCase();
    if (disposition !== 'protect' && disposition !== 'outer' && disposition !== 'drop') {
      throw new ContextConfigError(`headers.${raw}`, `"${String(disposition)}" is not one of protect, outer, drop`);
    }
    if (disposition === 'protect' && NEVER_INSIDE.has(name)) {
      throw new ContextConfigError(`headers.${raw}`, 'this field belongs to the transport and cannot be protected');
    }
    if (disposition === 'outer' && NEVER_OUTER.has(name)) {
      throw new ContextConfigError(`headers.${raw}`, 'the outer message has its own (OSCORE writes it, or the connection does), so this field cannot be sent outside');
    }
    table.set(name, disposition);
  }
  const passThroughNames = new Set([...table].filter(([, d]) => d === 'outer').map(([n]) => n));

  const acceptsInner = (name: string): boolean => !NEVER_INSIDE.has(name) && table.get(name) !== 'drop';
  return {
    split(headers) {
      const inner: HeaderList = [];
      const outer: HeaderList = [];
      let connectionListed: Set<string> | undefined;
      for (const [name, value] of headers) {
        if (name === 'connection') {
          // Fields named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
          connectionListed ??= new Set();
          for (const token of value.split(',')) connectionListed.add(token.trim().toLowerCase());
        }
      }
      for (const entry of headers) {
        const name = entry[0];
        const disposition = table.get(name);
        if (disposition === 'drop') continue;
        if (disposition === 'protect') inner.push(entry);
        else if (disposition === 'outer' || name === 'host') outer.push(entry);
        else if (TRANSPORT.has(name) || connectionListed?.has(name)) continue;
        else inner.push(entry);
      }
      return { inner, outer };
    },
    passThrough(outer) {
      if (passThroughNames.size === 0) return []; // the default: nothing to convert
      return toHeaderList(outer).filter(([name]) => passThroughNames.has(name));
    },
    passThroughRaw(rawHeaders) {
      if (passThroughNames.size === 0) return [];
      const out: HeaderList = [];
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        const name = rawHeaders[i]!.toLowerCase();
        if (passThroughNames.has(name)) out.push([name, rawHeaders[i + 1]!]);
      }
      return out;
    },
    acceptsInner,
    keepInner(list) {
      let kept = 0;
      for (let i = 0; i < list.length; i++) {
        const entry = list[i]!;
        if (acceptsInner(entry[0])) list[kept++] = entry;
      }
      list.length = kept;
      return list;
    },
    protectsHost: table.get('host') === 'protect',
  };
}
