import type { Express } from 'express';
import type { Role } from '../store/token-store';
import { FAST_PINS_PATH, FAST_UPPER_ROUTE } from './fast-pins';

/**
 * Every route a running server answers, read from the express app itself (core routes and
 * those of extensions: Gerrit, dashboard) plus the pins fast path in front of it, with the
 * role its guard needs (null: open). Mounted middleware (static files) appears as
 * `GET <mount>/*`. Tests enumerate this, so a new route is fuzzed and auth-checked without
 * anyone adding it to a list.
 */
export interface RouteInfo {
  method: string;
  /** Express path syntax (`/v1/rollouts/:id`); `/*` after a mount point. */
  path: string;
  role: Role | null;
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean>; stack: { handle: { requiredRole?: Role } }[] };
  handle: { stack?: Layer[]; requiredRole?: Role };
  rawPath?: unknown;
  name?: string;
}

export function listRoutes(app: Express): RouteInfo[] {
  const out: RouteInfo[] = [{ method: 'GET', path: FAST_PINS_PATH, role: null }, { method: 'GET', path: FAST_UPPER_ROUTE, role: null }];
  const root = (app as unknown as { router: { stack: Layer[] } }).router;
  walk(root.stack, '', out);
  return out;
}

function walk(stack: Layer[], prefix: string, out: RouteInfo[]): void {
  for (const layer of stack) {
    const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
    if (layer.route) {
      const guards = layer.route.stack.map((l) => l.handle.requiredRole).filter((r): r is Role => r !== undefined);
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (on && method !== '_all') out.push({ method: method.toUpperCase(), path: prefix + layer.route.path, role: guards[0] ?? null });
      }
    } else if (layer.handle.stack) {
      walk(layer.handle.stack, prefix + mount, out);
    } else if (mount) {
      out.push({ method: 'GET', path: `${prefix}${mount}/*`, role: layer.handle.requiredRole ?? null });
    }
  }
}
