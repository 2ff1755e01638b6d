import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../shared/canonical-json.js';
import { canonicalEntry, type AuditEntry } from './entry.js';

const text = fc.option(fc.string({ unit: 'grapheme' }), { nil: null });

describe('the canonical bytes of an entry', () => {
  it('are the canonical JSON of the entry as a list in its fixed order, whatever it holds', () => {
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          time: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          actorKind: fc.constantFrom('user', 'token', 'cli', 'system', 'anonymous'),
          actorId: text,
          sessionId: text,
          sourceAddress: text,
          userAgent: text,
          channel: fc.constantFrom('web', 'api', 'cli', 'job'),
          action: fc.string(),
          recordType: text,
          recordIds: fc.array(fc.string()),
          fields: fc.array(fc.string()),
          outcome: fc.constantFrom('success', 'denied', 'failure'),
          requestId: text,
          details: fc.dictionary(fc.string(), fc.jsonValue()),
        }),
        (entry) => {
          const e = entry as AuditEntry;
          const expected = canonicalJson([1, e.seq, e.time, e.actorKind, e.actorId, e.sessionId, e.sourceAddress, e.userAgent, e.channel, e.action, e.recordType, e.recordIds, e.fields, e.outcome, e.requestId, e.details]);
          expect(canonicalEntry(e).toString('utf8')).toBe(expected);
        },
      ),
    );
  });
});
