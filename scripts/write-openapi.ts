import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderOpenApiDocument } from '../src/http/openapi.js';

// The document is committed so that API changes show up in review; test/openapi.test.ts fails
// when it is out of date.
const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'openapi.json');
const document = await renderOpenApiDocument();
const previous = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
if (previous === document) {
  console.log(`openapi.json is up to date`);
} else {
  fs.writeFileSync(target, document);
  console.log(`wrote ${path.relative(process.cwd(), target) || target}`);
}
