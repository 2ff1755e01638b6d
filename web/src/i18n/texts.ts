/** A feature's texts: the English ones define the keys, and Chinese must give every one of them. */
export function texts<const T extends Record<string, string>>(en: T, zh: { [K in keyof T]: string }): { en: T; 'zh-CN': { [K in keyof T]: string } } {
  return { en, 'zh-CN': zh };
}
