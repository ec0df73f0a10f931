import type { Cluster, Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { BackoffPolicy } from './backoff';
import type { GateSettings } from '../domain/gates';
import type { RolloutService } from '../services/rollouts';
import { Lease } from '../store/lease';
import type { DcRedis } from '../store/redis';
import type { RolloutStore } from '../store/rollout-store';
import { BaseSync, type BaseSyncResult } from './base-sync';
import { ChangeWatcher, type PollResult } from './change-watch';
import { GerritClient } from './client';
import type { GerritSettings } from './config';
import { checkMerged } from './merge-watch';
import { createGerritMetrics } from './metrics';
import { Outbox } from './outbox';
import type { GerritLogger, ProposalSink } from './types';
import { ProposalWorker } from './worker';

/**
 * Wires the proposer: the outbox worker (polls every `pollMs`, or at once on `wake()`),
 * and, when Gerrit is configured, the base refresh + merge watch every
 * `settings.baseRefreshSeconds` (and on demand through `syncBase()`).
 */
export interface GerritWorkerOptions {
  redis: Redis | Cluster;
  /** The server's key prefix (DEPCANARY_KEY_PREFIX). */
  prefix: string;
  settings: GerritSettings;
  registry: Registry;
  logger: GerritLogger;
  /** Records proposal status on the rollout: the RolloutStore. */
  sink: ProposalSink;
  /** DEPCANARY_PUBLIC_URL: commit messages link to the rollout's dashboard page (<url>/rollouts/<id>). */
  publicUrl?: string | null;
  /** A branch's base constraints text as the server serves it (for "not sent" patches). */
  readBase: (branch: string) => Promise<string>;
  /** Replaces a branch's served base (validates; throws on a malformed or refused file). Needed for bases to follow Gerrit. */
  replaceBase?: (branch: string, text: string, source: string) => Promise<unknown>;
  pollMs?: number;
  now?: () => number;
  /** Retry schedule (default 2 s doubling to 5 min, jittered). */
  backoff?: BackoffPolicy;
  /** Canary open bump changes (change-watch.ts): needs the server's rollouts and store. */
  watch?: { rollouts: RolloutService; store: RolloutStore; gates: GateSettings; redis: DcRedis };
}

export interface GerritWorker {
  outbox: Outbox;
  /** True when GERRIT_URL is configured. */
  sending: boolean;
  /** Runs the worker now instead of at the next poll. */
  wake(): void;
  /** Delivers everything due now; resolves with how many items ran. */
  drain(): Promise<number>;
  /**
   * Refreshes every followed branch's base from its head now (rejects when Gerrit is not
   * configured): the default branch's result, with every branch's in `branches`.
   */
  syncBase(force?: boolean): Promise<BaseSyncResult & { branches: BaseSyncResult[] }>;
  /** Checks the watched changes for merge/abandon now. */
  checkMerged(): Promise<number>;
  /** The bump-change watcher, when Gerrit and the watch are configured. */
  watcher: ChangeWatcher | null;
  /** One watch pass now (rejects when there is no watcher). */
  watchNow(): Promise<PollResult>;
  stop(): Promise<void>;
}

export function rolloutLink(publicUrl: string | null | undefined, rolloutId: string): string | null {
  return publicUrl ? `${publicUrl.replace(/\/+$/, '')}/rollouts/${encodeURIComponent(rolloutId)}` : null;
}

export function startGerritWorker(o: GerritWorkerOptions): GerritWorker {
  const now = o.now ?? Date.now;
  const metrics = createGerritMetrics(o.registry);
  const outbox = new Outbox(o.redis, o.prefix);
  const client = o.settings.connection ? new GerritClient(o.settings.connection) : null;
  const worker = new ProposalWorker({
    outbox, settings: o.settings, client, sink: o.sink, logger: o.logger, metrics,
    readLocalBase: o.readBase, rolloutUrl: (id) => rolloutLink(o.publicUrl, id), now, backoff: o.backoff,
  });
  const syncs = client && o.replaceBase
    ? o.settings.branches.map((branch) => new BaseSync({ branch, client, settings: o.settings, replaceBase: o.replaceBase!, readBase: o.readBase, logger: o.logger, metrics }))
    : [];
  /** Each branch in turn; one that fails does not keep the others from following. */
  const syncAll = async (force: boolean): Promise<PromiseSettledResult<BaseSyncResult>[]> => {
    const out: PromiseSettledResult<BaseSyncResult>[] = [];
    for (const b of syncs) out.push(await b.sync(force).then((value) => ({ status: 'fulfilled' as const, value }), (reason: unknown) => ({ status: 'rejected' as const, reason })));
    return out;
  };

  let stopped = false;
  // Passes run one after another; a drain() call always gets a pass that starts after it
  // was made, while the poll timer skips its turn when its previous pass is still running.
  let tail: Promise<unknown> = Promise.resolve();
  let polling = false;
  const drain = (): Promise<number> => {
    const pass = tail.then(() => worker.drain());
    tail = pass.catch(() => undefined);
    return pass;
  };
  const safeDrain = () => {
    if (stopped || polling) return;
    polling = true;
    drain()
      .catch((e: Error) => o.logger.warn({ err: e.message }, 'outbox worker pass failed; retrying at the next poll'))
      .finally(() => {
        polling = false;
      });
  };
  const poll = setInterval(safeDrain, o.pollMs ?? 1000);
  poll.unref();

  const merges = () => (client ? checkMerged({ outbox, client, settings: o.settings, sink: o.sink, logger: o.logger, now }) : Promise.resolve(0));
  let refresh: NodeJS.Timeout | null = null;
  if (client && o.settings.baseRefreshSeconds > 0) {
    const tick = () => {
      if (stopped) return;
      void syncAll(false)
        .then(() => merges())
        .catch((e: Error) => o.logger.warn({ err: e.message }, 'merge watch failed'));
    };
    refresh = setInterval(tick, o.settings.baseRefreshSeconds * 1000);
    refresh.unref();
    setImmediate(tick);
  }
  safeDrain();

  const watcher = client && o.watch
    ? new ChangeWatcher({
      client, settings: o.settings, redis: o.watch.redis, prefix: o.prefix, rollouts: o.watch.rollouts, store: o.watch.store,
      logger: o.logger, gates: o.watch.gates, rolloutUrl: (id) => rolloutLink(o.publicUrl, id), now,
      lease: new Lease(o.watch.redis, o.prefix, 'gerrit-watch', Math.max(30_000, o.settings.watch.seconds * 3000)),
      onMerged: async (branch) => {
        const s = syncs.find((b) => b.branch === branch);
        if (s) await s.sync(true);
      },
    })
    : null;
  // Watch passes run one at a time (a timer pass and an on-demand one never overlap).
  let watchTail: Promise<unknown> = Promise.resolve();
  const watchNow = (): Promise<PollResult> => {
    if (!watcher) return Promise.reject(new Error('Gerrit is not configured (GERRIT_URL), so no bump change is watched'));
    const pass = watchTail.then(() => watcher.poll());
    watchTail = pass.catch(() => undefined);
    return pass;
  };
  let watchTimer: NodeJS.Timeout | null = null;
  if (watcher && o.settings.watch.seconds > 0) {
    let busy = false;
    const tick = () => {
      if (stopped || busy) return;
      busy = true;
      watchNow().catch((e: Error) => o.logger.warn({ err: e.message }, 'bump change watch failed; retrying at the next poll')).finally(() => { busy = false; });
    };
    watchTimer = setInterval(tick, o.settings.watch.seconds * 1000);
    watchTimer.unref();
    setImmediate(tick);
  }

  return {
    watcher,
    watchNow,
    outbox,
    sending: client !== null,
    wake: safeDrain,
    drain,
    async syncBase(force = true) {
      if (syncs.length === 0) throw new Error('Gerrit is not configured (GERRIT_URL), so the base cannot follow it');
      const all = await syncAll(force);
      await merges().catch(() => 0);
      const failed = all.find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      const branches = all.map((r) => (r as PromiseFulfilledResult<BaseSyncResult>).value);
      return { ...branches[0]!, branches };
    },
    checkMerged: merges,
    async stop() {
      stopped = true;
      clearInterval(poll);
      if (refresh) clearInterval(refresh);
      if (watchTimer) clearInterval(watchTimer);
      await tail;
      await watchTail;
    },
  };
}
