import { unifiedDiffs } from '../../../server/domain/patch';

/**
 * A Gerrit administrator driving the real server through its REST API, as a person setting
 * up a project would: accounts with generated HTTP passwords, a project seeded with files,
 * votes and submits. Used by the tests' set-up and to check what depcanary did.
 */
export class GerritAdmin {
  constructor(readonly url: string, readonly user: string, readonly password: string) {}

  private auth(user = this.user, password = this.password): string {
    return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }

  async raw(method: string, path: string, body?: unknown, creds?: { user: string; password: string }): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.url}/a${path}`, {
      method,
      headers: {
        Authorization: creds ? this.auth(creds.user, creds.password) : this.auth(),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = (await res.text()).replace(/^\)\]\}'\n?/, '');
    return { status: res.status, text };
  }

  async req<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, text } = await this.raw(method, path, body);
    if (status >= 400) throw new Error(`${method} ${path}: ${status} ${text}`);
    return (text.trim() ? JSON.parse(text) : null) as T;
  }

  /**
   * The init-time `admin` (password `secret` in dev mode) generates itself a new HTTP
   * password through the REST API; that one is used from then on.
   */
  static async bootstrap(url: string, initialPassword = 'secret'): Promise<GerritAdmin> {
    const first = new GerritAdmin(url, 'admin', initialPassword);
    const pw = await first.req<string>('PUT', '/accounts/self/password.http', { generate: true });
    return new GerritAdmin(url, 'admin', pw);
  }

  /** A regular (non-admin) account with a generated HTTP password. */
  async createAccount(username: string): Promise<{ username: string; password: string; accountId: number }> {
    const acc = await this.req<{ _account_id: number }>('PUT', `/accounts/${username}`, {
      name: username, email: `${username}@example.com`,
    });
    const password = await this.req<string>('PUT', `/accounts/${username}/password.http`, { generate: true });
    return { username, password, accountId: acc._account_id };
  }

  /** A project whose master holds `files` (one merged change on top of an empty commit). */
  async createProject(name: string, files: Record<string, string>): Promise<void> {
    await this.req('PUT', `/projects/${encodeURIComponent(name)}`, { create_empty_commit: true, branches: ['master'] });
    await this.commitFiles(name, 'Seed the constraints repository', files);
  }

  /** A branch at master's head (e.g. stable/2099.1). */
  async createBranch(project: string, branch: string): Promise<void> {
    const head = await this.req<{ revision: string }>('GET', `/projects/${encodeURIComponent(project)}/branches/master`);
    await this.req('PUT', `/projects/${encodeURIComponent(project)}/branches/${encodeURIComponent(branch)}`, { revision: head.revision });
  }

  /** Project settings, e.g. {use_signed_off_by: 'TRUE'} (the repository requires the DCO). */
  async setConfig(project: string, config: Record<string, unknown>): Promise<void> {
    await this.req('PUT', `/projects/${encodeURIComponent(project)}/config`, config);
  }

  /**
   * Puts `files` on a branch through a change that is approved and submitted; returns the
   * change number and the merged commit. `message` is the whole commit message (its first
   * line the subject); a Signed-off-by is added for projects that require one.
   */
  async commitFiles(project: string, message: string, files: Record<string, string>, branch = 'master'): Promise<number> {
    return (await this.commit(project, message, files, branch)).number;
  }

  async commit(project: string, message: string, files: Record<string, string>, branch = 'master'): Promise<{ number: number; sha: string }> {
    const head = await this.req<{ revision: string }>('GET', `/projects/${encodeURIComponent(project)}/branches/${encodeURIComponent(branch)}`);
    const edits = [];
    for (const [path, after] of Object.entries(files)) {
      const before = await this.fileAt(project, head.revision, path);
      edits.push({ path, before: before ?? '', after, isNew: before === null });
    }
    // New files need git's "new file" form; existing ones an ordinary diff.
    const patch = edits
      .map((e) => (e.isNew ? newFileDiff(e.path, e.after) : unifiedDiffs([e])))
      .join('');
    const me = await this.req<{ name?: string; email?: string }>('GET', '/accounts/self');
    const subject = message.includes('Signed-off-by:') || !me.email ? message : `${message}\n\nSigned-off-by: ${me.name ?? this.user} <${me.email}>`;
    const c = await this.req<{ _number: number }>('POST', '/changes/', {
      project, branch, subject, base_commit: head.revision, patch: { patch },
    });
    await this.submit(project, c._number);
    const after = await this.req<{ revision: string }>('GET', `/projects/${encodeURIComponent(project)}/branches/${encodeURIComponent(branch)}`);
    return { number: c._number, sha: after.revision };
  }

  async submit(project: string, number: number): Promise<void> {
    const id = `${encodeURIComponent(project)}~${number}`;
    await this.req('POST', `/changes/${id}/revisions/current/review`, { labels: { 'Code-Review': 2 } });
    await this.req('POST', `/changes/${id}/submit`, {});
  }

  async fileAt(project: string, revision: string, path: string): Promise<string | null> {
    const { status, text } = await this.raw('GET', `/projects/${encodeURIComponent(project)}/commits/${revision}/files/${encodeURIComponent(path)}/content`);
    if (status === 404) return null;
    if (status >= 400) throw new Error(`file ${path}: ${status} ${text}`);
    return Buffer.from(text, 'base64').toString('utf8');
  }

  async branchFile(project: string, path: string, branch = 'master'): Promise<string | null> {
    const head = await this.req<{ revision: string }>('GET', `/projects/${encodeURIComponent(project)}/branches/${encodeURIComponent(branch)}`);
    return this.fileAt(project, head.revision, path);
  }

  /** Open changes with this topic, with their current revision and commit. */
  openChanges(project: string, topic: string): Promise<any[]> {
    const q = encodeURIComponent(`status:open project:"${project}" topic:"${topic}"`);
    return this.req('GET', `/changes/?q=${q}&o=CURRENT_REVISION&o=CURRENT_COMMIT&o=DETAILED_ACCOUNTS&o=DETAILED_LABELS`);
  }

  allChanges(project: string): Promise<any[]> {
    return this.req('GET', `/changes/?q=${encodeURIComponent(`project:"${project}"`)}`);
  }

  /** The current patch set's `git diff`, as Gerrit formats it. */
  async patch(project: string, number: number): Promise<string> {
    const { text } = await this.raw('GET', `/changes/${encodeURIComponent(project)}~${number}/revisions/current/patch`);
    return Buffer.from(text, 'base64').toString('utf8');
  }

  files(project: string, number: number): Promise<Record<string, { lines_inserted?: number; lines_deleted?: number }>> {
    return this.req('GET', `/changes/${encodeURIComponent(project)}~${number}/revisions/current/files`);
  }

  /** Review messages of a change, oldest first (author, tag, patch set, text). */
  async messages(project: string, number: number): Promise<{ author?: { username?: string }; tag?: string; _revision_number: number; message: string }[]> {
    return this.req('GET', `/changes/${encodeURIComponent(project)}~${number}/messages`);
  }

  /** One account's current vote on a label of a change (0 when none). */
  async vote(project: string, number: number, label: string, username: string): Promise<number> {
    const c = await this.req<any>('GET', `/changes/${encodeURIComponent(project)}~${number}/detail?o=DETAILED_LABELS&o=DETAILED_ACCOUNTS`);
    return (c.labels?.[label]?.all ?? []).find((v: { username?: string }) => v.username === username)?.value ?? 0;
  }

  async change(project: string, number: number): Promise<any> {
    return this.req('GET', `/changes/${encodeURIComponent(project)}~${number}?o=CURRENT_REVISION`);
  }

  /** The open change with this Change-Id. */
  async changeById(project: string, changeId: string): Promise<any> {
    const list = await this.req<any[]>('GET', `/changes/?q=${encodeURIComponent(`project:"${project}" change:${changeId}`)}&o=CURRENT_REVISION`);
    if (list.length !== 1) throw new Error(`change ${changeId}: ${list.length} found`);
    return list[0];
  }

  async abandon(project: string, number: number, message: string): Promise<void> {
    await this.req('POST', `/changes/${encodeURIComponent(project)}~${number}/abandon`, { message });
  }

  reviewers(project: string, number: number): Promise<{ username?: string }[]> {
    return this.req('GET', `/changes/${encodeURIComponent(project)}~${number}/reviewers`);
  }
}

function newFileDiff(path: string, text: string): string {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const tail = text.endsWith('\n') ? '' : '\n\\ No newline at end of file';
  return `diff --git a/${path} b/${path}\nnew file mode 100644\n--- /dev/null\n+++ b/${path}\n@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join('\n')}${tail}\n`;
}

/** The lines a `git diff` removes and adds, per file (headers skipped). */
export function diffLines(patch: string): Record<string, { removed: string[]; added: string[] }> {
  const out: Record<string, { removed: string[]; added: string[] }> = {};
  let file = '';
  for (const line of patch.split('\n')) {
    const m = /^diff --git a\/(\S+) b\//.exec(line);
    if (m) {
      file = m[1]!;
      out[file] = { removed: [], added: [] };
      continue;
    }
    if (!file || line.startsWith('---') || line.startsWith('+++')) continue;
    if (line.startsWith('-')) out[file]!.removed.push(line.slice(1));
    else if (line.startsWith('+')) out[file]!.added.push(line.slice(1));
  }
  return out;
}
