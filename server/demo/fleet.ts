import { randomUUID } from 'node:crypto';
import type { ApiClient } from '../cli/api-client';
import { PROJECTS, type Scenario } from './scenario';

interface Machine {
  id: string;
  /** The credential its enrolment gave it (docs/trust.md), once enrolled. */
  credential: string | null;
  /** Its simulated home network's address (X-Forwarded-For through the demo's trusted loopback proxy). */
  address: string;
  project: (typeof PROJECTS)[number];
  env: string;
  /** Probability that a run fails for reasons unrelated to any rollout (flaky tests). */
  flakiness: number;
  nextRunAt: number;
}

interface Pin {
  library: string;
  key: string;
  version: string;
  arm: 'candidate' | 'control';
}

export interface FleetStats {
  runs: number;
  failures: number;
  errors: number;
  lastError: string | null;
}

/**
 * A simulated fleet of developer machines. Each machine enrols once (`POST /v1/enrol`, from
 * its own simulated home network: a few machines per /24, so the evidence comes from many
 * sources), then every few seconds asks the server for its pins (`GET /v1/pins`),
 * "installs" them, runs its tests and reports the outcome with its credential
 * (`POST /v1/reports`), exactly as the client plugin does. Base failure rates are flaky and
 * uneven across machines; a broken candidate adds its own failures with its own tests.
 */
export class Fleet {
  readonly stats: FleetStats = { runs: 0, failures: 0, errors: 0, lastError: null };
  private readonly machines: Machine[];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly api: ApiClient,
    size: number,
    private readonly scenarios: Scenario[],
    private readonly baseVersions: Record<string, string>,
    private readonly meanIntervalMs = 4000,
  ) {
    const now = Date.now();
    this.machines = Array.from({ length: size }, (_, i) => ({
      id: randomUUID(),
      credential: null,
      // four machines per simulated /24 (100.64.0.0/10, the shared address space)
      address: `100.${64 + ((i >> 10) & 63)}.${(i >> 2) & 255}.${10 + (i & 3)}`,
      project: PROJECTS[i % PROJECTS.length]!,
      env: Math.random() < 0.6 ? 'py312' : 'py311',
      flakiness: Math.random() < 0.1 ? 0.08 + Math.random() * 0.06 : 0.01 + Math.random() * 0.04,
      nextRunAt: now + Math.random() * meanIntervalMs,
    }));
  }

  /** Enrols every machine (as the plugin's opt-in does); returns how many sources they span. */
  async enrol(): Promise<number> {
    for (let i = 0; i < this.machines.length; i += 16) {
      await Promise.all(this.machines.slice(i, i + 16).map(async (m) => {
        const r = await this.api.post<{ machine: string; credential: string }>('/v1/enrol', { machine: m.id }, { 'x-forwarded-for': m.address });
        m.credential = r.credential;
      }));
    }
    return new Set(this.machines.map((m) => m.address.split('.').slice(0, 3).join('.'))).size;
  }

  start(): void {
    this.timer = setInterval(() => void this.step(), 250);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async step(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = Date.now();
      const due = this.machines.filter((m) => m.nextRunAt <= now);
      for (const m of due) m.nextRunAt = now + this.meanIntervalMs * (0.5 + Math.random());
      // each machine sends its own report with its own credential, from its own network
      for (let i = 0; i < due.length; i += 16) {
        await Promise.all(due.slice(i, i + 16).map(async (m) => {
          const report = await this.run(m);
          await this.api.post('/v1/reports', report, { authorization: `Bearer ${m.credential}`, 'x-forwarded-for': m.address });
        }));
      }
      this.stats.lastError = null;
    } catch (e) {
      this.stats.lastError = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  /** One test run of one machine: the report it would send. */
  private async run(m: Machine): Promise<unknown> {
    const { pins } = await this.api.get<{ pins: Pin[] }>(`/v1/pins?machine=${m.id}`);
    const installed: Record<string, string> = { ...this.baseVersions };
    let extra = 0;
    const breaks: string[] = [];
    for (const p of pins) {
      installed[p.library] = p.version;
      const s = this.scenarios.find((x) => x.library === p.library && x.candidate === p.version);
      if (s && p.arm === 'candidate') {
        extra += s.extraFailure;
        breaks.push(...s.breaks);
      }
    }
    const u = Math.random();
    let outcome: 'pass' | 'fail' | 'error' = 'pass';
    let failedTests: string[] = [];
    if (u < 0.004) outcome = 'error';
    else if (u < 0.004 + m.flakiness) {
      outcome = 'fail';
      failedTests = [pick(m.project.flaky)];
    } else if (u < 0.004 + m.flakiness + extra) {
      outcome = 'fail';
      failedTests = [...new Set([pick(breaks), pick(breaks)])];
    }
    this.stats.runs++;
    if (outcome === 'fail') this.stats.failures++;
    if (outcome === 'error') this.stats.errors++;
    const durationMs = 60_000 + Math.round(Math.random() * 240_000);
    return {
      id: randomUUID(),
      machine: m.id,
      outcome,
      installed,
      project: m.project.name,
      env: m.env,
      python: m.env === 'py312' ? '3.12.8' : '3.11.11',
      platform: 'linux-x86_64',
      durationMs,
      failedTests,
      startedAt: new Date(Date.now() - durationMs).toISOString(),
      finishedAt: new Date().toISOString(),
      client: 'depcanary-demo/0.1.0',
    };
  }
}

function pick<T>(xs: T[]): T {
  return xs[Math.floor(Math.random() * xs.length)]!;
}
