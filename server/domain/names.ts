/** PEP 503 name normalisation: lower case, runs of `-`, `_` and `.` become `-`. */
export function normalizeName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** A distribution name as PEP 508 allows it (letters, digits, `._-`, alphanumeric at both ends). */
export const NAME_PATTERN = /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/;

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}
