import { useMemo, useState } from 'react';
import { Button } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useAccess } from '../access/use-access';
import { ExportDialog } from '../exports/export-dialog';
import { exportQuery } from '../exports/exports-api';

/**
 * Exports the records of a list: `type` is the record type, `query` the list's current API query
 * (filters, search, sort; paging is dropped). Shown only to those whose roles may export the type.
 * The dialog asks for a format and a reason, and says whether the file downloads at once or waits
 * for a second person's approval; the filters travel in the request body, never in an address.
 */
export function ExportButton({ type, query = {} }: { type: string; query?: Record<string, unknown> }) {
  const { t } = useTranslation('exports');
  const { access } = useAccess();
  const [opened, setOpened] = useState(false);
  const narrowed = useMemo(() => exportQuery(query), [query]);
  if (!access.can(type, 'export')) return null;
  return (
    <>
      <Button variant="default" onClick={() => setOpened(true)}>{t('export')}</Button>
      {opened && <ExportDialog type={type} query={narrowed} opened onClose={() => setOpened(false)} />}
    </>
  );
}
