import { texts } from '../i18n/texts';

export const recordsText = texts({ heading: 'records' }, { heading: 'records' });
