import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { run, UsageError } from '../context';

export function registerImport(program: Command): void {
  const imp = program.command('import').description('import data into the server');
  imp
    .command('constraints')
    .argument('<file>', 'an upper-constraints.txt file (Name===version[;marker] lines)')
    .description('replace the base constraints (admin token)')
    .action(
      run(async (ctx, file: string) => {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (e) {
          throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const res = await ctx.api.putText<{ lines: number; pins: number; etag: string }>('/v1/constraints', text);
        if (ctx.json) return ctx.printJson(res);
        ctx.out(`Imported ${file}: ${res.lines} lines, ${res.pins} pins (etag ${res.etag})\n`);
      }),
    );
}
