import { texts } from '../i18n/texts';

export const adminText = texts({ heading: 'admin' }, { heading: 'admin' });
