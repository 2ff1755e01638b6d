const STUB = new URL('./audit-trail.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  return resolved.url.endsWith('/src/data/audit-trail.ts') ? { ...resolved, url: STUB } : resolved;
}
