// The orders service on Express. Express apps are node:http request listeners, so OSCORE
// goes in front of the app with the node:http wrapper; routes, middleware and body parsers
// are plain Express and see the verified inner request.
import { createServer } from 'node:http';
import express from 'express';
import { createOscoreHandler, oscoreInfoOf } from '@oscore-http/http';

export function createOrdersApp() {
  const app = express();
  app.use(express.json());

  const orders = new Map([[42, { id: 42, item: 'coffee', qty: 1, status: 'shipped' }]]);
  let nextId = 43;

  // Load balancers probe this without keys: listed in allowUnprotected below.
  app.get('/health', (_req, res) => res.send('ok'));

  app.post('/orders', (req, res) => {
    const order = { id: nextId++, ...req.body, status: 'received' };
    orders.set(order.id, order);
    // oscoreInfoOf says which peer's context verified the request: use it for authorisation.
    res.status(201).location(`/orders/${order.id}`).json({ ...order, createdBy: oscoreInfoOf(req)?.peer });
  });

  app.get('/orders/:id', (req, res) => {
    const order = orders.get(Number(req.params.id));
    if (order === undefined) return res.status(404).json({ error: 'no such order' });
    res.json(order);
  });
  return app;
}

/** Serves the app on 127.0.0.1 behind OSCORE; `contexts` is the service's context set. */
export function startOrdersServer({ contexts, port = 0 }) {
  const listener = createOscoreHandler({ contexts, allowUnprotected: ['GET /health'] }, createOrdersApp());
  // checkContinue too: a request with `Expect: 100-continue` is refused before its body when its header fields fail the OSCORE checks.
  const server = createServer(listener).on('checkContinue', listener.checkContinue);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}
