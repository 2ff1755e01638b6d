import { texts } from '../i18n/texts';

export const dashboardText = texts({ heading: 'dashboard' }, { heading: 'dashboard' });
