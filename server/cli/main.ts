#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerActions, registerLiftPin } from './commands/actions';
import { registerBranches } from './commands/branches';
import { registerCanary } from './commands/canary';
import { registerImport } from './commands/import';
import { registerList } from './commands/list';
import { registerShow } from './commands/show';
import { registerStart } from './commands/start';
import { registerWatch } from './commands/watch';
import { DEFAULT_URL, EXIT } from './context';

/**
 * `depcanary`: the release managers' CLI over the v1 API (docs/release-managers.md).
 * Server and token come from --url/--token or DEPCANARY_URL/DEPCANARY_TOKEN.
 */
export function buildProgram(): Command {
  const program = new Command('depcanary')
    .description('Progressive rollouts of Python library versions: watch, promote, pause, resume, roll back')
    .version(version(), '-V, --version')
    .option('--url <url>', `server URL (env DEPCANARY_URL, default ${DEFAULT_URL})`)
    .option('--token <token>', 'bearer token (env DEPCANARY_TOKEN)')
    .option('--json', 'machine-readable JSON on stdout')
    .option('--no-color', 'no ANSI colours (also NO_COLOR=1)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`depcanary: ${text.replace(/^error: /, '')}`) });
  registerList(program);
  registerShow(program);
  registerStart(program);
  registerActions(program);
  registerLiftPin(program);
  registerBranches(program);
  registerWatch(program);
  registerImport(program);
  registerCanary(program);
  return program;
}

function version(): string {
  try {
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return (require('../../package.json') as { version: string }).version;
  }
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      const ok = e.code === 'commander.helpDisplayed' || e.code === 'commander.version';
      process.exit(ok ? EXIT.ok : EXIT.usage);
    }
    throw e;
  }
}

if (require.main === module) void main(process.argv);
