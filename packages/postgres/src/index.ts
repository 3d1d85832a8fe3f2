/**
 * `@tiergate/postgres`: the tiergate `Store` on the host application's own
 * PostgreSQL, over its `pg.Pool`, for running several instances of an app
 * against one database.
 *
 * @packageDocumentation
 */
export { postgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { DEFAULT_RATE_LIMITER_TABLE, DEFAULT_SCHEMA, approvalChannel, migrationSql } from './migration.js';
