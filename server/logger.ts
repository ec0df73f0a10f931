import pino, { type Logger } from 'pino';

/** Structured JSON logs on stderr (stdout carries only the "listening on" line). */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { service: 'depcanary' },
      redact: {
        paths: ['*.authorization', '*.headers.authorization', 'token', '*.token', 'password', '*.password', 'config.gerrit.password'],
        censor: '[redacted]',
      },
    },
    pino.destination(2),
  );
}
