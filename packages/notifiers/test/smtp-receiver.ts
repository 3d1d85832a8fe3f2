/**
 * A real SMTP server for tests (`smtp-server` on 127.0.0.1, port 0): it
 * records every message it accepts or refuses, and refuses on demand with a
 * chosen reply code, so retries and permanent failures run against a real
 * SMTP conversation.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One DATA transfer the server saw. */
export interface ReceivedMail {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  /** The raw RFC 5322 message. */
  readonly raw: string;
  /** The AUTH user, if the client logged in. */
  readonly user: string | undefined;
  /** `true` when the server answered 250; `false` when it refused it. */
  readonly accepted: boolean;
}

/** How the server answers: `undefined` accepts; a number refuses with that reply code. */
export interface SmtpBehaviour {
  /** Reply to AUTH (e.g. 535 "bad credentials"). */
  auth?: number;
  /** Reply to RCPT TO (e.g. 550 "no such user"). */
  rcpt?: number;
  /** Reply after DATA (e.g. 451 "try again later"). */
  data?: number;
}

/** A running SMTP receiver. */
export interface SmtpReceiver {
  readonly port: number;
  /** `smtp://user:pass@127.0.0.1:<port>` */
  readonly url: string;
  /** Every DATA transfer, accepted or refused, oldest first. */
  readonly mails: ReceivedMail[];
  /** The accepted ones. */
  accepted(): ReceivedMail[];
  behaviour: SmtpBehaviour;
  close(): Promise<void>;
}

function smtpError(code: number): Error {
  return Object.assign(new Error(code >= 500 ? 'Rejected by test server' : 'Try again later'), { responseCode: code });
}

/** Starts an SMTP server on 127.0.0.1 (no TLS, any login accepted). */
export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const state: { behaviour: SmtpBehaviour } = { behaviour: {} };
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, callback) {
      const code = state.behaviour.auth;
      if (code !== undefined) callback(smtpError(code));
      else callback(null, { user: auth.username });
    },
    onRcptTo(_address, _session, callback) {
      const code = state.behaviour.rcpt;
      callback(code === undefined ? null : smtpError(code));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const code = state.behaviour.data;
        mails.push({
          mailFrom: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: typeof session.user === 'string' ? session.user : undefined,
          accepted: code === undefined,
        });
        callback(code === undefined ? null : smtpError(code));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://tester:secret@127.0.0.1:${port}`,
    mails,
    accepted: () => mails.filter((m) => m.accepted),
    get behaviour() {
      return state.behaviour;
    },
    set behaviour(value: SmtpBehaviour) {
      state.behaviour = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
