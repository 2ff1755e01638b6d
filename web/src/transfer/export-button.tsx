import { useState } from 'react';
import { Button } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useTranslation } from 'react-i18next';
import { problemFrom } from '../api/client';
import { useStepUp } from '../access/step-up';
import { useAccess } from '../access/use-access';
import { problemMessage } from '../shared/problems';
import { downloadExport } from './transfer-api';

/**
 * Downloads the records of a list as CSV: `type` is the record type, `query` the list's current
 * API query (filters, search, sort; paging is dropped). Shown only to those whose roles may export
 * the type. A large export asks for a second factor first, as the server requires; the file comes
 * through the API, so filters never reach the address bar.
 */
export function ExportButton({ type, query = {} }: { type: string; query?: Record<string, unknown> }) {
  const { t } = useTranslation('transfer');
  const { access } = useAccess();
  const stepUp = useStepUp();
  const [busy, setBusy] = useState(false);
  if (!access.can(type, 'export')) return null;

  const exportNow = async () => {
    setBusy(true);
    try {
      await stepUp(() => downloadExport(type, query));
    } catch (failure) {
      notifications.show({ color: 'red', title: t('exportFailed'), message: problemMessage(problemFrom(failure), t) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Button variant="default" onClick={exportNow} loading={busy}>
      {t('export')}
    </Button>
  );
}
