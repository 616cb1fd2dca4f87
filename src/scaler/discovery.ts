/**
 * Finding the router replicas. In clusters `dns:<headless Service>:<port>`: the name is resolved
 * every interval with the system resolver (getaddrinfo, every A and AAAA record; a headless Service
 * has one per ready router pod), so replicas that come and go are followed without Kubernetes API
 * access. Locally a fixed `host:port` list.
 */
import { lookup } from 'node:dns/promises';
import type { RouterAddress, RouterSource } from './config';
import type { ScalerLog } from './log';

export type Resolve = (host: string) => Promise<readonly string[]>;

const systemResolve: Resolve = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

export class RouterDiscovery {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private last = '';
  private failing = false;

  constructor(
    private readonly source: RouterSource,
    private readonly intervalMs: number,
    /** Called with the full set whenever it changed (and once at start). */
    private readonly onChange: (addresses: readonly RouterAddress[]) => Promise<void>,
    private readonly log: ScalerLog,
    private readonly resolve: Resolve = systemResolve,
  ) {}

  /** The first resolution and the first poll of every router it found. */
  async start(): Promise<void> {
    if (this.source.kind === 'static') {
      await this.onChange(this.source.addresses);
      return;
    }
    await this.refresh();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async refresh(): Promise<void> {
    if (this.source.kind !== 'dns') return;
    const { host, port } = this.source;
    let changed: Promise<void> | undefined;
    try {
      const addresses = [...new Set(await this.resolve(host))].sort();
      if (this.failing) this.log.log('info', 'router name resolves again', { host });
      this.failing = false;
      const key = addresses.join(',');
      if (key !== this.last && !this.stopped) {
        this.last = key;
        this.log.log('info', 'routers discovered', { host, addresses });
        changed = this.onChange(addresses.map((address) => ({ host: address, port })));
      }
    } catch (err) {
      // Keep following the routers known so far: a DNS hiccup is not every router going away, and
      // routers that really are gone stop answering and are left out after the stale interval.
      if (!this.failing) {
        this.log.log('warn', 'router name does not resolve', { host, reason: (err as Error).message });
      }
      this.failing = true;
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.refresh(), this.intervalMs);
    await changed;
  }
}
