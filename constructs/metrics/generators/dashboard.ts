/**
 * A Grafana dashboard for one platform: RED (rate, errors, duration) per function, the router,
 * the queue and scaling (activator and scaler). Queries use raw metrics, not recording rules, so the dashboard also works against a
 * Prometheus that does not load our rules.
 */
import { MetricNames } from '../../../src/contract';
import { ERROR_OUTCOMES } from './catalog';
import { ScrapedComponents } from './scrape';

/** Label the Grafana dashboard sidecar looks for on ConfigMaps. */
export const GRAFANA_DASHBOARD_LABEL = 'grafana_dashboard';

interface PanelSpec {
  readonly title: string;
  readonly unit: string;
  readonly description: string;
  readonly targets: ReadonlyArray<{ readonly expr: string; readonly legend: string }>;
}

interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const RATE = '$__rate_interval';

function rows(namespace: string): RowSpec[] {
  const ns = `namespace="${namespace}"`;
  const fn = `${ns}, function=~"$function"`;
  const errors = `outcome=~"${ERROR_OUTCOMES.join('|')}"`;
  const inv = MetricNames.functionInvocations;
  const router = MetricNames.routerRequests;
  return [
    {
      title: 'Functions',
      panels: [
        {
          title: 'Invocations per second',
          unit: 'reqps',
          description: 'Rate of handler invocations, by function.',
          targets: [{ expr: `sum by (function) (rate(${inv}{${fn}}[${RATE}]))`, legend: '{{function}}' }],
        },
        {
          title: 'Error ratio',
          unit: 'percentunit',
          description: `Share of invocations with outcome ${ERROR_OUTCOMES.join(' or ')}.`,
          targets: [
            {
              expr: `sum by (function) (rate(${inv}{${fn}, ${errors}}[${RATE}])) / sum by (function) (rate(${inv}{${fn}}[${RATE}]))`,
              legend: '{{function}}',
            },
          ],
        },
        {
          title: 'Duration p50 / p99',
          unit: 's',
          description: 'Handler duration quantiles from the histogram.',
          targets: [0.5, 0.99].map((q) => ({
            expr: `histogram_quantile(${q}, sum by (function, le) (rate(${MetricNames.functionDuration}_bucket{${fn}}[${RATE}])))`,
            legend: `{{function}} p${q * 100}`,
          })),
        },
        {
          title: 'In flight',
          unit: 'short',
          description: 'Invocations running now, summed over replicas.',
          targets: [{ expr: `sum by (function) (${MetricNames.functionInFlight}{${fn}})`, legend: '{{function}}' }],
        },
        {
          title: 'Cold starts',
          unit: 'short',
          description: 'Replica starts that loaded the handler.',
          targets: [
            {
              expr: `sum by (function) (increase(${MetricNames.functionColdStarts}{${fn}}[${RATE}]))`,
              legend: '{{function}}',
            },
          ],
        },
        {
          title: 'Replicas answering',
          unit: 'short',
          description: 'Function pods whose metrics endpoint answers (`up`).',
          targets: [
            {
              expr: `sum by (function) (up{${fn}, component="${ScrapedComponents.function}"})`,
              legend: '{{function}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Router',
      panels: [
        {
          title: 'Requests per second by status',
          unit: 'reqps',
          description: 'Requests answered by the router.',
          targets: [{ expr: `sum by (status) (rate(${router}{${ns}}[${RATE}]))`, legend: '{{status}}' }],
        },
        {
          title: '5xx ratio',
          unit: 'percentunit',
          description: 'Share of router answers with a 5xx status.',
          targets: [
            {
              expr: `sum (rate(${router}{${ns}, status=~"5.."}[${RATE}])) / sum (rate(${router}{${ns}}[${RATE}]))`,
              legend: '5xx',
            },
          ],
        },
        {
          title: 'Request duration p99',
          unit: 's',
          description: 'End-to-end router time, by target function.',
          targets: [
            {
              expr: `histogram_quantile(0.99, sum by (function, le) (rate(${MetricNames.routerRequestDuration}_bucket{${fn}}[${RATE}])))`,
              legend: '{{function}}',
            },
          ],
        },
        {
          title: 'Upstream duration p99',
          unit: 's',
          description: "Time to the function's response headers, by function.",
          targets: [
            {
              expr: `histogram_quantile(0.99, sum by (function, le) (rate(${MetricNames.routerUpstreamDuration}_bucket{${fn}}[${RATE}])))`,
              legend: '{{function}}',
            },
          ],
        },
      ],
    },
    {
      title: 'Queue',
      panels: [
        {
          title: 'Deliveries per second',
          unit: 'ops',
          description: 'Messages handed to functions, by outcome.',
          targets: [
            {
              expr: `sum by (function, outcome) (rate(${MetricNames.queueDeliveries}{${fn}}[${RATE}]))`,
              legend: '{{function}} {{outcome}}',
            },
          ],
        },
        {
          title: 'Retries and dead letters',
          unit: 'short',
          description: 'Redeliveries and messages given up on.',
          targets: [
            {
              expr: `sum by (function) (increase(${MetricNames.queueRetries}{${fn}}[${RATE}]))`,
              legend: '{{function}} retries',
            },
            {
              expr: `sum by (function) (increase(${MetricNames.queueDeadLetters}{${fn}}[${RATE}]))`,
              legend: '{{function}} dead letters',
            },
          ],
        },
        {
          title: 'Consumer lag',
          unit: 'short',
          description: 'Messages waiting for each function consumer.',
          targets: [
            {
              expr: `sum by (function, trigger) (${MetricNames.queueConsumerLag}{${fn}})`,
              legend: '{{function}} {{trigger}}',
            },
          ],
        },
        {
          title: 'Async calls by state',
          unit: 'ops',
          description: 'Async calls entering each state.',
          targets: [
            {
              expr: `sum by (function, state) (rate(${MetricNames.asyncCalls}{${fn}}[${RATE}]))`,
              legend: '{{function}} {{state}}',
            },
          ],
        },
      ],
    },
    {
      // Scale to zero (docs/scaling.md): what the routers hold, and what the scaler tells KEDA.
      title: 'Scaling',
      panels: [
        {
          title: 'Cold starts and held requests',
          unit: 'short',
          description: 'Activations (a request waited for a function at zero) per second, and requests held right now.',
          targets: [
            {
              expr: `sum by (function) (rate(${MetricNames.routerColdStarts}{${fn}}[${RATE}]))`,
              legend: '{{function}} activations/s',
            },
            { expr: `sum by (function) (${MetricNames.routerHeldRequests}{${fn}})`, legend: '{{function}} held' },
          ],
        },
        {
          title: 'Time held p99 and hold-queue rejections',
          unit: 's',
          description:
            'How long requests waited for a function to become ready (p99, by outcome), and 503s of full hold queues.',
          targets: [
            {
              expr: `histogram_quantile(0.99, sum by (function, outcome, le) (rate(${MetricNames.routerHoldDuration}_bucket{${fn}}[${RATE}])))`,
              legend: '{{function}} {{outcome}}',
            },
            {
              expr: `sum by (function) (rate(${MetricNames.routerHoldRejections}{${fn}}[${RATE}]))`,
              legend: '{{function}} rejected/s',
            },
          ],
        },
        {
          title: 'Scaler: routers seen, activations, pushes',
          unit: 'short',
          description:
            'Router replicas whose counts the scaler uses, router polls by outcome, activations received and StreamIsActive pushes.',
          targets: [
            { expr: `sum (${MetricNames.scalerRouters}{${ns}})`, legend: 'routers' },
            {
              expr: `sum by (outcome) (rate(${MetricNames.scalerRouterPolls}{${ns}}[${RATE}]))`,
              legend: 'polls {{outcome}}',
            },
            { expr: `sum (rate(${MetricNames.scalerActivations}{${ns}}[${RATE}]))`, legend: 'activations/s' },
            {
              expr: `sum by (result) (rate(${MetricNames.scalerPushes}{${ns}}[${RATE}]))`,
              legend: 'pushes {{result}}',
            },
            { expr: `sum (${MetricNames.scalerStreams}{${ns}})`, legend: 'open streams' },
          ],
        },
        {
          title: 'Scaler: KEDA calls',
          unit: 's',
          description: 'gRPC calls from KEDA by method and status, and their p99 answer time.',
          targets: [
            {
              expr: `sum by (method, code) (rate(${MetricNames.scalerGrpcRequests}{${ns}}[${RATE}]))`,
              legend: '{{method}} {{code}}',
            },
            {
              expr: `histogram_quantile(0.99, sum by (method, le) (rate(${MetricNames.scalerGrpcDuration}_bucket{${ns}}[${RATE}])))`,
              legend: '{{method}} p99',
            },
          ],
        },
      ],
    },
  ];
}

/** The dashboard JSON model (Grafana schema 39). */
export function grafanaDashboard(namespace: string): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows(namespace)) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    row.panels.forEach((p, i) => {
      panels.push({
        id: id++,
        type: 'timeseries',
        title: p.title,
        description: p.description,
        datasource: DATASOURCE,
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        options: {
          legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
          tooltip: { mode: 'multi', sort: 'desc' },
        },
        gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: y + Math.floor(i / 2) * 8 },
        targets: p.targets.map((t, j) => ({
          refId: String.fromCharCode(65 + j),
          datasource: DATASOURCE,
          expr: t.expr,
          legendFormat: t.legend,
        })),
      });
    });
    y += Math.ceil(row.panels.length / 2) * 8;
  }
  return {
    uid: `kubefaas-${namespace}`.slice(0, 40),
    title: `kubefaas (${namespace})`,
    tags: ['kubefaas'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    editable: true,
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source', current: {}, hide: 0 },
        {
          name: 'function',
          type: 'query',
          label: 'Function',
          datasource: DATASOURCE,
          query: {
            query: `label_values(up{namespace="${namespace}", component="${ScrapedComponents.function}"}, function)`,
            refId: 'functions',
          },
          definition: `label_values(up{namespace="${namespace}", component="${ScrapedComponents.function}"}, function)`,
          includeAll: true,
          multi: true,
          allValue: '.*',
          refresh: 2,
          current: { text: 'All', value: '$__all' },
          hide: 0,
        },
      ],
    },
    panels,
  };
}
