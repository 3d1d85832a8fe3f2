/**
 * The existing app that the three embedding examples (`embed-express.ts`,
 * `embed-fastify.ts`, `embed-koa.ts`) share: its own user table (API key
 * hashes and a billing plan per user) and how it hands tiergate its accounts.
 * Only the wiring into each framework differs between those files.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createTiergate, type Account, type Tiergate } from '@tiergate/core';

// ----------------------------------------------------------------- the app's own data

/** The app's billing plans, and the tiergate tier each one maps to. */
export const TIER_OF_PLAN = { hobby: 'free', starter: 'developer', scale: 'growth' } as const;

/** A row of the app's `users` table: it stores a hash of the API key, never the key. */
export interface User {
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

export const users: readonly User[] = [
  { id: 'usr_ada', email: 'ada@example.com', plan: 'hobby', apiKeySha256: sha256(DEMO_KEYS.hobby), webhookSecret: 'whsec_YWRhLWV4YW1wbGUtd2ViaG9vay1zZWNyZXQ=' },
  { id: 'usr_grace', email: 'grace@example.com', plan: 'starter', apiKeySha256: sha256(DEMO_KEYS.starter), webhookSecret: 'whsec_Z3JhY2UtZXhhbXBsZS13ZWJob29rLXNlY3JldA==' },
  { id: 'usr_linus', email: 'linus@example.com', plan: 'scale', apiKeySha256: sha256(DEMO_KEYS.scale), webhookSecret: 'whsec_bGludXMtZXhhbXBsZS13ZWJob29rLXNlY3JldA==' },
];

/** The app's own key lookup: hash, then compare in constant time. */
export function findUserByApiKey(apiKey: string): User | undefined {
  const hash = sha256(apiKey);
  return users.find((user) => timingSafeEqual(user.apiKeySha256, hash));
}

/** What tiergate needs to know about a user. */
export function accountOf(user: User): Account {
  return { id: user.id, tier: TIER_OF_PLAN[user.plan], operatorEmail: user.email, webhookSecret: user.webhookSecret };
}

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
 * The app's tiergate: accounts from the user table, links under
 * `origin() + '/agent'`, checkout on the app's own billing page.
 */
export function createAppTiergate(origin: () => string): Tiergate {
  return createTiergate({
    authenticate: (apiKey) => {
      const user = findUserByApiKey(apiKey);
      return user === undefined ? null : accountOf(user);
    },
    findAccount: (id) => {
      const user = users.find((u) => u.id === id);
      return user === undefined ? null : accountOf(user);
    },
    secret: process.env['TIERGATE_SECRET'] ?? randomBytes(32).toString('base64url'),
    publicUrl: () => `${origin()}/agent`,
    links: { checkoutUrl: (_account, tier) => `${origin()}/billing?plan=${tier === 'developer' ? 'starter' : 'scale'}` },
  });
}

/**
 * Listens with the app's `node:http` server on 127.0.0.1:`port`, tells the
 * app its public origin (`PUBLIC_URL`, else the listen URL) and starts
 * tiergate's background work.
 */
export async function listen(server: http.Server, port: number, tiergate: Tiergate, setOrigin: (origin: string) => void): Promise<EmbeddedApp> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  setOrigin((process.env['PUBLIC_URL'] ?? url).replace(/\/+$/, ''));
  tiergate.start();
  return {
    url,
    tiergate,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tiergate.stop();
    },
  };
}

/** When `moduleUrl` is the script node was started with: starts the app on `PORT`, prints its keys, stops on SIGINT/SIGTERM. */
export async function runAsScript(moduleUrl: string, start: (port: number) => Promise<EmbeddedApp>): Promise<void> {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  const running = await start(Number(process.env['PORT'] ?? 3000));
  console.log(`listening on ${running.url} (tiergate under ${running.url}/agent)`);
  for (const [plan, key] of Object.entries(DEMO_KEYS)) console.log(`  ${plan} user: ${key}`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
