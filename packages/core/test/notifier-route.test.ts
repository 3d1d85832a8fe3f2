// Which notifier channels a new notification is queued for: every channel, or what the host's `route`
// answers (synchronously or as a promise); a route that fails fails the call and stores nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { createTiergate, memoryStore, type Account, type NotifierOptions, type Tiergate } from '@tiergate/core';

const account: Account = { id: 'acc_1', tier: 'developer', operatorEmail: 'ops@example.com' };
const stops: Tiergate[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()?.stop();
});

const channels: NotifierOptions['channels'] = { email: async () => undefined, slack: async () => undefined };

function service(notifiers: NotifierOptions) {
  const store = memoryStore();
  const tiergate = createTiergate({
    authenticate: () => null,
    findAccount: () => account,
    secret: 'r'.repeat(32),
    publicUrl: 'https://api.example.com',
    store,
    notifiers,
    // The dispatcher is never started: queued messages stay pending where the test can read them.
    clock: { now: () => Date.parse('2026-01-15T12:00:00.000Z') },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  stops.push(tiergate);
  return { tiergate, store };
}

async function queued(notifiers: NotifierOptions, body: Record<string, unknown> = { issue: 'Please look' }) {
  const { tiergate, store } = service(notifiers);
  const result = await tiergate.notifyOperator(account, body);
  const messages = await store.listOutbox(result.request_id ?? result.notification_id);
  return messages.map((m) => `${m.type}:${m.target}`).sort();
}

describe('notifier routing of a new notification', () => {
  it('queues one message per channel without a route', async () => {
    expect(await queued({ channels })).toEqual(['operator.notification:email', 'operator.notification:slack']);
  });

  it('queues what a synchronous or an asynchronous route answers, skipping names that are not channels', async () => {
    const seen: unknown[] = [];
    const route = (who: { id: string; operatorEmail: string | null }) => {
      seen.push(who);
      return ['slack', 'pager'];
    };
    expect(await queued({ channels, route })).toEqual(['operator.notification:slack']);
    expect(await queued({ channels, route: async (who) => route(who) })).toEqual(['operator.notification:slack']);
    expect(seen).toEqual([
      { id: 'acc_1', operatorEmail: 'ops@example.com' },
      { id: 'acc_1', operatorEmail: 'ops@example.com' },
    ]);
  });

  it('adds a reminder per routed channel for an approval that outlives remindBeforeSeconds', async () => {
    const body = { type: 'approval_request', action: 'bulk_send', reason: 'A large send', expires_in: 3600 };
    expect(await queued({ channels, route: () => ['email'], remindBeforeSeconds: 600 }, body)).toEqual(['operator.notification:email', 'operator.reminder:email']);
  });

  it('a route that throws or rejects fails the call, and nothing is stored', async () => {
    for (const route of [
      () => {
        throw new Error('routing table down');
      },
      async () => {
        throw new Error('routing table down');
      },
    ]) {
      const { tiergate, store } = service({ channels, route });
      await expect(tiergate.notifyOperator(account, { issue: 'Please look' })).rejects.toThrow('routing table down');
      expect(store.size().notifications).toBe(0);
      expect(store.size().outbox).toBe(0);
    }
  });
});
