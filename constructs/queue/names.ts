/** Names of the queue's Kubernetes objects and of JetStream consumers, in one place. */

export const NATS_NAME = 'kubefaas-nats';
export const NATS_HEADLESS_NAME = 'kubefaas-nats-headless';
export const NATS_CONFIG_NAME = 'kubefaas-nats-config';
/** ConfigMap holding the cron sender (lib/pod/cron.js), shared by every CronTrigger of a platform. */
export const CRON_CONFIGMAP = 'kubefaas-cron';

export const NatsPorts = { client: 4222, cluster: 6222, monitor: 8222 } as const;

/**
 * Durable consumer names: unique per function + source, and valid JetStream names (no `.`, `*`,
 * `>` or whitespace). Topics may contain dots, which become `_`; two topics of one function that
 * differ only in `.` vs `_` are refused by the trigger (see QueueTrigger).
 */
export const durableNames = {
  topic: (fn: string, topic: string): string => `${fn}_topic_${topic.replace(/\./g, '_')}`,
  async: (fn: string): string => `${fn}_async`,
  cron: (fn: string, trigger: string): string => `${fn}_cron_${trigger}`,
};
