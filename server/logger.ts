import pino, { type DestinationStream, type Logger } from 'pino';

/** Structured JSON logs, on stderr unless told (stdout carries only the "listening on" line). */
export function createLogger(level = 'info', destination: DestinationStream = pino.destination(2), service = 'depcanary'): Logger {
  return pino(
    {
      level,
      base: { service },
      redact: {
        paths: ['*.authorization', '*.headers.authorization', 'token', '*.token', 'password', '*.password', 'config.gerrit.password'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
