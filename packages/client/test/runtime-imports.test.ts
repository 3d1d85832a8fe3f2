/**
 * Proves the client has no run-time imports: esbuild bundles its source with
 * nothing marked external, and the bundle must consist of the client's own
 * files only and import nothing (`@tiergate/core` is used for types only, so
 * it must vanish). The bundle then runs in a bare `node:vm` context that has
 * only web-platform globals (no `Buffer`, `process` or `require`), the way it
 * would in a browser or a Worker, and talks to a real tiergate server.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNTS, keyOf, startTiergateServer } from './tiergate-server.js';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function bundle(format: 'esm' | 'iife') {
  const result = await build({
    entryPoints: [path.join(packageDir, 'src/index.ts')],
    bundle: true,
    write: false as const,
    metafile: true as const,
    format,
    ...(format === 'iife' ? { globalName: 'tiergateClient' } : {}),
    // Neutral: no Node built-ins resolve, so a `node:` import would fail the build.
    platform: 'neutral',
    target: 'es2022',
    tsconfig: path.join(packageDir, 'tsconfig.build.json'),
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]?.text ?? '', metafile: result.metafile };
}

describe('no run-time imports', () => {
  it("the bundle contains only the client's own source and imports nothing", async () => {
    const { code, metafile } = await bundle('esm');
    const inputs = Object.keys(metafile.inputs).map((input) => path.resolve(input));
    expect(inputs.length).toBeGreaterThan(0);
    for (const input of inputs) expect(input.startsWith(path.join(packageDir, 'src') + path.sep)).toBe(true);
    for (const output of Object.values(metafile.outputs)) expect(output.imports).toEqual([]);
    expect(code).not.toMatch(/\bimport\s*[\s{*"'(]|\brequire\s*\(/);
  });

  describe('runs with web-platform globals only', () => {
    let server: Awaited<ReturnType<typeof startTiergateServer>>;
    beforeAll(async () => {
      server = await startTiergateServer();
    });
    afterAll(async () => {
      await server.close();
    });

    it('calls a real server and verifies a webhook inside a bare vm context', async () => {
      const { code } = await bundle('iife');
      const web = { fetch, Headers, URL, URLSearchParams, AbortController, AbortSignal, TextEncoder, TextDecoder, crypto, atob, btoa, setTimeout, clearTimeout };
      const context = vm.createContext({ ...web, baseUrl: server.baseUrl, apiKey: keyOf(ACCOUNTS.free) });
      vm.runInContext(code, context);
      expect(vm.runInContext('typeof Buffer + typeof process + typeof require', context)).toBe('undefinedundefinedundefined');
      const outcome = (await vm.runInContext(
        `(async () => {
          const { TiergateClient, verifyWebhook } = tiergateClient;
          const client = new TiergateClient({ apiKey, baseUrl });
          const caps = await client.account.getCapabilities();
          let failure;
          try {
            await verifyWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', {
              'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
              'webhook-timestamp': '1614265330',
              'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
            }, '{"test": 2432232314}', { now: 1614265330000 });
          } catch (error) {
            failure = error.code + ':' + error.details.failure;
          }
          return { tier: caps.tier, blocked: caps.cannot.map((c) => c.reason), steps: caps.next_steps.length, failure };
        })()`,
        context,
      )) as { tier: string; blocked: string[]; steps: number; failure: string };
      expect(outcome.tier).toBe('free');
      expect(outcome.blocked).toContain('SEND_REQUIRES_PAID');
      expect(outcome.steps).toBeGreaterThan(0);
      // The vector's signature verified; only its body is not an approval event.
      expect(outcome.failure).toBe('WEBHOOK_INVALID:unsupported_event');
    });
  });
});
