/**
 * Typed domain errors. The API maps `code` to an HTTP status in one place
 * (server/api/errors.ts); the domain never knows about HTTP.
 */
export type DomainErrorCode =
  | 'invalid'        // bad input that passed the schema but breaks a domain rule
  | 'not_found'
  | 'conflict'       // compare-and-set lost, or the state does not allow the action
  | 'unauthorized'
  | 'forbidden';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (msg: string, details?: Record<string, unknown>) =>
  new DomainError('invalid', msg, details);
export const conflict = (msg: string, details?: Record<string, unknown>) =>
  new DomainError('conflict', msg, details);
export const notFound = (msg: string) => new DomainError('not_found', msg);
