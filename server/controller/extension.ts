import type { Extension } from '../runtime';
import { CONTROLLER_LEASE, Lease } from '../store/lease';
import { Controller } from './controller';

/** Runs the evaluation loop in this process when `controller.enabled` (the default). */
export function controllerExtension(): Extension {
  return {
    async start(rt) {
      const c = rt.config.controller;
      if (!c.enabled) {
        rt.logger.info('controller disabled (DEPCANARY_CONTROLLER=0)');
        return { stop: async () => undefined };
      }
      const controller = new Controller({
        store: rt.rolloutStore,
        telemetry: rt.telemetry,
        rollouts: rt.rollouts,
        lease: new Lease(rt.redis, rt.config.keyPrefix, CONTROLLER_LEASE, c.leaseMs),
        subscriber: rt.newConnection(),
        prefix: rt.config.keyPrefix,
        metrics: rt.metrics,
        logger: rt.logger,
        tickMs: c.tickMs,
        debounceMs: c.debounceMs,
        gates: rt.rollouts.gates,
      });
      await controller.start();
      return { stop: () => controller.stop() };
    },
  };
}
