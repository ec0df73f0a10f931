import type { Command } from 'commander';
import { run, UsageError } from '../context';
import { reasonText, stageText } from '../describe';
import { rolloutPath } from './paths';
import type { View } from '../types';

interface ActionOptions {
  reason?: string;
  revision?: string;
  exclude?: boolean;
  closesBug?: string;
  relatedBug?: string;
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
    if (a.name === 'rollback') {
      cmd
        .option('--exclude', 'also propose the !=VERSION exclusion in the requirements file (a change of its own)')
        .option('--no-exclude', 'propose no exclusion')
        .option('--closes-bug <n>', 'the revert closes this bug (Closes-Bug: #n)')
        .option('--related-bug <n>', 'the revert relates to this bug (Related-Bug: #n)');
    }
    cmd.action(
      run(async (ctx, id: string, opts: ActionOptions) => {
        const body: { reason: string; revision?: number; exclude?: boolean; bug?: Record<string, string> } = { reason: opts.reason ?? `${a.name} from the depcanary CLI` };
        if (opts.exclude !== undefined) body.exclude = opts.exclude;
        if (opts.closesBug && opts.relatedBug) throw new UsageError('give --closes-bug or --related-bug, not both');
        if (opts.closesBug) body.bug = { closes: opts.closesBug };
        if (opts.relatedBug) body.bug = { related: opts.relatedBug };
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

/** `depcanary lift-pin ID --reason ...`: ends the emergency pin a rollback of a merged bump left. */
export function registerLiftPin(program: Command): void {
  program
    .command('lift-pin')
    .argument('<id>', 'the rolled-back rollout whose emergency pin to lift')
    .description('stop pinning the stable for every machine before the base follows (the revert merged elsewhere, or the pin is wrong)')
    .requiredOption('--reason <text>', 'why (kept in the audit trail)')
    .action(
      run(async (ctx, id: string, opts: { reason: string }) => {
        const view = await ctx.api.post<View>(`${rolloutPath(id)}/lift-pin`, { reason: opts.reason });
        if (ctx.json) return ctx.printJson(view);
        ctx.out(`${view.id}: emergency pin lifted; machines on ${view.branch} get the base's ${view.library} again\n`);
      }),
    );
}
