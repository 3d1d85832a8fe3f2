/**
 * The seed's operator-intervention pattern (seeds/notify-operator.txt, "Agent
 * Integration Pattern"): the agent tries a guarded call on the host's API —
 * here the example server's `POST /v1/messages/send`, guarded by
 * `requireCapability('send_messages', { consume: 1 })` — and when it is
 * refused with `SEND_REQUIRES_PAID` it asks its operator for help through
 * `POST /v1/notify-operator`, posts the returned `agent_script` where the
 * operator will see it (Slack, a UI; here the console) and halts.
 *
 * ```sh
 * BASE_URL=http://127.0.0.1:3000 API_KEY=dm_free_7d8a9b0c1d2e3f4g5h6i7j8k9l0m1n2o npx tsx examples/src/agents/handle-operator-intervention.ts
 * ```
 *
 * Exit code 0: the message was sent; 1: the operator was notified (the
 * script is printed); 2: anything else went wrong.
 */
import { isTiergateError, type NotifyOperatorResult, type TiergateClient } from '@tiergate/client';
import { clientFromEnv, isMainModule } from './command-line.js';

/** Where the agent posts `agent_script` so its operator sees it (a Slack channel, a UI). */
export type PostToOperator = (text: string) => Promise<void> | void;

/** Thrown by {@link handleOperatorIntervention} to halt the agent once the operator is notified. */
export class OperatorInterventionRequired extends Error {
  /** The notification: `operator_action_url`, `agent_script`, `notification_id`, `expires_at`. */
  readonly notification: NotifyOperatorResult;

  constructor(notification: NotifyOperatorResult) {
    super('Operator intervention required');
    this.name = 'OperatorInterventionRequired';
    this.notification = notification;
  }
}

/**
 * Notifies the operator about `issue`, posts the returned `agent_script`
 * through `post` and throws {@link OperatorInterventionRequired} to halt the
 * agent. Never put secrets in `issue` or `context`: the operator page shows
 * them.
 */
export async function handleOperatorIntervention(
  client: TiergateClient,
  issue: string,
  context?: Record<string, unknown>,
  post: PostToOperator = console.log,
): Promise<never> {
  const notification = await client.account.notifyOperator({ issue, context });
  await post(notification.agent_script);
  throw new OperatorInterventionRequired(notification);
}

/** A message the agent wants to send. */
export interface OutgoingMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** The result of the example server's send route. */
export interface SendResult {
  readonly sent: boolean;
  readonly account: string;
}

/** The example server's guarded host route. */
export const SEND_PATH = '/v1/messages/send';

/**
 * Sends through the host's guarded route; on `SEND_REQUIRES_PAID` escalates
 * to the operator (and so throws {@link OperatorInterventionRequired}). Other
 * errors — a quota reached, a review — are rethrown as the client's
 * `TiergateError` for the caller to handle.
 */
export async function sendOrEscalate(client: TiergateClient, message: OutgoingMessage, post: PostToOperator = console.log): Promise<SendResult> {
  try {
    return await client.request<SendResult>(SEND_PATH, { method: 'POST', body: message });
  } catch (error) {
    if (isTiergateError(error) && error.code === 'SEND_REQUIRES_PAID') {
      await handleOperatorIntervention(client, error.message, { error_code: error.code, attempted_action: 'send_email', recipient: message.to }, post);
    }
    throw error;
  }
}

async function main(): Promise<number> {
  const client = clientFromEnv();
  try {
    const result = await sendOrEscalate(client, { to: 'user@example.com', subject: 'Welcome', text: 'Thanks for signing up.' });
    console.log(`sent (account ${result.account})`);
    return 0;
  } catch (error) {
    if (error instanceof OperatorInterventionRequired) {
      console.error(`operator notified (${error.notification.notification_id}); halting until they act`);
      return 1;
    }
    console.error(isTiergateError(error) ? `request failed: ${error.code}` : error);
    return 2;
  }
}

if (isMainModule(import.meta.url)) process.exitCode = await main();
