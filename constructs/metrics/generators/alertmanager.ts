/**
 * Alertmanager configuration with one receiver whose URL is read from a mounted Secret key, so the
 * secret never lands in a ConfigMap. `url_file` (webhook) needs Alertmanager >= 0.26; the pinned
 * image is newer. `api_url_file` (Slack) exists since 0.22.
 */
export type ReceiverType = 'webhook' | 'slack';

export interface AlertmanagerConfigInput {
  readonly receiverType: ReceiverType;
  /** Absolute path of the file holding the receiver URL inside the Alertmanager container. */
  readonly urlFile: string;
  /** Slack channel (Slack receivers only; the webhook's own channel when absent). */
  readonly slackChannel?: string;
}

export const RECEIVER_NAME = 'kubefaas';

export function alertmanagerConfig(input: AlertmanagerConfigInput): Record<string, unknown> {
  const receiver: Record<string, unknown> = { name: RECEIVER_NAME };
  if (input.receiverType === 'slack') {
    receiver.slack_configs = [
      {
        api_url_file: input.urlFile,
        send_resolved: true,
        ...(input.slackChannel ? { channel: input.slackChannel } : {}),
        title: '{{ .CommonLabels.alertname }} ({{ .Status }})',
        text: '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}',
      },
    ];
  } else {
    receiver.webhook_configs = [{ url_file: input.urlFile, send_resolved: true }];
  }
  return {
    route: {
      receiver: RECEIVER_NAME,
      group_by: ['alertname', 'namespace', 'function'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '4h',
    },
    receivers: [receiver],
  };
}
