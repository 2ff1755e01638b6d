import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveKey } from '../src/crypto/blind-index.js';
import type { IndexKeyVersion } from '../src/data/keys.js';
import { searchTerms } from '../src/data/record-sealing.js';
import { searchSchema, SearchTermsMaker } from '../src/modules/backup/restore-search-terms.js';

/**
 * A large restore makes search terms on a second thread; they must be exactly the terms every
 * other write makes, or restored records would not be found as before.
 */
function indexVersion(): IndexKeyVersion {
  const root = randomBytes(32);
  return { version: 1, bits: 17, state: 'active', columnKey: (table, column) => deriveKey(root, `bidx|${table}|${column}`), tokenKey: (type) => deriveKey(root, `token|${type}`) };
}

const contacts = Array.from({ length: 300 }, (_, i) => ({
  id: `c${i}`,
  subject_id: `c${i}`,
  first_name: i % 2 ? 'Wei' : '伟',
  last_name: i % 3 ? `Zhang${i}` : `张${i}`,
  email: `person${i}@example.com`,
  phone: `+86 138 0013 ${String(i).padStart(4, '0')}`,
  mobile: i % 5 ? null : `0${i}-5550-${i}`,
  job_title: i % 4 ? 'Sales Manager' : '销售经理',
}));
const companies = Array.from({ length: 50 }, (_, i) => ({ id: `o${i}`, name: `Acme 有限公司 ${i}`, domain: `acme${i}.example`, city: i % 2 ? 'Shanghai' : '上海' }));

describe('search terms of restored records', () => {
  it('are the same on the worker thread as on this one, batch after batch and type after type', async () => {
    const index = indexVersion();
    const maker = new SearchTermsMaker(index);
    expect(await maker.start()).toBe(true);
    try {
      const made = await Promise.all([
        maker.terms({ type: 'contacts', rows: contacts.slice(0, 150) }),
        maker.terms({ type: 'companies', rows: companies }),
        maker.terms({ type: 'contacts', rows: contacts.slice(150) }),
      ]);
      const contactSchema = searchSchema('contacts');
      const companySchema = searchSchema('companies');
      expect(made[0]).toEqual(contacts.slice(0, 150).map((row) => searchTerms(contactSchema, row, index)));
      expect(made[1]).toEqual(companies.map((row) => searchTerms(companySchema, row, index)));
      expect(made[2]).toEqual(contacts.slice(150).map((row) => searchTerms(contactSchema, row, index)));
      // Personal words arrive as tokens only, plain ones as words.
      expect(made[0]![1]).toContain('sales');
      expect(made[0]![1]).not.toContain('wei');
      expect(made[0]![1]!.some((t) => t.startsWith('_'))).toBe(true);
    } finally {
      await maker.stop();
    }
  }, 60_000);

  it('are made on this thread once the worker is gone', async () => {
    const index = indexVersion();
    const maker = new SearchTermsMaker(index);
    await maker.start();
    await maker.stop();
    const schema = searchSchema('contacts');
    expect(await maker.terms({ type: 'contacts', rows: contacts.slice(0, 20) })).toEqual(contacts.slice(0, 20).map((row) => searchTerms(schema, row, index)));
  }, 60_000);
});
