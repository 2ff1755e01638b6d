import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newId } from '../shared/ids.js';
import { decodeCursor, encodeCursor } from './cursor.js';

describe('cursors', () => {
  it('round-trip the last sort value and id', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 50 }).filter((s) => s.isWellFormed() && !s.includes('\u0000'))), (value) => {
        const id = newId();
        expect(decodeCursor(encodeCursor('name', value, id), 'name')).toEqual({ value, id });
      }),
    );
  });

  it('refuse garbage and cursors of another sort with request.invalid_cursor', () => {
    const good = encodeCursor('name', 'x', newId());
    expect(() => decodeCursor(good, '-name')).toThrow(expect.objectContaining({ code: 'request.invalid_cursor' }));
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (garbage) => {
        try {
          decodeCursor(garbage, 'name');
          return false;
        } catch (e) {
          return (e as { code?: string }).code === 'request.invalid_cursor';
        }
      }),
    );
  });
});
