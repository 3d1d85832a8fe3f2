/**
 * Embedding tiergate into an existing Fastify app. The app keeps its own
 * routes (`/health`, `/v1/messages`, `/billing`) and its own user table (API
 * key hashes and a `plan` column, in `embed-app.ts`, shared with the other
 * two frameworks); tiergate is mounted under `/agent`, reads accounts from
 * that table, and guards the app's own send route.
 *
 * ```sh
 * PORT=3000 npx tsx examples/src/embed-fastify.ts
 * curl -X POST -H "Authorization: Bearer app_key_hobby_0b5e1c7a9d3f" -H "Content-Type: application/json" \
 *   -d '{"to":"a@example.com","subject":"Hi","text":"Hello"}' http://127.0.0.1:3000/v1/messages   # 403 SEND_REQUIRES_PAID
 * curl -H "Authorization: Bearer app_key_hobby_0b5e1c7a9d3f" http://127.0.0.1:3000/agent/v1/capabilities
 * ```
 */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { tiergatePlugin } from '@tiergate/fastify';
import { DEMO_KEYS, createAppTiergate, findUserByApiKey, runAsScript, type EmbeddedApp } from './embed-app.js';

export { DEMO_KEYS, type EmbeddedApp };

/**
 * Starts the app on `port` (0 = any) with tiergate under `/agent`. Operator
 * links point at `PUBLIC_URL` + `/agent` when that variable is set, else at
 * the listen URL.
 */
export async function start(port = 3000): Promise<EmbeddedApp> {
  /** The app's own messages table. */
  const messages: { id: string; userId: string; to: string; subject: string; text: string }[] = [];
  let base = '';
  const tiergate = createAppTiergate(() => base);

  const app = Fastify();
  // tiergate's routes live in their own encapsulated context under /agent; the app's routes keep Fastify's JSON parser.
  await app.register(tiergatePlugin, { tiergate, prefix: '/agent' });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get<{ Querystring: { plan?: string } }>('/billing', async (request, reply) =>
    reply.type('text/plain').send(`Checkout for the ${request.query.plan ?? 'starter'} plan`),
  );

  // The app's own route, with the app's own auth (no tiergate involved).
  app.get('/v1/messages', async (request, reply) => {
    const user = findUserByApiKey((request.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (user === undefined) return reply.code(401).send({ error: 'unauthorized' });
    return { messages: messages.filter((m) => m.userId === user.id) };
  });

  // The app's send route, guarded by tiergate: plan and daily/monthly quota checked, one unit taken atomically.
  app.post('/v1/messages', { preHandler: app.requireCapability('send_messages', { consume: 1 }) }, async (request, reply) => {
    const body = request.body as { to?: unknown; subject?: unknown; text?: unknown } | undefined;
    if (typeof body?.to !== 'string' || typeof body.subject !== 'string' || typeof body.text !== 'string') {
      await request.tiergate?.refund(); // nothing was sent: give the unit back
      return reply.code(400).send({ error: 'to, subject and text are required' });
    }
    const message = { id: `msg_${messages.length + 1}`, userId: request.tiergate?.account.id ?? '', to: body.to, subject: body.subject, text: body.text };
    messages.push(message);
    return reply.code(201).send({ id: message.id, status: 'queued' });
  });

  await app.listen({ port, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  base = (process.env['PUBLIC_URL'] ?? url).replace(/\/+$/, '');
  tiergate.start();
  return {
    url,
    tiergate,
    async close() {
      await app.close();
      await tiergate.stop();
    },
  };
}

await runAsScript(import.meta.url, start);
