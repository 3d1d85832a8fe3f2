/**
 * Just enough MIME to read what nodemailer sends in tests: unfolded headers
 * (RFC 2047 words decoded), and the text/plain and text/html parts of a
 * (possibly multipart) message with quoted-printable or base64 decoded.
 */

/** A parsed message. */
export interface ParsedMail {
  /** Header values by lower-case name (first occurrence). */
  readonly headers: ReadonlyMap<string, string>;
  readonly text: string | undefined;
  readonly html: string | undefined;
}

function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=\s*/g, (_m, _charset: string, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
  );
}

function splitHead(raw: string): { head: Map<string, string>; body: string } {
  const normalized = raw.replace(/\r\n/g, '\n');
  const end = normalized.indexOf('\n\n');
  const headText = end === -1 ? normalized : normalized.slice(0, end);
  const body = end === -1 ? '' : normalized.slice(end + 2);
  const head = new Map<string, string>();
  for (const line of headText.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!head.has(name)) head.set(name, decodeWords(line.slice(colon + 1).trim()));
  }
  return { head, body };
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '7bit').toLowerCase()) {
    case 'quoted-printable': {
      const bytes = body.replace(/=\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    }
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
}

function parameter(headerValue: string | undefined, name: string): string | undefined {
  const match = new RegExp(`${name}="?([^";]+)"?`, 'i').exec(headerValue ?? '');
  return match?.[1];
}

/** Parses a raw message. */
export function parseMail(raw: string): ParsedMail {
  const { head, body } = splitHead(raw);
  const parts: { type: string; content: string }[] = [];
  const walk = (headers: Map<string, string>, content: string): void => {
    const type = (headers.get('content-type') ?? 'text/plain').split(';')[0]?.trim().toLowerCase() ?? 'text/plain';
    if (type.startsWith('multipart/')) {
      const boundary = parameter(headers.get('content-type'), 'boundary');
      if (boundary === undefined) return;
      const sections = content.split(`--${boundary}`).slice(1);
      for (const section of sections) {
        if (section.startsWith('--')) break;
        const inner = splitHead(section.replace(/^\n/, ''));
        walk(inner.head, inner.body.replace(/\n$/, ''));
      }
      return;
    }
    parts.push({ type, content: decodeBody(content, headers.get('content-transfer-encoding')) });
  };
  walk(head, body);
  return {
    headers: head,
    text: parts.find((p) => p.type === 'text/plain')?.content,
    html: parts.find((p) => p.type === 'text/html')?.content,
  };
}
