import { texts } from '../i18n/texts';

export const securityText = texts({ heading: 'security' }, { heading: 'security' });
