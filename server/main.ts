#!/usr/bin/env node
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './logger';
import { startServer, type Extension, type RunningServer } from './runtime';
import { defaultExtensions } from './extensions';

/**
 * `make run`: start the server (and its private Redis when REDIS_URL is unset). Every way
 * it can fail to start ends with one line on stderr naming the cause, and a non-zero exit:
 * 2 for a bad setting, 1 otherwise (including a data dir in use by another server).
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    fail(e instanceof ConfigError ? e.message : `could not read the settings: ${(e as Error).message}`, 2);
  }
  const logger = createLogger(config.logLevel);
  const extensions: Extension[] = defaultExtensions();
  // The signal handlers come first: a SIGTERM while starting, or the moment "listening" is
  // printed, must not end this process by the default action, which would leave the embedded
  // redis-server running without its owner.
  let server: RunningServer | null = null;
  let stopRequested = null as { reason: string; code: number } | null; // set by a signal while starting
  let stopping = false;
  const stop = async (reason: string, code: number) => {
    if (!server) {
      stopRequested ??= { reason, code };
      return;
    }
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'stopping');
    const t = setTimeout(() => process.exit(1), 20_000);
    await server.close();
    clearTimeout(t);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop('SIGINT', 0));
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  // Last resort (the 20 s budget above ran out, an uncaught error): the redis-server goes too.
  process.on('exit', () => server?.embeddedRedis?.kill());
  try {
    server = await startServer(config, logger, extensions);
  } catch (e) {
    fail(`could not start: ${(e as Error).message}`, 1);
  }
  if (stopRequested) return stop(stopRequested.reason, stopRequested.code);
  process.stdout.write(`depcanary: listening on ${server.url}\n`);
  if (!config.adminToken && !config.tokensFile) {
    logger.warn('no DEPCANARY_ADMIN_TOKEN or DEPCANARY_TOKENS_FILE: the release-manager API is unusable until one is set');
  }
  void server.fatal.then((e) => {
    process.stderr.write(`depcanary: stopping: ${e.message}\n`);
    void stop('fatal', 1);
  });
}

function fail(message: string, code: number): never {
  process.stderr.write(`depcanary: ${message.split('\n')[0]}\n`);
  process.exit(code);
}

main().catch((e) => fail(`unexpected error: ${(e as Error)?.message ?? e}`, 1));
