// The Fastify server both conformance test files run the suite against.
import Fastify from 'fastify';
import type { Tiergate } from '@tiergate/core';
import { tiergatePlugin } from '@tiergate/fastify';
import type { ConformanceServer } from '@tiergate/testing';

/** A real Fastify app with tiergate under `prefix` and the suite's two guarded host routes. */
export async function startFastifyServer(tiergate: Tiergate, { prefix }: { prefix: string }): Promise<ConformanceServer> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(tiergatePlugin, { tiergate, prefix });
  app.post('/host/send', { preHandler: app.requireCapability('send_messages', { consume: 1 }) }, async (request) => ({
    account: request.tiergate?.account.id,
    consumed: request.tiergate?.consumed,
  }));
  app.get('/host/inboxes', { preHandler: app.requireCapability('create_inboxes') }, async (request) => {
    const context = request.tiergate;
    if (context === null) throw new Error('the guard did not set request.tiergate');
    return { account: context.account.id, can_send: (await context.ability()).can('send_messages'), tier: (await context.capabilities()).tier };
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}
