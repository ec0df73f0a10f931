import type { Command } from 'commander';
import { ApiClient, ApiError } from './api-client';
import { colourWanted, makeStyle, type Style } from './format';

/** Exit codes, for scripts (docs/release-managers.md). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  notFound: 5,
  conflict: 6,
} as const;

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
  color?: boolean;
}

/** What every command gets: the API client, output mode and styling. */
export interface Ctx {
  api: ApiClient;
  json: boolean;
  style: Style;
  width: number | undefined;
  out(text: string): void;
  printJson(value: unknown): void;
}

export function contextOf(cmd: Command): Ctx {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const url = g.url ?? process.env.DEPCANARY_URL ?? DEFAULT_URL;
  const token = g.token ?? process.env.DEPCANARY_TOKEN;
  const json = Boolean(g.json);
  const style = makeStyle(!json && g.color !== false && colourWanted(process.stdout));
  return {
    api: new ApiClient({ url, token: token || undefined }),
    json,
    style,
    width: process.stdout.isTTY ? process.stdout.columns : undefined,
    out: (text) => void process.stdout.write(text),
    printJson: (value) => void process.stdout.write(JSON.stringify(value, null, 2) + '\n'),
  };
}

/** A usage mistake the CLI itself catches (bad flag value, missing file). */
export class UsageError extends Error {}

/**
 * Turns any failure into one clear line on stderr (and, with --json, the error object on
 * stdout) and the matching exit code. Never prints a stack trace for an expected failure.
 */
export function failWith(e: unknown, json: boolean): never {
  let code: number = EXIT.failure;
  let line: string;
  if (e instanceof ApiError) {
    code = exitFor(e.status);
    line = apiErrorLine(e);
    if (json) process.stdout.write(JSON.stringify(e.toJSON()) + '\n');
  } else if (e instanceof UsageError) {
    code = EXIT.usage;
    line = e.message;
    if (json) process.stdout.write(JSON.stringify({ error: { status: 0, code: 'usage', message: e.message } }) + '\n');
  } else {
    line = `unexpected error: ${(e as Error)?.message ?? String(e)}`;
  }
  process.stderr.write(`depcanary: ${line}\n`);
  process.exit(code);
}

function exitFor(status: number): number {
  if (status === 0) return EXIT.unreachable;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 400) return EXIT.usage;
  return EXIT.failure;
}

function apiErrorLine(e: ApiError): string {
  switch (e.status) {
    case 0:
      return `${e.message} (is the server running? set --url or DEPCANARY_URL)`;
    case 401:
      return `not authorised (401): ${e.message}; pass a token with --token or DEPCANARY_TOKEN`;
    case 403:
      return `forbidden (403): ${e.message}`;
    case 404:
      return `not found (404): ${e.message}`;
    case 409:
      return `conflict (409): ${e.message}`;
    default:
      return `${e.code.replace(/_/g, ' ')} (${e.status}): ${e.message}`;
  }
}

/** Wraps an async action so every error goes through failWith. */
export function run<A extends unknown[]>(fn: (ctx: Ctx, ...args: A) => Promise<void>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const ctx = contextOf(cmd);
    try {
      await fn(ctx, ...(args.slice(0, -1) as A));
    } catch (e) {
      failWith(e, ctx.json);
    }
  };
}
