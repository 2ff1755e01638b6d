import type { TFunction } from 'i18next';
import { problemFrom, type ApiProblem } from '../api/client';

/**
 * What a form shows for a failed request: the server's own message above the form, and each
 * field's problem beside that field (the API names fields by their JSON names, as the forms do).
 * Messages come from the server as text and are only ever rendered as text.
 */
export interface FormProblem {
  message: string;
  fields: Record<string, string>;
}

export function formProblem(problem: ApiProblem, t: TFunction, known: readonly string[] = []): FormProblem {
  const fields: Record<string, string> = {};
  const unplaced: string[] = [];
  for (const { field, message } of problem.fields ?? []) {
    const text = message.charAt(0).toUpperCase() + message.slice(1);
    if (known.includes(field)) fields[field] = fields[field] ? `${fields[field]} ${text}` : text;
    else unplaced.push(`${field} ${message}`);
  }
  return { message: [problemMessage(problem, t), ...unplaced].join(' '), fields };
}

/** Areas that keep the messages of their own error codes, by the code's first part. */
const AREA_MESSAGES: Record<string, string> = { export: 'exports', approval: 'exports', backup: 'admin', bulk: 'trash', trash: 'trash' };

/**
 * The message for a problem in the reader's language: ours for the stable codes we know, else the
 * server's own (in English), else a general one when the server could not be reached or said
 * nothing usable.
 */
export function problemMessage(problem: ApiProblem, t: TFunction): string {
  if (problem.code === 'request.network') return t('shell:network');
  const key = `${AREA_MESSAGES[problem.code.split('.')[0]!] ?? 'shell'}:error.${problem.code}`;
  const known = t(key, { defaultValue: '' });
  if (known) return known;
  return problem.message || t('shell:unexpected');
}

/**
 * Shows why a form's request failed: the message above the form (through `setError`) and each
 * field's problem beside the field of the same name in `form`.
 */
export function showFormProblem(failure: unknown, t: TFunction, form: { values: object; setErrors(errors: Record<string, string>): void }, setError: (message: string) => void): void {
  const problem = formProblem(problemFrom(failure), t, Object.keys(form.values));
  setError(problem.message);
  form.setErrors(problem.fields);
}
