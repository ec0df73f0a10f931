import { bar, wrap, type Style } from './format';
import { decisionLines, gaugeLines, segmentLines } from './render-show';
import { branchText, emergencyText, reasonText, stageText, stateText, verdictText, versionsText } from './describe';
import type { View } from './types';

const RECENT_MS = 15 * 60_000;

/** One frame of `depcanary watch`: every live rollout (and those ended in the last 15 minutes). */
export function renderWatchList(views: View[], s: Style, now: number, width?: number): string {
  const shown = views
    .filter((v) => v.state === 'active' || v.state === 'paused' || v.emergencyPin?.inForce || (v.endedAt !== null && now - v.endedAt < RECENT_MS))
    .sort((a, b) => a.createdAt - b.createdAt);
  if (shown.length === 0) return s.dim('no active rollouts\n');
  return shown.map((v) => block(v, s, now, width)).join('\n');
}

function block(v: View, s: Style, now: number, width?: number): string {
  const out = [`${s.bold(v.library)} ${versionsText(v)} ${branchText(v)}  ${stateText(v, s)}  ${s.dim(v.id)}`];
  const pin = emergencyText(v);
  if (pin && v.emergencyPin?.inForce) out.push(`  ${s.red(pin)}`);
  out.push(`  stage     ${stageBar(v)}  ${stageText(v)}  ${stagePath(v, s)}`);
  out.push(...gaugeLines(v, s, '  '));
  out.push(`  arms      candidate ${v.figures.arms.candidate.full} on ${v.evidence.total.candidate.machines} machines · control ${v.figures.arms.control.full} on ${v.evidence.total.control.machines}`);
  out.push(`  decision  ${verdictText(v, s)}`);
  out.push(...segmentLines(v, s, width));
  out.push(`            ${s.dim(wrap(reasonText(v), width ? width - 12 : undefined, ''))}`.replace(/\n/g, '\n            '));
  return out.join('\n') + '\n';
}

/** One frame of `depcanary watch ID`. */
export function renderWatchOne(v: View, s: Style, now: number, width?: number): string {
  const out = [`${s.bold(v.library)} ${versionsText(v)} ${branchText(v)}  ${stateText(v, s)}  ${s.dim(`${v.id}, revision ${v.revision}`)}`, ''];
  const pin = emergencyText(v);
  if (pin && v.emergencyPin?.inForce) out.push(s.red(pin), '');
  out.push(`stage  ${stageBar(v)}  ${stageText(v)}  ${stagePath(v, s)}`, '');
  out.push(...decisionLines(v, s, now, width), '');
  for (const arm of ['candidate', 'control'] as const) {
    const c = v.evidence.total[arm];
    out.push(`${arm.padEnd(9)}  ${String(c.runs).padStart(6)} runs  ${String(c.machines).padStart(5)} machines  fail ${v.figures.arms[arm].full}`);
  }
  return out.join('\n') + '\n';
}

function stageBar(v: View): string {
  const p = v.state === 'promoted' ? 100 : v.state === 'active' || v.state === 'paused' ? (v.stages[v.stageIndex] ?? 0) : 0;
  return bar(p / 100, 20);
}

/** "1% → [10%] → 100%" with the current stage bracketed. */
function stagePath(v: View, s: Style): string {
  return v.stages
    .map((p, i) => {
      const live = v.state === 'active' || v.state === 'paused';
      if (live && i === v.stageIndex) return s.bold(`[${p}%]`);
      if (v.state === 'promoted' && i === v.stages.length - 1) return s.bold(`[${p}%]`);
      return i < v.stageIndex ? `${p}%` : s.dim(`${p}%`);
    })
    .join(' → ');
}
