import { z } from 'zod';
import type { GerritConnection } from './config';
import { decodeContent, GerritHttp, seg } from './http';
import { accountInfo, branchInfo, changeInfo, changeList, gitCommit, hashtagList, includedIn, type AccountInfo, type BranchInfo, type ChangeInfo, type GitCommit } from './schemas';

/** The Gerrit REST calls depcanary makes (see docs/gerrit.md for why each one). */
export class GerritClient {
  readonly http: GerritHttp;

  constructor(conn: GerritConnection) {
    this.http = new GerritHttp(conn);
  }

  /** A change as people open it in the browser. */
  changeUrl(project: string, number: number): string {
    return `${this.http.baseUrl}/c/${project}/+/${number}`;
  }

  getBranch(project: string, branch: string): Promise<BranchInfo> {
    return this.http.json('GET', `/projects/${seg(project)}/branches/${seg(branch)}`, branchInfo);
  }

  /** A file at a commit, or null when the commit has no such file. */
  async getFileAt(project: string, commit: string, path: string): Promise<string | null> {
    const { status, text, headers } = await this.http.raw('GET', `/projects/${seg(project)}/commits/${seg(commit)}/files/${seg(path)}/content`, { accept: [404] });
    return status === 404 ? null : decodeContent(text, headers);
  }

  /** A file in a change's current patch set, or null when the patch set has no such file. */
  async getChangeFile(changeId: string, path: string): Promise<string | null> {
    const { status, text, headers } = await this.http.raw('GET', `/changes/${changeId}/revisions/current/files/${seg(path)}/content`, { accept: [404] });
    return status === 404 ? null : decodeContent(text, headers);
  }

  /** Open changes of the branch carrying `tag` as topic or hashtag, newest first. */
  findOpen(project: string, branch: string, tag: string): Promise<ChangeInfo[]> {
    const q = `status:open project:"${project}" branch:"${branch}" (topic:"${tag}" OR hashtag:"${tag}")`;
    return this.http.json('GET', '/changes/', changeList, { query: { q, o: ['CURRENT_REVISION', 'CURRENT_COMMIT'] } });
  }

  /** Changes matching a search query, with their current patch set's commit (parents). */
  query(q: string, limit = 100): Promise<ChangeInfo[]> {
    return this.http.json('GET', '/changes/', changeList, { query: { q, n: String(limit), o: ['CURRENT_REVISION', 'CURRENT_COMMIT'] } });
  }

  /** A file at one patch set of a change, or null when it has no such file. */
  async getRevisionFile(changeId: string, revision: string, path: string): Promise<string | null> {
    const { status, text, headers } = await this.http.raw('GET', `/changes/${changeId}/revisions/${seg(revision)}/files/${seg(path)}/content`, { accept: [404] });
    return status === 404 ? null : decodeContent(text, headers);
  }

  /** The labels (and values) the account may vote on the change, from Gerrit's `permitted_labels`. */
  async permittedLabels(changeId: string): Promise<Record<string, string[]>> {
    const info = await this.http.json('GET', `/changes/${changeId}`, z.object({ permitted_labels: z.record(z.string(), z.array(z.string().max(10)).max(50)).optional() }), { query: { o: ['DETAILED_LABELS'] } });
    return info.permitted_labels ?? {};
  }

  /** A review on one patch set: a message, and optionally votes (never a submit). */
  review(changeId: string, revision: string, input: { message: string; labels?: Record<string, number>; tag: string }): Promise<unknown> {
    return this.http.json('POST', `/changes/${changeId}/revisions/${seg(revision)}/review`, z.unknown(), {
      body: { message: input.message, tag: input.tag, ...(input.labels ? { labels: input.labels } : {}), omit_duplicate_comments: true },
    });
  }

  getChange(changeId: string, withCurrent = false): Promise<ChangeInfo> {
    return this.http.json('GET', `/changes/${changeId}`, changeInfo, withCurrent ? { query: { o: ['CURRENT_REVISION', 'CURRENT_COMMIT'] } } : {});
  }

  /**
   * Creates the change with its content in one atomic call (ChangeInput with a `git diff`
   * patch applied on `baseCommit`), so a change is never visible without its topic or files.
   */
  createChange(input: { project: string; branch: string; message: string; topic: string; baseCommit: string; patch: string }): Promise<ChangeInfo> {
    return this.http.json('POST', '/changes/', changeInfo, {
      body: {
        project: input.project,
        branch: input.branch,
        subject: input.message,
        topic: input.topic,
        base_commit: input.baseCommit,
        patch: { patch: input.patch },
      },
    });
  }

  /** A new patch set: `patch` applied on `base` with `message` (which keeps the Change-Id). */
  applyPatch(changeId: string, input: { patch: string; base: string; message: string }): Promise<ChangeInfo> {
    return this.http.json('POST', `/changes/${changeId}/patch:apply`, changeInfo, {
      body: { patch: { patch: input.patch }, base: input.base, commit_message: input.message },
    });
  }

  /** The account depcanary logs in as (its name and preferred e-mail sign the commits off). */
  accountSelf(): Promise<AccountInfo> {
    return this.http.json('GET', '/accounts/self', accountInfo);
  }

  getCommit(project: string, commit: string): Promise<GitCommit> {
    return this.http.json('GET', `/projects/${seg(project)}/commits/${seg(commit)}`, gitCommit);
  }

  /** Whether `commit` is reachable from `branch`. */
  async commitOnBranch(project: string, commit: string, branch: string): Promise<boolean> {
    const r = await this.http.json('GET', `/projects/${seg(project)}/commits/${seg(commit)}/in`, includedIn);
    return r.branches.some((b) => b === branch || b === `refs/heads/${branch}`);
  }

  /** Merged changes of the branch whose commit message contains `text` (newest first). */
  findMerged(project: string, branch: string, text: string, limit = 25): Promise<ChangeInfo[]> {
    const q = `status:merged project:"${project}" branch:"${branch}" message:"${text.replace(/["\\]/g, '')}"`;
    return this.http.json('GET', '/changes/', changeList, { query: { q, n: String(limit), o: ['CURRENT_REVISION', 'CURRENT_COMMIT'] } });
  }

  addHashtags(changeId: string, add: string[]): Promise<string[]> {
    return this.http.json('POST', `/changes/${changeId}/hashtags`, hashtagList, { body: { add } });
  }

  addReviewer(changeId: string, reviewer: string): Promise<unknown> {
    return this.http.json('POST', `/changes/${changeId}/reviewers`, z.unknown(), { body: { reviewer } });
  }
}

/** The `project~number` id Gerrit recommends in change URLs. */
export function changeRef(project: string, number: number): string {
  return `${seg(project)}~${number}`;
}
