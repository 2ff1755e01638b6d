import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import { accessText } from '../access/access.text';
import { accountText } from '../account/account.text';
import { adminText } from '../admin/admin.text';
import { dashboardText } from '../dashboard/dashboard.text';
import { exportsText } from '../exports/exports.text';
import { recordsText } from '../records/records.text';
import { securityText } from '../security/security.text';
import { shellText } from '../shell/shell.text';
import { transferText } from '../transfer/transfer.text';
import { trashText } from '../trash/trash.text';

/**
 * Every text of the web app, in English and Simplified Chinese. Each feature keeps its texts
 * beside its screens (<feature>.text.ts) as one namespace; both languages must name the same keys,
 * which the type of `Texts` checks.
 */
export const LANGUAGES = ['en', 'zh-CN'] as const;
export type Language = (typeof LANGUAGES)[number];

const namespaces = { access: accessText, account: accountText, admin: adminText, dashboard: dashboardText, exports: exportsText, records: recordsText, security: securityText, shell: shellText, transfer: transferText, trash: trashText };

const STORED = 'rampart.language';

/** The language chosen with the switch, else the browser's first preference. */
export function initialLanguage(): Language {
  const stored = globalThis.localStorage?.getItem(STORED);
  if (stored === 'en' || stored === 'zh-CN') return stored;
  const preferred = (globalThis.navigator?.languages?.[0] ?? globalThis.navigator?.language ?? 'en').toLowerCase();
  return preferred.startsWith('zh') ? 'zh-CN' : 'en';
}

export const i18n = i18next.createInstance();

export async function setLanguage(language: Language): Promise<void> {
  // Only the language choice is kept in the browser; nothing about the user or the session.
  globalThis.localStorage?.setItem(STORED, language);
  await i18n.changeLanguage(language);
}

i18n.on('languageChanged', (language) => {
  if (globalThis.document) document.documentElement.lang = language;
});
void i18n.use(initReactI18next).init({
  lng: initialLanguage(),
  fallbackLng: 'en',
  supportedLngs: [...LANGUAGES],
  ns: Object.keys(namespaces),
  defaultNS: 'shell',
  resources: Object.fromEntries(LANGUAGES.map((language) => [language, Object.fromEntries(Object.entries(namespaces).map(([ns, text]) => [ns, text[language]]))])),
  interpolation: { escapeValue: false },
  initImmediate: false,
} as Parameters<typeof i18next.init>[0]);
