/**
 * Shared set-up of the Redis tests: the server comes from `REDIS_URL`; every
 * test file uses its own random key prefix and deletes its keys afterwards,
 * so files run in parallel against one server (which they never stop).
 */
import { randomBytes } from 'node:crypto';
import { closedPort, serviceUrl } from '@tiergate/testing';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis, type RedisOptions as AnyRedisOptions } from 'ioredis';
import { redisStore, type RedisStore, type RedisStoreOptions } from '@tiergate/redis';

/** Client options of the tests (default reply mapping). */
export type RedisOptions = Omit<AnyRedisOptions, 'replyMapping'>;

/** The Redis under test, or undefined (tests skip, or fail with `TIERGATE_REQUIRE_SERVICES=1`). */
export const redisUrl: string | undefined = process.env['REDIS_URL'] || undefined;

/**
 * Reports a missing `REDIS_URL`: a warning when tests may skip, a failing
 * test when `TIERGATE_REQUIRE_SERVICES=1`. Call at the top of each file.
 */
export function reportMissingRedis(file: string): void {
  serviceUrl('REDIS_URL', 'redis://127.0.0.1:6379', file);
}

/** A random key prefix for one test file or test. */
export function randomPrefix(): string {
  return `tg-test-${randomBytes(6).toString('hex')}:`;
}

/** A client on the test server, with the options the README recommends. */
export function openClient(options: RedisOptions = {}): Redis {
  const client = new Redis(redisUrl as string, { maxRetriesPerRequest: 1, ...options });
  client.on('error', () => undefined); // fault tests provoke connection errors on purpose
  return client;
}

/** Deletes every key under `prefix` (SCAN, never KEYS: other files share the server). */
export async function deleteKeys(prefix: string): Promise<void> {
  const client = openClient();
  try {
    let cursor = '0';
    do {
      const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (found.length > 0) await client.unlink(...found);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** Every key under `prefix`. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const all: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    all.push(...found);
  } while (cursor !== '0');
  return all.sort();
}

/** A store on its own client and random prefix, and its cleanup. */
export function openStore(options: Partial<RedisStoreOptions> = {}, clientOptions: RedisOptions = {}) {
  const client = options.client ?? openClient(clientOptions);
  const keyPrefix = options.keyPrefix ?? randomPrefix();
  const store: RedisStore = redisStore({ ...options, client, keyPrefix });
  return {
    store,
    client,
    keyPrefix,
    async cleanup() {
      await store.close();
      client.disconnect();
      await deleteKeys(keyPrefix);
    },
  };
}

/** A store whose client points at a closed port (lazy, short timeouts). */
export async function unreachableStore(options: Partial<RedisStoreOptions> = {}, clientOptions: RedisOptions = {}) {
  const client = new Redis({ host: '127.0.0.1', port: await closedPort(), lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 1, ...clientOptions });
  client.on('error', () => undefined);
  const store = redisStore({ timeoutMs: 500, ...options, client, keyPrefix: randomPrefix() });
  return {
    store,
    client,
    async cleanup() {
      await store.close();
      client.disconnect();
    },
  };
}

/**
 * A TCP forwarder to the test Redis that can be taken down and brought back
 * on the same port: "Redis is down" for one client without stopping the
 * server other test files share.
 */
export async function startRedisProxy() {
  const target = new URL(redisUrl as string);
  const sockets = new Set<Socket>();
  const pairs = new Set<readonly [Socket, Socket]>();
  let server: Server | undefined;
  let port = 0;
  let stalled = false;
  const listen = async (): Promise<void> => {
    const s = createServer((inbound) => {
      const outbound = connect(Number(target.port || 6379), target.hostname);
      for (const socket of [inbound, outbound]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          sockets.delete(socket);
          inbound.destroy();
          outbound.destroy();
        });
      }
      const pair = [inbound, outbound] as const;
      pairs.add(pair);
      inbound.on('close', () => pairs.delete(pair));
      if (stalled) return;
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    port = (s.address() as { port: number }).port;
    server = s;
  };
  await listen();
  return {
    get port() {
      return port;
    },
    /** Refuses new connections and cuts the open ones. */
    async down(): Promise<void> {
      const s = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    /** Listens again on the same port. */
    up: listen,
    /** Keeps connections open (and accepts new ones) but forwards nothing (a black-holed server); bytes wait in buffers. */
    stall(): void {
      stalled = true;
      for (const [inbound, outbound] of pairs) {
        inbound.unpipe(outbound);
        outbound.unpipe(inbound);
      }
    },
    /** Forwards again, buffered bytes first. */
    resume(): void {
      stalled = false;
      for (const [inbound, outbound] of pairs) {
        inbound.pipe(outbound);
        outbound.pipe(inbound);
      }
    },
  };
}
