/**
 * An open-loop GET load at a fixed rate for the benchmarks: each request is due at its time and
 * its latency counts from then (a server that falls behind is not let off), over at most
 * `connections` keep-alive connections. It writes HTTP/1.1 requests on raw sockets and reads
 * only what it needs of each answer (status, Content-Length, then that many bytes), so the load
 * generator, which shares the machine's cores with the server, allocates little: with node:http
 * its own garbage collection (a mark-compact every half second at 2,000 requests/s, pauses up to
 * 13 ms) delayed requests past their time and counted in the server's tail.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PacedResult {
  /** Answers a second. */
  rps: number;
  /** Latency quantiles from each request's due time (ms). */
  p50: number;
  p90: number;
  p99: number;
  /** Answers other than 200, and connection errors. */
  bad: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection with at most one request in flight. */
class Conn {
  private sock: Socket | null = null;
  private head: Buffer[] = [];
  private headLength = 0;
  /** Body bytes still to come of the answer being read, or -1 while its header is read. */
  private rest = -1;
  private status = 0;
  /** Due time of the request in flight, or null when free. */
  due: number | null = null;

  constructor(private readonly host: string, private readonly port: number, private readonly done: (c: Conn, due: number, ok: boolean) => void) {}

  send(path: string, due: number): void {
    this.due = due;
    if (!this.sock) this.open();
    this.sock!.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n\r\n`);
  }

  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }

  private open(): void {
    const sock = connect(this.port, this.host);
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.read(d));
    const lost = () => {
      if (this.sock !== sock) return;
      this.sock = null;
      this.reset();
      const due = this.due;
      if (due !== null) this.finish(due, false);
    };
    sock.on('error', lost);
    sock.on('close', lost);
    this.sock = sock;
  }

  private reset(): void {
    this.head = [];
    this.headLength = 0;
    this.rest = -1;
  }

  private read(d: Buffer): void {
    if (this.rest < 0) {
      this.head.push(d);
      this.headLength += d.length;
      const all = this.head.length === 1 ? d : Buffer.concat(this.head, this.headLength);
      const end = all.indexOf(HEADER_END);
      if (end < 0) {
        this.head = [all];
        return;
      }
      const header = all.toString('latin1', 0, end);
      this.status = Number(header.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(header);
      this.rest = (m ? Number(m[1]) : 0) - (all.length - end - HEADER_END.length);
      this.head = [];
      this.headLength = 0;
    } else {
      this.rest -= d.length;
    }
    if (this.rest <= 0) {
      const due = this.due!;
      this.reset();
      this.finish(due, this.status === 200);
    }
  }

  private finish(due: number, ok: boolean): void {
    this.due = null;
    this.done(this, due, ok);
  }
}

/** `rate` GETs a second for `seconds` of `path()` (a new one each), spread over `urls` (http://host:port). */
export async function pacedGets(urls: string[], rate: number, seconds: number, path: () => string, connections = 50): Promise<PacedResult> {
  const latencies = new Float64Array(Math.round(rate * seconds));
  let answered = 0;
  let bad = 0;
  const free: Conn[] = [];
  /** Due times of requests waiting for a free connection. */
  const waiting: number[] = [];
  let head = 0;
  const pump = () => {
    while (head < waiting.length && free.length > 0) free.pop()!.send(path(), waiting[head++]!);
    if (head > 1024 && head === waiting.length) {
      waiting.length = 0;
      head = 0;
    }
  };
  const conns = Array.from({ length: connections }, (_, i) => {
    const u = new URL(urls[i % urls.length]!);
    return new Conn(u.hostname, Number(u.port), (c, due, ok) => {
      latencies[answered++] = performance.now() - due;
      if (!ok) bad++;
      free.push(c);
      pump();
    });
  });
  free.push(...conns);
  const t0 = performance.now();
  const total = latencies.length;
  // each request goes once its time has come (never before: its latency counts from then), so
  // the timer's lateness counts against the server, not for it
  for (let i = 0; i < total;) {
    const now = performance.now();
    for (; i < total && t0 + (i * 1000) / rate <= now; i++) waiting.push(t0 + (i * 1000) / rate);
    pump();
    if (i < total) await sleep(Math.max(0, t0 + (i * 1000) / rate - performance.now()));
  }
  const until = performance.now() + 30_000;
  while (answered < total && performance.now() < until) await sleep(5);
  const elapsed = (performance.now() - t0) / 1000;
  for (const c of conns) c.close();
  const sorted = latencies.slice(0, answered).sort();
  const q = (p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0) * 10) / 10;
  return { rps: answered / elapsed, p50: q(0.5), p90: q(0.9), p99: q(0.99), bad: bad + (total - answered) };
}

/**
 * The same in a process of its own (`node dist/test/bench/paced-client.js`, forked): its heap
 * holds nothing of the bench before it (autocannon's runs leave the bench's heap with
 * garbage whose collection would pause the pacing). A warm-up of `warmup` seconds at the
 * rate comes first, unmeasured. Paths are `prefix` and a new UUID each.
 */
export function pacedGetsApart(urls: string[], rate: number, seconds: number, prefix: string, warmup = 3): Promise<PacedResult> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [JSON.stringify({ urls, rate, seconds, prefix, warmup })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: PacedResult | null = null;
    child.on('message', (m) => void (result = m as PacedResult));
    child.on('error', reject);
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`the paced client exited with ${code} and no result`))));
  });
}

if (require.main === module) {
  const { urls, rate, seconds, prefix, warmup } = JSON.parse(process.argv[2]!) as { urls: string[]; rate: number; seconds: number; prefix: string; warmup: number };
  const path = () => `${prefix}${randomUUID()}`;
  void (async () => {
    if (warmup > 0) await pacedGets(urls, rate, warmup, path);
    process.send!(await pacedGets(urls, rate, seconds, path));
    process.disconnect();
  })();
}
