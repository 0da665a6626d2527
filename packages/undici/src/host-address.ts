/**
 * When may a request's Host field choose the security context? undici's dns interceptor,
 * composed to run before `oscore`, replaces the host name in the origin by one of its
 * addresses and moves the name to Host (RFC 9110 §7.2: Host names the target's
 * authority). Such a request is for the named peer. But a caller can also set Host by hand
 * — a webhook sender copying a user's headers, say — while sending the request anywhere:
 * protected with the peer's context, it would hand a valid request to a server of the
 * caller's choosing, which could relay it to the peer. So Host counts only when the
 * request goes to an address of that host name, on the same scheme and port.
 *
 * The addresses come from the system resolver (`dns.lookup`, the dns interceptor's
 * default), at most once per name every {@link ADDRESSES_FOR_MS} (concurrent requests
 * share one lookup), and every address seen in that time counts: a name whose resolver
 * answers with rotating subsets of its records keeps them all. Only names of configured
 * peers are ever looked up, so the table is as small as the configuration.
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** How long the addresses of a name are used before it is looked up again (the dns interceptor caches for 10 s by default). */
const ADDRESSES_FOR_MS = 10_000;
/** A name whose addresses do not include the request's is looked up again once, if its table is at least this old. */
const RECHECK_AFTER_MS = 1_000;

interface Addresses {
  readonly seen: Set<string>;
  /** When the last lookup ended (ms). */
  at: number;
  /** The lookup under way, if any. */
  pending: Promise<void> | undefined;
}

const byName = new Map<string, Addresses>();

/** The address in a URL's hostname (`[::1]` → `::1`), or `undefined` for a name. */
function addressOf(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? undefined : host;
}

function refresh(name: string, entry: Addresses): Promise<void> {
  entry.pending ??= lookup(name, { all: true }).then(
    (found) => {
      // A new window forgets what the last one saw; within one, answers add up.
      if (Date.now() - entry.at > ADDRESSES_FOR_MS) entry.seen.clear();
      for (const a of found) entry.seen.add(a.address);
      entry.at = Date.now();
      entry.pending = undefined;
    },
    () => {
      entry.at = Date.now(); // an unresolvable name confirms nothing until the next window
      entry.pending = undefined;
    },
  );
  return entry.pending;
}

/**
 * Whether `origin` is an address of `peer`'s host name, with `peer`'s scheme and port.
 * Synchronous while the name's addresses are known (the common case: no promise, no
 * lookup per request); otherwise a promise of the answer.
 */
export function isAddressOf(origin: string, peer: string): boolean | Promise<boolean> {
  const to = new URL(origin);
  const named = new URL(peer);
  const address = addressOf(to);
  if (address === undefined || to.protocol !== named.protocol || to.port !== named.port) return false;
  let entry = byName.get(named.hostname);
  if (entry === undefined) byName.set(named.hostname, (entry = { seen: new Set(), at: 0, pending: undefined }));
  const age = Date.now() - entry.at;
  // Node spells an IPv6 address the same way in the URL parser and the resolver (compressed, lower case).
  if (age <= ADDRESSES_FOR_MS && entry.seen.has(address)) return true;
  if (age < RECHECK_AFTER_MS) return false;
  const known = entry;
  return refresh(named.hostname, known).then(() => known.seen.has(address));
}
