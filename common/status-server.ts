// The HTTP side of both processes (agent and control plane): Prometheus /metrics from a registry,
// /healthz (the process is up) and /readyz (200 once `notReady` has no reason left, else 503 with
// the reason). Read-only: nothing served here changes state.
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface StatusServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

export interface StatusOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Why the process is not ready yet, or undefined once it is. */
  notReady: () => string | undefined;
}

export async function serveStatus(o: StatusOptions): Promise<StatusServer> {
  const srv = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/metrics') {
      o.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': o.registry.contentType });
        res.end(text);
      }, (e: Error) => { res.writeHead(500); res.end(e.message); });
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\n');
    } else if (url === '/readyz') {
      const why = o.notReady();
      res.writeHead(why === undefined ? 200 : 503, { 'content-type': 'text/plain' }); res.end(`${why ?? 'ok'}\n`);
    } else {
      res.writeHead(404); res.end();
    }
  });
  await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(o.port, o.host, () => resolve()); });
  const addr = srv.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    close: () => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
  };
}
