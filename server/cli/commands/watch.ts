import type { Command } from 'commander';
import { ApiError } from '../api-client';
import { failWith, run, UsageError, type Ctx } from '../context';
import { clock } from '../format';
import { renderWatchList, renderWatchOne } from '../render-watch';
import { rolloutPath } from './paths';
import type { View } from '../types';

interface WatchOptions {
  interval: string;
  once?: boolean;
  count?: string;
}

const TERMINAL = new Set(['promoted', 'rolled_back', 'superseded']);

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .argument('[id]', 'one rollout (default: every active or paused rollout)')
    .description('redraw live: stage progress and the evidence gathered toward the next decision')
    .option('--interval <duration>', 'time between redraws', '2s')
    .option('--once', 'draw one frame and exit')
    .option('--count <n>', 'draw n frames and exit')
    .action(
      run(async (ctx, id: string | undefined, opts: WatchOptions) => {
        const intervalMs = parseInterval(opts.interval);
        const frames = opts.once ? 1 : opts.count ? Number(opts.count) : Infinity;
        if (!(frames >= 1)) throw new UsageError(`--count "${opts.count}": give a whole number ≥ 1`);
        await loop(ctx, id, intervalMs, frames);
      }),
    );
}

async function loop(ctx: Ctx, id: string | undefined, intervalMs: number, frames: number): Promise<void> {
  const tty = Boolean(process.stdout.isTTY) && !ctx.json;
  let stop = false;
  process.once('SIGINT', () => {
    stop = true;
    if (tty) process.stdout.write('\x1b[?25h\n');
    process.exit(0);
  });
  if (tty) process.stdout.write('\x1b[?25l');
  for (let n = 0; n < frames && !stop; n++) {
    const now = Date.now();
    let text: string;
    let done = false;
    try {
      if (id) {
        const view = await ctx.api.get<View>(rolloutPath(id));
        done = TERMINAL.has(view.state);
        text = ctx.json ? JSON.stringify({ at: now, rollout: view }) : renderWatchOne(view, ctx.style, now, ctx.width);
      } else {
        const { rollouts } = await ctx.api.get<{ rollouts: View[] }>('/v1/rollouts');
        text = ctx.json ? JSON.stringify({ at: now, rollouts }) : renderWatchList(rollouts, ctx.style, now, ctx.width);
      }
    } catch (e) {
      // A server restarting is worth waiting for; a bad token or id is not.
      if (!(e instanceof ApiError) || e.status === 401 || e.status === 403 || e.status === 404 || frames === 1) {
        if (tty) process.stdout.write('\x1b[?25h');
        failWith(e, ctx.json);
      }
      text = ctx.json ? JSON.stringify({ at: now, error: e.toJSON().error }) : `${ctx.style.red('server error')}: ${e.message}; retrying`;
    }
    if (ctx.json) process.stdout.write(text + '\n');
    else {
      const head = ctx.style.dim(`depcanary watch${id ? ` ${id}` : ''} — ${ctx.api.url} — ${clock(now)}${frames > 1 ? ` — every ${intervalMs / 1000}s, Ctrl-C to stop` : ''}`);
      process.stdout.write(tty ? `\x1b[H\x1b[J${head}\n\n${text}` : `${head}\n\n${text}\n`);
    }
    if (done) break;
    if (n + 1 < frames) await new Promise((r) => setTimeout(r, intervalMs));
  }
  if (tty) process.stdout.write('\x1b[?25h');
}

/** `--interval`: 500ms, 2s, 1m (at least 100 ms). */
function parseInterval(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--interval "${text}": give a time like 500ms, 2s or 1m`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  return Math.max(100, unit === 'ms' ? n : unit === 'm' ? n * 60_000 : n * 1000);
}
