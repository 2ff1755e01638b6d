import { texts } from '../i18n/texts';

export const transferText = texts({ heading: 'transfer' }, { heading: 'transfer' });
