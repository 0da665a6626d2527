// The orders service: a fastify app with one plugin added. Routes are plain fastify.
import Fastify from 'fastify';
import oscore from '@oscore-http/fastify';

// A demo secret shared with the client. In production: { env: 'ORDERS_OSCORE_SECRET' } or a context file.
export const masterSecret = { hex: '5a1c0ffee5ee5ec2e7b00c0ffee5ee5e' };

export async function createOrdersService() {
  const app = Fastify();
  await app.register(oscore, { contexts: [{ name: 'shop', masterSecret, senderId: '02', recipientId: '01' }] });

  app.get('/orders/:id', async (request) => ({ id: Number(request.params.id), status: 'shipped', requestedBy: request.oscore.peer }));
  app.post('/orders', async (request, reply) => reply.code(201).header('location', '/orders/43').send({ id: 43, ...request.body }));
  return app;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const app = await createOrdersService();
  await app.listen({ port: 3000, host: '127.0.0.1' });
  console.log('orders service on http://127.0.0.1:3000 (OSCORE only)');
}
