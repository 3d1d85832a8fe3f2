/**
 * The seed's human-approval workflow (seeds/human-approval-workflow.txt):
 * `ApprovalWorkflowAgent` asks its operator before a bulk send of more than
 * 100 recipients, and runs a real `node:http` webhook receiver that verifies
 * each callback (`verifyWebhook`, Standard Webhooks signatures) and then
 * executes the approved action — or drops it when it was denied or expired.
 *
 * ```sh
 * # the server must accept a loopback callback URL (development only):
 * TIERGATE_ALLOW_PRIVATE_CALLBACKS=1 npm start
 * # then, with the growth demo key and its webhook secret (both printed by the server):
 * BASE_URL=http://127.0.0.1:3000 API_KEY=dm_growth_8e2f0b6d3a9c1e7f4b2d8a0c6e3f9b1d \
 *   WEBHOOK_SECRET=whsec_ZGVtby1ncm93dGgtd2ViaG9vay1zZWNyZXQtMDE= \
 *   npx tsx examples/src/agents/approval-workflow-agent.ts
 * ```
 *
 * It prints the operator link, waits for the decision (open the link, press
 * Approve or Deny) and exits 0 once the approved send ran, 1 when it was
 * denied, expired or failed. `RECIPIENTS` (default 150), `AGENT_PORT`
 * (default any) and `CALLBACK_URL` (default the receiver's local URL) adjust it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { TiergateClient, isTiergateError, verifyWebhook, type ApprovalEvent, type TiergateClientOptions } from '@tiergate/client';
import { isMainModule, requiredEnv } from './command-line.js';

/** Options of {@link ApprovalWorkflowAgent}. */
export interface ApprovalWorkflowAgentOptions {
  /** The account's API key. */
  readonly apiKey: string;
  /** Where the host mounted tiergate (the example server: its root URL). */
  readonly baseUrl: string;
  /** The account's `whsec_…` secret: only callbacks signed with it are accepted. */
  readonly webhookSecret: string;
  /** Public URL of the receiver; default `http://<host>:<port>/webhook/approval` of {@link ApprovalWorkflowAgent.listen}. */
  readonly callbackUrl?: string;
  /** A bulk send to more recipients than this needs approval (seed: 100). */
  readonly approvalThreshold?: number;
  /** Seconds the operator has to decide (seed: 3600). */
  readonly expiresIn?: number;
  /** The host's guarded send route (default the example server's `/v1/messages/send`). */
  readonly sendPath?: string;
  /** Where progress is written (default `console.log`). */
  readonly log?: (line: string) => void;
  /** Called after each verified callback is handled. */
  readonly onOutcome?: (outcome: ApprovalOutcome) => void;
  /** The current time, ms, for the callback timestamp check (tests on a fake clock); default `Date.now`. */
  readonly now?: () => number;
  /** Extra client options (`fetch`, `retries`, `timeoutMs`). */
  readonly client?: Omit<TiergateClientOptions, 'apiKey' | 'baseUrl'>;
}

/** What a bulk send did right away. */
export type BulkSendResult =
  | { readonly status: 'sent'; readonly sent: number }
  | { readonly status: 'pending_approval'; readonly requestId: string; readonly operatorActionUrl: string; readonly agentScript: string };

/** What the agent did with one verified callback. */
export type ApprovalOutcome =
  | { readonly kind: 'executed'; readonly requestId: string; readonly action: string; readonly approvedBy: string | null; readonly sent: number }
  | { readonly kind: 'failed'; readonly requestId: string; readonly action: string; readonly error: string; readonly sent: number }
  | { readonly kind: 'denied'; readonly requestId: string; readonly action: string; readonly deniedBy: string | null; readonly denialReason: string | null }
  | { readonly kind: 'expired'; readonly requestId: string; readonly action: string }
  /** Not pending here: a repeated delivery (callbacks are at least once) or another agent's request. */
  | { readonly kind: 'unknown'; readonly requestId: string };

/** An approval the agent waits for, with what it needs to carry the action out. */
interface PendingApproval {
  readonly action: string;
  readonly context: Record<string, unknown>;
  readonly requestedAt: number;
  /** Kept here, not sent: the operator sees the count, the agent keeps the list. */
  readonly recipients?: readonly string[];
  readonly subject?: string;
  readonly body?: string;
}

const RECEIVER_PATH = '/webhook/approval';
const MAX_CALLBACK_BYTES = 64 * 1024;

/** Reads a request body up to `limit` bytes; `undefined` when it is larger. */
async function readRaw(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * The seed's `ApprovalWorkflowAgent`, on `@tiergate/client`: bulk sends over
 * the threshold become approval requests with a `callbackUrl`; the agent's own
 * receiver verifies the signed `approval.granted` / `approval.denied` /
 * `approval.expired` callback and acts on it exactly once per request.
 *
 * @example
 * const agent = new ApprovalWorkflowAgent({ apiKey, baseUrl, webhookSecret });
 * await agent.listen(4000);
 * const result = await agent.sendBulkEmail(recipients, 'Product Update', 'We are excited to announce...');
 * if (result.status === 'pending_approval') console.log(result.agentScript);
 */
export class ApprovalWorkflowAgent {
  /** The client the agent calls the API with. */
  readonly client: TiergateClient;
  private readonly pendingApprovals = new Map<string, PendingApproval>();
  private readonly options: ApprovalWorkflowAgentOptions;
  private readonly log: (line: string) => void;
  private receiver: http.Server | undefined;
  private callbackUrl: string | undefined;

  constructor(options: ApprovalWorkflowAgentOptions) {
    this.options = options;
    this.client = new TiergateClient({ ...options.client, apiKey: options.apiKey, baseUrl: options.baseUrl });
    this.log = options.log ?? console.log;
    this.callbackUrl = options.callbackUrl;
  }

  /** Ids of the approval requests still waiting for a decision. */
  get pendingRequestIds(): readonly string[] {
    return [...this.pendingApprovals.keys()];
  }

  /** Sends now when at most `approvalThreshold` recipients, else requests approval and returns at once. */
  async sendBulkEmail(recipients: readonly string[], subject: string, body: string): Promise<BulkSendResult> {
    if (recipients.length > (this.options.approvalThreshold ?? 100)) {
      this.log(`⚠️ Bulk send to ${recipients.length} recipients requires approval`);
      const approval = await this.requestApproval(
        {
          action: 'bulk_send',
          context: { recipient_count: recipients.length, subject, preview: body.slice(0, 200) },
          reason: `Sending to ${recipients.length} recipients exceeds safety threshold`,
          urgency: 'medium',
        },
        { recipients, subject, body },
      );
      this.log('⏳ Waiting for operator approval...');
      this.log(approval.agentScript);
      return { status: 'pending_approval', ...approval };
    }
    return { status: 'sent', sent: await this.executeBulkSend(recipients, subject, body) };
  }

  /** Asks the operator to approve `action`; the callback comes to this agent's receiver. */
  async requestApproval(
    params: { readonly action: string; readonly context: Record<string, unknown>; readonly reason: string; readonly urgency?: 'low' | 'medium' | 'high' },
    payload: Pick<PendingApproval, 'recipients' | 'subject' | 'body'> = {},
  ): Promise<{ readonly requestId: string; readonly operatorActionUrl: string; readonly agentScript: string }> {
    if (this.callbackUrl === undefined) throw new Error('Call listen() first, or pass callbackUrl: the approval callback needs somewhere to go.');
    const approval = await this.client.account.notifyOperator({
      type: 'approval_request',
      action: params.action,
      context: params.context,
      reason: params.reason,
      urgency: params.urgency ?? 'medium',
      callbackUrl: this.callbackUrl,
      expiresIn: this.options.expiresIn ?? 3600,
    });
    this.pendingApprovals.set(approval.request_id, { action: params.action, context: params.context, requestedAt: Date.now(), ...payload });
    return { requestId: approval.request_id, operatorActionUrl: approval.operator_action_url, agentScript: approval.agent_script };
  }

  /**
   * Acts on a verified callback. Each request is handled once: it leaves the
   * pending map before anything runs, so a repeated delivery is `unknown`.
   */
  async handleApprovalWebhook(event: ApprovalEvent): Promise<ApprovalOutcome> {
    const requestId = event.data.request_id;
    const pending = this.pendingApprovals.get(requestId);
    if (pending === undefined) {
      this.log(`Unknown approval request: ${requestId}`);
      return { kind: 'unknown', requestId };
    }
    this.pendingApprovals.delete(requestId);
    switch (event.type) {
      case 'approval.granted': {
        this.log(`✅ Approval granted by: ${event.data.approved_by ?? 'operator'}`);
        this.log(`⏱️ Approved in: ${Date.now() - pending.requestedAt} ms`);
        return this.executeApprovedAction(requestId, pending, event.data.approved_by);
      }
      case 'approval.denied':
        this.log(`❌ Approval denied by: ${event.data.approved_by ?? 'operator'}`);
        this.log(`Reason: ${event.data.denial_reason ?? '(none given)'}`);
        return { kind: 'denied', requestId, action: pending.action, deniedBy: event.data.approved_by, denialReason: event.data.denial_reason };
      case 'approval.expired':
        this.log('⏰ Approval request expired');
        return { kind: 'expired', requestId, action: pending.action };
    }
  }

  /**
   * Starts the webhook receiver (`POST /webhook/approval`) and, unless
   * `callbackUrl` was given, uses its local URL as the callback URL.
   * Resolves with the callback URL.
   */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = http.createServer((req, res) => {
      this.receive(req, res).catch((error: unknown) => {
        this.log(`receiver error: ${error instanceof Error ? error.message : String(error)}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.receiver = server;
    const address = server.address() as AddressInfo;
    this.callbackUrl ??= `http://${host.includes(':') ? `[${host}]` : host}:${address.port}${RECEIVER_PATH}`;
    return this.callbackUrl;
  }

  /** Stops the receiver. */
  async close(): Promise<void> {
    const server = this.receiver;
    this.receiver = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** One callback delivery: verify the signature over the raw body, then act. */
  private async receive(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== RECEIVER_PATH) {
      res.writeHead(404).end();
      return;
    }
    const raw = await readRaw(req, MAX_CALLBACK_BYTES);
    if (raw === undefined) {
      res.writeHead(413).end();
      return;
    }
    let event: ApprovalEvent;
    try {
      event = await verifyWebhook(this.options.webhookSecret, req.headers, raw, this.options.now === undefined ? {} : { now: this.options.now() });
    } catch (error) {
      if (!isTiergateError(error, 'WEBHOOK_INVALID')) throw error;
      this.log(`rejected a callback: ${String((error.details as { failure?: string } | undefined)?.failure)}`);
      res.writeHead(401).end();
      return;
    }
    const outcome = await this.handleApprovalWebhook(event);
    // Acknowledged after acting, so a crash before this point gets the callback delivered again.
    res.writeHead(204).end();
    this.options.onOutcome?.(outcome);
  }

  private async executeApprovedAction(requestId: string, approval: PendingApproval, approvedBy: string | null): Promise<ApprovalOutcome> {
    switch (approval.action) {
      case 'bulk_send': {
        const recipients = approval.recipients ?? [];
        this.log(`📧 Executing approved bulk send to ${recipients.length} recipients`);
        try {
          const sent = await this.executeBulkSend(recipients, approval.subject ?? '', approval.body ?? '');
          return { kind: 'executed', requestId, action: approval.action, approvedBy, sent };
        } catch (error) {
          const failure = error as { sent?: number; code?: string };
          return { kind: 'failed', requestId, action: approval.action, error: failure.code ?? String(error), sent: failure.sent ?? 0 };
        }
      }
      case 'account_upgrade':
        this.log('💳 Executing approved account upgrade');
        return { kind: 'executed', requestId, action: approval.action, approvedBy, sent: 0 };
      case 'data_deletion':
        this.log('🗑️ Executing approved data deletion');
        return { kind: 'executed', requestId, action: approval.action, approvedBy, sent: 0 };
      default:
        this.log(`Unknown action: ${approval.action}`);
        return { kind: 'failed', requestId, action: approval.action, error: 'UNKNOWN_ACTION', sent: 0 };
    }
  }

  /**
   * Sends one message per recipient through the host's guarded route, which
   * counts each against the send quota. Stops at the first refusal (a quota
   * reached, a review), throwing the client's error with `sent` attached.
   */
  private async executeBulkSend(recipients: readonly string[], subject: string, body: string): Promise<number> {
    this.log(`📧 Sending to ${recipients.length} recipients...`);
    let sent = 0;
    for (const to of recipients) {
      try {
        await this.client.request(this.options.sendPath ?? '/v1/messages/send', { method: 'POST', body: { to, subject, text: body } });
      } catch (error) {
        this.log(`stopped after ${sent} sends: ${isTiergateError(error) ? error.code : String(error)}`);
        throw Object.assign(error as object, { sent });
      }
      sent += 1;
    }
    this.log('✅ Bulk send complete');
    return sent;
  }
}

async function main(): Promise<number> {
  const count = Number(process.env['RECIPIENTS'] ?? 150);
  let settle: (outcome: ApprovalOutcome) => void = () => undefined;
  const settled = new Promise<ApprovalOutcome>((resolve) => {
    settle = resolve;
  });
  const agent = new ApprovalWorkflowAgent({
    baseUrl: process.env['BASE_URL'] || 'http://127.0.0.1:3000',
    apiKey: requiredEnv('API_KEY', 'dm_growth_8e2f0b6d3a9c1e7f4b2d8a0c6e3f9b1d'),
    webhookSecret: requiredEnv('WEBHOOK_SECRET', 'whsec_ZGVtby1ncm93dGgtd2ViaG9vay1zZWNyZXQtMDE='),
    ...(process.env['CALLBACK_URL'] ? { callbackUrl: process.env['CALLBACK_URL'] } : {}),
    onOutcome: (outcome) => {
      if (outcome.kind !== 'unknown') settle(outcome);
    },
  });
  const callbackUrl = await agent.listen(Number(process.env['AGENT_PORT'] ?? 0));
  console.log(`webhook receiver: ${callbackUrl}`);
  try {
    const recipients = Array.from({ length: count }, (_, i) => `user${i + 1}@example.com`);
    const result = await agent.sendBulkEmail(recipients, 'Product Update', 'We are excited to announce...');
    if (result.status === 'sent') return 0;
    console.log(`operator link: ${result.operatorActionUrl}`);
    const outcome = await settled;
    return outcome.kind === 'executed' ? 0 : 1;
  } catch (error) {
    if (isTiergateError(error, 'CALLBACK_URL_FORBIDDEN')) console.error('the server refuses loopback callback URLs: start it with TIERGATE_ALLOW_PRIVATE_CALLBACKS=1, or pass a public CALLBACK_URL');
    else console.error(isTiergateError(error) ? `request failed: ${error.code}` : error);
    return 2;
  } finally {
    await agent.close();
  }
}

if (isMainModule(import.meta.url)) process.exitCode = await main();
