import { Router } from 'express';
import type { Metrics } from '../../metrics';
import type { ReportService } from '../../services/reports';
import type { TelemetryStore } from '../../store/telemetry-store';
import type { TokenStore } from '../../store/token-store';
import { addressKey } from '../../services/rate-limits';
import { requireRole } from '../auth';
import { DomainError } from '../../domain/errors';
import { fromZod, HttpError } from '../errors';
import { machineId, parseReportsBody } from '../schemas';

export function reportRoutes(service: ReportService, telemetry: TelemetryStore, tokens: TokenStore, metrics: Metrics): Router {
  const r = Router();

  /** 202 only after every report of the batch is stored; a bad batch stores nothing. */
  r.post('/v1/reports', async (req, res) => {
    const parsed = parseReportsBody(req.body);
    // Each report counts against the client address's limit (a refused body counts as one).
    await req.limits?.consume('reports-per-address', addressKey(req.ip), parsed.success ? parsed.data.length : 1);
    if (!parsed.success) {
      metrics.reportsRejected.inc({ reason: 'invalid' });
      throw fromZod(parsed.error);
    }
    const reports = parsed.data;
    let result;
    try {
      result = await service.ingest(reports);
    } catch (e) {
      if (e instanceof DomainError) metrics.reportsRejected.inc({ reason: 'invalid' });
      throw e;
    }
    reports.forEach((rep, i) => { if (result.fresh[i]) metrics.reportsIngested.inc({ outcome: rep.outcome }); });
    if (result.duplicates) metrics.reportsDuplicate.inc(result.duplicates);
    res.status(202).json({ accepted: result.accepted, duplicates: result.duplicates });
  });

  r.get('/v1/reports', requireRole(tokens, 'viewer'), async (req, res) => {
    const m = machineId.safeParse(req.query.machine);
    if (!m.success) throw new HttpError(400, 'bad_request', 'machine: a UUID machine id is required', 'machine');
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 50);
    res.json({ reports: await telemetry.machineReports(m.data.toLowerCase(), limit) });
  });

  return r;
}
