import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express, { Router, type Response } from 'express';
import type { Extension } from '../runtime';

/**
 * The release managers' dashboard: static ES modules under /static, the uPlot chart library
 * from the project's own node_modules under /vendor/uplot (no CDN: the machines have no
 * internet), and index.html for `/` and `/rollouts/:id` (the page routes on the client).
 * The page reads and acts through the v1 API with the token the user enters; with
 * `publicRead` (DEPCANARY_PUBLIC_READ) it reads without one (settings.json tells it so).
 */
export function webRoutes(opts: { publicRead?: boolean } = {}): Router {
  const r = Router();
  const dir = staticDir();
  const uplot = dirname(require.resolve('uplot/package.json'));
  const index = join(dir, 'index.html');
  const page = (_req: unknown, res: Response) => {
    res.set({
      'content-security-policy':
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    });
    res.sendFile(index);
  };
  r.get('/dashboard/settings.json', (_req, res) => {
    res.set('cache-control', 'no-cache').json({ publicRead: Boolean(opts.publicRead) });
  });
  r.get('/', page);
  r.get('/rollouts/:id', page);
  const assets = { fallthrough: true, index: false, maxAge: 0, setHeaders: (res: Response) => res.set('x-content-type-options', 'nosniff') };
  r.use('/static', express.static(dir, assets));
  for (const file of ['uPlot.esm.js', 'uPlot.min.css']) {
    r.get(`/vendor/uplot/${file}`, (_req, res) => {
      res.set('x-content-type-options', 'nosniff').sendFile(join(uplot, 'dist', file), { maxAge: 3_600_000 });
    });
  }
  return r;
}

/** The dashboard as an extension of the server (server/extensions.ts). */
export function webExtension(): Extension {
  return { start: (rt) => ({ routers: [webRoutes({ publicRead: rt.config.publicRead })], stop: async () => undefined }) };
}

function staticDir(): string {
  // From sources (ts-jest) the files sit beside this module; from dist/ they stay in server/web/.
  const candidates = [join(__dirname, 'static'), join(__dirname, '..', '..', '..', 'server', 'web', 'static')];
  const dir = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!dir) throw new Error(`dashboard files not found in ${candidates.join(' or ')}`);
  return dir;
}
