/** Replicated senders (docs/scaling.md): instances of one client get their own Sender IDs from the store; the server resolves the family to one pair. */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MemoryStateStore, toHex } from '@oscore-http/core';
import { oscore } from '@oscore-http/undici';
import { Agent, request } from 'undici';
import { expect, it } from 'vitest';
import { ContextConfigError, createContextSet, createOscoreHandler, oscoreInfoOf } from '../src/index.js';

const masterSecret = { hex: '0f'.repeat(16) };

it('four instances interleave requests under one pair without a single rejection, and each keeps its own nonce space', async () => {
  const serverState = new MemoryStateStore();
  const serverSet = createContextSet([{ name: 'checkout', masterSecret, senderId: '00', recipientId: 'c0', recipientIdSuffix: 1 }], { store: serverState });
  const seen: { kid: string; seq: number; peer: string | undefined }[] = [];
  const server = createServer(
    createOscoreHandler({ contexts: serverSet }, (req, res) => {
      const info = oscoreInfoOf(req)!;
      seen.push({ kid: info.kid, seq: info.sequenceNumber, peer: info.peer });
      res.end(`ok ${info.kid}`);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The instances share the client's state store (Redis across machines), which hands out instance numbers.
  const clientState = new MemoryStateStore();
  const instances = Array.from({ length: 4 }, () => {
    const set = createContextSet([{ peer: origin, masterSecret, senderId: 'c0', recipientId: '00', senderIdSuffix: 1 }], { store: clientState });
    return { set, agent: new Agent({ connections: 4 }).compose(oscore({ contexts: set })) };
  });
  const bodies = await Promise.all(
    Array.from({ length: 400 }, async (_, i) => {
      const r = await request(`${origin}/x/${i}`, { dispatcher: instances[i % 4]!.agent });
      return r.body.text();
    }),
  );
  expect(bodies.every((b) => b.startsWith('ok c0'))).toBe(true);
  const kids = new Set(seen.map((s) => s.kid));
  expect([...kids].sort()).toEqual(['c000', 'c001', 'c002', 'c003']);
  expect(seen.every((s) => s.peer === 'checkout')).toBe(true);
  // Each instance numbers from 0 under its own key: the same sequence numbers, never the same (key, nonce).
  for (const kid of kids) expect(seen.filter((s) => s.kid === kid).map((s) => s.seq).sort((a, b) => a - b)[0]).toBe(0);
  expect(instances.map((i) => toHex(i.set.forOrigin(origin)!.senderId)).sort()).toEqual(['c000', 'c001', 'c002', 'c003']);

  // A fifth instance start takes a never-used number, even after the others stopped.
  const fifth = createContextSet([{ peer: origin, masterSecret, senderId: 'c0', recipientId: '00', senderIdSuffix: 1 }], { store: clientState });
  expect(toHex((await fifth.contextFor(origin))!.senderId)).toBe('c004');

  for (const i of instances) await i.agent.close();
  await new Promise((resolve) => server.close(resolve));
});

it('refuses suffixes that would make an ID longer than the algorithm allows, and a replicated sender without a peer', () => {
  expect(() => createContextSet([{ masterSecret, senderId: '01020304050607', recipientId: '00', senderIdSuffix: 1, peer: 'http://a' }], { store: 'memory' })).toThrow(ContextConfigError);
  expect(() => createContextSet([{ masterSecret, senderId: '01', recipientId: '00', senderIdSuffix: 1 }], { store: 'memory' })).toThrow(/needs "peer"/);
  expect(() => createContextSet([{ masterSecret, senderId: '01', recipientId: '00', recipientIdSuffix: 3 as 1 }], { store: 'memory' })).toThrow(/1 or 2/);
});

it('refuses a replicated sender whose store is its own (memory, file store): every instance would take instance 0, the same Sender ID and nonces', async () => {
  const { openFileStateStore } = await import('@oscore-http/core/file-store');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const config = { peer: 'http://a', masterSecret, senderId: 'c0', recipientId: '00', senderIdSuffix: 1 as const };
  expect(() => createContextSet([config], { store: 'memory' })).toThrow(/senderIdSuffix: needs a state store shared by every instance/);
  const dir = mkdtempSync(join(tmpdir(), 'oscore-replicated-'));
  const fileStore = openFileStateStore(dir);
  try {
    expect(() => createContextSet([config], { store: { directory: dir } })).toThrow(/shared by every instance/);
    expect(() => createContextSet([config], { store: fileStore })).toThrow(/shared by every instance/);
  } finally {
    await fileStore.close();
    await fileStore.close(); // the { directory } attempt shared the same open store
    rmSync(dir, { recursive: true, force: true });
  }
  // A store object several instances share (Redis; here one MemoryStateStore in one process) is accepted.
  expect(() => createContextSet([config], { store: new MemoryStateStore() })).not.toThrow();
});

it('forged requests under many kids of a family leave no replay window behind; authentic members keep theirs, also after eviction from the member cache', async () => {
  const { coapCode, createSecurityContext, encodeOscoreOption, protectRequest, verifyRequest, DecryptionFailedError, ReplayDetectedError } = await import('@oscore-http/core');
  const inner = new MemoryStateStore();
  const windowsCreated: string[] = [];
  // The file store writes every window it hands out into its state file, for good: a window per forged kid would grow it without authentication.
  const store = {
    name: 'counting',
    reserve: (key: string, count: number) => inner.reserve(key, count),
    replayWindow: (key: string, size: number) => (windowsCreated.push(key), inner.replayWindow(key, size)),
    close: () => inner.close(),
  };
  const set = createContextSet([{ name: 'checkout', masterSecret, senderId: '00', recipientId: 'c0', recipientIdSuffix: 2 }], { store });
  const payload = new Uint8Array(16).fill(7);
  const forge = (n: number) => verifyRequest(set, encodeOscoreOption({ partialIV: new Uint8Array([1]) as never, kid: new Uint8Array([0xc0, n >> 8, n & 255]) }), payload);
  for (let n = 0; n < 4200; n++) await expect(forge(n)).rejects.toBeInstanceOf(DecryptionFailedError);
  expect(windowsCreated).toEqual([]);

  const client = createSecurityContext({ masterSecret: Buffer.from('0f'.repeat(16), 'hex'), senderId: new Uint8Array([0xc0, 0x12, 0x34]), recipientId: new Uint8Array([0]) });
  const sent = await protectRequest(client, { code: coapCode(0, 1), options: [], payload: new Uint8Array(0) });
  await verifyRequest(set, sent.option, sent.payload);
  expect(windowsCreated.length).toBe(1);
  await expect(verifyRequest(set, sent.option, sent.payload)).rejects.toBeInstanceOf(ReplayDetectedError);
  // 4,096 other kids push the member out of the cache; derived again, it still has its window.
  for (let n = 5000; n < 5000 + 4100; n++) await expect(forge(n)).rejects.toBeInstanceOf(DecryptionFailedError);
  await expect(verifyRequest(set, sent.option, sent.payload)).rejects.toBeInstanceOf(ReplayDetectedError);
}, 60_000);

it('a family member that was served before a crash is challenged after it, also when a clean start came in between (file store)', async () => {
  const { FileStateStore } = await import('@oscore-http/core/file-store');
  const { coapCode, createSecurityContext, protectRequest, verifyRequest, FreshnessRequiredError } = await import('@oscore-http/core');
  const { mkdtempSync, rmSync, unlinkSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'oscore-family-'));
  const serverSet = (store: InstanceType<typeof FileStateStore>) => createContextSet([{ name: 'checkout', masterSecret, senderId: '00', recipientId: 'c0', recipientIdSuffix: 1 }], { store });
  const member = createSecurityContext({ masterSecret: Buffer.from('0f'.repeat(16), 'hex'), senderId: new Uint8Array([0xc0, 0x01]), recipientId: new Uint8Array([0]) });
  const sent = await protectRequest(member, { code: coapCode(0, 2), options: [], payload: new Uint8Array([1]) });

  const crashed = new FileStateStore(dir);
  await verifyRequest(serverSet(crashed), sent.option, sent.payload); // served; then the process dies
  unlinkSync(join(dir, 'lock')); // what a SIGKILL leaves: the lock's owner is gone
  await new FileStateStore(dir).close(); // a clean start and stop that never hears from the member
  const next = new FileStateStore(dir);
  await expect(verifyRequest(serverSet(next), sent.option, sent.payload)).rejects.toBeInstanceOf(FreshnessRequiredError);
  await next.close();
  rmSync(dir, { recursive: true, force: true });
});
