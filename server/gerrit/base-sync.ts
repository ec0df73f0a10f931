import { parseConstraints } from '../domain/constraints';
import { DomainError } from '../domain/errors';
import type { GerritClient } from './client';
import type { GerritSettings } from './config';
import type { GerritMetrics } from './metrics';
import type { GerritLogger } from './types';

/**
 * A branch's base follows Gerrit: reads the constraints file from the branch head and hands
 * it to `replaceBase` (which validates, guards against an empty or mostly-dropped file,
 * stores and republishes pins) whenever the head moved, so merged changes reach every
 * machine. A malformed or refused file on the branch is logged; the current base stays.
 */
export interface BaseSyncResult {
  branch: string;
  outcome: 'replaced' | 'unchanged' | 'refused';
  revision: string;
  path: string;
  pins?: number;
  /** Why a file was refused (the guard's message). */
  reason?: string;
}

export class BaseSync {
  private lastRevision: string | null = null;
  private running: Promise<BaseSyncResult> | null = null;

  constructor(
    private readonly d: {
      branch: string;
      client: GerritClient;
      settings: GerritSettings;
      replaceBase: (branch: string, text: string, source: string) => Promise<unknown>;
      /** The base served now: an identical file is not stored again. */
      readBase?: (branch: string) => Promise<string>;
      logger: GerritLogger;
      metrics: GerritMetrics;
    },
  ) {}

  get branch(): string {
    return this.d.branch;
  }

  /** One refresh; concurrent calls share it. `force` re-reads even when the head did not move. */
  sync(force = false): Promise<BaseSyncResult> {
    this.running ??= this.run(force).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(force: boolean): Promise<BaseSyncResult> {
    const { client, settings: s, branch } = this.d;
    const result = (outcome: BaseSyncResult['outcome'], revision: string, extra: Partial<BaseSyncResult> = {}): BaseSyncResult => ({
      branch, outcome, revision, path: s.constraintsPath, ...extra,
    });
    try {
      const head = await client.getBranch(s.project, branch);
      if (!force && head.revision === this.lastRevision) {
        this.d.metrics.baseSync('unchanged');
        return result('unchanged', head.revision);
      }
      const text = await client.getFileAt(s.project, head.revision, s.constraintsPath);
      if (text === null) throw new Error(`${s.constraintsPath} does not exist on ${s.project} ${branch}`);
      const pins = parseConstraints(text).index.size;
      if (this.d.readBase && (await this.d.readBase(branch)) === text) {
        this.lastRevision = head.revision;
        this.d.metrics.baseSync('unchanged');
        return result('unchanged', head.revision, { pins });
      }
      try {
        await this.d.replaceBase(branch, text, `gerrit:${s.project}/${branch}@${head.revision.slice(0, 12)}`);
      } catch (e) {
        if (e instanceof DomainError && /refusing to replace/.test(e.message)) {
          this.lastRevision = head.revision;
          this.d.metrics.baseSync('error');
          this.d.logger.error({ project: s.project, branch, revision: head.revision, err: e.message }, 'the Gerrit branch file was refused; the current base stays');
          return result('refused', head.revision, { pins, reason: e.message });
        }
        throw e;
      }
      this.lastRevision = head.revision;
      this.d.metrics.baseSync('replaced');
      this.d.logger.info({ project: s.project, branch, revision: head.revision, pins }, 'base constraints follow the Gerrit branch');
      return result('replaced', head.revision, { pins });
    } catch (e) {
      this.d.metrics.baseSync('error');
      this.d.logger.error({ project: s.project, branch, err: client.http.redact((e as Error).message) }, 'base refresh from Gerrit failed');
      throw e;
    }
  }
}
