/** `consoleNotifier`: what a newcomer sees on the example server's stdout. */
import { describe, expect, it } from 'vitest';
import { consoleNotifier, consoleText } from '@tiergate/notifiers';
import { approvalMessage } from './operator-messages.js';

describe('consoleNotifier', () => {
  it('writes one block per message: recipient, subject, the text form and its links', async () => {
    const written: string[] = [];
    const message = approvalMessage();
    await consoleNotifier({ write: (text) => written.push(text) })(message);
    expect(written).toHaveLength(1);
    const block = written[0]!;
    expect(block).toBe(consoleText(message));
    expect(block).toContain(message.id);
    expect(block).toContain('ops@example.com');
    expect(block).toContain(message.subject);
    expect(block).toContain(message.text);
    expect(block).toContain(message.links.approve!);
    expect(block).toContain(message.links.deny!);
  });

  it('names the account when there is no operator e-mail', () => {
    expect(consoleText(approvalMessage({ operatorEmail: null }))).toContain('acct_1');
  });

  it('rejects (so the outbox retries) when writing fails', async () => {
    const failing = consoleNotifier({
      write: () => {
        throw new Error('EPIPE');
      },
    });
    await expect(failing(approvalMessage())).rejects.toThrow();
  });
});
