/**
 * The table of a peer name's addresses behind the Host check (host-address.ts). The
 * resolver's answers and the monotonic clock are injected (mocks of `dns.lookup` and
 * `performance.now`): what is tested is what the table makes of them.
 */

import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const dns = vi.hoisted(() => ({ answers: new Map<string, string[] | Error>(), calls: 0 }));

vi.mock('node:dns/promises', () => ({
  lookup: async (name: string) => {
    dns.calls++;
    const answer = dns.answers.get(name);
    if (answer === undefined || answer instanceof Error) throw answer ?? Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  },
}));

const { isAddressOf } = await import('../src/host-address.js');

let clock = 0;
let name = 0;
let peer: string;
let host: string;
const at = (address: string) => `http://${address}:8080`;

beforeEach(() => {
  vi.spyOn(performance, 'now').mockImplementation(() => clock);
  clock += 1_000_000; // each test starts far from the last one
  host = `peer-${++name}.internal`; // and with a name of its own
  peer = `http://${host}:8080`;
  dns.calls = 0;
});

afterEach(() => vi.restoreAllMocks());

describe('the addresses of a peer name', () => {
  it('an address the resolver returns counts, then is known without another lookup; another port or scheme never counts', async () => {
    dns.answers.set(host, ['10.0.0.1']);
    expect(await isAddressOf(at('10.0.0.1'), peer)).toBe(true);
    expect(isAddressOf(at('10.0.0.1'), peer)).toBe(true); // synchronous now
    expect(dns.calls).toBe(1);
    expect(isAddressOf('http://10.0.0.1:9090', peer)).toBe(false);
    expect(isAddressOf('https://10.0.0.1:8080', peer)).toBe(false);
    expect(isAddressOf(`http://${host}:8080`, peer)).toBe(false); // a name, not an address
  });

  it('an address the name no longer has stops counting 10 s after a lookup last returned it, however often it is asked for', async () => {
    dns.answers.set(host, ['10.1.0.1']);
    expect(await isAddressOf(at('10.1.0.1'), peer)).toBe(true);
    dns.answers.set(host, ['10.1.0.2']); // the peer moved
    for (let i = 0; i < 20; i++) {
      clock += 5_000;
      await isAddressOf(at('192.0.2.66'), peer); // someone else's address, asked for every 5 s: lookups go on
    }
    expect(await isAddressOf(at('10.1.0.1'), peer)).toBe(false);
    expect(await isAddressOf(at('10.1.0.2'), peer)).toBe(true);
  });

  it('rotating answers: every address returned within 10 s counts', async () => {
    dns.answers.set(host, ['10.2.0.1', '10.2.0.2']);
    expect(await isAddressOf(at('10.2.0.1'), peer)).toBe(true);
    clock += 2_000;
    dns.answers.set(host, ['10.2.0.3', '10.2.0.4']);
    expect(await isAddressOf(at('10.2.0.3'), peer)).toBe(true);
    expect(isAddressOf(at('10.2.0.2'), peer)).toBe(true);
  });

  it('a failing lookup confirms nothing: earlier addresses keep only the time they had left', async () => {
    dns.answers.set(host, ['10.3.0.1']);
    expect(await isAddressOf(at('10.3.0.1'), peer)).toBe(true);
    dns.answers.set(host, new Error('SERVFAIL'));
    clock += 9_000;
    expect(await isAddressOf(at('10.3.0.9'), peer)).toBe(false);
    clock += 2_000; // 11 s after 10.3.0.1 was last returned
    expect(await isAddressOf(at('10.3.0.1'), peer)).toBe(false);
  });

  it('concurrent requests share one lookup; an address refused just now is refused again without a lookup for 1 s', async () => {
    dns.answers.set(host, ['10.4.0.1']);
    const answers = await Promise.all(Array.from({ length: 50 }, () => isAddressOf(at('10.4.0.1'), peer)));
    expect(answers.every((a) => a === true)).toBe(true);
    expect(dns.calls).toBe(1);
    clock += 2_000;
    expect(await isAddressOf(at('203.0.113.9'), peer)).toBe(false);
    expect(isAddressOf(at('203.0.113.9'), peer)).toBe(false); // synchronous, within 1 s
    expect(dns.calls).toBe(2);
  });
});
