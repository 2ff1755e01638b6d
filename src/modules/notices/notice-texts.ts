import type { NoticeKind } from '../../db/schema.js';

export type Locale = 'en' | 'zh-CN';

/** What a notice says in the app and in its mail, in the user's language. */
export interface NoticeText {
  title: string;
  body: string;
}

type Details = Record<string, unknown>;

const MFA_CHANGES: Record<string, Record<Locale, string>> = {
  totp_added: { en: 'An authenticator app was added as a second factor.', 'zh-CN': '已添加身份验证器应用作为第二因素。' },
  passkey_added: { en: 'A passkey was added.', 'zh-CN': '已添加通行密钥。' },
  totp_removed: { en: 'An authenticator app was removed.', 'zh-CN': '已移除一个身份验证器应用。' },
  passkey_removed: { en: 'A passkey was removed.', 'zh-CN': '已移除一个通行密钥。' },
  recovery_codes_renewed: { en: 'New recovery codes were made; the old ones no longer work.', 'zh-CN': '已生成新的恢复码，旧恢复码已失效。' },
  reset_by_administrator: { en: 'An administrator removed all your second factors. You will set up a new one at your next sign-in.', 'zh-CN': '管理员已移除您的全部第二因素，您将在下次登录时重新设置。' },
};

const NOT_YOU: Record<Locale, string> = {
  en: 'If this was not you, change your password at once and tell your administrator.',
  'zh-CN': '如果这不是您本人的操作，请立即修改密码并通知管理员。',
};

const SEVERITIES: Record<string, Record<Locale, string>> = {
  low: { en: 'low', 'zh-CN': '低' },
  medium: { en: 'medium', 'zh-CN': '中' },
  high: { en: 'high', 'zh-CN': '高' },
  critical: { en: 'critical', 'zh-CN': '严重' },
};

const RECORD_TYPE_NAMES: Record<string, Record<Locale, string>> = {
  companies: { en: 'companies', 'zh-CN': '公司' },
  contacts: { en: 'contacts', 'zh-CN': '联系人' },
  leads: { en: 'leads', 'zh-CN': '线索' },
  deals: { en: 'deals', 'zh-CN': '商机' },
  activities: { en: 'activities', 'zh-CN': '活动' },
  tickets: { en: 'tickets', 'zh-CN': '工单' },
};

/** The work an approval is for, in figures: "an export of 4,200 contacts". */
function approvalWork(details: Details, locale: Locale): string {
  const count = typeof details.recordCount === 'number' ? details.recordCount.toLocaleString('en-US') : '';
  const what = RECORD_TYPE_NAMES[text(details.type)]?.[locale] ?? (locale === 'zh-CN' ? '记录' : 'records');
  if (locale === 'zh-CN') {
    const verb = details.kind === 'bulk_delete' ? '删除' : details.kind === 'bulk_update' ? '修改' : '导出';
    return `${verb} ${count} 条${what}`;
  }
  if (details.kind === 'bulk_delete') return `deleting ${count} ${what}`;
  if (details.kind === 'bulk_update') return `changing ${count} ${what}`;
  return `an export of ${count} ${what}`;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** A stored time as people read it in mail and on screens: 2026-12-03 12:42 UTC. */
function when(value: unknown): string {
  const at = typeof value === 'string' ? new Date(value) : null;
  if (!at || Number.isNaN(at.getTime())) return text(value);
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function describeNotice(kind: NoticeKind, details: Details, locale: Locale): NoticeText {
  const zh = locale === 'zh-CN';
  switch (kind) {
    case 'sign_in.new_device': {
      const what = details.newDevice ? (zh ? '新设备' : 'a new device') : zh ? '新网络' : 'a new network';
      return {
        title: zh ? `从${what}登录` : `Sign-in from ${what}`,
        body: zh
          ? `有人于 ${when(details.at)} 从 ${text(details.device)}（地址 ${text(details.address)}）登录了您的账户。${NOT_YOU['zh-CN']}`
          : `Someone signed in to your account on ${when(details.at)} from ${text(details.device)} at address ${text(details.address)}. ${NOT_YOU.en}`,
      };
    }
    case 'sign_in.locked':
      return {
        title: zh ? '登录已被锁定' : 'Sign-in locked',
        body: details.permanent
          ? zh
            ? `由于多次登录失败，您的账户已被锁定，需由管理员解锁。${NOT_YOU['zh-CN']}`
            : `After many failed sign-ins your account is locked until an administrator unlocks it. ${NOT_YOU.en}`
          : zh
            ? `由于连续 ${text(String(details.failures ?? ''))} 次登录失败，您的账户已暂时锁定 15 分钟。`
            : `After ${text(String(details.failures ?? ''))} failed sign-ins in a row your account is locked for 15 minutes.`,
      };
    case 'mfa.changed':
      return {
        title: zh ? '第二因素已变更' : 'Second factor changed',
        body: `${MFA_CHANGES[text(details.change)]?.[locale] ?? (zh ? '您的第二因素已变更。' : 'Your second factors changed.')} ${NOT_YOU[locale]}`,
      };
    case 'password.changed':
      return {
        title: zh ? '密码已修改' : 'Password changed',
        body: details.how === 'reset'
          ? zh
            ? `您的密码已通过重置链接更改，所有会话均已结束。${NOT_YOU['zh-CN']}`
            : `Your password was set through a reset link and every session of yours was ended. ${NOT_YOU.en}`
          : zh
            ? `您的密码已修改，其他会话均已结束。${NOT_YOU['zh-CN']}`
            : `Your password was changed and your other sessions were ended. ${NOT_YOU.en}`,
      };
    case 'token.new_address':
      return {
        title: zh ? 'API 令牌从新地址使用' : 'API token used from a new address',
        body: zh
          ? `您的 API 令牌“${text(details.tokenName)}”首次从地址 ${text(details.address)} 使用。若非预期，请立即吊销该令牌。`
          : `Your API token "${text(details.tokenName)}" was used from address ${text(details.address)} for the first time. If you did not expect this, revoke the token now.`,
      };
    case 'security.alert': {
      const severity = SEVERITIES[text(details.severity)]?.[locale] ?? text(details.severity);
      return {
        title: zh ? `安全警报（${severity}）：${text(details.rule)}` : `Security alert (${severity}): ${text(details.rule)}`,
        body: zh
          ? `Rampart 于 ${when(details.at)} 发出警报：${text(details.summary)}。请在安全中心的警报页面查看证据和已采取的措施：${text(details.link)}`
          : `Rampart raised an alert on ${when(details.at)}: ${text(details.summary)}. Review the evidence and the responses taken on the alerts page of the security center: ${text(details.link)}`,
      };
    }
    case 'approval.requested': {
      const work = approvalWork(details, locale);
      const link = text(details.link);
      return {
        title: zh ? `待审批：${work}` : `Approval requested: ${work}`,
        body: zh
          ? `${text(details.requester)} 请求第二人批准${work}。请查看理由并批准或拒绝${link ? `：${link}` : '。'}无人处理的请求将在 7 天后失效。`
          : `${text(details.requester)} asks a second person to approve ${work}. Read the reason and approve or deny it${link ? ` in the approvals inbox: ${link}` : ' in the approvals inbox'}. A request nobody decides lapses after 7 days.`,
      };
    }
    case 'approval.decided': {
      const work = approvalWork(details, locale);
      const approved = details.outcome === 'approved';
      const run = details.kind === 'export' ? (zh ? '下载' : 'download') : zh ? '执行' : 'run';
      return {
        title: zh ? `${approved ? '已批准' : '已拒绝'}：${work}` : `${approved ? 'Approved' : 'Denied'}: ${work}`,
        body: approved
          ? zh
            ? `您的${work}请求已获批准：您现在可以在 24 小时内${run}一次。`
            : `Your request for ${work} was approved: you may now ${run} it, once, within 24 hours.`
          : zh
            ? `您的${work}请求已被拒绝，审批人的备注（如有）显示在请求中。`
            : `Your request for ${work} was denied. The decider's note, if any, is shown with the request.`,
      };
    }
  }
}
