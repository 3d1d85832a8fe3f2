/**
 * The embedding examples (`examples/src/embed-{express,fastify,koa}.ts`): an
 * existing app with its own routes and user table, tiergate mounted under
 * `/agent`. The app's routes keep working, tiergate's answer under `/agent`,
 * operator links point under `/agent`, and the guard protects the app's own
 * send route.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TiergateClient } from '@tiergate/client';
import * as embedExpress from '../src/embed-express.js';
import * as embedFastify from '../src/embed-fastify.js';
import * as embedKoa from '../src/embed-koa.js';
import { decideThroughPage, eventually, openOperatorPage } from './operator-page.js';

const examples = [
  ['express', embedExpress],
  ['fastify', embedFastify],
  ['koa', embedKoa],
] as const;

describe.each(examples)('embedding into an existing %s app', (_name, example) => {
  const { hobby, starter, scale } = example.DEMO_KEYS;
  let app: embedExpress.EmbeddedApp;

  const call = async (method: string, path: string, key?: string, body?: unknown) => {
    const response = await fetch(`${app.url}${path}`, {
      method,
      headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json: json as Record<string, any>, text, headers: response.headers };
  };
  const message = { to: 'someone@example.com', subject: 'Hello', text: 'Hi there' };
  const agentClient = (key: string) => new TiergateClient({ apiKey: key, baseUrl: `${app.url}/agent` });

  beforeAll(async () => {
    app = await example.start(0);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('keeps the host routes: /health, and /v1/messages with the host’s own auth', async () => {
    expect(await call('GET', '/health')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect((await call('GET', '/v1/messages')).status).toBe(401);
    expect(await call('GET', '/v1/messages', starter)).toMatchObject({ status: 200, json: { messages: [] } });
  });

  it('serves tiergate under /agent only, with the accounts of the host’s user table', async () => {
    expect((await agentClient(hobby).account.getCapabilities()).tier).toBe('free');
    expect((await agentClient(starter).account.getCapabilities()).tier).toBe('developer');
    expect((await agentClient(scale).account.getCapabilities()).tier).toBe('growth');
    expect((await call('GET', '/agent/v1/capabilities')).json.error.code).toBe('UNAUTHORIZED');
    expect((await call('GET', '/agent/v1/capabilities', 'app_key_nobody_000000000000')).status).toBe(401);
    // Not mounted at the root: the host's own 404, not tiergate's.
    const root = await call('GET', '/v1/capabilities', hobby);
    expect(root.status).toBe(404);
    expect(root.json?.error?.code).toBeUndefined();
  });

  it('guards the host’s send route: free plan refused with an upgrade link under /agent, paid plan allowed and metered', async () => {
    expect((await call('POST', '/v1/messages', undefined, message)).status).toBe(401);

    const refused = await call('POST', '/v1/messages', hobby, message);
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('SEND_REQUIRES_PAID');
    const upgrade: string = refused.json.error.details.upgrade_context.operator_action_url;
    expect(upgrade.startsWith(`${app.url}/agent/upgrade?token=`)).toBe(true);
    const upgradePage = await fetch(upgrade);
    expect(upgradePage.status).toBe(200);
    expect(await upgradePage.text()).toContain(`${app.url}/billing?plan=starter`); // the host's checkout link

    const sent = await call('POST', '/v1/messages', starter, message);
    expect(sent.status).toBe(201);
    expect((await call('GET', '/v1/messages', starter)).json.messages).toEqual([{ id: sent.json.id, userId: 'usr_grace', ...message }]);
    expect((await agentClient(starter).account.get()).usage['send_messages']?.day.used).toBe(1);

    // A request the host rejects after the guard gives the unit back.
    expect((await call('POST', '/v1/messages', starter, { to: 'x@example.com' })).status).toBe(400);
    expect((await agentClient(starter).account.get()).usage['send_messages']?.day.used).toBe(1);
  });

  it('issues operator links under /agent, and the operator decides an approval there', async () => {
    const notification = await agentClient(hobby).account.notifyOperator({ issue: 'Please upgrade me', context: { blocked_by: 'SEND_REQUIRES_PAID' } });
    expect(notification.operator_action_url.startsWith(`${app.url}/agent/operator/action?token=`)).toBe(true);
    expect((await openOperatorPage(notification.operator_action_url)).status).toBe(200);

    const approval = await agentClient(scale).approvals.request({ action: 'bulk_send', reason: 'Sending to 500 recipients', context: { recipient_count: 500 } });
    expect(approval.operator_action_url.startsWith(`${app.url}/agent/operator/action?token=`)).toBe(true);
    const page = await openOperatorPage(approval.operator_action_url);
    expect(page.approve?.action).toBe('/agent/operator/action');
    expect((await decideThroughPage(approval.operator_action_url, 'approve')).status).toBe(200);
    expect(await agentClient(scale).approvals.get(approval.request_id)).toMatchObject({ status: 'approved', decided_by: 'linus@example.com' });
  });
});

describe('the embedding examples from the command line (npx tsx …)', () => {
  const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
  const children = new Set<ChildProcess>();
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it.concurrent.each(examples.map(([name]) => name))('embed-%s.ts listens on PORT, serves its routes and stops on SIGTERM', async (name) => {
    const child = spawn(tsx, [fileURLToPath(new URL(`../src/embed-${name}.ts`, import.meta.url))], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const url = await eventually('the listening line', () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1], 20_000);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const caps = await fetch(`${url}/agent/v1/capabilities`, { headers: { authorization: `Bearer ${embedExpress.DEMO_KEYS.starter}` } });
    expect(caps.status).toBe(200);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    children.delete(child);
  });
});
