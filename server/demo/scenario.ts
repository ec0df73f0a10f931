/**
 * The demo's two rollouts. Time is compressed (a "day" of a real fleet passes in about a
 * minute), so the policy is compressed with it: 30 s soaks, a handful of machines per
 * stage, a per-machine run cap of 100 instead of 5 per day (and 1,000 per source instead of
 * 50), and a 3-point margin floor in
 * the later stages instead of 1 point. Everything else is the real decision rule.
 */
export const DEMO_POLICY = {
  cap: 100,
  // per source (a simulated /24 of four machines), arm and "day": as compressed as the cap
  sourceCap: 1000,
  minControlRuns: 300,
  stage: { soakSeconds: 30, minMachines: 5, minRuns: 40 },
  stages: [{}, { marginFloor: 0.03 }],
};

export const DEMO_STAGES = [5, 25, 100];

export interface Scenario {
  /** "healthy" advances to 100%; "broken" fails several times as often as the control. */
  label: 'healthy' | 'broken';
  library: string;
  candidate: string;
  /** Added to a machine's failure probability on runs that installed the candidate. */
  extraFailure: number;
  /** Test ids a candidate-caused failure reports (one or two of them). */
  breaks: string[];
}

export const SCENARIOS: Scenario[] = [
  { label: 'healthy', library: 'oslo.log', candidate: '8.4.0', extraFailure: 0, breaks: [] },
  {
    label: 'broken',
    library: 'stevedore',
    candidate: '5.10.0',
    extraFailure: 0.12,
    breaks: [
      'nova.tests.unit.test_hooks.HookTestCase.test_load_extension_manager',
      'nova.tests.unit.api.test_extensions.ExtensionLoadingTest.test_entry_points',
      'neutron.tests.unit.test_manager.TestManager.test_load_service_plugins',
    ],
  },
];

/** Projects a simulated machine tests, with the flaky tests each tends to hit. */
export const PROJECTS: { name: string; flaky: string[] }[] = [
  { name: 'nova', flaky: ['nova.tests.functional.test_servers.ServersTest.test_resize', 'nova.tests.unit.virt.test_hardware.NUMATopologyTest.test_fit'] },
  { name: 'neutron', flaky: ['neutron.tests.functional.agent.test_ovs_lib.OVSBridgeTestCase.test_set_controller'] },
  { name: 'cinder', flaky: ['cinder.tests.unit.test_volume.VolumeTestCase.test_create_delete_volume_concurrent'] },
  { name: 'keystone', flaky: ['keystone.tests.unit.test_v3_auth.TestAuth.test_token_expiry'] },
  { name: 'glance', flaky: ['glance.tests.functional.v2.test_images.TestImages.test_image_upload_timeout'] },
];
