/** Official images, pinned (see the reference notes on Prometheus images). */
export const MonitoringImages = {
  prometheus: 'quay.io/prometheus/prometheus:v3.14.0',
  alertmanager: 'quay.io/prometheus/alertmanager:v0.34.0',
} as const;
