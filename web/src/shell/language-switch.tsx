import { SegmentedControl } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { api } from '../api/client';
import { useSession } from '../access/session';
import { setLanguage, type Language } from '../i18n';

/**
 * English / 中文. The choice is kept in this browser and, for a signed-in user, on the server too,
 * where security notices and their mail are written in it.
 */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation('shell');
  const { state } = useSession();
  const signedIn = state.status === 'signed-in' && state.session.stage === 'active';
  const choose = (language: Language) => {
    void setLanguage(language);
    // A preference: if the server cannot take it now, the page still switches.
    if (signedIn) void api.PUT('/api/v1/auth/locale', { body: { locale: language } }).catch(() => undefined);
  };
  return (
    <SegmentedControl
      size="xs"
      aria-label={t('language')}
      value={i18n.language === 'zh-CN' ? 'zh-CN' : 'en'}
      onChange={(value) => choose(value as Language)}
      data={[
        { value: 'en', label: 'English' },
        { value: 'zh-CN', label: '中文' },
      ]}
    />
  );
}
