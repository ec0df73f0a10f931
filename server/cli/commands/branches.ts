import type { Command } from 'commander';
import { run } from '../context';
import { table } from '../format';

interface BranchView {
  branch: string;
  etag: string;
  lines: number;
  pins: number;
  source: string;
  importedAt: number;
  pythons: string[];
  liveRollouts: string[];
  promotedPending: { library: string; candidate: string }[];
  emergencyPins: { library: string; stable: string; candidate: string; rolloutId: string }[];
}

/** `depcanary branches`: each branch served, its base and what sits on top of it. */
export function registerBranches(program: Command): void {
  program
    .command('branches')
    .description('the constraints branches served: base source, pins, Pythons, live rollouts, emergency pins')
    .action(
      run(async (ctx) => {
        const { branches } = await ctx.api.get<{ branches: BranchView[] }>('/v1/branches');
        if (ctx.json) return ctx.printJson({ branches });
        const rows = branches.map((b) => [
          b.branch, String(b.pins), b.pythons.join(','), String(b.liveRollouts.length),
          b.emergencyPins.length ? ctx.style.red(b.emergencyPins.map((p) => `${p.library}=${p.stable}`).join(', ')) : '–',
          b.source,
        ]);
        ctx.out(table(['BRANCH', 'PINS', 'PYTHONS', 'LIVE', 'EMERGENCY PINS', 'BASE FROM'], rows, ctx.style).join('\n') + '\n');
      }),
    );
}
