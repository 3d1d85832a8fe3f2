/**
 * `npm start`: the example server, configured by environment variables
 * (DESIGN.md): PORT, FRAMEWORK, TIERGATE_STORE, TIERGATE_ACCOUNTS,
 * TIERGATE_STORE_SCHEMA (PostgreSQL schema or Redis key prefix),
 * TIERGATE_SECRET, TIERGATE_PUBLIC_URL, TIERGATE_ALLOW_PRIVATE_CALLBACKS, and
 * the notifier variables read by `notifiersFromEnv`. Any bad setting stops it
 * before it listens, with a message naming the variable and exit code 1.
 */
import type { Logger } from '@tiergate/core';
import { notifiersFromEnv } from './notifiers-from-env.js';
import { FRAMEWORKS, startExampleServer, type Framework } from './server.js';

const env = process.env;

const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => console.warn(`[tiergate] ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`[tiergate] ${message}`, fields ?? ''),
};

async function main(): Promise<void> {
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be 0–65535 (got "${env.PORT}")`);
  const secret = env.TIERGATE_SECRET || undefined;
  if (secret !== undefined && Buffer.byteLength(secret) < 32) throw new Error('TIERGATE_SECRET must be at least 32 bytes');

  const framework = env.FRAMEWORK === undefined || env.FRAMEWORK === '' ? 'fastify' : env.FRAMEWORK;
  if (!(FRAMEWORKS as readonly string[]).includes(framework)) throw new Error(`FRAMEWORK must be express, fastify or koa (got "${framework}")`);
  const server = await startExampleServer({
    port,
    framework: framework as Framework,
    store: env.TIERGATE_STORE === undefined || env.TIERGATE_STORE === '' ? 'memory' : env.TIERGATE_STORE,
    ...(env.TIERGATE_STORE_SCHEMA ? { storeSchema: env.TIERGATE_STORE_SCHEMA } : {}),
    ...(env.TIERGATE_ACCOUNTS ? { accountsFile: env.TIERGATE_ACCOUNTS } : {}),
    ...(secret ? { secret } : {}),
    ...(env.TIERGATE_PUBLIC_URL ? { publicUrl: env.TIERGATE_PUBLIC_URL } : {}),
    allowPrivateCallbacks: env.TIERGATE_ALLOW_PRIVATE_CALLBACKS === '1',
    notifiers: notifiersFromEnv(env),
    logger,
  });

  console.log(`listening on ${server.url}`);
  console.log(`framework: ${server.framework}, store: ${server.store}, operator links: ${server.publicUrl}`);
  if (server.randomSecret) console.warn('warning: TIERGATE_SECRET is not set; using a random secret, so operator links stop working when this process stops');
  if (env.TIERGATE_ACCOUNTS === undefined || env.TIERGATE_ACCOUNTS === '') {
    console.log('demo accounts (API key → account):');
    for (const { apiKey, account } of server.accounts) {
      console.log(`  ${apiKey}  ${account.id} (${account.tier}${account.status === undefined ? '' : `, ${account.status}`})  webhook secret ${account.webhookSecret ?? '-'}`);
    }
  } else {
    console.log(`accounts: ${server.accounts.length} from ${env.TIERGATE_ACCOUNTS}`);
  }
  console.log(`try: curl -H "Authorization: Bearer ${server.accounts[0]?.apiKey ?? '<api key>'}" ${server.url}/v1/capabilities`);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: shutting down`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(`tiergate example server failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
