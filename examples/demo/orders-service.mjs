// The orders service: plain fastify routes behind the OSCORE plugin. Nothing here deals with
// OSCORE except the one `register` line: the routes see the verified inner request (its real
// method, path, query, headers and body) and their replies are protected on the way out.
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import oscore from '@oscore-http/fastify';

/**
 * Creates the service. `contexts` is its OSCORE context set (the shop's context);
 * `seen` lists every request that reached a route, as the application saw it.
 */
export async function createOrdersService({ contexts }) {
  const app = Fastify();
  await app.register(oscore, { contexts });

  // Invoices arrive as raw bytes; the plugin hands the body through untouched.
  app.addContentTypeParser('application/pdf', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const orders = new Map();
  const seen = [];
  // Runs for every request that reached a route — so only for verified ones: a request that
  // fails OSCORE verification never gets this far (no hook, no handler runs).
  app.addHook('preHandler', async (request) => {
    seen.push({ method: request.method, url: request.url, headers: { ...request.headers }, body: request.body, peer: request.oscore?.peer });
  });

  app.post('/orders', async (request, reply) => {
    const { name, email, address, card } = request.body ?? {};
    if (![name, email, address, card].every((v) => typeof v === 'string' && v !== '')) return reply.code(400).send({ error: 'name, email, address and card are required' });
    const id = `ord_${randomBytes(6).toString('base64url')}`;
    orders.set(id, { id, status: 'received', name, email, address, card: `**** ${card.slice(-4)}`, invoice: null });
    return reply.code(201).header('location', `/orders/${id}`).send({ id, status: 'received', card: `**** ${card.slice(-4)}` });
  });

  app.put('/orders/:id/invoice', async (request, reply) => {
    const order = orders.get(request.params.id);
    if (order === undefined) return reply.code(404).send({ error: `no order ${request.params.id}` });
    const filename = /filename="([^"]+)"/.exec(request.headers['content-disposition'] ?? '')?.[1] ?? 'invoice.pdf';
    order.invoice = { filename, bytes: request.body.length };
    return reply.code(201).send({ id: order.id, invoice: order.invoice });
  });

  app.get('/orders/:id', async (request, reply) => {
    const order = orders.get(request.params.id);
    if (order === undefined) return reply.code(404).send({ error: `no order ${request.params.id}` });
    // ?fields=status,invoice picks fields, as a real API might.
    const fields = request.query.fields?.split(',');
    return fields ? Object.fromEntries(fields.filter((f) => f in order).map((f) => [f, order[f]])) : order;
  });

  return { app, orders, seen };
}
