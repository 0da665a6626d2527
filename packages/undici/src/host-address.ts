/**
 * When may a request's Host field choose the security context? undici's dns interceptor,
 * composed to run before `oscore`, replaces the host name in the origin by one of its
 * addresses and moves the name to Host (RFC 9110 §7.2: Host names the target's
 * authority). Such a request is for the named peer. But a caller can also set Host by hand
 * — a webhook sender copying a user's headers, say — while sending the request anywhere:
 * protected with the peer's context, it would hand a valid request to a server of the
 * caller's choosing, which could relay it to the peer. So Host counts only when the
 * request goes to an address of that host name, on the same scheme and port.
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** How long a confirmed (host name, address) pair is trusted: undici's dns interceptor caches for 10 s by default. */
const CONFIRMED_FOR_MS = 10_000;
/** Bound on the cache; past it the cache starts over. */
const MAX_CONFIRMED = 1024;

const confirmed = new Map<string, number>();

/** The address in a URL's hostname (`[::1]` → `::1`), or `undefined` for a name. */
function addressOf(url: URL): string | undefined {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(host) === 0 ? undefined : host;
}

/**
 * Whether `origin` is an address of `peer`'s host name, with `peer`'s scheme and port.
 * Resolves the name with the system resolver (`dns.lookup`, as the dns interceptor does by
 * default); a name it cannot resolve confirms nothing.
 */
export async function isAddressOf(origin: string, peer: string): Promise<boolean> {
  const to = new URL(origin);
  const named = new URL(peer);
  const address = addressOf(to);
  if (address === undefined || to.protocol !== named.protocol || to.port !== named.port) return false;
  const key = `${named.hostname} ${address}`;
  const until = confirmed.get(key);
  if (until !== undefined && until > Date.now()) return true;
  let addresses: { address: string }[];
  try {
    addresses = await lookup(named.hostname, { all: true });
  } catch {
    return false;
  }
  // Both spellings come from Node (the URL parser and the resolver): IPv6 is compressed the same way.
  if (!addresses.some((a) => a.address === address)) return false;
  if (confirmed.size >= MAX_CONFIRMED) confirmed.clear();
  confirmed.set(key, Date.now() + CONFIRMED_FOR_MS);
  return true;
}
