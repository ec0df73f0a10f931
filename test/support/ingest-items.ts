import { randomUUID } from 'node:crypto';
import type { Assignment, IngestItem } from '../../server/store/telemetry-store';

/** The day the store-level ingestion tests count on. */
export const DAY = '2026-03-02';
/** Segment caps small enough for a test to reach. */
export const SEG = { cap: 2, maxProjects: 3, maxPythons: 2, maxSignatures: 5, maxNewSegmentsPerMachineDay: 4, segmentSourceCap: 2 };

/** A failed run of `machine` (a new report id) with the given arms, as ReportService hands it to the store. */
export function ingestItem(machine: string, assignments: Assignment[], over: Partial<IngestItem> = {}): IngestItem {
  const id = randomUUID();
  return {
    id, machine, outcome: 'fail', day: DAY, failedTests: ['tests.test_a'], json: JSON.stringify({ id, machine }), project: 'nova', python: '3.11.2', source: 'ci:x',
    assignments, ...over,
  };
}
