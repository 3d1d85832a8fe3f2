// Part 3's host route and the tier it runs on, shared by the bench server (bench/servers/http-server.mjs)
// and `node bench/kernel-in-process.mjs guard|guard-fastify`.
import { defineTiers } from '@tiergate/core';

/**
 * A host with a high-volume tier, so the guard's quota never runs out during a run
 * (the consume is still the real atomic store operation, whatever the limit).
 */
export const GUARD_TIERS = defineTiers({
  actions: {
    send_messages: { description: 'Send emails', reason: 'SEND_REQUIRES_PAID', quota: { reason: 'SEND_LIMIT_EXCEEDED' } },
  },
  tiers: {
    free: { grants: {} },
    volume: { grants: { send_messages: { limits: { day: 1_000_000_000, month: 1_000_000_000 } } } },
  },
});

/** The body every request of part 3 posts. */
export const SEND_BODY = JSON.stringify({ to: 'customer@example.com', subject: 'Your receipt', text: 'Thanks for your order.' });

/** The host route's answer, the same behind every guard (the same bytes). */
export const sent = () => ({ result: { sent: true }, next_steps: [] });

/** Behind tiergate's guard the handler first checks that the guard handed it the account. */
export function sentBy(context) {
  if (typeof context?.account?.id !== 'string') throw new Error('the guard passed no account to the handler');
  return sent();
}

/**
 * Part 3's Fastify routes: `/send/bare`, `/send/rate-limit` (@fastify/rate-limit, per Authorization
 * header, a limit never reached) and `/send/guard` (requireCapability('send_messages', { consume: 1 })),
 * registering tiergate's plugin on `app` on the way.
 */
export async function registerFastifyGuardRoutes(app, tiergate) {
  const { default: rateLimit } = await import('@fastify/rate-limit');
  const { tiergatePlugin } = await import('@tiergate/fastify');
  await app.register(rateLimit, { global: false });
  app.post('/send/bare', async () => sent());
  app.post('/send/rate-limit', { config: { rateLimit: { max: 1_000_000_000, timeWindow: '1 hour', keyGenerator: (request) => request.headers.authorization ?? request.ip } } }, async () => sent());
  await app.register(tiergatePlugin, { tiergate });
  app.post('/send/guard', { preHandler: app.requireCapability('send_messages', { consume: 1 }) }, async (request) => sentBy(request.tiergate));
}
