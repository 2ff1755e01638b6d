// Loaded with `node --import tsx --import ./bench/without-audit/register.mjs`: the same Rampart,
// with the audit trail module swapped for one that writes nothing, so a benchmark can measure
// exactly what auditing costs. Nothing outside bench/ loads this.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
