/**
 * What the agent examples share to run from the command line
 * (`npx tsx examples/src/agents/<file>.ts`): a main-module check and the
 * client settings from `BASE_URL` / `API_KEY`.
 */
import { pathToFileURL } from 'node:url';
import { TiergateClient } from '@tiergate/client';

/** True when the module at `moduleUrl` (`import.meta.url`) is the program being run, not an import. */
export function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && moduleUrl === pathToFileURL(script).href;
}

/** The value of a required environment variable, or exits with a message naming it. */
export function requiredEnv(name: string, example: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    console.error(`${name} is not set, e.g. ${name}=${example}`);
    process.exit(2);
  }
  return value.trim();
}

/**
 * A client for the API at `BASE_URL` (default the example server,
 * `http://127.0.0.1:3000`) with the key in `API_KEY`.
 */
export function clientFromEnv(): TiergateClient {
  return new TiergateClient({
    baseUrl: process.env['BASE_URL'] || 'http://127.0.0.1:3000',
    apiKey: requiredEnv('API_KEY', 'dm_free_7d8a9b0c1d2e3f4g5h6i7j8k9l0m1n2o'),
  });
}
