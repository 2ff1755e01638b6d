import { randomInt } from 'node:crypto';
import type { RecordInput } from '../../data/record-store.js';
import { LIFECYCLE_STAGES } from '../contacts/contacts.fields.js';
import { Dice, INDUSTRIES, SOURCES, buildPools, companyName, type DemoPools } from '../demo/demo.data.js';

/**
 * Decoy records made of the same material as the sample data: names, places and phrases drawn
 * from faker in Chinese and English, in the same proportions and shapes, so a decoy reads like any
 * other record of its type. Nothing in a decoy marks it: no field, tag or pattern of its own.
 * Email addresses stay under example.com, which no one owns, so a decoy can never name or reach a
 * real mailbox; a company's own domain is used only when it is one of those.
 */

/** Where a decoy sits: its owner and team, as real records of the type are spread. */
export interface Placement {
  ownerId: string | null;
  teamId: string | null;
}

/** A company a decoy contact may work at, and its web domain when it has one. */
export interface Employer {
  id: string;
  domain: string | null;
}

export class DecoyMaker {
  private readonly dice: Dice;
  private readonly pools: DemoPools;

  /** A fresh seed each time: two plantings never produce the same people. */
  constructor(seed: number = randomInt(1, 2 ** 31 - 1)) {
    this.dice = new Dice(seed);
    this.pools = buildPools(seed);
  }

  company(placement: Placement): { input: RecordInput; label: string } {
    const { dice } = this;
    const zh = dice.chance(0.55);
    const p = zh ? this.pools.zh : this.pools.en;
    const lang = zh ? 'zh' : 'en';
    const city = dice.pick(p.cities);
    const name = companyName(zh);
    const slug = zh ? 'cn' : name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 30) || 'co';
    const domain = `${slug}-${dice.int(2, 9_999)}.example.com`;
    const input: RecordInput = {
      ...placed(placement),
      name,
      domain,
      website: `https://www.${domain}`,
      industry: dice.pick(INDUSTRIES[lang]),
      employees: Math.round(Math.exp(dice.next() * Math.log(20_000))) + 4,
      phone: dice.pick(p.phones),
      address: dice.pick(p.streets),
      city,
      country: p.country,
      description: dice.pick(p.sentences),
    };
    return { input, label: name };
  }

  contact(placement: Placement, employer: Employer | null): { input: RecordInput; label: string } {
    const { dice } = this;
    const zh = dice.chance(0.55);
    const p = zh ? this.pools.zh : this.pools.en;
    const lang = zh ? 'zh' : 'en';
    const firstName = dice.pick(p.firstNames);
    const lastName = dice.pick(p.lastNames);
    // Chinese names have no letters to build an address from; a numbered mailbox stands in, as
    // in the sample data.
    const local = zh ? `user${dice.int(2, 99_999)}` : `${mailboxPart(firstName)}.${mailboxPart(lastName)}${dice.chance(0.5) ? `.${dice.int(2, 99_999)}` : ''}`;
    const domain = employer?.domain && isReservedDomain(employer.domain) ? employer.domain : 'mail.example.com';
    const input: RecordInput = {
      ...placed(placement),
      firstName,
      lastName,
      email: `${local}@${domain}`,
      phone: dice.pick(p.phones),
      jobTitle: dice.pick(p.jobTitles),
      city: dice.pick(p.cities),
      country: p.country,
      source: dice.pick(SOURCES[lang]),
      lifecycleStage: dice.weighted(LIFECYCLE.filter(([stage]) => (LIFECYCLE_STAGES as readonly string[]).includes(stage))),
    };
    if (employer) input.companyId = employer.id;
    if (dice.chance(0.3)) input.mobile = dice.pick(p.phones);
    if (dice.chance(0.2)) input.address = dice.pick(p.streets);
    if (dice.chance(0.15)) input.birthday = `${dice.int(1960, 2000)}-${pad(dice.int(1, 12))}-${pad(dice.int(1, 28))}`;
    return { input, label: personLabel(firstName, lastName) };
  }

  /** Picks by weight, as the records of the type are spread. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    return this.dice.weighted(choices);
  }

  chance(p: number): boolean {
    return this.dice.chance(p);
  }

  /**
   * A time from `from` to `to` (milliseconds, both included), any millisecond as likely. Drawn from
   * the system's generator: the seeded one has too few steps to reach every millisecond of years.
   */
  between(from: number, to: number): number {
    return to <= from ? from : randomInt(from, to + 1);
  }
}

const LIFECYCLE = [['subscriber', 1], ['lead', 4], ['opportunity', 2], ['customer', 3], ['evangelist', 0.5], ['other', 0.5]] as const;

/** A person's name as lists show it: family name first and no space in Chinese. */
export function personLabel(firstName: string, lastName: string): string {
  const cjk = /^[\u3400-\u9fff]+$/;
  if (cjk.test(firstName) && cjk.test(lastName)) return `${lastName}${firstName}`;
  return [firstName, lastName].filter(Boolean).join(' ');
}

function placed(placement: Placement): RecordInput {
  return { ownerId: placement.ownerId, teamId: placement.teamId };
}

function mailboxPart(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9.]+/g, '') || 'mail';
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Domains reserved for examples (RFC 2606): nobody can receive mail there. */
function isReservedDomain(domain: string): boolean {
  return /(^|\.)example\.(com|org|net)$/i.test(domain) || /\.(example|test|invalid)$/i.test(domain);
}
