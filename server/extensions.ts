import { controllerExtension } from './controller/extension';
import type { Extension } from './runtime';

/** The parts that hang off the core server: controller, Gerrit proposer, dashboard. */
export function defaultExtensions(): Extension[] {
  return [controllerExtension()];
}
