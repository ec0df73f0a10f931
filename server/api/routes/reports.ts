import { Router } from 'express';
import type { Metrics } from '../../metrics';
import type { ReportService } from '../../services/reports';
import type { TelemetryStore } from '../../store/telemetry-store';
import type { TokenStore } from '../../store/token-store';
import { addressKey } from '../../services/rate-limits';
import { requireReporter, requireRole } from '../auth';
import type { EnrolmentStore } from '../../store/enrolment-store';
import { DomainError } from '../../domain/errors';
import { fromZod, HttpError } from '../errors';
import { machineId, parseReportsBody } from '../schemas';

export function reportRoutes(service: ReportService, telemetry: TelemetryStore, tokens: TokenStore, metrics: Metrics, enrolments: EnrolmentStore): Router {
  const r = Router();

  /**
   * 202 only after every report of the batch is stored; a bad batch stores nothing. Only an
   * enrolled source's reports count (requireReporter): a machine's credential carries its
   * own reports only, a reporter token any machine's.
   */
  r.post('/v1/reports', requireReporter(tokens, enrolments), async (req, res) => {
    const reporter = req.reporter!;
    const parsed = parseReportsBody(req.body);
    // Each report counts against the client address's and the source's limits (a refused body counts as one).
    const n = parsed.success ? parsed.data.length : 1;
    await req.limits?.consume('reports-per-address', addressKey(req.ip), n);
    await req.limits?.consume('reports-per-source', reporter.source, n);
    if (!parsed.success) {
      metrics.reportsRejected.inc({ reason: 'invalid' });
      throw fromZod(parsed.error);
    }
    const reports = parsed.data;
    if (reporter.kind === 'machine') {
      const i = reports.findIndex((x) => x.machine !== reporter.machine);
      if (i >= 0) {
        metrics.reportsRejected.inc({ reason: 'other_machine' });
        const field = reports.length > 1 ? `reports.${i}.machine` : 'machine';
        throw new HttpError(403, 'forbidden', `${field}: this credential is machine ${reporter.machine}'s; it sends that machine's reports only`, field);
      }
    }
    let result;
    try {
      result = await service.ingest(reports, reporter.source, reporter.kind === 'token');
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
