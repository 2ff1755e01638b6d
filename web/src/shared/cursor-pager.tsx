import { Button, Group, Text } from '@mantine/core';
import type { TFunction } from 'i18next';

/**
 * The Newer / Older buttons under a newest-first list read by cursor: `pages` is the stack of
 * cursors read so far (its length is the page shown), `next` the cursor of the following page or
 * null on the last. `t` is the screen's own translator, whose texts hold newer, older and pageOf.
 */
export function CursorPager<C>({ pages, next, onPages, t }: { pages: readonly C[]; next: C | null | undefined; onPages: (pages: C[]) => void; t: TFunction }) {
  return (
    <Group gap="sm">
      <Button variant="default" size="xs" disabled={pages.length < 2} onClick={() => onPages(pages.slice(0, -1))}>{t('newer')}</Button>
      <Button variant="default" size="xs" disabled={next === null || next === undefined} onClick={() => next !== null && next !== undefined && onPages([...pages, next])}>{t('older')}</Button>
      <Text size="sm" c="dimmed">{t('pageOf', { page: pages.length })}</Text>
    </Group>
  );
}
