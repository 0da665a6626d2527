// The shop: a client service calling the orders service with plain undici. The interceptor
// protects every request to the configured origin and verifies every response before the
// caller sees it. The origin is the proxy's: the shop does not know, or need to know, that an
// untrusted hop sits in the path — OSCORE protects the message, not the connection.
import { Agent, request } from 'undici';
import { oscore } from '@oscore-http/undici';

export function createShop({ ordersOrigin, contexts }) {
  const dispatcher = new Agent().compose(oscore({ contexts }));
  // A bearer token the shop presents to the orders service: a protected header like any other.
  const authorization = 'Bearer shop-api-token-6Hq2vZ';

  async function call(method, path, headers = {}, body = undefined) {
    const res = await request(`${ordersOrigin}${path}`, { dispatcher, method, headers: { authorization, ...headers }, body });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }
  const json = (value) => JSON.stringify(value);

  return {
    createOrder: (order, requestId) => call('POST', '/orders', { 'content-type': 'application/json', 'x-request-id': requestId }, json(order)),
    uploadInvoice: (id, filename, pdf) => call('PUT', `/orders/${id}/invoice`, { 'content-type': 'application/pdf', 'content-disposition': `attachment; filename="${filename}"` }, pdf),
    getOrder: (id, fields) => call('GET', `/orders/${id}${fields ? `?fields=${fields}` : ''}`),
    close: () => dispatcher.close(),
  };
}
