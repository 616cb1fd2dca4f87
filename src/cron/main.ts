// The cron sender a CronTrigger's CronJob runs once per tick (bundled into lib/pod/cron.js): deliver
// one CloudEvent to the function and exit 0, or exit non-zero so the Job controller retries the pod.
import { readCronTick, sendTick } from './tick';

function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown>): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, component: 'cron', msg, ...fields });
  (level === 'error' ? process.stderr : process.stdout).write(`${line}\n`);
}

async function main(): Promise<void> {
  const tick = readCronTick();
  const target = await sendTick(tick);
  log('info', 'cron tick delivered', { function: tick.functionName, trigger: tick.trigger, id: tick.id, target });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log('error', 'cron tick not delivered', { error: err instanceof Error ? err.message : String(err) });
    // exit explicitly: a NATS connection still retrying in the background must not keep the pod alive.
    process.exit(1);
  },
);
