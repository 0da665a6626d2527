// Node's global fetch, protected with OSCORE. fetch takes an undici dispatcher, so the
// interceptor works either per call or for the whole process, without touching call sites.
// One command: node examples/global-fetch/client.mjs (or npm start -w examples/global-fetch).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, setGlobalDispatcher } from 'undici';
import { createContextSet } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { createInventoryService } from './server.mjs';

// A fresh random pair per run, so its state (sequence numbers, replay windows) goes in a
// temporary directory of its own, removed at exit. A real service keeps one directory per
// process for good: $OSCORE_STATE_DIR, or ./.oscore-state by default.
const stateDir = mkdtempSync(join(tmpdir(), 'oscore-global-fetch-'));
process.on('exit', () => rmSync(stateDir, { recursive: true, force: true }));
const masterSecret = randomBytes(32);

const inventoryContexts = createContextSet([{ name: 'shop', masterSecret, senderId: '02', recipientId: '01' }], { store: { directory: join(stateDir, 'inventory') } });
const inventory = await createInventoryService({ contexts: inventoryContexts });
const origin = await inventory.listen({ port: 0, host: '127.0.0.1' });

const shopContexts = createContextSet([{ name: 'inventory', peer: origin, masterSecret, senderId: '01', recipientId: '02' }], { store: { directory: join(stateDir, 'shop') } });
const dispatcher = new Agent().compose(oscore({ contexts: shopContexts }));

// Per call: pass the dispatcher.
const tea = await fetch(`${origin}/stock/tea`, { dispatcher });
console.log(tea.status, await tea.json());

// For the whole process: every fetch to the configured origin is protected; requests to
// other origins pass through unchanged (unprotectedOrigins: 'refuse' would fail them).
setGlobalDispatcher(dispatcher);

const reserved = await fetch(`${origin}/reservations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'tea', qty: 3 }) });
console.log(reserved.status, await reserved.json());

const conflict = await fetch(`${origin}/reservations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: 'coffee', qty: 1 }) });
console.log(conflict.status, await conflict.json());

const unknown = await fetch(`${origin}/stock/cocoa`);
console.log(unknown.status, await unknown.json());

await dispatcher.close();
await inventory.close();
await Promise.all([inventoryContexts.close(), shopContexts.close()]);
