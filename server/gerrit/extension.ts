import { existsSync, readFileSync } from 'node:fs';
import type { Extension } from '../runtime';
import type { BackoffPolicy } from './backoff';
import { loadGerritConfig, type GerritSettings } from './config';
import { gerritRoutes } from './routes';
import { startGerritWorker, type GerritWorker } from './start';

/**
 * The proposer as a server extension: settings from GERRIT_* env (over the `gerrit` object
 * of the DEPCANARY_CONFIG file), the worker on the server's Redis and metrics registry,
 * proposals recorded on rollouts, the base following the Gerrit branch, admin routes.
 */
export interface GerritExtensionOptions {
  /** Called with the running worker (tests drive it; the CLI does not need it). */
  onStart?: (w: GerritWorker, s: GerritSettings) => void;
  pollMs?: number;
  backoff?: BackoffPolicy;
}

export function gerritExtension(env: NodeJS.ProcessEnv = process.env, opts: GerritExtensionOptions = {}): Extension {
  return {
    start(rt) {
      const settings = loadGerritConfig(env, fileSection(env.DEPCANARY_CONFIG));
      const logger = rt.logger.child({ component: 'gerrit' });
      const worker = startGerritWorker({
        redis: rt.redis,
        prefix: rt.config.keyPrefix,
        settings,
        registry: rt.metrics.registry,
        logger,
        sink: rt.rolloutStore,
        publicUrl: rt.config.publicUrl ?? null,
        readBase: (branch) => rt.constraints.baseText(branch),
        replaceBase: (branch, text, source) => rt.constraints.replace(branch, text, source),
        pollMs: opts.pollMs,
        backoff: opts.backoff,
        watch: { rollouts: rt.rollouts, store: rt.rolloutStore, gates: rt.rollouts.gates, redis: rt.redis },
      });
      logger.info(
        settings.connection
          ? {
            url: settings.connection.url, user: settings.connection.user, project: settings.project, branches: settings.branches, baseRefreshSeconds: settings.baseRefreshSeconds,
            watch: { query: settings.watch.query, seconds: settings.watch.seconds, vote: `${settings.watch.label} +${settings.watch.approve}/${settings.watch.block}` },
          }
          : {},
        settings.connection ? 'Gerrit proposals and the bump-change watch on' : 'Gerrit is not configured (GERRIT_URL): proposals are recorded as patches, not sent',
      );
      opts.onStart?.(worker, settings);
      return { routers: [gerritRoutes(worker, rt.tokens)], stop: () => worker.stop() };
    },
  };
}

function fileSection(path: string | undefined): Record<string, unknown> {
  if (!path || !existsSync(path)) return {};
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as { gerrit?: unknown };
    return typeof j.gerrit === 'object' && j.gerrit !== null ? (j.gerrit as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
