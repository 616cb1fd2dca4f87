export * from './metrics';
export * from './options';
export { PrometheusServer, PROMETHEUS_PORT, ALERTMANAGER_PORT } from './prometheus-server';
export { OperatorMonitoring } from './operator-monitoring';
export { GrafanaDashboard } from './dashboard';
export { MonitoringImages } from './images';
export { MonitoringNames } from './objects';
export { validateFunctionAlerts } from './resolve';
