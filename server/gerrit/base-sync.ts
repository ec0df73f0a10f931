import { parseConstraints } from '../domain/constraints';
import type { GerritClient } from './client';
import type { GerritSettings } from './config';
import type { GerritMetrics } from './metrics';
import type { GerritLogger } from './types';

/**
 * The base follows Gerrit: reads the constraints file from the branch head and hands it to
 * `replaceBase` (which validates, stores and republishes pins) whenever the head moved, so
 * merged changes reach every machine. A malformed file on the branch is refused and logged;
 * the current base stays.
 */
export interface BaseSyncResult {
  outcome: 'replaced' | 'unchanged';
  revision: string;
  path: string;
  pins?: number;
}

export class BaseSync {
  private lastRevision: string | null = null;
  private running: Promise<BaseSyncResult> | null = null;

  constructor(
    private readonly d: {
      client: GerritClient;
      settings: GerritSettings;
      replaceBase: (text: string, source: string) => Promise<unknown>;
      /** The base served now: an identical file is not stored again. */
      readBase?: () => Promise<string>;
      logger: GerritLogger;
      metrics: GerritMetrics;
    },
  ) {}

  /** One refresh; concurrent calls share it. `force` re-reads even when the head did not move. */
  sync(force = false): Promise<BaseSyncResult> {
    this.running ??= this.run(force).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(force: boolean): Promise<BaseSyncResult> {
    const { client, settings: s } = this.d;
    try {
      const head = await client.getBranch(s.project, s.branch);
      if (!force && head.revision === this.lastRevision) {
        this.d.metrics.baseSync('unchanged');
        return { outcome: 'unchanged', revision: head.revision, path: s.constraintsPath };
      }
      const text = await client.getFileAt(s.project, head.revision, s.constraintsPath);
      if (text === null) throw new Error(`${s.constraintsPath} does not exist on ${s.project} ${s.branch}`);
      const pins = parseConstraints(text).index.size;
      if (this.d.readBase && (await this.d.readBase()) === text) {
        this.lastRevision = head.revision;
        this.d.metrics.baseSync('unchanged');
        return { outcome: 'unchanged', revision: head.revision, path: s.constraintsPath, pins };
      }
      await this.d.replaceBase(text, `gerrit:${s.project}/${s.branch}@${head.revision.slice(0, 12)}`);
      this.lastRevision = head.revision;
      this.d.metrics.baseSync('replaced');
      this.d.logger.info({ project: s.project, branch: s.branch, revision: head.revision, pins }, 'base constraints follow the Gerrit branch');
      return { outcome: 'replaced', revision: head.revision, path: s.constraintsPath, pins };
    } catch (e) {
      this.d.metrics.baseSync('error');
      this.d.logger.error({ project: s.project, branch: s.branch, err: client.http.redact((e as Error).message) }, 'base refresh from Gerrit failed');
      throw e;
    }
  }
}
