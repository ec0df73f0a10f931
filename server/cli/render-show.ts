import { gateLines } from './render-canary';
import { ago, bar, clock, table, wrap, type Style } from './format';
import { branchText, emergencyText, linesText, pythonText, reasonText, stageText, stateText, verdictText, versionsText } from './describe';
import { ARMS, type Event, type View } from './types';

/**
 * Every number below comes from the server's `figures` (server/presentation/figures.ts):
 * this file only lays them out.
 */

/** `depcanary show ID`: stage history, evidence, failing tests, decision, proposal, audit trail. */
export function renderShow(v: View, events: Event[], s: Style, now: number, width?: number): string {
  const out: string[] = [];
  out.push(`${s.bold(v.library)} ${versionsText(v)} ${branchText(v)}   ${stateText(v, s)}   stage ${stageText(v)}   ${s.dim(`id ${v.id}, revision ${v.revision}`)}`);
  out.push(s.dim(`created ${clock(v.createdAt)} by ${v.createdBy}; updated ${ago(v.updatedAt, now)}`));
  const pin = emergencyText(v);
  if (pin) out.push(v.emergencyPin?.inForce ? s.red(pin) : s.dim(pin));
  if (v.lines.status !== 'ended') out.push(`${s.bold('Lines')}   ${linesText(v)}`);
  out.push(`${s.bold('Python')}  ${pythonText(v)}`);
  out.push(...gateLines(v, s));
  out.push('');
  out.push(s.bold('Stages'));
  out.push(...stageLines(v, s, now));
  out.push('');
  out.push(...decisionLines(v, s, now, width));
  out.push('');
  out.push(s.bold('Evidence') + s.dim(`  (${v.evidence.counted} reports counted, ${v.evidence.mismatched} not on their arm's version)`));
  out.push(...evidenceLines(v, s).map((l) => `  ${l}`));
  out.push('');
  out.push(s.bold('Segments') + s.dim('  (strongest evidence against the candidate: projects, Pythons, failing tests)'));
  const top = v.figures.segments.top;
  if (top.length === 0) out.push(s.dim('  none'));
  for (const l of top.slice(0, 5)) out.push(`  ${l.fired ? s.red('✗') : l.suspect ? s.yellow('!') : ' '} ${l.sentence}  ${s.dim(l.figure)}`);
  out.push('');
  out.push(s.bold('Top failing tests') + s.dim('  (distinct machines reporting each)'));
  for (const arm of ARMS) {
    const tests = v.evidence.failingTests[arm];
    out.push(`  ${arm}:${tests.length === 0 ? ' none' : ''}`);
    for (const t of tests.slice(0, 5)) out.push(`    ${String(t.machines).padStart(4)}  ${t.id}`);
  }
  const fresh = v.decision?.newInCandidate ?? [];
  if (fresh.length > 0) {
    out.push(`  ${s.red('over-represented in the candidate')}:`);
    for (const t of fresh.slice(0, 5)) {
      out.push(`    ${t.id}  (${t.candidateMachines} machine${t.candidateMachines === 1 ? '' : 's'}, ${t.expectedMachines.toFixed(1)} expected)`);
    }
  }
  out.push('');
  out.push(s.bold('Gerrit') + '  ' + proposalText(v.proposal, s, v.source));
  if (v.exclusion) out.push(`        ${proposalText(v.exclusion, s)}`);
  out.push('');
  out.push(s.bold('Audit trail'));
  out.push(...eventLines(events, s).map((l) => `  ${l}`));
  return out.join('\n') + '\n';
}

function stageLines(v: View, s: Style, now: number): string[] {
  return v.stages.map((p, i) => {
    const entered = [...v.history].reverse().find((h) => h.stageIndex === i);
    const current = i === v.stageIndex && (v.state === 'active' || v.state === 'paused');
    const passed = i < v.stageIndex || (v.state === 'promoted' && i === v.stageIndex);
    const failed = i === v.stageIndex && v.state === 'rolled_back';
    const mark = current ? s.cyan('●') : passed ? s.green('✓') : failed ? s.red('✗') : s.dim('○');
    const when = entered ? `entered ${clock(entered.at)} (${ago(entered.at, now)})` : s.dim('not reached');
    return `  ${mark} ${String(p).padStart(5)}%  ${bar(p / 100, 20)}  ${when}`;
  });
}

export function decisionLines(v: View, s: Style, now: number, width?: number): string[] {
  const out = [`${s.bold('Decision')}  ${verdictText(v, s)}${v.decision ? s.dim(`  evaluated ${ago(v.decision.at, now)}`) : ''}`];
  out.push(`  ${wrap(reasonText(v), width ? width - 2 : undefined, '  ')}`);
  const d = v.decision;
  const f = v.figures;
  if (d && (v.state === 'active' || v.state === 'paused')) {
    const interval = f.interval === '–' ? '' : `, interval ${f.interval}`;
    out.push(s.dim(`  D = p_T − p_K = ${f.difference}${interval} (always-valid, ${f.levels}); margin ${f.margin}; q0 ${f.q0}`));
    if (d.blockers.length > 0) out.push(s.dim(`  waiting for: ${d.blockers.join(', ')}`));
    for (const a of d.alarms) out.push(`  ${s.red('alarm')} ${a}`);
  }
  out.push(...segmentLines(v, s, width));
  if (f.gauges.length > 0) {
    out.push(s.dim('  toward the next advance:'));
    out.push(...gaugeLines(v, s, '    '));
  }
  return out;
}

/** One bar per condition of the next advance. */
export function gaugeLines(v: View, s: Style, indent: string): string[] {
  return v.figures.gauges.map((g) => {
    const b = bar(g.fraction, 20);
    return `${indent}${g.key.padEnd(9)} ${g.done ? s.green(b) : b}  ${g.text}${g.done ? s.green(' ✓') : ''}`;
  });
}

/** The segment that fired (or nearly did): its sentence and e-value. */
export function segmentLines(v: View, s: Style, width?: number): string[] {
  const seg = v.figures.segments;
  const line = (tag: string, l: { sentence: string; figure: string }) => `  ${tag} ${wrap(`${l.sentence} (${l.figure})`, width ? width - 4 - tag.length : undefined, '    ')}`;
  if (seg.fired) return [line(s.red('segment'), seg.fired)];
  if (seg.suspect) return [line(s.yellow('segment nearly proven worse:'), seg.suspect)];
  return [];
}

function evidenceLines(v: View, s: Style): string[] {
  const e = v.evidence;
  const d = v.decision;
  const row = (label: string, f: (arm: 'candidate' | 'control') => string) => [label, f('candidate'), f('control')];
  return table(
    ['', 'candidate', 'control'],
    [
      row(`runs (this stage)`, (a) => String(e.stage[a].runs)),
      row('runs (rollout)', (a) => String(e.total[a].runs)),
      row('failures / errors', (a) => `${e.total[a].failures} / ${e.total[a].errors}`),
      row('machines (failing)', (a) => `${e.total[a].machines} (${e.total[a].failingMachines})`),
      ...(d ? [row('capped runs N, machines G', (a) => `${d[a].N.toFixed(0)}, ${d[a].G}`)] : []),
      row('fail rate [95%]', (a) => v.figures.arms[a].full),
    ],
    s,
  );
}

function proposalText(p: View['proposal'], s: Style, source?: View['source']): string {
  if (!p) return s.dim(source ? `no change of its own: its verdict is the vote on change ${source.change}` : 'no proposed change');
  const parts = [`${p.kind ?? 'rollback'} ${p.status.replace(/_/g, ' ')}${p.branch ? ` (${p.branch})` : ''}`];
  if (p.changeNumber !== undefined) parts.push(`change ${p.changeNumber}`);
  if (p.url) parts.push(p.url);
  if (p.mergedAt) parts.push('merged');
  if (p.abandonedAt) parts.push('abandoned');
  const lines = [parts.join('  ')];
  if (p.subject) lines.push(`  ${p.subject}`);
  if (p.reason) lines.push(s.dim(`  ${p.reason}`));
  if (p.lastError) lines.push(s.red(`  last error: ${p.lastError}`));
  return lines.join('\n');
}

export function eventLines(events: Event[], s: Style): string[] {
  if (events.length === 0) return [s.dim('no events')];
  return events.map((e) => {
    const stage = e.fromStage !== e.toStage ? ` stage ${e.fromStage + 1}→${e.toStage + 1}` : '';
    const who = e.automatic ? s.cyan(`${e.actor} (auto)`) : e.actor;
    return `${clock(e.at)}  ${e.type.padEnd(12)}${who}${stage}  ${s.dim(e.reason)}`;
  });
}
