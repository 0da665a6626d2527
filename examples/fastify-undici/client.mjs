// The shop: an undici client with one interceptor added. Calls are plain undici.
import { Agent, request } from 'undici';
import { oscore } from '@oscore-http/undici';
import { createOrdersService, masterSecret } from './server.mjs';

const orders = await createOrdersService();
await orders.listen({ port: 0, host: '127.0.0.1' });
const origin = `http://127.0.0.1:${orders.server.address().port}`;

const dispatcher = new Agent().compose(oscore({ contexts: [{ peer: origin, masterSecret, senderId: '01', recipientId: '02' }] }));

const created = await request(`${origin}/orders`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ item: 'tea', qty: 2 }) });
console.log(created.statusCode, created.headers.location, await created.body.json());

const fetched = await request(`${origin}/orders/42`, { dispatcher });
console.log(fetched.statusCode, await fetched.body.json());

await dispatcher.close();
await orders.close();
