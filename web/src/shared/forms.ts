import type { UseFormReturnType } from '@mantine/form';

/**
 * The props of a PasswordInput bound to a form field. Mantine marks other inputs aria-invalid
 * when they show an error but not the password input, so screen readers would miss it.
 */
export function passwordProps<V extends Record<string, unknown>>(form: UseFormReturnType<V>, key: keyof V & string) {
  return { ...form.getInputProps(key), 'aria-invalid': form.errors[key] ? true : undefined };
}
