import { createHmac } from 'node:crypto';

/**
 * The fingerprint every export file carries, so that a file found later (on a file share, in a
 * mail, on a paste site) can be traced to the export it came from: who made it and when. Pure: no
 * database and no clock; the keys come from export-mark-keys.ts.
 *
 * Keys. The mark key is HMAC(blind-index root key, "rampart|export-mark|v1"); each export's secret
 * is HMAC(mark key, "export|" + export id). Neither is stored anywhere: both are derived again
 * when a file is traced. After a rotation of the blind-index root key, tracing tries every root
 * version still stored (retired ones stay in `index_keys`).
 *
 * Two independent marks, so that either alone can name the export:
 *
 * 1. Canary rows. A few synthetic rows per export (two at least, about one per 500 rows, at most
 *    twenty), derived from the export's secret: invented people and companies with names, e-mail
 *    addresses under the reserved example.* domains, telephone numbers in the North American range
 *    kept for fiction (555-0100 to 555-0199; no range is kept so in China, so Chinese names get one
 *    too rather than risk a real person's number), addresses, deal names and ticket subjects, ids
 *    shaped like record ids and dated before the export. Their other cells are copied from a
 *    neighbouring real row, so they look like their neighbours. They correspond to no record. Any
 *    file row holding two distinctive values of one canary, in any columns, ties the file to that
 *    export beyond reasonable doubt. Contacts, leads and companies have several such values;
 *    deals, tickets and activities have the id and the name or subject only, so their canaries
 *    need the id column (the keyed mark does not). A row that matches a canary but holds another
 *    record's id is that canary imported back as a record, and counts for nothing.
 *
 * 2. A keyed mark on real rows. One text cell per row (a different column from row to row, chosen
 *    by the secret) ends in nine invisible characters (zero-width space, zero-width non-joiner,
 *    word joiner, invisible separator) spelling one of four chunks of a 64-bit payload: the
 *    export's number masked by the mark key, and a 32-bit check keyed by the export's secret.
 *    Each run of four rows carries the four chunks in a keyed order, so any handful of surviving
 *    rows (a stretch, or every n-th) holds the whole payload almost surely; a copied or edited
 *    cell only adds a chunk that matches nothing.
 *
 * What survives: deleting rows, deleting or reordering columns, sorting, editing other cells,
 * re-saving through a spreadsheet or CSV library that keeps UTF-8 text, converting CSV to JSON
 * and back. What does not: a person who knows about the marks can strip every invisible character
 * and drop rows that correspond to no record they know of; saving as a legacy non-Unicode CSV
 * turns the invisible characters into question marks; retyping every value loses the keyed mark
 * (the canaries' values survive retyping). The marks answer careless handling and ordinary
 * editing, not a determined, informed thief; the audit log of who exported what remains the
 * primary record.
 */

// ---- Keys --------------------------------------------------------------------------------------

/** The mark key of one blind-index root key version. */
export function markKeyOf(indexRoot: Buffer): Buffer {
  return createHmac('sha256', indexRoot).update('rampart|export-mark|v1').digest();
}

/** The per-export secret: what canaries and the check are derived from. Never stored. */
export function exportSecret(markKey: Buffer, exportId: string): Buffer {
  return createHmac('sha256', markKey).update(`export|${exportId}`).digest();
}

/** Draws whole numbers from an HMAC stream: the same key and label always give the same draws. */
class KeyedDraws {
  private block = Buffer.alloc(0);
  private at = 0;
  private counter = 0;

  constructor(
    private readonly key: Buffer,
    private readonly label: string,
  ) {}

  /** A whole number in [0, n), n at most 2^32. */
  below(n: number): number {
    return Math.floor((this.uint32() / 2 ** 32) * n);
  }

  uint32(): number {
    if (this.at + 4 > this.block.length) {
      this.block = createHmac('sha256', this.key).update(`${this.label}|${this.counter}`).digest();
      this.counter += 1;
      this.at = 0;
    }
    const value = this.block.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.below(list.length)]!;
  }
}

// ---- The keyed mark on real rows ---------------------------------------------------------------

/** The invisible characters a mark is spelled in, one base-4 digit each. */
const MARK_DIGITS = ['\u200B', '\u200C', '\u2060', '\u2063'] as const;
const DIGIT_VALUE = new Map<string, number>(MARK_DIGITS.map((c, i) => [c, i]));
/** One chunk index digit and eight digits of data (16 bits). */
export const MARK_LENGTH = 9;
export const MARK_CHUNKS = 4;
/** Nine or more of the mark's characters in a row: no ordinary text holds such a run. */
const MARK_RUN = /[\u200B\u200C\u2060\u2063]{9,}/g;

/** The four 16-bit chunks of an export's payload: the masked number (two), then the check (two). */
export function markChunks(markKey: Buffer, exportId: string, exportNo: number): number[] {
  const mask = createHmac('sha256', markKey).update('number-mask').digest().readUInt32BE(0);
  const masked = (exportNo ^ mask) >>> 0;
  const check = createHmac('sha256', exportSecret(markKey, exportId)).update(`check|${exportNo}`).digest().readUInt32BE(0);
  return [masked >>> 16, masked & 0xffff, check >>> 16, check & 0xffff];
}

/** The invisible text of one chunk. */
export function spellChunk(index: number, value: number): string {
  let text = MARK_DIGITS[index & 3]!;
  for (let shift = 14; shift >= 0; shift -= 2) text += MARK_DIGITS[(value >>> shift) & 3]!;
  return text;
}

/** Every chunk spelled in a cell, wherever in the cell it sits. */
export function readChunks(text: string): { index: number; value: number }[] {
  const found: { index: number; value: number }[] = [];
  for (const run of text.match(MARK_RUN) ?? []) {
    // A cell pasted twice holds two marks back to back; a run of another length is not a mark.
    if (run.length % MARK_LENGTH !== 0) continue;
    for (let at = 0; at < run.length; at += MARK_LENGTH) {
      const digits = [...run.slice(at, at + MARK_LENGTH)].map((c) => DIGIT_VALUE.get(c)!);
      let value = 0;
      for (const d of digits.slice(1)) value = (value << 2) | d;
      found.push({ index: digits[0]!, value });
    }
  }
  return found;
}

/** A value with any mark taken out: what an import stores, and what a trace compares. */
export function stripMarks(text: string): string {
  return text.includes('\u200B') || text.includes('\u200C') || text.includes('\u2060') || text.includes('\u2063') ? text.replace(MARK_RUN, '') : text;
}

/**
 * Marks the rows of one export as they are written: row by row, which chunk it carries and in
 * which of its text cells.
 */
export class RowMarker {
  private readonly chunks: string[];
  private readonly cells: KeyedDraws;
  private ordinal = 0;
  private order: number[] = [0, 1, 2, 3];

  constructor(markKey: Buffer, exportId: string, exportNo: number) {
    this.chunks = markChunks(markKey, exportId, exportNo).map((value, index) => spellChunk(index, value));
    this.cells = new KeyedDraws(exportSecret(markKey, exportId), 'cells');
  }

  /**
   * The mark of the next row and which of its `eligible` text cells (an index into them) carries
   * it; null when the row has no text cell to carry one.
   */
  next(eligible: number): { cell: number; mark: string } | null {
    // Every four rows carry the four chunks, in an order drawn afresh for each four: a stretch of
    // rows holds the whole payload, and so does every n-th row (which a fixed order would defeat).
    if (this.ordinal % MARK_CHUNKS === 0) this.order = this.shuffle([0, 1, 2, 3]);
    const chunk = this.chunks[this.order[this.ordinal % MARK_CHUNKS]!]!;
    this.ordinal += 1;
    if (eligible <= 0) return null;
    return { cell: this.cells.below(eligible), mark: chunk };
  }

  private shuffle(items: number[]): number[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.cells.below(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

// ---- Canary rows -------------------------------------------------------------------------------

/** Most canary rows one export holds. */
export const MAX_CANARIES = 20;
const ROWS_PER_CANARY = 500;

/** How many canaries an export of `rows` real rows holds: none for an empty one, else 2 to 20. */
export function canaryCount(rows: number): number {
  if (rows <= 0) return 0;
  return Math.min(MAX_CANARIES, Math.max(2, Math.round(rows / ROWS_PER_CANARY)));
}

/** Real rows an export holds back before writing, to place the canaries of a small export among them. */
export const CANARY_WINDOW = 1_000;

/**
 * Where the canaries go: canary k is written just before the real row at `positions[k]`, taking
 * its ordinary cells from that row. With `rows` known (an export of at most CANARY_WINDOW rows)
 * they are spread over the rows; otherwise one falls in each stretch of 500 rows, up to twenty,
 * and those past the last row are not written.
 */
export function canaryPositions(secret: Buffer, rows: number | null): number[] {
  const draws = new KeyedDraws(secret, 'positions');
  if (rows !== null) return Array.from({ length: canaryCount(rows) }, () => draws.below(rows)).sort((a, b) => a - b);
  return Array.from({ length: MAX_CANARIES }, (_, k) => k * ROWS_PER_CANARY + draws.below(ROWS_PER_CANARY));
}

/**
 * The most canaries an export of `rows` real rows may hold: a large export places one per stretch
 * of 500 rows, so it may hold one more than canaryCount says.
 */
export function canariesAtMost(rows: number): number {
  if (rows <= 0) return 0;
  return Math.min(MAX_CANARIES, Math.max(canaryCount(rows), rows > CANARY_WINDOW ? Math.ceil(rows / ROWS_PER_CANARY) : 0));
}

/** What a canary needs to know of a column: its header key and its field type. */
export interface CanaryColumn {
  key: string;
  type: string;
}

/** An invented record: its distinctive values, and the tokens a trace looks for. */
export interface Canary {
  readonly index: number;
  readonly id: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string;
  readonly phone: string;
  readonly company: string;
  /** What a deal is called, and the subject of a ticket or activity: a company's name or a topic with a reference number. */
  readonly dealName: string;
  readonly subject: string;
  readonly domain: string;
  readonly address: string;
  readonly birthday: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /**
   * The value of one column of the record type `type`, or `undefined` where the canary takes its
   * neighbour's value (owner, team, status and the like, which would look odd invented).
   */
  valueFor(type: string, column: CanaryColumn): unknown;
}

/**
 * The canary rows of an export, by index. The secret decides every value; the export id's own
 * time (a UUIDv7 carries it) dates them, so a canary looks created before the export was made.
 */
export function canaryOf(secret: Buffer, exportId: string, index: number): Canary {
  const draws = new KeyedDraws(secret, `canary|${index}`);
  const zh = draws.below(100) < 50;
  const [givenZh, givenPinyin] = draws.pick(ZH_GIVEN);
  const [surnameZh, surnamePinyin] = draws.pick(ZH_SURNAMES);
  const enFirst = draws.pick(EN_FIRST);
  const enLast = draws.pick(EN_LAST);
  const firstName = zh ? givenZh : enFirst;
  const lastName = zh ? surnameZh : enLast;
  const mailFirst = zh ? givenPinyin : enFirst.toLowerCase();
  const mailLast = zh ? surnamePinyin : enLast.toLowerCase();
  const mailNumber = 10 + draws.below(9_990);
  const mailDomain = draws.pick(MAIL_DOMAINS);
  const email = `${mailFirst}.${mailLast}${mailNumber}@${mailDomain}`;
  const phone = phoneFrom(draws);
  const [coreZh, corePinyin] = draws.pick(ZH_COMPANY_CORES);
  const [placeZh, placePinyin] = draws.pick(ZH_PLACES);
  const coreEn = draws.pick(EN_COMPANY_CORES);
  const placeEn = draws.pick(EN_PLACES);
  const enSuffix = draws.pick(EN_COMPANY_SUFFIXES);
  const zhSuffix = draws.pick(ZH_COMPANY_SUFFIXES);
  const company = zh ? `${placeZh}${coreZh}${zhSuffix}` : `${placeEn} ${coreEn} ${enSuffix}`;
  const domain = `${zh ? `${placePinyin}${corePinyin}` : `${coreEn}-${placeEn}`.toLowerCase()}-${100 + draws.below(9_900)}.example.com`;
  const dealName = zh ? `${placeZh}${coreZh}${draws.pick(ZH_DEAL_WORDS)}` : `${coreEn} ${placeEn} ${draws.pick(EN_DEAL_WORDS)}`;
  const subject = `${zh ? draws.pick(ZH_SUBJECTS) : draws.pick(EN_SUBJECTS)} #${10_000 + draws.below(90_000)}`;
  const streetNo = 1 + draws.below(980);
  const address = zh ? `${draws.pick(ZH_STREETS)}${streetNo}号` : `${streetNo} ${draws.pick(EN_STREETS)}`;
  const exportedAt = timeOfId(exportId);
  const createdMs = exportedAt - DAY_MS * (2 + draws.below(540)) - draws.below(DAY_MS);
  const updatedMs = createdMs + Math.floor((exportedAt - DAY_MS - createdMs) * (draws.below(1000) / 1000));
  const birthMs = Date.UTC(1960 + draws.below(42), draws.below(12), 1 + draws.below(28));
  const id = idAt(createdMs, draws);
  const birthday = new Date(birthMs).toISOString().slice(0, 10);
  const createdAt = new Date(createdMs).toISOString();
  const updatedAt = new Date(updatedMs).toISOString();

  const canary: Canary = {
    index,
    id,
    firstName,
    lastName,
    email,
    phone,
    company,
    dealName,
    subject,
    domain,
    address,
    birthday,
    createdAt,
    updatedAt,
    valueFor(type, column) {
      switch (column.key) {
        case 'id':
          return id;
        case 'createdAt':
          return createdAt;
        case 'updatedAt':
          return updatedAt;
        case 'firstName':
          return firstName;
        case 'lastName':
          return lastName;
        case 'email':
          return email;
        case 'phone':
          return phone;
        case 'companyName':
          return company;
        case 'name':
          return type === 'companies' ? company : type === 'deals' ? dealName : undefined;
        case 'subject':
          return type === 'tickets' || type === 'activities' ? subject : undefined;
        case 'domain':
          return type === 'companies' ? domain : undefined;
        case 'website':
          return type === 'companies' ? `https://www.${domain}` : undefined;
        case 'address':
          return address;
        case 'birthday':
          return birthday;
        case 'idNumber':
          return null;
      }
      // Another address or number of the same invented person, one per column.
      if (column.type === 'email') return `${mailFirst}.${mailLast}${10 + new KeyedDraws(secret, `canary|${index}|${column.key}`).below(9_990)}@${mailDomain}`;
      if (column.type === 'phone') return phoneFrom(new KeyedDraws(secret, `canary|${index}|${column.key}`));
      // A neighbour's long text would be another person's story told twice.
      if (column.type === 'longtext') return null;
      return undefined;
    },
  };
  return canary;
}

/** One value a trace looks for in a file, with how much it says alone. */
export interface CanaryToken {
  /** The value as a trace compares it (see `comparable`). */
  text: string;
  /** What it is; a name counts only with its other half. */
  kind: 'id' | 'email' | 'phone' | 'company' | 'domain' | 'address' | 'subject' | 'firstName' | 'lastName';
}

/** The tokens of a canary for a record type and the e-mail and phone columns it may have. */
export function canaryTokens(canary: Canary, type: string, extraColumns: readonly CanaryColumn[] = []): CanaryToken[] {
  const tokens: CanaryToken[] = [
    { text: comparable(canary.id), kind: 'id' },
    { text: comparable(canary.email), kind: 'email' },
    { text: phoneDigits(canary.phone)!, kind: 'phone' },
    { text: comparable(canary.firstName), kind: 'firstName' },
    { text: comparable(canary.lastName), kind: 'lastName' },
  ];
  if (type === 'contacts' || type === 'companies') tokens.push({ text: comparable(canary.address), kind: 'address' });
  if (type === 'companies' || type === 'leads') tokens.push({ text: comparable(canary.company), kind: 'company' });
  if (type === 'deals') tokens.push({ text: comparable(canary.dealName), kind: 'company' });
  if (type === 'tickets' || type === 'activities') tokens.push({ text: comparable(canary.subject), kind: 'subject' });
  if (type === 'companies') tokens.push({ text: comparable(canary.domain), kind: 'domain' }, { text: comparable(`https://www.${canary.domain}`), kind: 'domain' });
  for (const column of extraColumns) {
    if (column.type !== 'email' && column.type !== 'phone') continue;
    const value = canary.valueFor(type, column);
    if (typeof value !== 'string') continue;
    tokens.push(column.type === 'email' ? { text: comparable(value), kind: 'email' } : { text: phoneDigits(value)!, kind: 'phone' });
  }
  return tokens;
}

/** How strongly a set of matched token kinds in one row ties it to a canary. */
export function canaryStrength(kinds: ReadonlySet<CanaryToken['kind']>): number {
  let strength = 0;
  for (const kind of kinds) if (kind !== 'firstName' && kind !== 'lastName') strength += 1;
  if (kinds.has('firstName') && kinds.has('lastName')) strength += 1;
  return strength;
}

/** A cell's text as compared: marks out, a formula guard off, Unicode-normalised, trimmed, lower case. */
export function comparable(text: string): string {
  let value = stripMarks(text).normalize('NFKC').trim();
  if (/^'[=+\-@]/.test(value)) value = value.slice(1);
  return value.toLowerCase();
}

/** The digits of a value that looks like a telephone number, else null. */
export function phoneDigits(text: string): string | null {
  if (!/^[\s\d+().\-/]+$/.test(text.trim())) return null;
  const digits = text.replace(/\D/g, '');
  return digits.length >= 7 ? digits : null;
}

const RECORD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function isRecordId(text: string): boolean {
  return RECORD_ID.test(stripMarks(text).trim());
}

const DAY_MS = 86_400_000;
/** When an export id was made; an id not of UUIDv7's shape dates from a fixed day instead. */
function timeOfId(id: string): number {
  const hex = id.replace(/-/g, '');
  const ms = /^[0-9a-f]{12}7/i.test(hex) ? parseInt(hex.slice(0, 12), 16) : NaN;
  return Number.isFinite(ms) && ms > DAY_MS * 1000 ? ms : Date.UTC(2026, 0, 1);
}

/** A UUIDv7 dated `ms`, its random bits drawn from the secret. */
function idAt(ms: number, draws: KeyedDraws): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(ms, 0, 6);
  for (let i = 6; i < 16; i += 2) bytes.writeUInt16BE(draws.below(65_536), i);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  // Ids made at the start of a millisecond have a small counter, as in src/shared/ids.ts.
  bytes[6] = bytes[6]! & 0xf3;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A number in the North American range set aside for fiction (555-0100 to 555-0199): it never rings anyone. */
function phoneFrom(draws: KeyedDraws): string {
  const line = String(draws.below(100)).padStart(2, '0');
  return `+1 ${draws.pick(AREA_CODES)}-555-01${line}`;
}

// The lists below are part of the format: canaries of old exports are derived from them again
// when a file is traced, so they are never reordered or changed, only ever replaced as a whole
// with a new version label in markKeyOf.

const EN_FIRST = [
  'James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan',
  'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Charles', 'Karen', 'Daniel', 'Nancy', 'Matthew', 'Lisa', 'Anthony', 'Betty', 'Mark', 'Sandra',
  'Steven', 'Ashley', 'Paul', 'Emily', 'Andrew', 'Donna', 'Joshua', 'Michelle', 'Kevin', 'Carol', 'Brian', 'Amanda', 'George', 'Melissa',
  'Timothy', 'Deborah', 'Ronald', 'Laura', 'Jason', 'Rebecca', 'Ryan', 'Sharon', 'Jacob', 'Cynthia', 'Gary', 'Kathleen', 'Nicholas', 'Helen',
] as const;

const EN_LAST = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez',
  'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark',
  'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Green',
  'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts', 'Turner', 'Phillips', 'Evans', 'Collins',
] as const;

const ZH_SURNAMES: readonly (readonly [string, string])[] = [
  ['王', 'wang'], ['李', 'li'], ['张', 'zhang'], ['刘', 'liu'], ['陈', 'chen'], ['杨', 'yang'], ['黄', 'huang'], ['赵', 'zhao'], ['吴', 'wu'],
  ['周', 'zhou'], ['徐', 'xu'], ['孙', 'sun'], ['马', 'ma'], ['朱', 'zhu'], ['胡', 'hu'], ['郭', 'guo'], ['何', 'he'], ['高', 'gao'], ['林', 'lin'],
  ['罗', 'luo'], ['郑', 'zheng'], ['梁', 'liang'], ['谢', 'xie'], ['宋', 'song'], ['唐', 'tang'], ['许', 'xu'], ['韩', 'han'], ['冯', 'feng'],
  ['邓', 'deng'], ['曹', 'cao'], ['彭', 'peng'], ['曾', 'zeng'], ['萧', 'xiao'], ['田', 'tian'], ['董', 'dong'], ['潘', 'pan'],
];

const ZH_GIVEN: readonly (readonly [string, string])[] = [
  ['伟', 'wei'], ['芳', 'fang'], ['娜', 'na'], ['敏', 'min'], ['静', 'jing'], ['丽', 'li'], ['强', 'qiang'], ['磊', 'lei'], ['军', 'jun'],
  ['洋', 'yang'], ['勇', 'yong'], ['艳', 'yan'], ['杰', 'jie'], ['娟', 'juan'], ['涛', 'tao'], ['明', 'ming'], ['超', 'chao'], ['秀英', 'xiuying'],
  ['霞', 'xia'], ['平', 'ping'], ['刚', 'gang'], ['桂英', 'guiying'], ['建华', 'jianhua'], ['文', 'wen'], ['华', 'hua'], ['红', 'hong'],
  ['晓东', 'xiaodong'], ['志强', 'zhiqiang'], ['海燕', 'haiyan'], ['俊杰', 'junjie'], ['雪梅', 'xuemei'], ['子涵', 'zihan'], ['浩然', 'haoran'],
  ['欣怡', 'xinyi'], ['宇轩', 'yuxuan'], ['梓萱', 'zixuan'], ['嘉怡', 'jiayi'], ['思远', 'siyuan'], ['佳琪', 'jiaqi'], ['一鸣', 'yiming'],
];

const MAIL_DOMAINS = ['example.com', 'mail.example.com', 'example.net', 'example.org', 'corp.example.com', 'post.example.net'] as const;

const AREA_CODES = ['212', '213', '303', '305', '312', '404', '415', '503', '512', '602', '617', '646', '702', '713', '718', '773', '801', '818', '917', '206'] as const;

const ZH_COMPANY_CORES: readonly (readonly [string, string])[] = [
  ['华信', 'huaxin'], ['恒通', 'hengtong'], ['瑞达', 'ruida'], ['博远', 'boyuan'], ['金桥', 'jinqiao'], ['天成', 'tiancheng'], ['宏图', 'hongtu'],
  ['启明', 'qiming'], ['安泰', 'antai'], ['鼎盛', 'dingsheng'], ['新元', 'xinyuan'], ['海纳', 'haina'], ['中科', 'zhongke'], ['云帆', 'yunfan'],
  ['北辰', 'beichen'], ['联创', 'lianchuang'], ['万达信', 'wandaxin'], ['正和', 'zhenghe'], ['嘉禾', 'jiahe'], ['远景', 'yuanjing'],
];
const ZH_PLACES: readonly (readonly [string, string])[] = [
  ['上海', 'shanghai'], ['北京', 'beijing'], ['深圳', 'shenzhen'], ['杭州', 'hangzhou'], ['苏州', 'suzhou'], ['南京', 'nanjing'], ['成都', 'chengdu'],
  ['武汉', 'wuhan'], ['广州', 'guangzhou'], ['天津', 'tianjin'], ['西安', 'xian'], ['宁波', 'ningbo'], ['青岛', 'qingdao'], ['厦门', 'xiamen'],
];
const EN_COMPANY_CORES = [
  'Summit', 'Harbor', 'Crestline', 'Bluewater', 'Northgate', 'Ironwood', 'Silverline', 'Keystone', 'Redwood', 'Meridian', 'Brightpath', 'Cobalt',
  'Evergreen', 'Foxhollow', 'Greystone', 'Highmark', 'Lodestar', 'Oakridge', 'Pinnacle', 'Westbrook',
] as const;
const EN_PLACES = ['Pacific', 'Atlantic', 'Lakeside', 'Granite', 'Prairie', 'Bayview', 'Coastal', 'Midland', 'Riverside', 'Canyon', 'Hudson', 'Sierra'] as const;

const EN_DEAL_WORDS = ['Renewal', 'Expansion', 'Pilot', 'Annual Licence', 'Upgrade', 'Framework Agreement', 'Rollout', 'Support Contract'] as const;
const ZH_DEAL_WORDS = ['年度续约', '扩容项目', '试点项目', '年度采购', '系统升级', '框架协议', '二期项目', '维保合同'] as const;
const EN_SUBJECTS = ['Invoice query', 'Delivery delay', 'Login problem', 'Contract question', 'Follow-up call', 'Quote request', 'Site visit', 'Price review'] as const;
const ZH_SUBJECTS = ['发票问题', '发货延迟', '无法登录', '合同咨询', '电话回访', '报价申请', '上门拜访', '价格复核'] as const;
const EN_COMPANY_SUFFIXES = ['Logistics', 'Systems', 'Partners', 'Holdings', 'Industries', 'Solutions', 'Trading Co.', 'Group', 'Technologies', 'Supply'] as const;
const ZH_COMPANY_SUFFIXES = ['科技有限公司', '贸易有限公司', '信息技术有限公司', '实业有限公司', '物流有限公司', '电子有限公司', '咨询有限公司'] as const;

const EN_STREETS = [
  'Maple Avenue', 'Oak Street', 'Cedar Lane', 'Pine Road', 'Elm Street', 'Washington Avenue', 'Lake Drive', 'Hillcrest Road', 'Park Place', 'River Road',
  'Sunset Boulevard', 'Highland Avenue', 'Church Street', 'Mill Road', 'Spring Street', 'Forest Drive', 'Meadow Lane', 'Bridge Street', 'Valley Road', 'Franklin Street',
] as const;
const ZH_STREETS = [
  '人民路', '中山路', '解放路', '建设路', '和平路', '长江路', '南京路', '淮海路', '延安路', '湖滨路', '文化路', '新华路', '胜利路', '花园路', '滨江大道',
] as const;

// ---- Writing a marked export -------------------------------------------------------------------

/** The field types whose cells may carry the invisible mark: free text, never an address, number or id. */
const MARKABLE_TYPES = new Set(['text', 'longtext']);

/**
 * The fingerprint of one export as its rows are written: each real row is marked, and canary rows
 * are slipped in among them. Rows are held back until CANARY_WINDOW have come (or the export
 * ends), so a small export gets its canaries spread over it rather than at its end.
 */
export class ExportMarker {
  private readonly secret: Buffer;
  private readonly rowMarker: RowMarker;
  private readonly markable: boolean[];
  private held: unknown[][] | null = [];
  private plan: number[] = [];
  private nextCanary = 0;
  private seen = 0;

  constructor(
    markKey: Buffer,
    private readonly exportId: string,
    exportNo: number,
    private readonly type: string,
    private readonly columns: readonly CanaryColumn[],
  ) {
    this.secret = exportSecret(markKey, exportId);
    this.rowMarker = new RowMarker(markKey, exportId, exportNo);
    this.markable = columns.map((c) => MARKABLE_TYPES.has(c.type));
  }

  /** Takes the next real row's values, one per column; answers the rows to write now, marked. */
  add(values: unknown[]): unknown[][] {
    const at = this.seen;
    this.seen += 1;
    if (this.held === null) return this.release(values, at);
    this.held.push(values);
    if (this.held.length < CANARY_WINDOW) return [];
    const held = this.held;
    this.held = null;
    this.plan = canaryPositions(this.secret, null);
    return held.flatMap((row, i) => this.release(row, i));
  }

  /** The rows still held back, once the last real row has been added. */
  finish(): unknown[][] {
    if (this.held === null) return [];
    const held = this.held;
    this.held = null;
    this.plan = canaryPositions(this.secret, held.length);
    return held.flatMap((row, i) => this.release(row, i));
  }

  private release(values: unknown[], at: number): unknown[][] {
    const out: unknown[][] = [];
    while (this.nextCanary < this.plan.length && this.plan[this.nextCanary]! <= at) {
      out.push(this.mark(this.canaryRow(this.nextCanary, values)));
      this.nextCanary += 1;
    }
    out.push(this.mark([...values]));
    return out;
  }

  /** A canary row: its invented values, and its neighbour's for the columns it does not invent. */
  private canaryRow(index: number, neighbour: unknown[]): unknown[] {
    const canary = canaryOf(this.secret, this.exportId, index);
    return this.columns.map((column, i) => {
      const value = canary.valueFor(this.type, column);
      return value === undefined ? neighbour[i] : value;
    });
  }

  /** Appends the row's chunk of the mark to one of its text cells, any older mark in them taken out first. */
  private mark(values: unknown[]): unknown[] {
    const eligible: number[] = [];
    values.forEach((value, i) => {
      if (typeof value !== 'string') return;
      const clean = stripMarks(value);
      values[i] = clean;
      if (this.markable[i] && clean.trim() !== '') eligible.push(i);
    });
    const placed = this.rowMarker.next(eligible.length);
    if (placed) {
      const at = eligible[placed.cell]!;
      values[at] = `${values[at] as string}${placed.mark}`;
    }
    return values;
  }
}

// ---- Reading a file back -----------------------------------------------------------------------

export type TraceConfidence = 'certain' | 'likely';

export interface TraceEvidence {
  /** File rows that are this export's canaries, matched on two or more distinctive values. */
  canaryRows: number;
  /** File rows holding one distinctive value (id, e-mail address, web domain) of one of its canaries. */
  canaryHints: number;
  /** File rows whose mark is this export's. */
  markedRows: number;
  /** Which of the mark's four chunks were read (0 to 3). */
  markChunks: number[];
}

export interface TraceVerdict {
  confidence: TraceConfidence;
  evidence: TraceEvidence;
}

/** One export a file may have come from, as the index needs it. */
export interface TraceSuspect {
  exportId: string;
  exportNo: number;
  type: string;
  /** Rows the export wrote; null when not known (the export did not finish), and all canaries are tried. */
  rowsWritten: number | null;
  /** E-mail and phone columns the export's type has beyond the built-in ones (custom fields). */
  extraColumns?: readonly CanaryColumn[];
}

interface IndexedCanary {
  type: string;
  /** Comparable forms, to look for in a row. */
  first: string;
  last: string;
  id: string;
  /** As written, to look up among live records. */
  email: string;
  domain: string;
}

interface Hit {
  suspect: number;
  canary: number;
  kind: CanaryToken['kind'];
}

interface Tally {
  canaryRows: number;
  canaryHints: number;
  markedRows: number;
  chunks: Set<number>;
  /** Chunks (other than the shared first one) that no other export's mark has. */
  ownChunks: Set<number>;
}

/** Kinds of canary values distinctive enough to point at an export on their own. */
const TELLING_KINDS = new Set<CanaryToken['kind']>(['id', 'email', 'domain']);

/**
 * Everything the exports under suspicion would have put in a file, indexed so that a file is read
 * once, row by row: the chunks of each export's mark, and the distinctive values of its canaries.
 *
 * Weighing: certain is a canary row matched on two distinctive values, or two keyed chunks of the
 * mark (32 bits: the check, or the masked number with half the check); likely is one distinctive
 * canary value, or one chunk that only this export's mark has. Chunk 0 (the high half of the
 * masked number) is the same for nearly every export and counts for nothing.
 */
export class TraceIndex {
  private readonly chunkOwners = new Map<string, Set<number>>();
  private readonly tokens = new Map<string, Hit[]>();
  private readonly canaries: IndexedCanary[][] = [];
  /** Rows matched per canary ("suspect:canary"): on two distinctive values (certain) or one telling value. */
  private readonly canaryHits = new Map<string, { certain: number; hints: number }>();
  private readonly tallies = new Map<number, Tally>();
  /** Rows read. */
  rows = 0;
  /** Rows carrying any export mark, known or not. */
  markedRows = 0;

  /** Adds an export under every mark key it may have been made with; answers its number in the index. */
  add(suspect: TraceSuspect, markKeys: readonly Buffer[]): number {
    const at = this.canaries.push([]) - 1;
    for (const key of markKeys) {
      markChunks(key, suspect.exportId, suspect.exportNo).forEach((value, index) => {
        const owners = this.chunkOwners.get(`${index}:${value}`) ?? new Set<number>();
        owners.add(at);
        this.chunkOwners.set(`${index}:${value}`, owners);
      });
      const secret = exportSecret(key, suspect.exportId);
      const count = suspect.rowsWritten === null ? MAX_CANARIES : canariesAtMost(suspect.rowsWritten);
      for (let k = 0; k < count; k++) {
        const canary = canaryOf(secret, suspect.exportId, k);
        const canaryNo =
          this.canaries[at]!.push({ type: suspect.type, first: comparable(canary.firstName), last: comparable(canary.lastName), id: comparable(canary.id), email: canary.email, domain: canary.domain }) - 1;
        for (const token of canaryTokens(canary, suspect.type, suspect.extraColumns ?? [])) {
          // Names are common: they are checked only beside a distinctive value of the same canary.
          if (token.kind === 'firstName' || token.kind === 'lastName') continue;
          const hits = this.tokens.get(token.text) ?? [];
          hits.push({ suspect: at, canary: canaryNo, kind: token.kind });
          this.tokens.set(token.text, hits);
        }
      }
    }
    return at;
  }

  /**
   * Reads one row of the file: its cells in any order, any of them missing. `id` is the row's
   * value in the column named id, when the file has one: a row matching a canary but holding
   * another record's id is a record made by importing that canary back, not the canary itself,
   * and would otherwise tie every later export of it to the first.
   */
  scan(cells: readonly string[], id?: string): void {
    this.rows += 1;
    const chunks = cells.flatMap(readChunks);
    if (chunks.length > 0) this.markedRows += 1;
    const markedBy = new Set<number>();
    for (const { index, value } of chunks) {
      const owners = this.chunkOwners.get(`${index}:${value}`);
      if (!owners) continue;
      for (const suspect of owners) {
        const t = this.tally(suspect);
        t.chunks.add(index);
        if (owners.size === 1 && index > 0) t.ownChunks.add(index);
        markedBy.add(suspect);
      }
    }
    for (const suspect of markedBy) this.tally(suspect).markedRows += 1;

    const values = new Set<string>();
    for (const cell of cells) {
      if (cell.trim() === '') continue;
      values.add(comparable(cell));
      const digits = phoneDigits(stripMarks(cell));
      if (digits) values.add(digits);
    }
    const found = new Map<string, Set<CanaryToken['kind']>>();
    for (const value of values) {
      for (const hit of this.tokens.get(value) ?? []) {
        const key = `${hit.suspect}:${hit.canary}`;
        const kinds = found.get(key) ?? new Set<CanaryToken['kind']>();
        kinds.add(hit.kind);
        found.set(key, kinds);
      }
    }
    for (const [key, kinds] of found) {
      const [suspect, canary] = key.split(':').map(Number) as [number, number];
      const known = this.canaries[suspect]![canary]!;
      if (id !== undefined && isRecordId(id) && comparable(id) !== known.id) continue;
      if (values.has(known.first)) kinds.add('firstName');
      if (values.has(known.last)) kinds.add('lastName');
      const certain = canaryStrength(kinds) >= 2;
      if (!certain && ![...kinds].some((k) => TELLING_KINDS.has(k))) continue;
      const hits = this.canaryHits.get(key) ?? { certain: 0, hints: 0 };
      if (certain) hits.certain += 1;
      else hits.hints += 1;
      this.canaryHits.set(key, hits);
      this.tally(suspect);
    }
  }

  /**
   * The canaries the file matched, with the values a caller can look up: a canary whose e-mail
   * address or domain a live record holds was imported back, and its matches can be discounted
   * (see `verdicts`).
   */
  matchedCanaries(): { key: string; type: string; email: string; domain: string }[] {
    return [...this.canaryHits.keys()].map((key) => {
      const [suspect, canary] = key.split(':').map(Number) as [number, number];
      const known = this.canaries[suspect]![canary]!;
      return { key, type: known.type, email: known.email, domain: known.domain };
    });
  }

  /**
   * What the file says of each export it points at, by the number `add` answered; canaries named
   * in `discounted` (keys from `matchedCanaries`) count for nothing.
   */
  verdicts(discounted: ReadonlySet<string> = new Set()): Map<number, TraceVerdict> {
    for (const t of this.tallies.values()) {
      t.canaryRows = 0;
      t.canaryHints = 0;
    }
    // A row matching two canaries of one export counts once for each; such rows do not occur by chance.
    for (const [key, hits] of this.canaryHits) {
      if (discounted.has(key)) continue;
      const t = this.tally(Number(key.split(':')[0]));
      t.canaryRows += hits.certain;
      t.canaryHints += hits.hints;
    }
    const verdicts = new Map<number, TraceVerdict>();
    for (const [suspect, t] of this.tallies) {
      const keyedChunks = [1, 2, 3].filter((i) => t.chunks.has(i)).length;
      const certain = t.canaryRows > 0 || keyedChunks >= 2;
      const likely = t.canaryHints > 0 || t.ownChunks.size > 0;
      if (!certain && !likely) continue;
      verdicts.set(suspect, {
        confidence: certain ? 'certain' : 'likely',
        evidence: { canaryRows: t.canaryRows, canaryHints: t.canaryHints, markedRows: t.markedRows, markChunks: [...t.chunks].sort((a, b) => a - b) },
      });
    }
    return verdicts;
  }

  private tally(suspect: number): Tally {
    let t = this.tallies.get(suspect);
    if (!t) {
      t = { canaryRows: 0, canaryHints: 0, markedRows: 0, chunks: new Set(), ownChunks: new Set() };
      this.tallies.set(suspect, t);
    }
    return t;
  }
}
