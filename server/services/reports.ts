import { Semaphore } from 'async-mutex';
import type { Report } from '../api/schemas';
import { invalid } from '../domain/errors';
import { normalizeName } from '../domain/names';
import type { IngestItem, RunCaps, TelemetryStore } from '../store/telemetry-store';
import type { PinsCache } from './pins-cache';
import type { PinsSnapshot } from './pins';
import { sourceMachine } from './sources';

const DAY_MS = 86_400_000;
/** Reports may be late (spooled offline) but not from the far past or the future. */
export const MAX_REPORT_AGE_MS = 30 * DAY_MS;
export const MAX_CLOCK_SKEW_MS = DAY_MS;

/** Batches a process lets wait for their turn in the store; past it a batch is refused (503), nothing stored. */
export const MAX_WAITING_BATCHES = 256;

/** Too many batches already wait their turn: the client retries later (HTTP 503 with Retry-After). */
export class IngestBusy extends Error {
  constructor() {
    super(`the server is counting other reports (${MAX_WAITING_BATCHES} batches wait); nothing of this batch was stored; retry later`);
  }
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  counted: { rolloutId: string; arm: string }[];
  /** Per report: counted now (false for a replayed id). */
  fresh: boolean[];
}

/**
 * Turns validated reports into counter updates: the arm of each report is decided from
 * the in-memory snapshot (the machine's bucket at the stage it is served now, and the
 * version it actually installed), then the store counts each report exactly once.
 */
export class ReportService {
  /** The parts of the batches being counted in the store now (weights); the others wait their turn here. */
  private readonly storing: Semaphore;
  /** Batches waiting their turn. */
  private waiting = 0;

  /**
   * `fleetCaps`: the fleet history's caps per machine and source (the server's default policy).
   * `maxParts`: the parts (per report: its machine's, its fleet day's, one per rollout it
   * concerns) counted in the store at once (config ingestParts): logged in Redis and folded in
   * this process. A batch that concerns many live rollouts is work for a while: letting every
   * request's in at once would hold all their reports in memory and make other commands wait
   * behind them past their timeout (503). Small batches are light: many go at once, share
   * Redis' fsyncs, and their parts in one rollout share its folds.
   */
  constructor(
    private readonly telemetry: TelemetryStore,
    private readonly pins: PinsCache,
    private readonly clock: () => number = Date.now,
    private readonly fleetCaps: RunCaps = { machine: 1, source: 0 },
    private readonly maxParts = 8000,
  ) {
    this.storing = new Semaphore(maxParts);
  }

  /**
   * `source`: where the reports come from (services/sources.ts; the reporter's enrolment or
   * token). `anyMachine`: the reporter may send any machine's id (a reporter token, not one
   * machine's credential): its runs then count as "<source>/<machine>", so one source cannot
   * add runs to machines that another source reports for (docs/trust.md).
   */
  async ingest(reports: Report[], source: string, anyMachine = false): Promise<IngestResult> {
    const checked = this.clock();
    reports.forEach((r, i) => {
      const finished = Date.parse(r.finishedAt);
      const field = reports.length > 1 ? `reports.${i}.finishedAt` : 'finishedAt';
      if (finished > checked + MAX_CLOCK_SKEW_MS) throw invalid(`${field} is in the future`, { field });
      if (finished < checked - MAX_REPORT_AGE_MS) throw invalid(`${field} is older than 30 days`, { field });
    });
    if (this.waiting >= MAX_WAITING_BATCHES) throw new IngestBusy();
    const snapshot = this.pins.current();
    let items = this.items(reports, source, anyMachine, checked, snapshot);
    const parts = items.reduce((n, it) => n + 2 + it.assignments.length, 0);
    this.waiting++;
    let waited = true;
    const fresh = await this.storing.runExclusive(async () => {
      this.waiting--;
      waited = false;
      // arms as the pins are served when the batch's turn comes (a rollout may have moved meanwhile)
      if (this.pins.current() !== snapshot) items = this.items(reports, source, anyMachine, checked, this.pins.current());
      return this.telemetry.ingest(items, checked, this.fleetCaps);
    }, Math.min(parts, this.maxParts)).finally(() => {
      if (waited) this.waiting--;
    });
    const counted: IngestResult['counted'] = [];
    items.forEach((it, i) => {
      if (fresh[i]) for (const a of it.assignments) counted.push({ rolloutId: a.rolloutId, arm: a.arm });
    });
    await this.telemetry.publishCounted([...new Set(counted.map((c) => c.rolloutId))]);
    const accepted = fresh.filter(Boolean).length;
    return { accepted, duplicates: items.length - accepted, counted, fresh };
  }

  /** The reports as the store counts them, each with its arms in `snapshot`'s pins. */
  private items(reports: Report[], source: string, anyMachine: boolean, now: number, snapshot: PinsSnapshot): IngestItem[] {
    return reports.map((r) => {
      const installed = byKey(r.installed);
      const pinned = r.pinned ? byKey(r.pinned) : undefined;
      return {
        id: r.id,
        machine: r.machine,
        ...(anyMachine && source ? { evidenceMachine: sourceMachine(source, r.machine) } : {}),
        outcome: r.outcome,
        day: new Date(Date.parse(r.finishedAt)).toISOString().slice(0, 10),
        failedTests: [...new Set(r.failedTests)],
        project: r.project,
        python: r.python,
        source,
        json: JSON.stringify({ ...r, receivedAt: new Date(now).toISOString() }),
        assignments: snapshot.assign(r.machine, installed, pinned, r.outcome, { python: r.python, ...(r.branch ? { branch: r.branch } : {}) }),
      };
    });
  }
}

function byKey(versions: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(versions).map(([name, v]) => [normalizeName(name), v]));
}
