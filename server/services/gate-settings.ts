import { readFileSync } from 'node:fs';
import type { Config } from '../config';
import { scheduleFreezeWindows } from '../domain/freeze-schedule';
import type { FreezeWindow, GateSettings } from '../domain/gates';

/**
 * The gates' settings as the server runs them: DEPCANARY_FREEZE_WINDOWS, the requirements
 * freezes of the OpenStack series schedules named by DEPCANARY_FREEZE_SCHEDULE, and
 * DEPCANARY_SIGNOFFS. A schedule that cannot be read or parsed stops the start, naming it.
 */
export function gateSettings(config: Pick<Config, 'freezeWindows' | 'freezeSchedules' | 'signoffs'>): GateSettings {
  const windows: FreezeWindow[] = config.freezeWindows.map((w) => ({ start: w.start, end: w.end, branches: w.branches ?? null, reason: w.reason }));
  for (const file of config.freezeSchedules) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`DEPCANARY_FREEZE_SCHEDULE: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      windows.push(...scheduleFreezeWindows(text, file.split('/').slice(-2).join('/')));
    } catch (e) {
      throw new Error(`DEPCANARY_FREEZE_SCHEDULE: ${(e as Error).message}`);
    }
  }
  return { freezeWindows: windows, signoffs: config.signoffs };
}
