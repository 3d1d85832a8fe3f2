/**
 * The example server as a newcomer runs it: `node examples/dist/server.js`
 * (what `npm start` runs), configured by environment variables, as a child
 * process on port 0. Checks the printed demo keys, the seeds' curl examples
 * verbatim, the configuration variables and their failures, clean shutdown —
 * and, on PostgreSQL and Redis, that approvals survive a restart and that two
 * instances share decisions, callbacks and rate limits.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@tiergate/client';
import { listenLocal, serviceUrl } from '@tiergate/testing';
import { FRAMEWORKS } from '../src/server.js';
import { decideThroughPage, eventually, openOperatorPage } from './operator-page.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const serverJs = path.join(root, 'examples', 'dist', 'server.js');

const FREE_KEY = 'dm_free_7d8a9b0c1d2e3f4g5h6i7j8k9l0m1n2o';
const FREE_WEBHOOK_SECRET = 'whsec_ZGVtby1mcmVlLXdlYmhvb2stc2VjcmV0LTAx';
const DEVELOPER_KEY = 'dm_developer_4b1c9e2a7f3d6b8e0a5c2f9d1e7b3a6c';

const databaseUrl = serviceUrl('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/test', 'examples/test/example-server.test.ts');
const redisUrl = serviceUrl('REDIS_URL', 'redis://127.0.0.1:6379', 'examples/test/example-server.test.ts');

// ------------------------------------------------------------------------ processes

const children = new Set<ChildProcess>();

interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** stdout so far. */
  stdout(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The environment of a child: the test's own, without any example-server variable leaking in. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TIERGATE_') && name !== 'PORT' && name !== 'FRAMEWORK'));
  return { ...base, PORT: '0', TIERGATE_CONSOLE_NOTIFIER: '0', ...env };
}

function spawnServer(env: Record<string, string>) {
  const child = spawn(process.execPath, [serverJs], { cwd: root, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, exit, stdout: () => stdout, stderr: () => stderr };
}

/** Starts the server and waits for `listening on http://127.0.0.1:<port>` and the rest of its banner. */
async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const spawned = spawnServer(env);
  let exited = false;
  void spawned.exit.then(() => (exited = true));
  const port = await eventually(
    'listening on http://127.0.0.1:<port>',
    () => {
      if (exited) throw new Error(`the server exited before listening:\n${spawned.stdout()}\n${spawned.stderr()}`);
      const match = /^listening on http:\/\/127\.0\.0\.1:(\d+)$/m.exec(spawned.stdout());
      // The banner's last line ("try: curl …") says everything about the start has been printed.
      return match === null || !/^try: /m.test(spawned.stdout()) ? undefined : Number(match[1]);
    },
    20_000,
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stdout: spawned.stdout,
    stop(signal = 'SIGTERM') {
      if (!exited) spawned.child.kill(signal);
      return spawned.exit;
    },
  };
}

/** Runs a server that must fail at startup; resolves with its exit code and output. */
async function startupFailure(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const spawned = spawnServer(env);
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), 20_000);
  const code = await spawned.exit;
  clearTimeout(timer);
  return { code, stdout: spawned.stdout(), stderr: spawned.stderr() };
}

beforeAll(() => {
  // `npm start` builds what is stale first; so do the tests (a no-op after `npm run build`).
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}, 180_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

// ------------------------------------------------------------------------- helpers

async function api(base: string, method: string, route: string, key: string, body?: string) {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

/** Printed demo accounts: `  <key>  <id> (<tier>[, <status>])  webhook secret …`. */
function printedAccounts(stdout: string): { key: string; id: string; tier: string }[] {
  return [...stdout.matchAll(/^ {2}(\S+) {2}(acc_\S+) \((\w+)/gm)].map((m) => ({ key: m[1] as string, id: m[2] as string, tier: m[3] as string }));
}

/** A callback receiver: records every POST (raw body and headers) and answers 204. */
async function startReceiver() {
  const deliveries: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  const { origin, close } = await listenLocal(server);
  return { url: `${origin}/webhook/approval`, deliveries, close };
}

function approvalBody(callbackUrl: string): string {
  return JSON.stringify({
    type: 'approval_request',
    action: 'bulk_send',
    reason: 'Sending to 500 recipients exceeds safety threshold',
    context: { recipient_count: 500, subject: 'Product Update' },
    urgency: 'medium',
    callbackUrl,
    expiresIn: 3600,
  });
}

// --------------------------------------------------------------- the seeds' examples

/** seeds/capabilities.txt: the free account's response. */
const SEED_FREE_CAPABILITIES = {
  result: {
    tier: 'free',
    can: [
      { action: 'receive_messages', description: 'Receive unlimited inbound emails' },
      { action: 'create_inboxes', description: 'Create unlimited inboxes with @daimon.email addresses' },
      { action: 'create_webhooks', description: 'Register webhooks for real-time events' },
      { action: 'use_reply_extraction', description: 'Automatic reply body extraction with TalonJS' },
      { action: 'use_link_extraction', description: 'Automatic CTA and verification link detection' },
      { action: 'use_threading', description: 'Automatic email threading based on headers' },
    ],
    cannot: [
      { action: 'send_messages', reason: 'SEND_REQUIRES_PAID', unlock_url: 'https://daimon.email/upgrade?token=eyJhbGc...', api_call: 'POST /v1/upgrade-link' },
      { action: 'use_custom_domains', reason: 'DOMAIN_REQUIRES_PAID', unlock_url: 'https://daimon.email/upgrade?token=eyJhbGc...', api_call: 'POST /v1/upgrade-link' },
      { action: 'use_smtp', reason: 'SMTP_REQUIRES_PAID', unlock_url: 'https://daimon.email/upgrade?token=eyJhbGc...', api_call: 'POST /v1/upgrade-link' },
    ],
    upgrade_context: {
      operator_action_url: 'https://daimon.email/upgrade?token=eyJhbGc...',
      operator_action_label: 'Upgrade to enable sending',
      agent_script: "Tell your operator: I need sending access. Here's a direct upgrade link: https://daimon.email/upgrade?token=eyJhbGc...",
    },
  },
  next_steps: [
    'Use the can[] array to determine available actions',
    'When hitting a cannot[] limitation, use the upgrade_context to request operator intervention',
    'Call POST /v1/upgrade-link to generate a fresh upgrade URL',
  ],
};

/** seeds/notify-operator.txt: the curl example's body, byte for byte. */
const SEED_NOTIFY_BODY = `{
"issue": "Unable to send confirmation email - sending requires paid tier",
"context": {
"attempted_action": "send_email",
"recipient": "user@example.com",
"blocked_by": "SEND_REQUIRES_PAID"
},
"action_label": "Upgrade to Enable Sending"
}`;

/** seeds/notify-operator.txt: its response (link and id are per request). */
const SEED_NOTIFY_RESPONSE = {
  result: {
    operator_action_url: 'https://daimon.email/operator/action?token=eyJhbGc...',
    operator_action_label: 'Upgrade to Enable Sending',
    agent_script: "Tell your operator: Unable to send confirmation email - sending requires paid tier. Here's a direct action link: https://daimon.email/operator/action?token=eyJhbGc...",
    notification_id: 'not_xyz789',
    expires_at: '2024-03-18T14:23:45Z',
  },
  next_steps: [
    'Share operator_action_url with your operator via Slack, email, or UI',
    'Use agent_script as a ready-made message template',
    'Link is valid for 7 days',
    'Operator can view issue details and take action without logging in',
  ],
};

/** Replaces this server's signed links with the seed's placeholders ("URLs aside"). */
function withSeedUrls(value: unknown, base: string): unknown {
  const escaped = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const json = JSON.stringify(value)
    .replace(new RegExp(`${escaped}/upgrade\\?token=[A-Za-z0-9_.-]+`, 'g'), 'https://daimon.email/upgrade?token=eyJhbGc...')
    .replace(new RegExp(`${escaped}/operator/action\\?token=[A-Za-z0-9_.-]+`, 'g'), 'https://daimon.email/operator/action?token=eyJhbGc...');
  return JSON.parse(json) as unknown;
}

describe.each(FRAMEWORKS)('the example server process with FRAMEWORK=%s', (framework) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ FRAMEWORK: framework });
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
  });

  it('prints its URL and one working demo key per tier', async () => {
    expect(server.stdout()).toMatch(new RegExp(`^framework: ${framework}, store: memory, operator links: ${server.url}$`, 'm'));
    const accounts = printedAccounts(server.stdout());
    expect(accounts.map((a) => a.tier)).toEqual(['free', 'developer', 'growth', 'enterprise', 'developer']);
    expect(accounts[0]?.key).toBe(FREE_KEY); // the seeds' key, so their curl examples work as written
    for (const account of accounts) {
      const { status, body } = await api(server.url, 'GET', '/v1/account', account.key);
      expect(status).toBe(200);
      expect(body.result).toMatchObject({ id: account.id, tier: account.tier });
    }
    expect((await api(server.url, 'GET', '/v1/capabilities', 'dm_free_not_a_demo_key_000000')).status).toBe(401);
  });

  it('answers the seed’s GET /v1/capabilities for the free key field for field (URLs aside)', async () => {
    const { status, body } = await api(server.url, 'GET', '/v1/capabilities', FREE_KEY);
    expect(status).toBe(200);
    expect(withSeedUrls(body, server.url)).toEqual(SEED_FREE_CAPABILITIES);
    expect(body.result.upgrade_context.operator_action_url.startsWith(`${server.url}/upgrade?token=`)).toBe(true);
    expect((await fetch(body.result.upgrade_context.operator_action_url)).status).toBe(200);
  });

  it('answers the seed’s POST /v1/notify-operator curl example with 201 and the seed’s fields', async () => {
    const { status, body } = await api(server.url, 'POST', '/v1/notify-operator', FREE_KEY, SEED_NOTIFY_BODY);
    expect(status).toBe(201);
    const normalised = withSeedUrls(body, server.url) as typeof SEED_NOTIFY_RESPONSE;
    expect(Object.keys(normalised.result).sort()).toEqual(Object.keys(SEED_NOTIFY_RESPONSE.result).sort());
    expect(normalised).toEqual({
      ...SEED_NOTIFY_RESPONSE,
      result: { ...SEED_NOTIFY_RESPONSE.result, notification_id: expect.stringMatching(/^not_[A-Za-z0-9_-]+$/), expires_at: body.result.expires_at },
    });
    const validFor = Date.parse(body.result.expires_at) - Date.now();
    expect(validFor).toBeGreaterThan(7 * 86_400_000 - 120_000);
    expect(validFor).toBeLessThanOrEqual(7 * 86_400_000);
    expect((await openOperatorPage(body.result.operator_action_url)).status).toBe(200);
  });

  it('guards its host route: the free key gets SEND_REQUIRES_PAID, the developer key sends', async () => {
    const refused = await api(server.url, 'POST', '/v1/messages/send', FREE_KEY);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('SEND_REQUIRES_PAID');
    expect(refused.body.error.details.upgrade_context.operator_action_url.startsWith(`${server.url}/upgrade?token=`)).toBe(true);
    const sent = await api(server.url, 'POST', '/v1/messages/send', DEVELOPER_KEY);
    expect(sent.status).toBe(200);
    expect(sent.body.result).toMatchObject({ sent: true, account: 'acc_demo_developer' });
  });

  it('shuts down cleanly on SIGTERM (exit 0, port closed)', async () => {
    expect(await server.stop('SIGTERM')).toBe(0);
    await expect(fetch(`${server.url}/v1/capabilities`)).rejects.toThrow();
  });
});

// ------------------------------------------------------------------- configuration

// Independent processes: run side by side.
describe.concurrent('example server configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tiergate-accounts-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('TIERGATE_ACCOUNTS: serves the accounts of the JSON file instead of the demo accounts', async () => {
    const file = path.join(dir, 'accounts.json');
    writeFileSync(
      file,
      JSON.stringify([
        { api_key: 'acme_live_key_0123456789', id: 'acc_acme', tier: 'developer', usage: { send_messages: { day: 100, month: 250 } }, operator_email: 'ops@acme.test' },
        { api_key: 'beta_live_key_9876543210', id: 'acc_beta', tier: 'growth', status: 'under_review' },
      ]),
    );
    const server = await startServer({ TIERGATE_ACCOUNTS: file, FRAMEWORK: 'koa' });
    try {
      expect(printedAccounts(server.stdout())).toEqual([]); // demo keys are not printed
      const acme = await api(server.url, 'GET', '/v1/capabilities', 'acme_live_key_0123456789');
      expect(acme.status).toBe(200);
      expect(acme.body.result.cannot).toEqual([expect.objectContaining({ action: 'send_messages', reason: 'SEND_LIMIT_EXCEEDED', resets_at: expect.any(String) })]);
      const beta = await api(server.url, 'GET', '/v1/account', 'beta_live_key_9876543210');
      expect(beta.body.result).toMatchObject({ id: 'acc_beta', tier: 'growth', status: 'under_review' });
      expect((await api(server.url, 'GET', '/v1/capabilities', FREE_KEY)).status).toBe(401);
    } finally {
      await server.stop();
    }
  });

  it.each([
    ['a missing file', (file: string) => file, null],
    ['a file that is not JSON', (file: string) => file, '[{"api_key": '],
    ['an entry without an id', (file: string) => file, JSON.stringify([{ api_key: 'acme_live_key_0123456789', tier: 'developer' }])],
    ['an unknown tier', (file: string) => file, JSON.stringify([{ api_key: 'acme_live_key_0123456789', id: 'acc_acme', tier: 'platinum' }])],
  ])('TIERGATE_ACCOUNTS with %s fails at startup, naming the variable, with a non-zero exit', async (_case, pathOf, content) => {
    const file = path.join(dir, `bad-${randomBytes(4).toString('hex')}.json`);
    if (content !== null) writeFileSync(file, content);
    const result = await startupFailure({ TIERGATE_ACCOUNTS: pathOf(file) });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain('TIERGATE_ACCOUNTS');
    expect(result.stdout).not.toContain('listening on');
  });

  it('TIERGATE_PUBLIC_URL is the base of every link', async () => {
    const server = await startServer({ TIERGATE_PUBLIC_URL: 'https://agents.example.test/', FRAMEWORK: 'express' });
    try {
      expect(server.stdout()).toContain('operator links: https://agents.example.test');
      const caps = await api(server.url, 'GET', '/v1/capabilities', FREE_KEY);
      expect(caps.body.result.cannot.every((c: { unlock_url: string }) => c.unlock_url.startsWith('https://agents.example.test/upgrade?token='))).toBe(true);
      const notified = await api(server.url, 'POST', '/v1/notify-operator', FREE_KEY, SEED_NOTIFY_BODY);
      expect(notified.body.result.operator_action_url.startsWith('https://agents.example.test/operator/action?token=')).toBe(true);
      // The link is served by this process (behind the public URL's proxy).
      const local = notified.body.result.operator_action_url.replace('https://agents.example.test', server.url);
      expect((await openOperatorPage(local)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it.each([
    ['FRAMEWORK', { FRAMEWORK: 'hapi' }],
    ['TIERGATE_STORE', { TIERGATE_STORE: 'mysql://root@127.0.0.1/tiergate' }],
    ['TIERGATE_STORE_SCHEMA', { TIERGATE_STORE_SCHEMA: 'tiergate_ci' }], // on the memory store
    ['TIERGATE_PUBLIC_URL', { TIERGATE_PUBLIC_URL: 'agents.example.test' }],
    ['TIERGATE_SECRET', { TIERGATE_SECRET: 'too-short' }],
  ])('a bad %s fails at startup with a message naming it and exit code 1', async (variable, env) => {
    const result = await startupFailure(env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(variable);
    expect(result.stdout).not.toContain('listening on');
  });
});

// ------------------------------------------------------------- shared stores (issue 5)

interface SharedStore {
  readonly name: string;
  readonly url: string | undefined;
  /** Env selecting the store with the namespace as a URL parameter. */
  viaUrl(namespace: string): Record<string, string>;
  /** Env selecting the store with the namespace in TIERGATE_STORE_SCHEMA. */
  viaVariable(namespace: string): Record<string, string>;
  namespace(): string;
  cleanup(namespace: string): Promise<void>;
}

function withParameter(url: string, name: string, value: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set(name, value);
  return parsed.toString();
}

const sharedStores: SharedStore[] = [
  {
    name: 'PostgreSQL',
    url: databaseUrl,
    viaUrl: (schema) => ({ TIERGATE_STORE: withParameter(databaseUrl as string, 'schema', schema) }),
    viaVariable: (schema) => ({ TIERGATE_STORE: databaseUrl as string, TIERGATE_STORE_SCHEMA: schema }),
    namespace: () => `tg_example_${randomBytes(5).toString('hex')}`,
    async cleanup(schema) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  },
  {
    name: 'Redis',
    url: redisUrl,
    viaUrl: (prefix) => ({ TIERGATE_STORE: withParameter(redisUrl as string, 'prefix', prefix) }),
    viaVariable: (prefix) => ({ TIERGATE_STORE: redisUrl as string, TIERGATE_STORE_SCHEMA: prefix }),
    namespace: () => `tg-example-${randomBytes(5).toString('hex')}:`,
    async cleanup(prefix) {
      const client = new Redis(redisUrl as string, { maxRetriesPerRequest: 1 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          cursor = next;
          if (keys.length > 0) await client.unlink(...keys);
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    },
  },
];

for (const shared of sharedStores) {
  describe.skipIf(shared.url === undefined).concurrent(`the example server on ${shared.name}`, () => {
    const namespaces: string[] = [];
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    const secret = randomBytes(32).toString('hex');
    const namespace = () => {
      const ns = shared.namespace();
      namespaces.push(ns);
      return ns;
    };

    beforeAll(async () => {
      receiver = await startReceiver();
    });
    afterAll(async () => {
      await receiver?.close();
      for (const ns of namespaces) await shared.cleanup(ns);
    });

    const callbacksFor = async (requestId: string) => {
      const events = [];
      for (const delivery of receiver.deliveries) {
        const event = await verifyWebhook(FREE_WEBHOOK_SECRET, delivery.headers as Record<string, string>, delivery.body);
        if (event.data.request_id === requestId) events.push({ id: delivery.headers['webhook-id'], event });
      }
      return events;
    };

    it('keeps an approval across a restart: the old link opens and decides, and the callback is delivered', async () => {
      const env = { ...shared.viaUrl(namespace()), TIERGATE_SECRET: secret, TIERGATE_ALLOW_PRIVATE_CALLBACKS: '1' };
      const first = await startServer({ ...env, FRAMEWORK: 'express' });
      expect(first.stdout()).toMatch(new RegExp(`store: ${shared.name === 'PostgreSQL' ? 'postgres' : 'redis'} `));
      expect(first.stdout()).not.toContain('warning: TIERGATE_SECRET');
      const created = await api(first.url, 'POST', '/v1/notify-operator', FREE_KEY, approvalBody(receiver.url));
      expect(created.status).toBe(201);
      const requestId: string = created.body.result.request_id;
      const link: string = created.body.result.operator_action_url;
      expect(await first.stop('SIGTERM')).toBe(0);

      // Same port (the link names it), same secret, another framework: only the store carries state.
      const second = await startServer({ ...env, FRAMEWORK: 'koa', PORT: String(first.port) });
      try {
        expect((await decideThroughPage(link, 'approve')).status).toBe(200);
        const delivered = await eventually('the approval.granted callback', async () => {
          const events = await callbacksFor(requestId);
          return events.length > 0 ? events : undefined;
        });
        expect(delivered.map((d) => d.event.type)).toEqual(['approval.granted']);
        expect(delivered[0]?.event.data).toMatchObject({ request_id: requestId, status: 'approved', approved_by: 'operator@example.com', context: { recipient_count: 500 } });
        expect((await api(second.url, 'GET', `/v1/approvals/${requestId}`, FREE_KEY)).body.result.status).toBe('approved');
      } finally {
        await second.stop();
      }
    });

    it('runs as two instances: decided through the other one, one callback only, one shared rate limit', async () => {
      // Behind one public URL (a load balancer), as instances of one deployment are; links are verified against it.
      const publicUrl = 'http://tiergate-lb.example.test';
      const env = { ...shared.viaVariable(namespace()), TIERGATE_SECRET: secret, TIERGATE_ALLOW_PRIVATE_CALLBACKS: '1', TIERGATE_PUBLIC_URL: publicUrl };
      const [a, b] = await Promise.all([startServer({ ...env, FRAMEWORK: 'fastify' }), startServer({ ...env, FRAMEWORK: 'express' })]);
      try {
        const created = await api(a.url, 'POST', '/v1/notify-operator', FREE_KEY, approvalBody(receiver.url));
        expect(created.status).toBe(201);
        const requestId: string = created.body.result.request_id;
        const linkOnB = (created.body.result.operator_action_url as string).replace(publicUrl, b.url);
        expect((await decideThroughPage(linkOnB, 'approve')).status).toBe(200);
        expect((await api(a.url, 'GET', `/v1/approvals/${requestId}`, FREE_KEY)).body.result.status).toBe('approved');

        await eventually('the approval.granted callback', async () => ((await callbacksFor(requestId)).length > 0 ? true : undefined));
        // Both instances poll the outbox every 500 ms: give them several rounds to deliver it twice, if they would.
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const events = await callbacksFor(requestId);
        expect(events.map((e) => e.event.type)).toEqual(['approval.granted']);

        const notify = (server: RunningServer, i: number) =>
          api(server.url, 'POST', '/v1/notify-operator', DEVELOPER_KEY, JSON.stringify({ issue: `Shared limit check ${i}` }));
        for (let i = 1; i <= 6; i += 1) expect((await notify(a, i)).status).toBe(201);
        for (let i = 7; i <= 10; i += 1) expect((await notify(b, i)).status).toBe(201);
        const eleventh = await notify(b, 11);
        expect(eleventh.status).toBe(429);
        expect(eleventh.body.error.code).toBe('RATE_LIMITED');
        expect(Number(eleventh.headers.get('retry-after'))).toBeGreaterThan(0);
        expect((await notify(a, 12)).status).toBe(429);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  });
}
