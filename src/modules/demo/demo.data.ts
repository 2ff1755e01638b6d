// The per-locale builds load one locale each instead of all of faker's (zh_CN falls back to en).
import { faker as enFaker } from '@faker-js/faker/locale/en';
import { faker as zhFaker } from '@faker-js/faker/locale/zh_CN';

/**
 * The raw material of sample data: pools of names, places and phrases drawn once from faker in
 * Chinese and English, plus phrases faker lacks in Chinese. Rows are assembled from the pools with
 * a seeded generator, which is far faster than asking faker per row and gives the same data for
 * the same seed. Every email address and web domain is under example.com, which no one owns, so
 * sample data can never mail or link to a real person.
 */

/** A small, fast, seedable generator (mulberry32); sample data needs speed, not secrecy. */
export class Dice {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Picks by weight: `[[value, weight], …]`. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((sum, [, w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [value, weight] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices[choices.length - 1]![0];
  }
}

export interface LocalePools {
  firstNames: string[];
  lastNames: string[];
  cities: string[];
  streets: string[];
  phones: string[];
  jobTitles: string[];
  country: string;
  currency: 'CNY' | 'USD';
  sentences: string[];
}

export interface DemoPools {
  zh: LocalePools;
  en: LocalePools;
}

const POOL_SIZE = 400;

/** Draws the pools once; a few hundred values per list make millions of distinct-looking rows. */
export function buildPools(seed: number): DemoPools {
  zhFaker.seed(seed);
  enFaker.seed(seed + 1);
  const draw = (make: () => string): string[] => [...new Set(Array.from({ length: POOL_SIZE }, make))];
  return {
    zh: {
      firstNames: draw(() => zhFaker.person.firstName()),
      lastNames: draw(() => zhFaker.person.lastName()),
      cities: draw(() => zhFaker.location.city()),
      streets: draw(() => zhFaker.location.streetAddress()),
      phones: draw(() => zhFaker.phone.number({ style: 'international' })),
      jobTitles: [...ZH_JOB_TITLES],
      country: '中国',
      currency: 'CNY',
      sentences: [...ZH_SENTENCES],
    },
    en: {
      firstNames: draw(() => enFaker.person.firstName()),
      lastNames: draw(() => enFaker.person.lastName()),
      cities: draw(() => enFaker.location.city()),
      streets: draw(() => enFaker.location.streetAddress()),
      phones: draw(() => enFaker.phone.number({ style: 'international' })),
      jobTitles: draw(() => enFaker.person.jobTitle()),
      country: 'United States',
      currency: 'USD',
      sentences: draw(() => enFaker.company.catchPhrase()),
    },
  };
}

/**
 * A company name drawn fresh rather than from a pool, so a thousand companies do not share a few
 * hundred names (which would also make name lookups, as in a contacts import, ambiguous).
 */
export function companyName(zh: boolean): string {
  return zh ? zhFaker.company.name() : enFaker.company.name();
}

const ZH_JOB_TITLES = [
  '销售经理', '销售总监', '采购经理', '采购专员', '总经理', '副总经理', '财务总监', '市场经理', '市场专员', '产品经理',
  '技术总监', '首席执行官', '首席技术官', '运营经理', '客服主管', '人力资源经理', '项目经理', '行政主管', '区域经理', '业务拓展经理',
];

const ZH_SENTENCES = [
  '长期合作伙伴，重视服务质量。', '今年计划扩大采购规模。', '对价格比较敏感，需要详细报价。', '正在评估多家供应商。',
  '决策链较长，需要拜访多位负责人。', '对数据安全有较高要求。', '希望下季度完成系统升级。', '通过行业展会认识。',
];

export const INDUSTRIES = {
  zh: ['制造业', '金融服务', '零售', '医疗健康', '教育', '物流运输', '软件与互联网', '房地产', '能源', '餐饮'],
  en: ['Manufacturing', 'Financial Services', 'Retail', 'Healthcare', 'Education', 'Logistics', 'Software', 'Real Estate', 'Energy', 'Hospitality'],
} as const;

export const SOURCES = {
  zh: ['官网', '展会', '老客户推荐', '电话营销', '微信公众号', '合作伙伴'],
  en: ['Website', 'Trade show', 'Referral', 'Cold call', 'LinkedIn', 'Partner'],
} as const;

export const PRODUCTS = {
  zh: ['年度服务合同', 'ERP 实施项目', '云服务器采购', '培训服务', '设备维保', '数据平台建设', '软件许可续费'],
  en: ['Annual support contract', 'ERP rollout', 'Cloud capacity', 'Training package', 'Equipment maintenance', 'Data platform', 'License renewal'],
} as const;

export const LOST_REASONS = {
  zh: ['价格过高', '选择了竞争对手', '预算取消', '项目延期'],
  en: ['Price too high', 'Chose a competitor', 'Budget cut', 'Project postponed'],
} as const;

export const TICKET_SUBJECTS = {
  zh: ['无法登录系统', '发票信息有误', '订单尚未发货', '申请退款', '产品使用咨询', '数据导出失败', '账号权限问题', '系统运行缓慢'],
  en: ['Cannot sign in', 'Invoice is wrong', 'Order has not shipped', 'Refund request', 'How do I use this feature?', 'Export fails', 'Permission problem', 'The system is slow'],
} as const;

export const TICKET_BODIES = {
  zh: ['客户来电反映该问题，已记录详细情况。', '客户通过邮件提交，附有截图。', '第二次反馈同一问题，请优先处理。'],
  en: ['The customer called about this; details noted.', 'Sent by email with screenshots attached.', 'Second report of the same problem; please prioritise.'],
} as const;

export const ACTIVITY_SUBJECTS = {
  note: { zh: ['客户背景备注', '需求整理', '会议纪要'], en: ['Background note', 'Requirements summary', 'Meeting notes'] },
  call: { zh: ['电话回访', '首次电话沟通', '报价跟进电话'], en: ['Follow-up call', 'Discovery call', 'Pricing call'] },
  meeting: { zh: ['产品演示会议', '商务洽谈', '季度业务回顾'], en: ['Product demo', 'Commercial negotiation', 'Quarterly business review'] },
  task: { zh: ['发送报价单', '准备合同草案', '安排技术交流'], en: ['Send the quote', 'Draft the contract', 'Set up a technical session'] },
  email: { zh: ['发送产品资料', '确认会议时间'], en: ['Send product brochure', 'Confirm meeting time'] },
} as const;

export const ACTIVITY_BODIES = {
  zh: ['客户对方案整体满意，需要进一步确认预算。', '约定下周再次沟通。', '已发送相关资料，等待回复。', '需要技术团队支持。'],
  en: ['The customer likes the proposal; the budget needs confirming.', 'Agreed to talk again next week.', 'Materials sent; waiting for a reply.', 'Needs help from the technical team.'],
} as const;

/** The people who own sample records. They have no password, so nobody can sign in as them. */
export const DEMO_TEAMS = ['华东销售 East China Sales', 'North America Sales', '客户服务 Customer Care'] as const;

export const DEMO_USERS: readonly { email: string; name: string; roles: string[]; team: number; locale: 'zh-CN' | 'en' }[] = [
  { email: 'wang.fang@demo.example.com', name: '王芳', roles: ['manager', 'sales'], team: 0, locale: 'zh-CN' },
  { email: 'li.qiang@demo.example.com', name: '李强', roles: ['sales'], team: 0, locale: 'zh-CN' },
  { email: 'zhang.min@demo.example.com', name: '张敏', roles: ['sales'], team: 0, locale: 'zh-CN' },
  { email: 'olivia.brown@demo.example.com', name: 'Olivia Brown', roles: ['manager', 'sales'], team: 1, locale: 'en' },
  { email: 'james.miller@demo.example.com', name: 'James Miller', roles: ['sales'], team: 1, locale: 'en' },
  { email: 'chen.jing@demo.example.com', name: '陈静', roles: ['support'], team: 2, locale: 'zh-CN' },
  { email: 'sophia.davis@demo.example.com', name: 'Sophia Davis', roles: ['support'], team: 2, locale: 'en' },
  { email: 'liu.yang@demo.example.com', name: '刘洋', roles: ['manager', 'support'], team: 2, locale: 'zh-CN' },
];
