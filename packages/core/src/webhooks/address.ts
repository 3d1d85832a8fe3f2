/**
 * Which callback targets are allowed. Only public unicast addresses are: a
 * callback URL must not reach loopback, private, link-local (cloud metadata
 * at 169.254.169.254), unique-local, CGNAT, multicast, reserved or unspecified
 * addresses, however the address is written (decimal, octal, hex, IPv4-mapped
 * IPv6 — the WHATWG URL parser and `ipaddr.js` normalise them all). The host
 * may opt in to non-public targets for development.
 */
import ipaddr from 'ipaddr.js';

/** Why a callback URL is refused. */
export type CallbackUrlProblem = 'malformed' | 'scheme' | 'credentials' | 'non_public_address' | 'reserved_name';

// The only IPv6 block allocated for global unicast. ipaddr.js calls every address it has no range for
// "unicast", including IPv4-compatible ones such as ::127.0.0.1 (which URL parsers write [::7f00:1]).
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/** True when `address` (an IP string) is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.process(address); // IPv4-mapped IPv6 becomes IPv4
  if (parsed.range() !== 'unicast') return false;
  return parsed.kind() === 'ipv4' || (parsed as ipaddr.IPv6).match(GLOBAL_UNICAST_V6);
}

const RESERVED_NAMES = /(^|\.)(localhost|local|localdomain|internal|home\.arpa|in-addr\.arpa|ip6\.arpa)\.?$/i;

function stripBrackets(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/** The host name of a URL as an IP string if it is an IP literal. */
export function ipLiteral(hostname: string): string | undefined {
  const bare = stripBrackets(hostname);
  return ipaddr.isValid(bare) ? bare : undefined;
}

/**
 * Checks a callback URL's form: http(s), no user/password, no non-public IP
 * literal, no reserved name. Names are checked again on their resolved
 * addresses at connect time ({@link guardedLookup}).
 */
export function checkCallbackUrl(raw: string, allowPrivate: boolean): { ok: true; url: URL } | { ok: false; problem: CallbackUrlProblem } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, problem: 'malformed' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, problem: 'scheme' };
  if (url.username !== '' || url.password !== '') return { ok: false, problem: 'credentials' };
  if (url.hostname === '') return { ok: false, problem: 'malformed' };
  if (allowPrivate) return { ok: true, url };
  const literal = ipLiteral(url.hostname);
  if (literal !== undefined) return isPublicAddress(literal) ? { ok: true, url } : { ok: false, problem: 'non_public_address' };
  if (RESERVED_NAMES.test(url.hostname)) return { ok: false, problem: 'reserved_name' };
  return { ok: true, url };
}

/** A DNS lookup in Node's `lookup` option shape (`dns.lookup` with `all: true`). */
export type LookupAll = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

/** Error raised at connect time when a name resolves to a non-public address. */
export class ForbiddenAddressError extends Error {
  readonly code = 'ERR_TIERGATE_FORBIDDEN_ADDRESS';
  constructor(hostname: string, address: string) {
    super(`${hostname} resolved to non-public address ${address}`);
    this.name = 'ForbiddenAddressError';
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | { address: string; family: number }[], family?: number) => void;

/**
 * A `lookup` for `http.request` that resolves with `resolve` and refuses the
 * connection if any resolved address is non-public — so a name that was
 * public when the URL was accepted and points at loopback now (DNS
 * rebinding) is still refused.
 */
export function guardedLookup(resolve: LookupAll, allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean } | number | undefined, callback: LookupCallback): void => {
    const all = typeof options === 'object' && options !== null && options.all === true;
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`no address for ${hostname}`);
          err.code = 'ENOTFOUND';
          callback(err, '');
          return;
        }
        if (!allowPrivate) {
          const bad = addresses.find((a) => !isPublicAddress(a.address));
          if (bad !== undefined) {
            callback(new ForbiddenAddressError(hostname, bad.address), '');
            return;
          }
        }
        if (all) callback(null, addresses.map((a) => ({ address: a.address, family: a.family })));
        else callback(null, (addresses[0] as { address: string }).address, (addresses[0] as { family: number }).family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
