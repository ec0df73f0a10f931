#!/usr/bin/env node
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { startServer, type Extension } from './runtime';
import { defaultExtensions } from './extensions';

/** `make run`: start the server (and its private Redis when REDIS_URL is unset). */
async function main(): Promise<void> {
  const logger = createLogger();
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`depcanary: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const extensions: Extension[] = defaultExtensions();
  let server;
  try {
    server = await startServer(config, logger, extensions);
  } catch (e) {
    process.stderr.write(`depcanary: could not start: ${(e as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`depcanary: listening on ${server.url}\n`);
  if (!config.adminToken && !config.tokensFile) {
    logger.warn('no DEPCANARY_ADMIN_TOKEN or DEPCANARY_TOKENS_FILE: the release-manager API is unusable until one is set');
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const t = setTimeout(() => process.exit(1), 20_000);
    await server.close();
    clearTimeout(t);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

void main();
