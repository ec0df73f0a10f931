import { createHmac } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Report sources (docs/trust.md). Every counted report comes from one source, and the
 * decision rule caps and counts evidence per source so that no single source decides:
 *  - an enrolled machine's source is the address block it enrolled from (IPv4 /24, IPv6
 *    /56; the real client address under DEPCANARY_TRUST_PROXY), kept as an opaque id
 *    `net:<16 hex>` (a keyed hash: the block itself is not stored);
 *  - a CI system's source is its reporter token: `ci:<token name>`.
 */

/** The eight 16-bit groups of an IPv6 address, as numbers (null when it is not one). */
export function ipv6Groups(ip: string): number[] | null {
  if (!isIPv6(ip)) return null;
  let a = ip.toLowerCase().replace(/%.*$/, '');
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number];
    a = a.slice(0, v4.index) + `${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => parseInt(g, 16));
}

/** A client address without the IPv4-mapped IPv6 prefix (`::ffff:1.2.3.4` → `1.2.3.4`). */
export function plainAddress(ip: string | undefined): string {
  return (ip ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/** The address block of a client address: `203.0.113.0/24`, `2001:db8:1:200::/56`; `unknown` otherwise. */
export function addressBlock(ip: string | undefined): string {
  const a = plainAddress(ip);
  if (isIPv4(a)) return `${a.split('.').slice(0, 3).join('.')}.0/24`;
  const g = ipv6Groups(a);
  if (!g) return 'unknown';
  return `${g[0]!.toString(16)}:${g[1]!.toString(16)}:${g[2]!.toString(16)}:${(g[3]! & 0xff00).toString(16)}::/56`;
}

/** The opaque source id of an address block under the server's salt. */
export function blockSource(salt: string, block: string): string {
  return `net:${createHmac('sha256', salt).update(block).digest('hex').slice(0, 16)}`;
}

/** The source id of a CI system reporting with a reporter token. */
export function tokenSource(name: string): string {
  return `ci:${name}`;
}

/**
 * Who a run counts as in the evidence when its reporter may send any machine id (a reporter
 * token): the machine under its source, so one source cannot add runs to another's machine.
 */
export function sourceMachine(source: string, machine: string): string {
  return `${source}/${machine}`;
}
