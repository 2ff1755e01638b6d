/** How much sample data `rampart demo` writes, by record type, in the order it is written. */
export const DEMO_STAGES = ['companies', 'contacts', 'deals', 'tickets', 'activities'] as const;
export type DemoStage = (typeof DEMO_STAGES)[number];
export type DemoSizes = Record<DemoStage, number>;

export const DEFAULT_DEMO_SIZES: Readonly<DemoSizes> = { companies: 1_000, contacts: 10_000, deals: 3_000, activities: 20_000, tickets: 2_000 };
export const MAX_DEMO_SIZE = 10_000_000;
