/**
 * The seeds' agent patterns (`examples/src/agents/`) against the example
 * server started in-process on Express, Fastify and Koa: capability checks,
 * operator escalation, and the approval workflow with a real webhook receiver
 * and decisions made through the real operator page. Time is a fake clock;
 * expiry is `sweep()` + `deliver()`, never a wait.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TiergateClient, type ApprovalEvent } from '@tiergate/client';
import { webhookHeaders } from '@tiergate/core';
import { createFakeClock, type FakeClock } from '@tiergate/testing';
import { DEMO_ACCOUNTS } from '../src/accounts.js';
import { ApprovalWorkflowAgent, type ApprovalOutcome } from '../src/agents/approval-workflow-agent.js';
import { SendingNotAvailableError, ensureCanSend } from '../src/agents/ensure-can-send.js';
import { OperatorInterventionRequired, sendOrEscalate } from '../src/agents/handle-operator-intervention.js';
import { FRAMEWORKS, startExampleServer, type ExampleServer } from '../src/server.js';
import { decideThroughPage, eventually, openOperatorPage } from './operator-page.js';

function demo(id: string): { apiKey: string; webhookSecret: string } {
  const entry = DEMO_ACCOUNTS.find((a) => a.account.id === id);
  if (entry === undefined || entry.account.webhookSecret === undefined) throw new Error(`no demo account ${id}`);
  return { apiKey: entry.apiKey, webhookSecret: entry.account.webhookSecret };
}

const FREE = demo('acc_demo_free');
const DEVELOPER = demo('acc_demo_developer');
const GROWTH = demo('acc_demo_growth');
const REVIEW = demo('acc_demo_review');

const recipients = (n: number) => Array.from({ length: n }, (_, i) => `user${i + 1}@example.com`);

describe.each(FRAMEWORKS)('agent patterns against the example server on %s', (framework) => {
  let server: ExampleServer;
  let clock: FakeClock;
  const client = (apiKey: string) => new TiergateClient({ apiKey, baseUrl: server.url });
  const sendsToday = async (apiKey: string) => (await client(apiKey).account.get()).usage['send_messages']?.day.used;

  beforeAll(async () => {
    clock = createFakeClock();
    server = await startExampleServer({ port: 0, framework, allowPrivateCallbacks: true, tiergate: { clock } });
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('ensureCanSend (seeds/capabilities.txt)', () => {
    it('throws for the free key and prints the upgrade script with a working upgrade link', async () => {
      const lines: string[] = [];
      const error = await ensureCanSend(client(FREE.apiKey), (line) => lines.push(line)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SendingNotAvailableError);
      const blocked = error as SendingNotAvailableError;
      expect(blocked.reason).toBe('SEND_REQUIRES_PAID');
      expect(lines).toEqual([blocked.upgradeContext?.agent_script]);
      const link = blocked.upgradeContext?.operator_action_url ?? '';
      expect(link.startsWith(`${server.url}/upgrade?token=`)).toBe(true);
      expect(lines[0]).toContain(link);
      expect((await fetch(link)).status).toBe(200);
    });

    it('passes for the developer key', async () => {
      const lines: string[] = [];
      await expect(ensureCanSend(client(DEVELOPER.apiKey), (line) => lines.push(line))).resolves.toBeUndefined();
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toContain('Tell your operator');
    });

    it('reports ACCOUNT_UNDER_REVIEW for the account under review', async () => {
      const error = await ensureCanSend(client(REVIEW.apiKey), () => undefined).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SendingNotAvailableError);
      expect((error as SendingNotAvailableError).reason).toBe('ACCOUNT_UNDER_REVIEW');
    });
  });

  describe('handleOperatorIntervention (seeds/notify-operator.txt)', () => {
    it('escalates a SEND_REQUIRES_PAID refusal of the guarded host route to the operator', async () => {
      const posted: string[] = [];
      const error = await sendOrEscalate(client(FREE.apiKey), { to: 'user@example.com', subject: 'Hi', text: 'Hello' }, (text) => {
        posted.push(text);
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperatorInterventionRequired);
      const { notification } = error as OperatorInterventionRequired;
      expect(notification.notification_id).toMatch(/^not_/);
      expect(notification.operator_action_url.startsWith(`${server.url}/operator/action?token=`)).toBe(true);
      expect(posted).toEqual([notification.agent_script]);
      expect(notification.agent_script).toContain(notification.operator_action_url);

      const stored = await server.tiergate.store.getNotification(notification.notification_id);
      expect(stored?.accountId).toBe('acc_demo_free');
      const page = await openOperatorPage(notification.operator_action_url);
      expect(page.status).toBe(200);
      expect(page.html).toContain('SEND_REQUIRES_PAID'); // the context the agent attached
      expect(page.approve).toBeUndefined(); // a notification, not an approval
    });

    it('sends without bothering the operator when the key may send', async () => {
      const before = (await sendsToday(DEVELOPER.apiKey)) ?? 0;
      const posted: string[] = [];
      const result = await sendOrEscalate(client(DEVELOPER.apiKey), { to: 'user@example.com', subject: 'Hi', text: 'Hello' }, (text) => {
        posted.push(text);
      });
      expect(result).toEqual({ sent: true, account: 'acc_demo_developer' });
      expect(posted).toEqual([]);
      expect(await sendsToday(DEVELOPER.apiKey)).toBe(before + 1);
    });
  });

  describe('ApprovalWorkflowAgent (seeds/human-approval-workflow.txt)', () => {
    let agent: ApprovalWorkflowAgent;
    let callbackUrl: string;
    const outcomes: ApprovalOutcome[] = [];
    const outcomeOf = (requestId: string) => eventually(`the callback of ${requestId}`, () => outcomes.find((o) => o.requestId === requestId));

    beforeAll(async () => {
      agent = new ApprovalWorkflowAgent({
        apiKey: GROWTH.apiKey,
        baseUrl: server.url,
        webhookSecret: GROWTH.webhookSecret,
        now: () => clock.now(),
        log: () => undefined,
        onOutcome: (outcome) => outcomes.push(outcome),
      });
      callbackUrl = await agent.listen();
    });
    afterAll(async () => {
      await agent?.close();
    });

    async function requestBulkSend(count: number): Promise<{ requestId: string; link: string }> {
      const result = await agent.sendBulkEmail(recipients(count), 'Product Update', 'We are excited to announce...');
      if (result.status !== 'pending_approval') throw new Error('expected an approval request');
      return { requestId: result.requestId, link: result.operatorActionUrl };
    }

    it('sends up to 100 recipients at once, without approval', async () => {
      const before = (await sendsToday(GROWTH.apiKey)) ?? 0;
      await expect(agent.sendBulkEmail(recipients(100), 'Small', 'Hello')).resolves.toEqual({ status: 'sent', sent: 100 });
      expect(await sendsToday(GROWTH.apiKey)).toBe(before + 100);
    });

    it('asks for approval above 100 recipients; the operator approves on the page; the receiver verifies approval.granted and sends', async () => {
      const before = (await sendsToday(GROWTH.apiKey)) ?? 0;
      const { requestId, link } = await requestBulkSend(120);
      expect(requestId).toMatch(/^apr_/);
      expect(link.startsWith(`${server.url}/operator/action?token=`)).toBe(true);
      const record = await server.tiergate.approvals.get(requestId);
      expect(record).toMatchObject({ status: 'pending', action: 'bulk_send', callbackUrl, urgency: 'medium' });
      expect(agent.pendingRequestIds).toContain(requestId);
      expect(await sendsToday(GROWTH.apiKey)).toBe(before); // nothing is sent before the decision

      const decided = await decideThroughPage(link, 'approve');
      expect(decided.status).toBe(200);

      expect(await outcomeOf(requestId)).toEqual({ kind: 'executed', requestId, action: 'bulk_send', approvedBy: 'operator@example.com', sent: 120 });
      expect(await sendsToday(GROWTH.apiKey)).toBe(before + 120);
      expect(agent.pendingRequestIds).not.toContain(requestId);
      const deliveries = await server.tiergate.approvals.deliveries(requestId);
      expect(deliveries.filter((d) => d.topic === 'callback').map((d) => [d.type, d.state, d.target])).toEqual([['approval.granted', 'delivered', callbackUrl]]);
    });

    it('acknowledges a repeated delivery without acting twice, and refuses a forged one', async () => {
      const { requestId, link } = await requestBulkSend(101);
      expect((await decideThroughPage(link, 'approve')).status).toBe(200);
      await outcomeOf(requestId);
      const after = await sendsToday(GROWTH.apiKey);

      // The same event again, correctly signed (callbacks are at least once).
      const approval = await server.tiergate.approvals.get(requestId);
      const event: ApprovalEvent = {
        type: 'approval.granted',
        timestamp: new Date(approval?.decidedAt ?? 0).toISOString(),
        data: {
          request_id: requestId,
          status: 'approved',
          action: 'bulk_send',
          context: null,
          approved_by: 'operator@example.com',
          approved_at: new Date(approval?.decidedAt ?? 0).toISOString(),
          denial_reason: null,
        },
      };
      const body = JSON.stringify(event);
      const headers = webhookHeaders(GROWTH.webhookSecret, 'msg_repeat', Math.floor(clock.now() / 1000), body);
      const repeat = await fetch(callbackUrl, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
      expect(repeat.status).toBe(204);
      expect(await eventually('the repeat outcome', () => (outcomes.filter((o) => o.requestId === requestId).length === 2 ? true : undefined))).toBe(true);
      expect(outcomes.filter((o) => o.requestId === requestId).map((o) => o.kind)).toEqual(['executed', 'unknown']);

      // Signed with another account's secret: refused, nothing runs.
      const forged = webhookHeaders(FREE.webhookSecret, 'msg_forged', Math.floor(clock.now() / 1000), body);
      const refused = await fetch(callbackUrl, { method: 'POST', headers: { ...forged, 'content-type': 'application/json' }, body });
      expect(refused.status).toBe(401);
      expect(await sendsToday(GROWTH.apiKey)).toBe(after);
    });

    it('drops the send when the operator denies it on the page', async () => {
      const before = await sendsToday(GROWTH.apiKey);
      const { requestId, link } = await requestBulkSend(150);
      const decided = await decideThroughPage(link, 'deny', { denial_reason: 'Not before the launch' });
      expect(decided.status).toBe(200);
      expect(await outcomeOf(requestId)).toEqual({
        kind: 'denied',
        requestId,
        action: 'bulk_send',
        deniedBy: 'operator@example.com',
        denialReason: 'Not before the launch',
      });
      expect(await sendsToday(GROWTH.apiKey)).toBe(before);
      // The link now shows the decision instead of the forms, and a second decision is refused.
      const page = await openOperatorPage(link);
      expect(page.status).toBe(200);
      expect(page.approve).toBeUndefined();
    });

    it('drops the send when nobody decides before it expires (fake clock, sweep, deliver)', async () => {
      const before = await sendsToday(GROWTH.apiKey);
      const { requestId } = await requestBulkSend(200);
      clock.advance('3601s'); // the agent asks for expiresIn 3600
      await server.tiergate.sweep();
      await server.tiergate.deliver();
      expect(await outcomeOf(requestId)).toEqual({ kind: 'expired', requestId, action: 'bulk_send' });
      expect((await server.tiergate.approvals.get(requestId))?.status).toBe('expired');
      expect(await sendsToday(GROWTH.apiKey)).toBe(before);
    });
  });
});

describe('the agent examples from the command line (npx tsx …)', () => {
  const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
  const agentFile = (name: string) => fileURLToPath(new URL(`../src/agents/${name}.ts`, import.meta.url));
  const children = new Set<ChildProcess>();
  let server: ExampleServer;

  /** Runs an agent file with tsx; `output()` is what it printed so far, `exit` its exit code. */
  function run(name: string, env: Record<string, string>): { output: () => string; exit: Promise<number | null> } {
    const child = spawn(tsx, [agentFile(name)], { env: { ...process.env, BASE_URL: server.url, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }));
    return { output: () => output, exit };
  }

  beforeAll(async () => {
    server = await startExampleServer({ port: 0, framework: 'fastify', allowPrivateCallbacks: true });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await server?.close();
  });

  it('ensure-can-send exits 1 and prints the upgrade script for the free key, 0 for the developer key', async () => {
    const free = run('ensure-can-send', { API_KEY: FREE.apiKey });
    const developer = run('ensure-can-send', { API_KEY: DEVELOPER.apiKey });
    expect(await free.exit).toBe(1);
    expect(free.output()).toContain(`Tell your operator: `);
    expect(free.output()).toContain(`${server.url}/upgrade?token=`);
    expect(await developer.exit).toBe(0);
  });

  it('handle-operator-intervention exits 1 after notifying the operator, and prints the action link', async () => {
    const agent = run('handle-operator-intervention', { API_KEY: FREE.apiKey });
    expect(await agent.exit).toBe(1);
    expect(agent.output()).toContain(`${server.url}/operator/action?token=`);
  });

  it('approval-workflow-agent prints the operator link, waits for the decision and exits 0 after the approved send', async () => {
    const usage = async () => (await new TiergateClient({ apiKey: GROWTH.apiKey, baseUrl: server.url }).account.get()).usage['send_messages']?.day.used ?? 0;
    const before = await usage();
    const agent = run('approval-workflow-agent', { API_KEY: GROWTH.apiKey, WEBHOOK_SECRET: GROWTH.webhookSecret, RECIPIENTS: '130' });
    const link = await eventually('the printed operator link', () => /operator link: (\S+)/.exec(agent.output())?.[1]);
    expect((await decideThroughPage(link, 'approve')).status).toBe(200);
    expect(await agent.exit).toBe(0);
    expect(await usage()).toBe(before + 130);
  });
});
