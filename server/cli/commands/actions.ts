import type { Command } from 'commander';
import { run, UsageError } from '../context';
import { reasonText, stageText } from '../describe';
import { rolloutPath } from './paths';
import type { View } from '../types';

interface ActionOptions {
  reason?: string;
  revision?: string;
}

const ACTIONS = [
  { name: 'promote', help: 'advance to the next stage now (the last step promotes: C becomes the base pin)', needsReason: false },
  { name: 'pause', help: 'stop automatic advances (automatic rollback stays armed)', needsReason: false },
  { name: 'resume', help: 'resume a paused rollout', needsReason: false },
  { name: 'rollback', help: 'end the rollout: every machine goes back to the stable version', needsReason: true },
] as const;

export function registerActions(program: Command): void {
  for (const a of ACTIONS) {
    const cmd = program
      .command(a.name)
      .argument('<id>', 'rollout id')
      .description(a.help)
      .option('--revision <n>', 'refuse (409) if the rollout changed since this revision');
    if (a.needsReason) cmd.requiredOption('--reason <text>', 'why (kept in the audit trail and the Gerrit change)');
    else cmd.option('--reason <text>', 'why (kept in the audit trail)');
    cmd.action(
      run(async (ctx, id: string, opts: ActionOptions) => {
        const body: { reason: string; revision?: number } = { reason: opts.reason ?? `${a.name} from the depcanary CLI` };
        if (opts.revision !== undefined) {
          if (!/^\d+$/.test(opts.revision)) throw new UsageError(`--revision "${opts.revision}": give a whole number`);
          body.revision = Number(opts.revision);
        }
        const view = await ctx.api.post<View>(`${rolloutPath(id)}/${a.name}`, body);
        if (ctx.json) return ctx.printJson(view);
        ctx.out(`${view.id}: ${view.state.replace('_', ' ')}, stage ${stageText(view)}, revision ${view.revision}\n  ${reasonText(view)}\n`);
      }),
    );
  }
}
