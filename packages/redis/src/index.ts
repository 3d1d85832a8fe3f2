/**
 * `@tiergate/redis`: the tiergate `Store` on the host application's own Redis,
 * over its ioredis client — for apps that run several instances and already
 * run Redis.
 *
 * @packageDocumentation
 */
export { redisStore, type RedisStore, type RedisStoreOptions } from './redis-store.js';
