/**
 * Embedding tiergate into an existing Fastify app. The app keeps its own
 * routes (`/health`, `/v1/messages`, `/billing`) and its own user table (API
 * key hashes and a `plan` column); tiergate is mounted under `/agent`, reads
 * accounts from that table, and guards the app's own send route.
 *
 * ```sh
 * PORT=3000 npx tsx examples/src/embed-fastify.ts
 * curl -X POST -H "Authorization: Bearer app_key_hobby_0b5e1c7a9d3f" -H "Content-Type: application/json" \
 *   -d '{"to":"a@example.com","subject":"Hi","text":"Hello"}' http://127.0.0.1:3000/v1/messages   # 403 SEND_REQUIRES_PAID
 * curl -H "Authorization: Bearer app_key_hobby_0b5e1c7a9d3f" http://127.0.0.1:3000/agent/v1/capabilities
 * ```
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { createTiergate, type Account, type Tiergate } from '@tiergate/core';
import { tiergatePlugin } from '@tiergate/fastify';

// ----------------------------------------------------------------- the app's own data

/** The app's billing plans, and the tiergate tier each one maps to. */
const TIER_OF_PLAN = { hobby: 'free', starter: 'developer', scale: 'growth' } as const;

/** A row of the app's `users` table: it stores a hash of the API key, never the key. */
interface User {
  readonly id: string;
  readonly email: string;
  readonly plan: keyof typeof TIER_OF_PLAN;
  readonly apiKeySha256: Buffer;
  /** Signs approval callbacks to this user's agents. */
  readonly webhookSecret: string;
}

/** The demo users' API keys (a real app shows a key once, at creation). */
export const DEMO_KEYS = {
  hobby: 'app_key_hobby_0b5e1c7a9d3f',
  starter: 'app_key_starter_6a2d8f4c1e9b',
  scale: 'app_key_scale_3f7b9e1d5c2a',
} as const;

const sha256 = (value: string): Buffer => createHash('sha256').update(value).digest();

const users: readonly User[] = [
  { id: 'usr_ada', email: 'ada@example.com', plan: 'hobby', apiKeySha256: sha256(DEMO_KEYS.hobby), webhookSecret: 'whsec_YWRhLWV4YW1wbGUtd2ViaG9vay1zZWNyZXQ=' },
  { id: 'usr_grace', email: 'grace@example.com', plan: 'starter', apiKeySha256: sha256(DEMO_KEYS.starter), webhookSecret: 'whsec_Z3JhY2UtZXhhbXBsZS13ZWJob29rLXNlY3JldA==' },
  { id: 'usr_linus', email: 'linus@example.com', plan: 'scale', apiKeySha256: sha256(DEMO_KEYS.scale), webhookSecret: 'whsec_bGludXMtZXhhbXBsZS13ZWJob29rLXNlY3JldA==' },
];

/** The app's own key lookup: hash, then compare in constant time. */
function findUserByApiKey(apiKey: string): User | undefined {
  const hash = sha256(apiKey);
  return users.find((user) => timingSafeEqual(user.apiKeySha256, hash));
}

/** What tiergate needs to know about a user. */
function accountOf(user: User): Account {
  return { id: user.id, tier: TIER_OF_PLAN[user.plan], operatorEmail: user.email, webhookSecret: user.webhookSecret };
}

// ----------------------------------------------------------------------------- the app

/** A running instance of the app. */
export interface EmbeddedApp {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The tiergate service mounted under `/agent`. */
  readonly tiergate: Tiergate;
  /** Stops listening and stops tiergate's background work. */
  close(): Promise<void>;
}

/**
 * Starts the app on `port` (0 = any) with tiergate under `/agent`. Operator
 * links point at `PUBLIC_URL` + `/agent` when that variable is set, else at
 * the listen URL.
 */
export async function start(port = 3000): Promise<EmbeddedApp> {
  /** The app's own messages table. */
  const messages: { id: string; userId: string; to: string; subject: string; text: string }[] = [];
  let base = '';
  const tiergate = createTiergate({
    authenticate: (apiKey) => {
      const user = findUserByApiKey(apiKey);
      return user === undefined ? null : accountOf(user);
    },
    findAccount: (id) => {
      const user = users.find((u) => u.id === id);
      return user === undefined ? null : accountOf(user);
    },
    secret: process.env['TIERGATE_SECRET'] ?? randomBytes(32).toString('base64url'),
    publicUrl: () => `${base}/agent`,
    links: { checkoutUrl: (_account, tier) => `${base}/billing?plan=${tier === 'developer' ? 'starter' : 'scale'}` },
  });

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

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const running = await start(Number(process.env['PORT'] ?? 3000));
  console.log(`listening on ${running.url} (tiergate under ${running.url}/agent)`);
  for (const [plan, key] of Object.entries(DEMO_KEYS)) console.log(`  ${plan} user: ${key}`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
