import { changeRef, type GerritClient } from './client';
import type { GerritSettings } from './config';
import { GerritError } from './http';
import type { Outbox } from './outbox';
import { parseGerritTime } from './schemas';
import type { GerritLogger, ProposalSink } from './types';

/**
 * Follows the changes depcanary opened until they close: a merged change records
 * `mergedAt` on its rollout (Gerrit's `submitted` time), an abandoned one `abandonedAt`.
 * Runs with the base refresh (a merge is what moves the branch head).
 */
export async function checkMerged(
  d: { outbox: Outbox; client: GerritClient; settings: GerritSettings; sink: ProposalSink; logger: GerritLogger; now: () => number },
): Promise<number> {
  let closed = 0;
  for (const id of await d.outbox.watched()) {
    const item = await d.outbox.get(id);
    const rec = item?.result;
    if (!item || !rec?.changeNumber) {
      if (item) await d.outbox.updateWatched(item, false);
      continue;
    }
    let status: string;
    let submitted: number | null = null;
    try {
      const c = await d.client.getChange(changeRef(d.settings.project, rec.changeNumber));
      status = c.status;
      submitted = parseGerritTime(c.submitted ?? c.updated);
    } catch (e) {
      if (e instanceof GerritError && e.status === 404) status = 'GONE';
      else {
        d.logger.warn({ outbox: id, change: rec.changeNumber, err: (e as Error).message }, 'could not check the proposal change');
        continue;
      }
    }
    if (status === 'NEW') continue;
    const now = d.now();
    const result = { ...rec, updatedAt: now };
    if (status === 'MERGED') result.mergedAt = submitted ?? now;
    else if (status === 'ABANDONED') result.abandonedAt = submitted ?? now;
    else result.lastError = `change ${rec.changeNumber} is no longer visible in Gerrit`;
    await d.sink.setProposal(item.rolloutId, result);
    await d.outbox.updateWatched({ ...item, result }, false);
    d.logger.info({ outbox: id, rollout: item.rolloutId, change: rec.changeNumber, status }, 'proposal change closed');
    closed++;
  }
  return closed;
}
