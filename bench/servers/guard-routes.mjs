// Part 3's host route and the tier it runs on, shared by the bench server (bench/servers/http-server.mjs)
// and `node bench/kernel-in-process.mjs guard|guard-fastify`.
import { hash } from 'node:crypto';
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
 * The least any guard of this route must do (part 3's floor), in a Fastify preHandler with none of
 * tiergate's code: find the account by its API key's SHA-256 (DESIGN: stores keep hashes of API keys,
 * compared in constant time — a map lookup of the digest is that comparison) and take one unit of a
 * per-account counter against its limit. No tiers, no second window, no context for the handler beyond
 * the account.
 */
function guardFloor(entries) {
  const byDigest = new Map(entries.map((e) => [hash('sha256', e.apiKey, 'base64url'), e.account]));
  const used = new Map();
  const limit = 1_000_000_000;
  return function floorGuard(request, reply, done) {
    const header = request.headers.authorization;
    const account = typeof header === 'string' && header.startsWith('Bearer ') ? byDigest.get(hash('sha256', header.slice(7), 'base64url')) : undefined;
    if (account === undefined) {
      reply.code(401).send({ error: { code: 'UNAUTHORIZED' } });
      return;
    }
    const count = (used.get(account.id) ?? 0) + 1;
    if (count > limit) {
      reply.code(429).send({ error: { code: 'SEND_LIMIT_EXCEEDED' } });
      return;
    }
    used.set(account.id, count);
    request.benchAccount = account;
    done();
  };
}

/**
 * Part 3's Fastify routes: `/send/bare`, `/send/rate-limit` (@fastify/rate-limit, per Authorization
 * header, a limit never reached), `/send/floor` (the floor above) and `/send/guard`
 * (requireCapability('send_messages', { consume: 1 })), registering tiergate's plugin on `app` on the way.
 * `entries` are the accounts' `{ apiKey, account }`, as given to `apiKeyAuthenticator`.
 */
export async function registerFastifyGuardRoutes(app, tiergate, entries) {
  const { default: rateLimit } = await import('@fastify/rate-limit');
  const { tiergatePlugin } = await import('@tiergate/fastify');
  await app.register(rateLimit, { global: false });
  app.post('/send/bare', async () => sent());
  app.post('/send/rate-limit', { config: { rateLimit: { max: 1_000_000_000, timeWindow: '1 hour', keyGenerator: (request) => request.headers.authorization ?? request.ip } } }, async () => sent());
  app.decorateRequest('benchAccount', null);
  app.post('/send/floor', { preHandler: guardFloor(entries) }, async (request) => {
    if (typeof request.benchAccount?.id !== 'string') throw new Error('the floor passed no account to the handler');
    return sent();
  });
  await app.register(tiergatePlugin, { tiergate });
  app.post('/send/guard', { preHandler: app.requireCapability('send_messages', { consume: 1 }) }, async (request) => sentBy(request.tiergate));
}
