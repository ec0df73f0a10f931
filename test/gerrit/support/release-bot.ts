import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The release job as openstack/project-config runs it (update_constraints.sh and
 * propose_update.sh): a clone of the requirements repository, the pin edited, `git commit -s`
 * with the job's message and trailers, and `git review -t <topic>`, i.e. a git push over
 * HTTP to refs/for/<branch> with the topic. A new patch set is the same commit amended
 * (same Change-Id) and pushed again, as the weekly job does to its open change.
 */
export class ReleaseBot {
  readonly dir = mkdtempSync(join(tmpdir(), 'depcanary-release-bot-'));
  private readonly auth: string;

  constructor(private readonly url: string, readonly project: string, readonly user: { username: string; password: string }) {
    this.auth = `Authorization: Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    this.git('init', '-q', '-b', 'work');
    this.git('config', 'user.name', user.username);
    this.git('config', 'user.email', `${user.username}@example.com`);
  }

  private git(...args: string[]): string {
    return execFileSync('git', ['-c', `http.extraHeader=${this.auth}`, ...args], { cwd: this.dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  private remote(): string {
    return `${this.url}/a/${this.project}`;
  }

  /** Starts from the branch head, like the job's fresh clone. */
  checkout(branch = 'master'): void {
    this.git('fetch', '-q', this.remote(), branch);
    this.git('checkout', '-q', '-B', 'work', 'FETCH_HEAD');
  }

  read(path = 'upper-constraints.txt'): string {
    return readFileSync(join(this.dir, path), 'utf8');
  }

  /** The job's sed: `Name===old` → `Name===new` on the library's unmarked line. */
  bump(library: string, version: string, path = 'upper-constraints.txt'): void {
    const text = this.read(path);
    const re = new RegExp(`^${library.replace(/[.]/g, '\\.')}===[^;\\n]*$`, 'm');
    if (!re.test(text)) throw new Error(`${library} has no unmarked line in ${path}`);
    writeFileSync(join(this.dir, path), text.replace(re, `${library}===${version}`));
  }

  write(text: string, path = 'upper-constraints.txt'): void {
    writeFileSync(join(this.dir, path), text);
  }

  /**
   * `git commit -a -s` with a Change-Id (git-review's commit-msg hook adds one) and the job's
   * Generated-By trailer; `amend` keeps the Change-Id for a new patch set.
   */
  commit(message: string, generatedBy: string, amend = false): string {
    let changeId = amend ? /^Change-Id: (I[0-9a-f]{40})$/m.exec(this.git('log', '-1', '--format=%B'))?.[1] : undefined;
    changeId ??= `I${createHash('sha1').update(randomBytes(20)).digest('hex')}`;
    const body = `${message.trimEnd()}\n\nChange-Id: ${changeId}\nSigned-off-by: ${this.user.username} <${this.user.username}@example.com>\nGenerated-By: ${generatedBy}\n`;
    this.git('commit', '-q', '-a', ...(amend ? ['--amend'] : []), '-m', body);
    return changeId;
  }

  /** `git review -t <topic> <branch>`. */
  push(topic: string, branch = 'master'): void {
    this.git('push', '-q', this.remote(), `HEAD:refs/for/${branch}%topic=${topic}`);
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const UPDATE_CONSTRAINTS = 'openstack/project-config:roles/copy-release-tools-scripts/files/release-tools/update_constraints.sh';
export const PROPOSE_UPDATE = 'openstack/project-config:playbooks/proposal/propose_update.sh';

/** The release job's commit message for one library (update_constraints.sh: the tag's meta lines). */
export function releaseMessage(library: string, version: string, team: string): string {
  return `update constraint for ${library} to new release ${version}\n\nmeta: version: ${version}\nmeta: team: ${team}\nmeta: diff-start: -\nmeta: series: hibiscus\nmeta: branch: master\nmeta: release-type: release\nmeta: pypi: yes\nmeta: first: no`;
}
