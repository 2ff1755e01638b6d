import { Link, useLocation } from 'wouter';
import { useTranslation } from 'react-i18next';
import { useAccess } from '../access/use-access';
import { ADMIN_SECTIONS } from './admin.nav';


/** The links between the administration sections the user may open; the current one marked. */
export function AdminTabs() {
  const { t } = useTranslation('admin');
  const { access } = useAccess();
  const [location] = useLocation();
  const shown = ADMIN_SECTIONS.filter((s) => s.visible(access));
  if (shown.length < 2) return null;
  return (
    <nav aria-label={t('sections')} className="admin-tabs">
      {shown.map((section) => {
        const current = location === section.path || location.startsWith(`${section.path}/`);
        return (
          <Link key={section.path} href={section.path} className="admin-tab" aria-current={current ? 'page' : undefined}>
            {t(section.label)}
          </Link>
        );
      })}
    </nav>
  );
}
