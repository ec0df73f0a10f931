import { Agent, request } from 'node:http';
import { connect } from 'node:net';

/**
 * HTTP for hostile tests: paths, methods, headers and bodies exactly as given (no URL
 * normalisation, any bytes), each request bounded in time: a reply that does not come within
 * `timeoutMs` is reported as `hang` (status 0), never waited for.
 */
export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
  hang?: boolean;
  error?: string;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export function sendHttp(base: string, req: RawRequest, agent: Agent, timeoutMs = 10_000): Promise<RawReply> {
  const u = new URL(base);
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<RawReply, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...r, ms: Date.now() - started });
    };
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
    let r: ReturnType<typeof request>;
    try {
      r = request({
        host: u.hostname, port: u.port, method: req.method, path: req.path, agent,
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...req.headers },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => done({ status: res.statusCode ?? 0, headers: res.headers, body: '', error: e.message }));
      });
    } catch (e) {
      // The client itself refused (e.g. a character Node will not send): not a server reply.
      resolve({ status: -1, headers: {}, body: '', ms: 0, error: (e as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      done({ status: 0, headers: {}, body: '', hang: true });
      r.destroy();
    }, timeoutMs);
    r.on('error', (e) => done({ status: 0, headers: {}, body: '', error: e.message }));
    r.end(body);
  });
}

/** Bytes straight onto a TCP connection; the reply is parsed just enough for status, headers and body. */
export function sendRawBytes(base: string, bytes: Buffer | string, timeoutMs = 10_000): Promise<RawReply> {
  const u = new URL(base);
  const started = Date.now();
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (hang: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      const headers: Record<string, string> = {};
      for (const line of text.slice(0, split < 0 ? text.length : split).split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: m ? Number(m[1]) : 0, headers, body: split < 0 ? '' : text.slice(split + 4), ms: Date.now() - started, hang, error });
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      // One reply is enough: stop once a complete Content-Length body is in.
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split));
      if (split >= 0 && len && Buffer.byteLength(text.slice(split + 4)) >= Number(len[1])) done(false);
    });
    s.on('end', () => done(false));
    s.on('error', (e) => done(false, e.message));
    s.write(bytes);
  });
}
