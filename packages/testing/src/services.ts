/**
 * Tests that need a real service (PostgreSQL, Redis) read its URL from the
 * environment. Without it they skip with a visible message — unless
 * `TIERGATE_REQUIRE_SERVICES=1`, when a missing service is a failing test.
 */
import { describe, expect, it } from 'vitest';

/**
 * The URL in `process.env[variable]`, or `undefined` after reporting that it
 * is missing (a console warning, or a failing test under
 * `TIERGATE_REQUIRE_SERVICES=1`). Call at the top level of a test file and
 * `describe.skipIf(url === undefined)` the tests that need it.
 *
 * @example
 * const databaseUrl = serviceUrl('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test', 'my-store.test.ts');
 * describe.skipIf(databaseUrl === undefined)('on PostgreSQL', () => { … });
 */
export function serviceUrl(variable: string, example: string, where: string): string | undefined {
  const value = process.env[variable];
  if (value !== undefined && value !== '') return value;
  if (process.env['TIERGATE_REQUIRE_SERVICES'] === '1') {
    describe(where, () => {
      it(`needs ${variable} (TIERGATE_REQUIRE_SERVICES=1)`, () => {
        expect(value, `set ${variable}, e.g. ${example}`).toBeDefined();
      });
    });
  } else {
    console.warn(`[${where}] ${variable} is not set: skipping the tests that need it (e.g. ${variable}=${example})`);
  }
  return undefined;
}
