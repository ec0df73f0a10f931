import { h } from './dom.js';
import { LIVE } from './format.js';

/**
 * One progress bar per stage: stages passed are full, the current one fills as its advance
 * requirements (soak, machines, runs: the least-met one) are met, later ones are empty.
 * A rolled-back rollout shows the stage it ended in red.
 */
export function stageBars(v, { compact = false } = {}) {
  const live = LIVE.has(v.state);
  const bars = v.stages.map((percent, i) => {
    let fill = 0;
    let kind = 'future';
    if (v.state === 'promoted' || i < v.stageIndex) {
      fill = 1;
      kind = 'done';
    } else if (i === v.stageIndex && live) {
      fill = i === v.stages.length - 1 ? 1 : v.figures.stageProgress;
      kind = v.state === 'paused' ? 'paused' : 'current';
    } else if (i === v.stageIndex && v.state === 'rolled_back') {
      fill = 1;
      kind = 'failed';
    } else if (i === v.stageIndex) {
      fill = 1;
      kind = 'ended';
    }
    const title =
      kind === 'current' || kind === 'paused'
        ? `${percent}% stage: ${Math.round(fill * 100)}% of the way to the next advance (least-met of soak, machines, runs)`
        : kind === 'done' ? `${percent}% stage: passed` : kind === 'failed' ? `${percent}% stage: rolled back here` : `${percent}% stage`;
    return h(
      'div',
      { class: `stage stage-${kind}`, title, dataset: { stage: String(i), percent: String(percent) } },
      h('div', { class: 'stage-label' }, `${percent}%`),
      h('div', { class: 'stage-track', role: 'progressbar', 'aria-label': title, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(fill * 100)) },
        h('div', { class: 'stage-fill', style: { width: `${(fill * 100).toFixed(1)}%` } })),
    );
  });
  return h('div', { class: `stages${compact ? ' stages-compact' : ''}` }, bars);
}
