// Contexts and webhook secrets are encrypted at rest and bound to their
// record, on every framework and store: a flipped byte, a ciphertext moved onto
// another record, an unknown key id or plain garbage in the store gives a page
// that says "context unavailable" — never another record's context, never
// garbage, never a 500 — and a moved webhook secret is never used to sign.
// What the stores hold contains no context, key, secret or token in clear.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKeyring,
  escapeHtml,
  sealContext,
  signLink,
  verifyWebhookSignature,
  type ApprovalRecord,
  type NotificationRecord,
} from '@tiergate/core';
import {
  TOKEN_PATTERN,
  expectCleanLogs,
  expectPageHeaders,
  expectSuccess,
  matrix,
  openStore,
  postDecision,
  requestApproval,
  startHarness,
  startReceiver,
  storeKinds,
  type Harness,
  type Receiver,
  type StoreHandle,
  type TestAccount,
} from './harness.js';

const kinds = storeKinds('encryption.test.ts');

function flip(sealed: string, part: number, byte = 3): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part] as string, 'base64url');
  bytes[byte % bytes.length] = (bytes[byte % bytes.length] as number) ^ 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

const newNotificationId = () => `not_${randomBytes(12).toString('base64url')}`;
const newApprovalId = () => `apr_${randomBytes(12).toString('base64url')}`;

describe.each(matrix(kinds))('encryption at rest on $framework + $store', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;
  let receiver: Receiver;
  let account: TestAccount;

  beforeAll(async () => {
    receiver = await startReceiver();
    stores = await openStore(store);
    h = await startHarness(framework, stores);
    account = h.addAccount({ operatorEmail: 'ops@example.com' });
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
    await receiver?.close();
  });

  /** Writes a copy of `base` under a new id with `changes`, and a link to it. */
  async function plant(base: NotificationRecord, changes: Partial<NotificationRecord>, approval?: ApprovalRecord) {
    const notification: NotificationRecord = { ...base, id: newNotificationId(), linkId: randomBytes(12).toString('base64url'), approvalId: approval?.id ?? null, ...changes };
    await stores.store.createNotification({ notification, ...(approval === undefined ? {} : { approval: { ...approval, notificationId: notification.id } }), outbox: [] });
    const link = await signLink(
      { purpose: 'operator_action', accountId: notification.accountId, notificationId: notification.id, ...(approval === undefined ? {} : { approvalId: approval.id }) },
      3600,
      { keyring: h.tiergate.keyring, issuer: h.tiergate.publicUrl(), now: h.clock.now() },
    );
    return { notification, token: link.token, formToken: h.tiergate.keyring.formToken(link.linkId) };
  }

  it('a flipped byte, a moved ciphertext, an unknown key id or garbage → "context unavailable", never other data, never 500', async () => {
    const one = expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: 'One', context: { marker: 'ctx-one' } } }), 201);
    const two = expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: 'Two', context: { marker: 'ctx-two' } } }), 201);
    const base = (await stores.store.getNotification(one.notification_id)) as NotificationRecord;
    const other = (await stores.store.getNotification(two.notification_id)) as NotificationRecord;
    const sealed = base.sealedContext as string;
    expect(sealed).not.toContain('ctx-one');
    const foreign = createKeyring({ secrets: [randomBytes(32)] });
    const header = JSON.parse(Buffer.from(sealed.split('.')[0] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
    const withHeader = (fields: Record<string, unknown>) => [Buffer.from(JSON.stringify(fields)).toString('base64url'), ...sealed.split('.').slice(1)].join('.');
    const variants: Record<string, (id: string) => Promise<string> | string> = {
      'flipped ciphertext byte': () => flip(sealed, 2),
      'flipped tag byte': () => flip(sealed, 3),
      'flipped iv byte': () => flip(sealed, 1),
      'flipped header byte': () => flip(sealed, 0, 5),
      "another record's ciphertext": () => other.sealedContext as string,
      'its own ciphertext on a new record': () => sealed,
      'an unknown key id': (id) => sealContext(foreign, { marker: 'ctx-foreign' }, id),
      'a header naming an unknown kid': () => withHeader({ ...header, kid: 'no-such-kid' }),
      'a header with another algorithm': () => withHeader({ ...header, enc: 'A128GCM' }),
      'a header that is not JSON': () => ['bm90IGpzb24', ...sealed.split('.').slice(1)].join('.'),
      'truncated': () => sealed.slice(0, -8),
      'garbage': () => 'garbage',
      'empty': () => '',
      'plain JSON': () => JSON.stringify({ marker: 'ctx-plain' }),
    };
    for (const [name, make] of Object.entries(variants)) {
      const id = newNotificationId();
      const planted = await plant(base, { id, sealedContext: await make(id) });
      const page = await h.api('GET', `/operator/action?token=${planted.token}`);
      expect({ name, status: page.status }).toEqual({ name, status: 200 });
      expectPageHeaders(page);
      expect(page.text, name).toContain(escapeHtml(h.tiergate.messages.page.contextUnavailable));
      expect(page.text, name).not.toMatch(/ctx-(one|two|foreign|plain)/);
      expect(h.logs.some((l) => l.message === 'context unavailable' && l.fields?.['notificationId'] === planted.notification.id)).toBe(true);
    }
    // The originals still open with their own context.
    expect((await h.fetch('GET', one.operator_action_url)).text).toContain('ctx-one');
    expect((await h.fetch('GET', two.operator_action_url)).text).toContain('ctx-two');
  });

  it('a webhook secret moved onto another approval is never used: no callback signed with it is sent', async () => {
    const genuinePath = receiver.path('genuine');
    const genuine = await requestApproval(h, account.key, { callback_url: `${receiver.origin}${genuinePath}` });
    const approval = (await stores.store.getApproval(genuine.id)) as ApprovalRecord;
    const notification = (await stores.store.getNotification(genuine.notificationId)) as NotificationRecord;
    const path = receiver.path('moved-secret');
    const moved = { ...approval, id: newApprovalId(), callbackUrl: `${receiver.origin}${path}` };
    const planted = await plant(notification, {}, moved);
    const decided = await postDecision(h, { action: genuine.form.action, token: planted.token, formToken: planted.formToken }, 'approve');
    expect(decided.status).toBe(200);
    await h.tiergate.deliver();
    expect(receiver.callsTo(path)).toHaveLength(0);
    const message = (await h.tiergate.approvals.deliveries(moved.id)).find((m) => m.topic === 'callback');
    expect(message).toMatchObject({ state: 'dead', lastError: 'webhook secret unavailable' });
    expect(receiver.callsTo(genuinePath)).toHaveLength(0);
  });

  it('an approval whose context was tampered with still calls back, with context null rather than garbage', async () => {
    const genuine = await requestApproval(h, account.key, { context: { marker: 'ctx-approval' } });
    const approval = (await stores.store.getApproval(genuine.id)) as ApprovalRecord;
    const notification = (await stores.store.getNotification(genuine.notificationId)) as NotificationRecord;
    const path = receiver.path('tampered-context');
    const id = newApprovalId();
    const sealedSecret = await sealContext(h.tiergate.keyring, account.account.webhookSecret, `${id}#webhook-secret`);
    const planted = await plant(notification, { sealedContext: flip(notification.sealedContext as string, 2) }, { ...approval, id, sealedSecret, callbackUrl: `${receiver.origin}${path}` });
    expect((await postDecision(h, { action: genuine.form.action, token: planted.token, formToken: planted.formToken }, 'deny', { denial_reason: 'no' })).status).toBe(200);
    await h.tiergate.deliver();
    const calls = receiver.callsTo(path);
    expect(calls).toHaveLength(1);
    expect(verifyWebhookSignature(account.account.webhookSecret as string, calls[0]?.headers as Record<string, string>, calls[0]?.body ?? '', h.clock.now())).toEqual({ ok: true });
    expect(JSON.parse(calls[0]?.body ?? '{}')).toMatchObject({ type: 'approval.denied', data: { request_id: id, status: 'denied', context: null, denial_reason: 'no' } });
  });

  it('no token, API key or context reached a log line', () => {
    expectCleanLogs(h, ['ctx-one', 'ctx-two', 'ctx-approval']);
  });
});

describe.each(matrix(kinds.filter((kind) => kind !== 'memory')))('what $store holds at rest, written through $framework', ({ framework, store }) => {
  let stores: StoreHandle;
  let h: Harness;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver();
    stores = await openStore(store);
    h = await startHarness(framework, stores);
  });
  afterAll(async () => {
    await h?.close();
    await stores?.cleanup();
    await receiver?.close();
  });

  it('no context, API key, webhook secret, link or form token in clear', async () => {
    const account = h.addAccount({ operatorEmail: 'ops@example.com' });
    const notification = expectSuccess(await h.api('POST', '/v1/notify-operator', { key: account.key, json: { issue: 'At rest', context: { card: 'ctx-secret-4242' } } }), 201);
    const approval = await requestApproval(h, account.key, { callback_url: `${receiver.origin}${receiver.path('rest')}`, context: { token: 'ctx-secret-approval' } });
    expect((await postDecision(h, approval.form, 'approve')).status).toBe(200);
    await h.tiergate.deliver();
    expect(receiver.calls).toHaveLength(1);
    const dump = (await stores.dump()) as string;
    expect(dump).toContain(notification.notification_id);
    expect(dump).toContain(approval.id);
    for (const secret of ['ctx-secret-4242', 'ctx-secret-approval', account.key, account.account.webhookSecret as string, approval.form.token, approval.form.formToken]) {
      expect(dump.includes(secret), `found in the store: ${secret.slice(0, 12)}…`).toBe(false);
    }
    expect(dump.match(TOKEN_PATTERN)).toBeNull();
    expect(dump).not.toMatch(/whsec_/);
  });
});
