import type { Command } from 'commander';
import { run, UsageError } from '../context';
import { reasonText, stageText } from '../describe';
import { renderChanges, renderWebhooks, type DeliveryView, type WatchRecord, type WebhookView } from '../render-canary';
import type { View } from '../types';
import { rolloutPath } from './paths';

/**
 * The CLI of bump-change canaries, signoffs and webhooks (docs/release-managers.md):
 *   approve ID --reason       sign off the current stage (the signoff policy counts distinct people)
 *   changes [--poll]          the bump changes canaried before they merge (--poll: one watch pass now)
 *   webhooks [list]           configured webhooks and their deliveries
 *   webhooks redeliver ID     send a delivery again
 * (render-canary.ts lays them out, with the lines `show` adds for source, signoffs and freeze).
 */
export function registerCanary(program: Command): void {
  program
    .command('approve')
    .argument('<id>', 'rollout id')
    .description('sign off the rollout\'s current stage (the signoff policy counts distinct release managers)')
    .requiredOption('--reason <text>', 'why (kept in the audit trail)')
    .option('--revision <n>', 'refuse (409) if the rollout changed since this revision')
    .action(
      run(async (ctx, id: string, opts: { reason: string; revision?: string }) => {
        if (opts.revision !== undefined && !/^\d+$/.test(opts.revision)) throw new UsageError(`--revision "${opts.revision}": give a whole number`);
        const view = await ctx.api.post<View>(`${rolloutPath(id)}/approve`, { reason: opts.reason, ...(opts.revision ? { revision: Number(opts.revision) } : {}) });
        if (ctx.json) return ctx.printJson(view);
        const { needed, approvers } = view.signoff;
        const count = needed > 0 ? `${approvers.length} of ${needed} approvals` : `${approvers.length} approval${approvers.length === 1 ? '' : 's'} (no signoff policy on this stage)`;
        ctx.out(`${view.id}: stage ${stageText(view)} approved; ${count}: ${approvers.join(', ')}, revision ${view.revision}\n  ${reasonText(view)}\n`);
      }),
    );

  program
    .command('changes')
    .description('the bump changes canaried before they merge: patch set, rollouts, what was skipped or deferred, the vote')
    .option('--poll', 'run one watch pass now first (admin): new changes and patch sets, merges, abandons, reviews')
    .action(
      run(async (ctx, opts: { poll?: boolean }) => {
        const pass = opts.poll ? await ctx.api.post<{ open: number; started: number; ended: number; reports: number }>('/v1/admin/gerrit/watch', {}) : null;
        const res = await ctx.api.get<{ watching: boolean; changes: WatchRecord[] }>('/v1/admin/gerrit/changes');
        if (ctx.json) return ctx.printJson(pass ? { pass, ...res } : res);
        if (!res.watching) return ctx.out(ctx.style.dim('Gerrit is not configured (GERRIT_URL): no bump change is watched\n'));
        if (pass) ctx.out(ctx.style.dim(`watch pass: ${pass.open} open, ${pass.started} rollouts started, ${pass.ended} ended, ${pass.reports} reviews posted\n`));
        ctx.out(renderChanges(res.changes, ctx.style, ctx.width));
      }),
    );

  const hooks = program.command('webhooks').description('outgoing webhooks: configured endpoints, deliveries, redelivery');
  hooks
    .command('list', { isDefault: true })
    .description('configured webhooks and their deliveries, newest first: event, status, attempts, last answer')
    .option('--webhook <name>', 'only this webhook\'s deliveries')
    .option('--status <status>', 'only pending, delivered or failed deliveries')
    .option('--limit <n>', 'at most this many deliveries (default 50)', '50')
    .action(
      run(async (ctx, opts: { webhook?: string; status?: string; limit: string }) => {
        if (opts.status && !['pending', 'delivered', 'failed'].includes(opts.status)) throw new UsageError(`--status "${opts.status}": give pending, delivered or failed`);
        if (!/^\d{1,3}$/.test(opts.limit) || Number(opts.limit) < 1) throw new UsageError(`--limit "${opts.limit}": give a whole number from 1 to 500`);
        const q = new URLSearchParams({ limit: opts.limit });
        if (opts.webhook) q.set('webhook', opts.webhook);
        if (opts.status) q.set('status', opts.status);
        const [{ webhooks }, { deliveries }] = await Promise.all([
          ctx.api.get<{ webhooks: WebhookView[] }>('/v1/webhooks'),
          ctx.api.get<{ deliveries: DeliveryView[] }>(`/v1/webhooks/deliveries?${q}`),
        ]);
        if (ctx.json) return ctx.printJson({ webhooks, deliveries });
        ctx.out(renderWebhooks(webhooks, deliveries, ctx.style, Date.now()));
      }),
    );
  hooks
    .command('redeliver')
    .argument('<delivery>', 'delivery id (<webhook>:<feed entry id>, see `depcanary webhooks`)')
    .description('send a delivered or failed delivery again, with the same webhook-id and body (admin)')
    .action(
      run(async (ctx, id: string) => {
        const r = await ctx.api.post<{ id: string; status: string }>(`/v1/webhooks/deliveries/${encodeURIComponent(id)}/redeliver`, {});
        if (ctx.json) return ctx.printJson(r);
        ctx.out(`${r.id}: ${r.status}; the notifier sends it again within a second\n`);
      }),
    );
}
