import { main } from '../src/audit/standalone-verifier.js';

process.exitCode = await main(process.argv.slice(2));
