import { controllerExtension } from './controller/extension';
import { gerritExtension } from './gerrit/extension';
import { notifyExtension } from './notify/extension';
import type { Extension } from './runtime';
import { webExtension } from './web/routes';

/** The parts that hang off the core server: controller, Gerrit proposer and watch, webhooks, dashboard. */
export function defaultExtensions(): Extension[] {
  return [controllerExtension(), gerritExtension(), notifyExtension(), webExtension()];
}
