import { SegmentedControl } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { setLanguage, type Language } from '../i18n';

/** English / 中文; the choice is kept in this browser. */
export function LanguageSwitch() {
  const { t, i18n } = useTranslation('shell');
  return (
    <SegmentedControl
      size="xs"
      aria-label={t('language')}
      value={i18n.language === 'zh-CN' ? 'zh-CN' : 'en'}
      onChange={(value) => void setLanguage(value as Language)}
      data={[
        { value: 'en', label: 'English' },
        { value: 'zh-CN', label: '中文' },
      ]}
    />
  );
}
