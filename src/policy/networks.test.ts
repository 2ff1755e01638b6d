import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { isNetworkRange, networkAllows } from './networks.js';

describe('network rules', () => {
  it('reads addresses and CIDR ranges of both families, and nothing else', () => {
    for (const ok of ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1', '0.0.0.0/0']) expect(isNetworkRange(ok), ok).toBe(true);
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'banana', '10.0.0.0/8/1', '10.0.0/8', '', '1.2.3.4/-1', '1.2.3.4/ 8']) expect(isNetworkRange(bad), bad).toBe(false);
  });

  it('lets a deny win over an allow, and an empty allow list allow what is not denied', () => {
    const rule = { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.66.0.0/16'] };
    expect(networkAllows(rule, '10.1.2.3')).toBe(true);
    expect(networkAllows(rule, '::ffff:10.1.2.3')).toBe(true);
    expect(networkAllows(rule, '10.66.2.3')).toBe(false);
    expect(networkAllows(rule, '192.0.2.1')).toBe(false);
    expect(networkAllows(rule, '2001:db8:1::1')).toBe(true);
    expect(networkAllows(rule, null)).toBe(false);
    expect(networkAllows(rule, 'not an address')).toBe(false);
    expect(networkAllows({ allow: [], deny: ['192.0.2.0/24'] }, '198.51.100.1')).toBe(true);
    expect(networkAllows({ allow: [], deny: [] }, null)).toBe(true);
  });

  it('refuses a configuration with a range it cannot read, without repeating it', () => {
    const refused = (() => {
      try {
        loadConfig({ env: { RAMPART_NETWORK_ALLOW: '10.0.0.0/8,secret-host' } });
        return null;
      } catch (error) {
        return error as Error & { problems?: string[] };
      }
    })();
    expect(refused?.problems?.join(' ')).toMatch(/RAMPART_NETWORK_ALLOW holds 1 entry that/);
    expect(JSON.stringify(refused?.problems)).not.toContain('secret-host');
    expect(loadConfig({ env: { RAMPART_NETWORK_DENY: '192.0.2.0/24, 2001:db8::/32' } }).network).toEqual({ allow: [], deny: ['192.0.2.0/24', '2001:db8::/32'] });
  });
});
