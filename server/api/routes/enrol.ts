import { Router } from 'express';
import type { Metrics } from '../../metrics';
import { addressKey } from '../../services/rate-limits';
import { addressBlock, blockSource } from '../../services/sources';
import type { EnrolmentStore } from '../../store/enrolment-store';
import type { TokenStore } from '../../store/token-store';
import { requireReporter } from '../auth';
import { fromZod, HttpError } from '../errors';
import { enrolBody } from '../schemas';

/**
 * Enrolment of a machine (docs/trust.md): open, limited per client address and per address
 * block. The machine's source is the block of the address it enrols from (behind a trusted
 * proxy, the real client's); its credential is shown once and only its hash is kept.
 */
export function enrolRoutes(enrolments: EnrolmentStore, tokens: TokenStore, metrics: Metrics): Router {
  const r = Router();

  r.post('/v1/enrol', async (req, res) => {
    const block = addressBlock(req.ip);
    await req.limits?.consume('enrolments-per-address', addressKey(req.ip));
    await req.limits?.consume('enrolments-per-block', block);
    const sent = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (req.body === undefined && sent) throw new HttpError(400, 'bad_request', 'body: send JSON (Content-Type: application/json), {} or {"machine": "<uuid>"}, or no body');
    const body = enrolBody.safeParse(req.body ?? {});
    if (!body.success) throw fromZod(body.error);
    const source = blockSource(await enrolments.sourceSalt(), block);
    const { machine, credential } = await enrolments.enrol(body.data.machine ?? null, source);
    metrics.enrolments.inc();
    res.status(201).json({ machine, credential });
  });

  /** Opt-out: the machine's credential forgets its own enrolment (reports already counted stay). */
  r.delete('/v1/enrol', requireReporter(tokens, enrolments), async (req, res) => {
    const who = req.reporter!;
    if (who.kind !== 'machine') throw new HttpError(403, 'forbidden', 'only an enrolled machine\'s credential can forget its enrolment');
    await enrolments.forget(who.machine);
    res.json({ machine: who.machine, forgotten: true });
  });

  return r;
}
