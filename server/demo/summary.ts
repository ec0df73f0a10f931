import { bar, makeStyle, type Style } from '../cli/format';
import { describeRollout } from './describe';
import type { Event, View } from '../cli/types';
import type { FleetStats } from './fleet';
import type { Scenario } from './scenario';

/**
 * The demo's live output: every few seconds one line per rollout, and a line for every
 * stage change, rollback or Gerrit proposal as it happens.
 */
export class Summary {
  private readonly seen = new Set<string>();
  private readonly proposals = new Map<string, string>();
  readonly style: Style;

  constructor(private readonly startedAt: number, colour: boolean) {
    this.style = makeStyle(colour);
  }

  elapsed(now = Date.now()): string {
    return `t+${String(Math.round((now - this.startedAt) / 1000)).padStart(3)}s`;
  }

  lines(views: { scenario: Scenario; view: View }[], fleet: FleetStats, now: number): string[] {
    const s = this.style;
    const failRate = fleet.runs > 0 ? (100 * (fleet.failures + fleet.errors)) / fleet.runs : 0;
    const out = [s.dim(`${this.elapsed(now)}  fleet: ${fleet.runs} runs reported, ${failRate.toFixed(1)}% failed${fleet.lastError ? `; last error: ${fleet.lastError}` : ''}`)];
    for (const { scenario, view } of views) {
      const d = describeRollout(view);
      out.push(
        `  ${scenario.label.padEnd(7)} ${`${view.library} ${view.stable} → ${view.candidate}`.padEnd(27)} ` +
          `▕${bar(d.percent / 100, 12)}▏ ${String(d.percent).padStart(3)}%  ${d.colour(s, d.verdict.padEnd(11))} ${d.arms}`,
      );
    }
    return out;
  }

  /** New audit events worth a line of their own (stage changes and endings), oldest first. */
  news(view: View, events: Event[]): string[] {
    const s = this.style;
    const out: string[] = [];
    for (const e of events) {
      const key = `${e.rolloutId}:${e.revision}:${e.type}:${e.at}`;
      if (this.seen.has(key) || !['advanced', 'promoted', 'rolled_back', 'pause', 'resume'].includes(e.type)) continue;
      this.seen.add(key);
      const from = view.stages[e.fromStage];
      const to = view.stages[e.toStage];
      const what =
        e.type === 'advanced' ? s.green(`advanced ${from}% → ${to}%`)
          : e.type === 'promoted' ? s.green(`promoted to 100%: ${view.candidate} is now the base pin`)
            : e.type === 'rolled_back' ? s.red(`rolled back at ${from}%: every machine is back on ${view.stable}`)
              : e.type;
      out.push(`${this.elapsed(e.at)}  ★ ${view.library} ${what}${e.automatic ? ' (controller)' : ` (${e.actor})`}`);
      out.push(s.dim(`          ${e.reason}`));
    }
    const p = view.proposal;
    if (p) {
      const text = `${p.kind ?? 'rollback'} ${p.status.replace(/_/g, ' ')}${p.changeNumber !== undefined ? ` change ${p.changeNumber}` : ''}${p.url ? ` ${p.url}` : ''}` +
        `${p.reason ? `: ${p.reason}` : ''}${p.lastError ? ` (last error: ${p.lastError})` : ''}`;
      if (this.proposals.get(view.id) !== text) {
        this.proposals.set(view.id, text);
        out.push(`${this.elapsed()}  ★ ${view.library} Gerrit proposal: ${text}`);
      }
    }
    return out;
  }
}
