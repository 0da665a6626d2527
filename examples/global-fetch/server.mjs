// A small fastify service with the OSCORE plugin: every route is reachable only over OSCORE.
import Fastify from 'fastify';
import oscore from '@oscore-http/fastify';

export async function createInventoryService({ contexts }) {
  const app = Fastify();
  await app.register(oscore, { contexts });
  const stock = new Map([['tea', 12], ['coffee', 0]]);

  app.get('/stock/:sku', async (request, reply) => {
    if (!stock.has(request.params.sku)) return reply.code(404).send({ error: 'unknown sku' });
    return { sku: request.params.sku, available: stock.get(request.params.sku), askedBy: request.oscore.peer };
  });
  app.post('/reservations', async (request, reply) => {
    const { sku, qty } = request.body;
    if ((stock.get(sku) ?? 0) < qty) return reply.code(409).send({ error: `not enough ${sku}` });
    stock.set(sku, stock.get(sku) - qty);
    return reply.code(201).send({ sku, reserved: qty, left: stock.get(sku) });
  });
  return app;
}
