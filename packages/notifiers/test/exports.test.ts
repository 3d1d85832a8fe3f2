/** The public surface of `@tiergate/notifiers`, pinned: adding or removing an export is a decision. */
import { expect, it } from 'vitest';
import * as notifiers from '@tiergate/notifiers';

it('exports exactly these runtime names', () => {
  expect(Object.keys(notifiers).sort()).toEqual(
    [
      'DEFAULT_CHAT_TIMEOUT_MS',
      'DISCORD_COLORS',
      'consoleNotifier',
      'consoleText',
      'discordNotifier',
      'discordPayload',
      'escapeDiscordMarkdown',
      'escapeSlackText',
      'operatorMail',
      'slackNotifier',
      'slackPayload',
      'smtpNotifier',
    ].sort(),
  );
});
