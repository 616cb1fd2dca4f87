/**
 * The router replicas the scaler follows: one RouterLink per address discovery reports. An address
 * that disappears is dropped at once (its pod is gone); one that stops answering is left out of the
 * answers by the DemandBook after the stale interval and dropped here when discovery stops listing it.
 */
import * as http from 'node:http';
import { type RouterAddress, formatAddress } from './config';
import type { DemandBook, RouterCounts } from './demand';
import type { ScalerLog } from './log';
import type { ScalerMetrics } from './metrics';
import { RouterLink } from './router-link';

export interface RouterPoolOptions {
  readonly book: DemandBook;
  readonly pollIntervalMs: number;
  readonly log: ScalerLog;
  readonly metrics: ScalerMetrics;
  readonly onActivate: (fn: string) => void;
}

export class RouterPool {
  private readonly links = new Map<string, { readonly link: RouterLink; readonly counts: RouterCounts }>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly options: RouterPoolOptions) {}

  /** Follows exactly `addresses` from now on; resolves when every new link finished its first poll. */
  update(addresses: readonly RouterAddress[]): Promise<void> {
    const wanted = new Map(addresses.map((a) => [formatAddress(a), a]));
    for (const [key, entry] of this.links) {
      if (wanted.has(key)) continue;
      entry.link.stop();
      this.options.book.removeRouter(entry.counts);
      this.links.delete(key);
      this.options.log.log('info', 'router gone', { router: key });
    }
    const firstPolls: Array<Promise<void>> = [];
    for (const [key, address] of wanted) {
      if (this.links.has(key)) continue;
      const counts = this.options.book.newRouter();
      const link = new RouterLink({
        address,
        counts,
        pollIntervalMs: this.options.pollIntervalMs,
        agent: this.agent,
        log: this.options.log,
        metrics: this.options.metrics,
        onActivate: this.options.onActivate,
      });
      this.links.set(key, { link, counts });
      firstPolls.push(link.firstPoll);
    }
    return Promise.all(firstPolls).then(() => undefined);
  }

  /** Addresses followed now. */
  get size(): number {
    return this.links.size;
  }

  stop(): void {
    for (const { link } of this.links.values()) link.stop();
    this.links.clear();
    this.agent.destroy();
  }
}
