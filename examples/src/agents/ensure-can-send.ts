/**
 * The seed's capability-aware agent pattern (seeds/capabilities.txt, "Agent
 * Integration Pattern"): before sending, the agent asks the API what its
 * account can do instead of hard-coding tier rules. When sending is blocked it
 * prints the ready-made `agent_script` for its operator and stops.
 *
 * ```sh
 * BASE_URL=http://127.0.0.1:3000 API_KEY=dm_free_7d8a9b0c1d2e3f4g5h6i7j8k9l0m1n2o npx tsx examples/src/agents/ensure-can-send.ts
 * ```
 *
 * Exit code 0: sending is enabled; 1: it is blocked (the script for the
 * operator is printed); 2: the call itself failed.
 */
import { isTiergateError, type TiergateClient, type UpgradeContext } from '@tiergate/client';
import { clientFromEnv, isMainModule } from './command-line.js';

/** Thrown by {@link ensureCanSend} when the account cannot send. */
export class SendingNotAvailableError extends Error {
  /** The reason code of the `cannot[]` entry, e.g. `SEND_REQUIRES_PAID`, `SEND_LIMIT_EXCEEDED`, `ACCOUNT_UNDER_REVIEW`. */
  readonly reason: string;
  /** When a quota reason lifts by itself (ISO-8601), if it does. */
  readonly resetsAt: string | undefined;
  /** How to ask the operator: the link, its label and the `agent_script`. */
  readonly upgradeContext: UpgradeContext | null;

  constructor(reason: string, resetsAt: string | undefined, upgradeContext: UpgradeContext | null) {
    super(`Sending not available (${reason}) - operator action required`);
    this.name = 'SendingNotAvailableError';
    this.reason = reason;
    this.resetsAt = resetsAt;
    this.upgradeContext = upgradeContext;
  }
}

/**
 * Resolves when the account may send; otherwise prints the operator script
 * through `log` and throws {@link SendingNotAvailableError}.
 *
 * @example
 * const client = new TiergateClient({ apiKey, baseUrl: 'http://127.0.0.1:3000' });
 * await ensureCanSend(client); // "Tell your operator: I need sending access. Here's a direct upgrade link: …"
 */
export async function ensureCanSend(client: TiergateClient, log: (line: string) => void = console.log): Promise<void> {
  const caps = await client.account.getCapabilities();
  const sendCapability = caps.cannot.find((c) => c.action === 'send_messages');
  if (sendCapability !== undefined) {
    // The wire contract sends an upgrade_context whenever cannot[] is not empty.
    if (caps.upgrade_context !== null) log(caps.upgrade_context.agent_script);
    throw new SendingNotAvailableError(sendCapability.reason, sendCapability.resets_at, caps.upgrade_context);
  }
  log('Sending is enabled');
}

async function main(): Promise<number> {
  try {
    await ensureCanSend(clientFromEnv());
    return 0;
  } catch (error) {
    if (error instanceof SendingNotAvailableError) {
      console.error(`blocked: ${error.reason}`);
      return 1;
    }
    console.error(isTiergateError(error) ? `request failed: ${error.code}` : error);
    return 2;
  }
}

if (isMainModule(import.meta.url)) process.exitCode = await main();
