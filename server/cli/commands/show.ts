import type { Command } from 'commander';
import { run } from '../context';
import { renderShow } from '../render-show';
import { rolloutPath } from './paths';
import type { Event, View } from '../types';

export function registerShow(program: Command): void {
  program
    .command('show')
    .argument('<id>', 'rollout id (see `depcanary rollouts`)')
    .description('one rollout: stage history, evidence, decision, top failing tests, Gerrit change, audit trail')
    .action(
      run(async (ctx, id: string) => {
        const view = await ctx.api.get<View>(rolloutPath(id));
        const { events } = await ctx.api.get<{ events: Event[] }>(`${rolloutPath(id)}/events`);
        if (ctx.json) return ctx.printJson({ rollout: view, events });
        ctx.out(renderShow(view, events, ctx.style, Date.now(), ctx.width));
      }),
    );
}
