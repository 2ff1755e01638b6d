import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('keyset pagination', () => {
  let t: TestApp;
  let token: string;
  const ids = new Set<string>();
  beforeAll(async () => {
    t = await createTestApp();
    ({ token } = await t.makeUser());
    // Repeated and missing values in nullable sort columns are where keyset paging goes wrong.
    for (let i = 0; i < 23; i++) {
      const body = { name: `Firm ${i % 5}`, industry: 'pagination', ...(i % 3 === 0 ? {} : { employees: (i * 7) % 4 }), ...(i % 4 === 0 ? {} : { city: ['Beijing', 'Shanghai'][i % 2] }) };
      const res = await t.call('POST', '/api/v1/companies', { token, body });
      ids.add(res.json().id);
    }
  });
  afterAll(async () => t.close());

  it('visits every record exactly once for any sort and page size', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('employees', '-employees', 'city', '-city', 'name', '-name', 'createdAt', '-createdAt', 'updatedAt'), fc.integer({ min: 1, max: 9 }), async (sort, limit) => {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const res = await t.call('GET', `/api/v1/companies?industry=pagination&sort=${sort}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token });
          expect(res.statusCode, res.body).toBe(200);
          seen.push(...res.json().items.map((c: { id: string }) => c.id));
          cursor = res.json().nextCursor;
          pages += 1;
        } while (cursor && pages < 100);
        expect(seen).toHaveLength(ids.size);
        expect(new Set(seen)).toEqual(ids);
      }),
      { numRuns: 25 },
    );
  });

  it('refuses to sort by an unknown or unsortable field', async () => {
    for (const sort of ['phone', '-idNumber', 'nonsense', '']) {
      const res = await t.call('GET', `/api/v1/contacts?sort=${sort}`, { token });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('request.invalid_sort');
    }
  });
});
