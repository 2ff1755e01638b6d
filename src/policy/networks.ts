import net from 'node:net';

/**
 * Network rules: address ranges a request may come from (`allow`) and may not (`deny`), in CIDR
 * form (`10.0.0.0/8`, `2001:db8::/32`) or as single addresses. A deny wins over an allow; an empty
 * allow list allows every address not denied. They apply to the whole server (configuration) and
 * to each role (its definition): outside a role's networks, the role does not count.
 */
export interface NetworkRule {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

export const OPEN_NETWORK: NetworkRule = { allow: [], deny: [] };

/** Whether a range is written correctly: an address, or an address and a prefix length that fits it. */
export function isNetworkRange(range: string): boolean {
  return parseRange(range) !== null;
}

function parseRange(range: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  if (typeof range !== 'string' || range.length > 64) return null;
  const [address, prefixText, extra] = range.trim().split('/');
  if (extra !== undefined || !address) return null;
  const version = net.isIP(address);
  if (version === 0) return null;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return null;
  return { address, prefix: Number(prefixText), family };
}

const compiled = new WeakMap<readonly string[], net.BlockList>();

function blockListOf(ranges: readonly string[]): net.BlockList {
  let list = compiled.get(ranges);
  if (!list) {
    list = new net.BlockList();
    for (const range of ranges) {
      const parsed = parseRange(range);
      if (parsed) list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
    compiled.set(ranges, list);
  }
  return list;
}

function matches(ranges: readonly string[], address: string): boolean {
  const version = net.isIP(address);
  if (version === 0) return false;
  return blockListOf(ranges).check(address, version === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Whether a request from `address` passes the rule. An unknown address (none, or not an IP)
 * passes only a rule that restricts nothing.
 */
export function networkAllows(rule: NetworkRule, address: string | null): boolean {
  if (rule.allow.length === 0 && rule.deny.length === 0) return true;
  if (address === null) return false;
  if (rule.deny.length > 0 && matches(rule.deny, address)) return false;
  return rule.allow.length === 0 || matches(rule.allow, address);
}
