import type { Command } from 'commander';
import { run } from '../context';
import { renderRollouts } from '../render-list';
import type { View } from '../types';

export function registerList(program: Command): void {
  program
    .command('rollouts')
    .alias('ls')
    .description('table of every rollout: versions, state, stage, evidence per arm, decision and why')
    .option('--state <state>', 'only rollouts in this state (active, paused, promoted, rolled_back, superseded, abandoned)')
    .option('--branch <branch>', 'only rollouts of this branch (master, stable/<series>)')
    .option('--change <number>', 'only the canaries of this Gerrit bump change')
    .action(
      run(async (ctx, opts: { state?: string; branch?: string; change?: string }) => {
        const params = new URLSearchParams();
        if (opts.state) params.set('state', opts.state);
        if (opts.branch) params.set('branch', opts.branch);
        if (opts.change) params.set('change', opts.change);
        const q = params.size ? `?${params}` : '';
        const { rollouts } = await ctx.api.get<{ rollouts: View[] }>(`/v1/rollouts${q}`);
        if (ctx.json) return ctx.printJson({ rollouts });
        ctx.out(renderRollouts(rollouts, ctx.style, ctx.width));
      }),
    );
}
