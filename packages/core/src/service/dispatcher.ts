/**
 * The outbox dispatcher: delivers approval callbacks and operator messages at
 * least once. Each pass claims due messages with a lease (so every instance
 * can run a dispatcher at once and a crashed one's work is picked up when its
 * lease ends), attempts each, and settles it: delivered, retried on the
 * schedule (the same message id, a fresh timestamp and signature), or dead.
 *
 * Callback rules: 2xx delivered; 410 disables the URL; 3xx is a failure (no
 * redirects followed); 429/503 `Retry-After` is honoured; a non-public target
 * is dead at once. Repeated failures mark the account's endpoint unhealthy,
 * the next success marks it healthy.
 */
import type { ApprovalRecord } from '../approvals/state.js';
import type { Clock } from '../clock.js';
import { renderOperatorMessage, type OperatorMessageKind } from '../notify/message.js';
import type { NotifierOptions } from '../notify/notifier.js';
import type { MessageCatalog } from '../policy/messages.js';
import type { ClaimedMessage, NotificationRecord, OutboxMessage, OutboxSettlement, Store, AccountSnapshot } from '../ports/store.js';
import { openContext } from '../tokens/context-crypto.js';
import type { Keyring } from '../tokens/keyring.js';
import { DEFAULT_RETRY_SCHEDULE_MS, nextAttemptAt, parseRetryAfter } from '../webhooks/schedule.js';
import { webhookHeaders } from '../webhooks/signature.js';
import type { WebhookTransport } from '../webhooks/transport.js';
import type { Account } from './accounts.js';
import { approvalEvent } from './callback-event.js';
import { newId } from './ids.js';
import type { Logger } from './options.js';

/** A delivery reads only the account's endpoint health: no actions, no windows. */
const NO_ACTIONS: readonly string[] = Object.freeze([]);
const NO_WINDOWS: readonly [string, string] = Object.freeze(['-', '-'] as const);

/** Counts of one dispatcher pass. */
export interface DeliveryReport {
  readonly delivered: number;
  readonly retried: number;
  readonly dead: number;
}

/** Dependencies of the dispatcher. @internal */
export interface DispatcherDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly keyring: Keyring;
  readonly catalog: MessageCatalog;
  readonly transport: WebhookTransport;
  readonly notifiers: NotifierOptions | undefined;
  readonly retrySchedule: readonly number[] | undefined;
  readonly timeoutMs: number;
  readonly unhealthyAfter: number;
  readonly batchSize: number;
  readonly leaseMs: number;
  readonly reviewUrl: (notification: NotificationRecord, now: number) => Promise<string>;
  readonly accountById: (id: string, snapshot: AccountSnapshot | undefined) => Promise<Account | null>;
}

type Outcome = { kind: 'delivered' } | { kind: 'retry'; error: string; retryAfterMs?: number } | { kind: 'dead'; error: string };

async function decrypt(keyring: Keyring, sealed: string | null, binding: string): Promise<unknown> {
  if (sealed === null) return null;
  try {
    return await openContext(keyring, sealed, binding);
  } catch {
    return undefined;
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Creates the dispatcher. @internal */
export function createDispatcher(deps: DispatcherDeps) {
  const schedule = deps.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_MS;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<DeliveryReport> | undefined;
  let again = false;

  async function loadSubject(subjectId: string): Promise<{ approval: ApprovalRecord | null; notification: NotificationRecord | null }> {
    if (subjectId.startsWith('apr_')) {
      const approval = await deps.store.getApproval(subjectId);
      const notification = approval === null ? null : await deps.store.getNotification(approval.notificationId);
      return { approval, notification };
    }
    return { approval: null, notification: await deps.store.getNotification(subjectId) };
  }

  async function deliverCallback(message: ClaimedMessage, now: number): Promise<Outcome> {
    const { approval, notification } = await loadSubject(message.subjectId);
    if (approval === null || approval.status === 'pending') return { kind: 'dead', error: 'approval no longer exists' };
    const secret = await decrypt(deps.keyring, approval.sealedSecret, `${approval.id}#webhook-secret`);
    if (typeof secret !== 'string') return { kind: 'dead', error: 'webhook secret unavailable' };
    const health = (await deps.store.readAccountState(message.accountId, NO_ACTIONS, NO_WINDOWS)).health;
    if (health.disabledUrls.includes(message.target)) return { kind: 'dead', error: 'endpoint disabled after 410 Gone' };
    const context = notification === null ? null : await decrypt(deps.keyring, notification.sealedContext, notification.id);
    const body = JSON.stringify(approvalEvent(approval, (context ?? null) as Record<string, unknown> | null));
    const headers = webhookHeaders(secret, message.id, Math.floor(now / 1000), body);
    const response = await deps.transport({ url: message.target, headers, body, timeoutMs: deps.timeoutMs });
    let outcome: Outcome;
    let health_: 'success' | 'failure' | 'gone';
    if (response.status >= 200 && response.status < 300) {
      outcome = { kind: 'delivered' };
      health_ = 'success';
    } else if (response.status === 410) {
      outcome = { kind: 'dead', error: 'HTTP 410 Gone: endpoint disabled' };
      health_ = 'gone';
    } else if (response.forbidden === true) {
      outcome = { kind: 'dead', error: response.error ?? 'target refused' };
      health_ = 'failure';
    } else {
      const error = response.status === 0 ? (response.error ?? 'network error') : `HTTP ${response.status}`;
      const retryAfterMs = response.status === 429 || response.status === 503 ? parseRetryAfter(response.retryAfter, now) : undefined;
      outcome = retryAfterMs === undefined ? { kind: 'retry', error } : { kind: 'retry', error, retryAfterMs };
      health_ = 'failure';
    }
    await deps.store.recordDelivery(message.accountId, health_, message.target, deps.unhealthyAfter);
    return outcome;
  }

  async function deliverNotification(message: ClaimedMessage, now: number): Promise<Outcome> {
    const channel = deps.notifiers?.channels[message.target];
    if (channel === undefined) return { kind: 'dead', error: `no notifier channel "${message.target}"` };
    const { approval, notification } = await loadSubject(message.subjectId);
    if (notification === null) return { kind: 'dead', error: 'notification no longer exists' };
    if (message.type === 'operator.reminder' && approval?.status !== 'pending') return { kind: 'delivered' };
    const account = await deps.accountById(notification.accountId, notification.account);
    const context = await decrypt(deps.keyring, notification.sealedContext, notification.id);
    const kind: OperatorMessageKind = message.type === 'operator.reminder' ? 'approval_reminder' : approval !== null ? 'approval_request' : 'notification';
    const rendered = renderOperatorMessage(deps.catalog, {
      id: message.id,
      kind,
      accountId: notification.accountId,
      notificationId: notification.id,
      issue: notification.issue,
      actionLabel: notification.actionLabel,
      context: context ?? undefined,
      approval,
      operatorEmail: account?.operatorEmail ?? notification.account.operatorEmail,
      reviewUrl: await deps.reviewUrl(notification, now),
      expiresAt: notification.expiresAt,
      now,
    });
    try {
      await withTimeout(channel(rendered), deps.timeoutMs);
      return { kind: 'delivered' };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      return (err as { permanent?: unknown } | null)?.permanent === true ? { kind: 'dead', error } : { kind: 'retry', error };
    }
  }

  async function attempt(message: ClaimedMessage): Promise<'delivered' | 'retried' | 'dead' | 'lost'> {
    const now = deps.clock.now();
    let outcome: Outcome;
    try {
      outcome = message.topic === 'callback' ? await deliverCallback(message, now) : await deliverNotification(message, now);
    } catch (err) {
      outcome = { kind: 'retry', error: err instanceof Error ? err.message : String(err) };
    }
    const attempts = message.attempts + 1;
    let settlement: OutboxSettlement;
    if (outcome.kind === 'delivered') settlement = { state: 'delivered', attempts };
    else if (outcome.kind === 'dead') settlement = { state: 'dead', attempts, lastError: outcome.error };
    else {
      const next = nextAttemptAt(deps.clock.now(), attempts, schedule, outcome.retryAfterMs);
      settlement = next === undefined ? { state: 'dead', attempts, lastError: outcome.error } : { state: 'pending', attempts, nextAttemptAt: next, lastError: outcome.error };
    }
    if (settlement.state !== 'delivered') {
      deps.logger.info('delivery attempt failed', { messageId: message.id, type: message.type, topic: message.topic, attempts, state: settlement.state, error: 'lastError' in settlement ? settlement.lastError : undefined });
    }
    const kept = await deps.store.settleOutbox(message.id, message.lease, settlement);
    if (!kept) return 'lost';
    return settlement.state === 'delivered' ? 'delivered' : settlement.state === 'dead' ? 'dead' : 'retried';
  }

  async function pass(): Promise<DeliveryReport> {
    const report = { delivered: 0, retried: 0, dead: 0 };
    for (;;) {
      const claimed = await deps.store.claimOutbox(deps.clock.now(), deps.batchSize, deps.leaseMs);
      if (claimed.length === 0) break;
      const results = await Promise.all(claimed.map((m) => attempt(m)));
      for (const r of results) if (r !== 'lost') report[r] += 1;
      if (claimed.length < deps.batchSize) break;
    }
    return report;
  }

  function deliverOnce(): Promise<DeliveryReport> {
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      const total = { delivered: 0, retried: 0, dead: 0 };
      try {
        do {
          again = false;
          const r = await pass();
          total.delivered += r.delivered;
          total.retried += r.retried;
          total.dead += r.dead;
        } while (again);
      } finally {
        running = undefined;
      }
      return total;
    })();
    return running;
  }

  return {
    deliverOnce,

    /** Runs a pass soon, without blocking the caller (API responses never wait for delivery). */
    kick(): void {
      setImmediate(() => {
        deliverOnce().catch((err: unknown) => deps.logger.warn('delivery pass failed', { error: err instanceof Error ? err.message : String(err) }));
      });
    },

    start(intervalMs: number): void {
      if (timer !== undefined) return;
      timer = setInterval(() => {
        deliverOnce().catch((err: unknown) => deps.logger.warn('delivery pass failed', { error: err instanceof Error ? err.message : String(err) }));
      }, intervalMs);
      timer.unref();
    },

    async stop(): Promise<void> {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },

    /**
     * Outbox messages for the operator notifiers of a new notification (and its reminder): at once when
     * no host `route` has to be asked (none at all without notifiers), else a promise of them.
     */
    notifierMessages(account: Account, notification: NotificationRecord, approval: ApprovalRecord | undefined, now: number, purgeAt: number): OutboxMessage[] | Promise<OutboxMessage[]> {
      const notifiers = deps.notifiers;
      if (notifiers === undefined) return [];
      const messagesFor = (channels: readonly string[]): OutboxMessage[] => {
        const subjectId = approval?.id ?? notification.id;
        const base = { accountId: account.id, topic: 'notifier' as const, subjectId, state: 'pending' as const, attempts: 0, createdAt: now, lastError: null, purgeAt };
        const messages: OutboxMessage[] = [];
        for (const target of channels) {
          if (notifiers.channels[target] === undefined) continue;
          messages.push({ ...base, id: newId('msg_'), type: 'operator.notification', target, nextAttemptAt: now });
          const remind = notifiers.remindBeforeSeconds;
          if (approval !== undefined && remind !== undefined && approval.expiresAt - remind * 1000 > now) {
            messages.push({ ...base, id: newId('msg_'), type: 'operator.reminder', target, nextAttemptAt: approval.expiresAt - remind * 1000 });
          }
        }
        return messages;
      };
      const route = notifiers.route;
      if (route === undefined) return messagesFor(Object.keys(notifiers.channels));
      // The host's route may answer or throw either way; a throw becomes a rejection.
      return (async () => messagesFor(await route({ id: account.id, operatorEmail: account.operatorEmail ?? null })))();
    },
  };
}
