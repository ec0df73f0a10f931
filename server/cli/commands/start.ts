import type { Command } from 'commander';
import { run, UsageError } from '../context';
import { parseDuration } from '../duration';
import { renderShow } from '../render-show';
import type { View } from '../types';

interface StartOptions {
  stable?: string;
  branch?: string;
  requiresPython?: string;
  stages?: string;
  soak?: string;
  minMachines?: string;
  reason?: string;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .argument('<library>', 'distribution name as pinned in the constraints (e.g. oslo.log)')
    .argument('<version>', 'candidate version (PEP 440)')
    .description('start a rollout of LIBRARY at VERSION (supersedes an active rollout of the same library)')
    .option('--branch <branch>', 'constraints branch: master (default), stable/<series>, or a release id like 2025.2')
    .option('--stable <version>', 'stable version (default: the pin in the base constraints, for the newest Python)')
    .option('--requires-python <spec>', "the candidate's Requires-Python (e.g. '>=3.10', '' for none); default: read from the package index")
    .option('--stages <list>', 'stage percents, comma separated, ending with 100 (default 1,10,100)')
    .option('--soak <duration>', 'minimum time in each stage before an automatic advance (30s, 90m, 24h, 2d)')
    .option('--min-machines <n>', 'minimum distinct candidate machines before an advance')
    .option('--reason <text>', 'why (kept in the audit trail)')
    .action(
      run(async (ctx, library: string, version: string, opts: StartOptions) => {
        const body = createBody(library, version, opts);
        const view = await ctx.api.post<View>('/v1/rollouts', body);
        if (ctx.json) return ctx.printJson(view);
        ctx.out(`Started ${view.id}: ${view.library} ${view.stable} → ${view.candidate} on ${view.branch}, stages ${view.stages.join(' → ')}%\n\n`);
        ctx.out(renderShow(view, [], ctx.style, Date.now()).split('\nEvidence')[0] + '\n');
      }),
    );
}

export function createBody(library: string, candidate: string, o: StartOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { library, candidate };
  if (o.stable) body.stable = o.stable;
  if (o.branch) body.branch = o.branch;
  if (o.requiresPython !== undefined) body.requiresPython = o.requiresPython;
  if (o.reason) body.reason = o.reason;
  if (o.stages) {
    const stages = o.stages.split(',').map((x) => x.trim().replace(/%$/, ''));
    if (stages.some((x) => !/^\d+(\.\d+)?$/.test(x))) throw new UsageError(`--stages "${o.stages}": give percents like 1,10,100`);
    body.stages = stages.map(Number);
  }
  const stage: Record<string, number> = {};
  if (o.soak !== undefined) {
    try {
      stage.soakSeconds = parseDuration(o.soak);
    } catch (e) {
      throw new UsageError(`--soak: ${(e as Error).message}`);
    }
  }
  if (o.minMachines !== undefined) {
    if (!/^\d+$/.test(o.minMachines)) throw new UsageError(`--min-machines "${o.minMachines}": give a whole number`);
    stage.minMachines = Number(o.minMachines);
  }
  if (Object.keys(stage).length > 0) body.policy = { stage };
  return body;
}
