import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { run, UsageError } from '../context';

export function registerImport(program: Command): void {
  const imp = program.command('import').description('import data into the server');
  imp
    .command('constraints')
    .argument('<file>', 'an upper-constraints.txt file (Name===version[;marker] lines)')
    .description('replace the base constraints of a branch (admin token)')
    .option('--branch <branch>', 'master (default), stable/<series> or unmaintained/<series>')
    .option('--force', 'replace even a base the new file would empty or drop most pins of')
    .action(
      run(async (ctx, file: string, opts: { branch?: string; force?: boolean }) => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (e) {
          throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const params = new URLSearchParams();
        if (opts.branch) params.set('branch', opts.branch);
        if (opts.force) params.set('force', 'true');
        const res = await ctx.api.putText<{ branch: string; lines: number; pins: number; etag: string; dropped: number }>(`/v1/constraints${params.size ? `?${params}` : ''}`, text);
        if (ctx.json) return ctx.printJson(res);
        ctx.out(`Imported ${file} into ${res.branch}: ${res.lines} lines, ${res.pins} pins${res.dropped ? `, ${res.dropped} libraries dropped` : ''} (etag ${res.etag})\n`);
      }),
    );
}
