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
 * default): a name is looked up when a request goes to an address it has not shown within
 * {@link ADDRESS_VALID_MS}, at most once a second (concurrent requests share one lookup),
 * and an address counts for {@link ADDRESS_VALID_MS} after a lookup last returned it — so a
 * resolver that answers with rotating subsets of a name's records is covered, and an
 * address the name no longer has stops counting, however often it is asked for. Times are
 * monotonic (a clock step changes nothing).
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';

/** How long an address counts after a lookup of the name last returned it (the dns interceptor caches for 10 s by default). */
const ADDRESS_VALID_MS = 10_000;
/** A name is looked up at most this often: an address it did not return just now is refused without asking again. */
const RECHECK_AFTER_MS = 1_000;
/** Bound on the names kept: a function of the origin may answer for names a caller makes up. */
const MAX_NAMES = 1024;

interface Addresses {
  /** Address → when a lookup last returned it. */
  readonly seen: Map<string, number>;
  /** When the last lookup ended. */
  lookedUp: number;
  /** The lookup under way, if any. */
  pending: Promise<void> | undefined;
}

const byName = new Map<string, Addresses>();

/** The address in a URL's hostname (`[::1]` → `::1`), or `undefined` for a name. */
function addressOf(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? undefined : host;
}

function counts(entry: Addresses, address: string): boolean {
  const seen = entry.seen.get(address);
  return seen !== undefined && performance.now() - seen <= ADDRESS_VALID_MS;
}

function refresh(name: string, entry: Addresses): Promise<void> {
  entry.pending ??= lookup(name, { all: true }).then(
    (found) => {
      const now = performance.now();
      for (const [address, seen] of entry.seen) if (now - seen > ADDRESS_VALID_MS) entry.seen.delete(address);
      for (const a of found) entry.seen.set(a.address, now);
      entry.lookedUp = now;
      entry.pending = undefined;
    },
    () => {
      // An unresolvable name confirms nothing: addresses it returned before keep only the time they had left.
      entry.lookedUp = performance.now();
      entry.pending = undefined;
    },
  );
  return entry.pending;
}

/**
 * Whether `origin` is an address of `peer`'s host name, with `peer`'s scheme and port.
 * Synchronous while the answer is known (the common case: no promise, no lookup per
 * request); otherwise a promise of the answer.
 */
export function isAddressOf(origin: string, peer: string): boolean | Promise<boolean> {
  const to = new URL(origin);
  const named = new URL(peer);
  const address = addressOf(to);
  if (address === undefined || to.protocol !== named.protocol || to.port !== named.port) return false;
  let entry = byName.get(named.hostname);
  if (entry === undefined) {
    if (byName.size >= MAX_NAMES) byName.clear();
    byName.set(named.hostname, (entry = { seen: new Map(), lookedUp: -Infinity, pending: undefined }));
  }
  // Node spells an IPv6 address the same way in the URL parser and the resolver (compressed, lower case).
  if (counts(entry, address)) return true;
  if (performance.now() - entry.lookedUp < RECHECK_AFTER_MS) return false;
  const known = entry;
  return refresh(named.hostname, known).then(() => counts(known, address));
}
