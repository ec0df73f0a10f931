import uPlot from '/vendor/uplot/uPlot.esm.js';
import { h, fill } from './dom.js';

const COLORS = { candidate: '#d9480f', control: '#1c7ed6', band: 'rgba(217, 72, 15, 0.16)', margin: '#5c940d', stage: '#868e96' };

/**
 * Candidate vs control failure rate over time, one point per controller evaluation whose
 * evidence changed (GET /v1/rollouts/:id/series). The shaded band is p_T ± h: the
 * controller's always-valid bound on D = p_T − p_K drawn around the candidate's rate. So
 * the chart shows both rules: roll back when the band is entirely above the control line
 * (D − h > 0); advance needs the band entirely below the dashed threshold p_K + margin
 * (D + h < margin), besides soak, machines and runs. Dotted verticals mark stage changes.
 */
export function failureChart(container) {
  let plot = null;
  let lastKey = '';
  let history = [];
  let yMax = 5;
  const area = h('div', { class: 'chart-area' });
  const note = h('p', { class: 'chart-empty muted' });
  fill(container, area, note);

  const resize = new ResizeObserver(() => {
    if (plot) plot.setSize(size());
  });
  resize.observe(container);

  function size() {
    return { width: Math.max(320, container.clientWidth), height: 300 };
  }

  function data(points, view) {
    const xs = [], pk = [], pt = [], hi = [], lo = [], thr = [];
    for (const p of points) {
      xs.push(p.at / 1000);
      const K = p.control.p, T = p.candidate.p;
      pk.push(K === null ? null : 100 * K);
      pt.push(T === null ? null : 100 * T);
      const ok = T !== null && p.h !== null;
      // the band's top is the advance bound (its own level), its bottom the rollback bound
      hi.push(ok ? Math.min(100, 100 * (T + (p.hA ?? p.h))) : null);
      lo.push(ok ? 100 * Math.max(0, T - p.h) : null);
      // the margin is the server's (each point carries the one its evaluation used)
      const m = p.m ?? null;
      thr.push(K !== null && m !== null ? 100 * (K + m) : null);
    }
    // The scale follows the rates, the threshold and the band's lower edge; an early, very
    // wide band runs off the top (it is then far above the threshold: no advance yet).
    const seen = [...pk, ...pt, ...thr, ...lo].filter((x) => x !== null);
    yMax = Math.min(100, Math.max(5, Math.ceil(1.3 * Math.max(0, ...seen))));
    return [xs, pk, pt, hi, lo, thr];
  }

  function create(d, legend) {
    // the band's bottom is the rollback bound, its top the advance bound (labels from the server)
    const opts = {
      ...size(),
      class: 'failure-chart',
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: () => [0, yMax] } },
      axes: [
        { stroke: '#495057', grid: { stroke: '#edf0f2' } },
        { stroke: '#495057', grid: { stroke: '#edf0f2' }, values: (_u, ticks) => ticks.map((t) => `${t}%`), size: 50, label: 'failure rate', labelSize: 18 },
      ],
      series: [
        { label: 'time' },
        { label: 'control p_K', stroke: COLORS.control, width: 2, value: pctValue },
        { label: 'candidate p_T', stroke: COLORS.candidate, width: 2, value: pctValue },
        { label: `band high (${legend.bandHigh})`, stroke: 'rgba(217,72,15,0.35)', width: 1, value: pctValue },
        { label: `band low (${legend.bandLow})`, stroke: 'rgba(217,72,15,0.35)', width: 1, value: pctValue },
        { label: 'advance threshold p_K + margin', stroke: COLORS.margin, width: 1.5, dash: [6, 5], value: pctValue },
      ],
      bands: [{ series: [3, 4], fill: COLORS.band }],
      hooks: { draw: [drawStageMarks] },
    };
    return new uPlot(opts, d, area);
  }

  function drawStageMarks(u) {
    const ctx = u.ctx;
    const [x0, x1] = [u.scales.x.min, u.scales.x.max];
    ctx.save();
    ctx.strokeStyle = COLORS.stage;
    ctx.fillStyle = '#495057';
    ctx.setLineDash([2, 4]);
    ctx.lineWidth = devicePixelRatio;
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    for (const e of history) {
      const t = e.at / 1000;
      if (t < x0 || t > x1) continue;
      const x = Math.round(u.valToPos(t, 'x', true));
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillText(`${e.percent}%`, x + 4 * devicePixelRatio, u.bbox.top + 12 * devicePixelRatio);
    }
    ctx.restore();
  }

  return {
    update(points, view) {
      history = view.history;
      if (!points || points.length === 0) {
        fill(note, 'No evaluations yet: the chart starts with the controller’s first evaluation of reports.');
        return;
      }
      fill(note);
      const key = `${points.length}:${points[points.length - 1].at}:${view.q0}:${view.history.length}`;
      if (key === lastKey && plot) return;
      lastKey = key;
      const d = data(points, view);
      if (!plot) plot = create(d, view.figures.chart);
      else plot.setData(d);
    },
    destroy() {
      resize.disconnect();
      if (plot) plot.destroy();
      plot = null;
    },
  };
}

function pctValue(_u, v) {
  return v === null || v === undefined ? '–' : `${v.toFixed(1)}%`;
}
