// Runs the Express orders service and calls it from a shop client: plain undici with the
// OSCORE interceptor. One command: node examples/express/client.mjs (or npm start -w examples/express).
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { createContextSet } from '@oscore-http/http';
import { oscore } from '@oscore-http/undici';
import { startOrdersServer } from './server.mjs';

// A fresh random pair per run. The contexts keep their sequence numbers and replay windows
// in memory: only for demos like this one, whose secret dies with the process. A service
// with a long-lived secret must keep them across restarts — leave `store` out for the
// default file store ($OSCORE_STATE_DIR or ./.oscore-state), or use @oscore-http/redis.
const masterSecret = randomBytes(32);
const ordersContexts = createContextSet([{ name: 'shop', masterSecret, senderId: '02', recipientId: '01' }], { store: 'memory' });
const server = await startOrdersServer({ contexts: ordersContexts });
const origin = `http://127.0.0.1:${server.address().port}`;

const shopContexts = createContextSet([{ name: 'orders', peer: origin, masterSecret, senderId: '01', recipientId: '02' }], { store: 'memory' });
const dispatcher = new Agent().compose(oscore({ contexts: shopContexts }));

const created = await request(`${origin}/orders`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ item: 'tea', qty: 2 }) });
console.log(created.statusCode, created.headers.location, await created.body.json());

const fetched = await request(`${origin}/orders/42`, { dispatcher });
console.log(fetched.statusCode, await fetched.body.json());

const missing = await request(`${origin}/orders/7`, { dispatcher });
console.log(missing.statusCode, await missing.body.json());

// Without the interceptor: the health check is allowed, anything else is refused before Express sees it.
const health = await request(`${origin}/health`);
console.log('unprotected', health.statusCode, await health.body.text());
const plain = await request(`${origin}/orders/42`);
console.log('unprotected', plain.statusCode, await plain.body.text());

await dispatcher.close();
await new Promise((resolve) => server.close(resolve));
await Promise.all([ordersContexts.close(), shopContexts.close()]);
