import { useTranslation } from 'react-i18next';
import { Page } from './page';

/** An address no screen answers. */
export function Missing() {
  const { t } = useTranslation('shell');
  return <Page title={t('notFound')} />;
}
