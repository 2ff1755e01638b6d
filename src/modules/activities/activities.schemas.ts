import { Type } from 'typebox';
import { DUE_VIEWS } from './activities.service.js';

/** The list parameters activities add to the common record list query. */
export const activityListParameters = {
  due: Type.Optional(Type.String({ enum: [...DUE_VIEWS], description: 'Open activities (no completedAt) that are overdue, due today, or due after today; sorted by dueAt unless sort is given.' })),
  timeZone: Type.Optional(Type.String({ maxLength: 64, description: 'The IANA time zone whose calendar day `due=today` means, such as Asia/Shanghai; UTC by default.' })),
};
