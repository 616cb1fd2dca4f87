/** Prometheus duration literal (`90s`, `5m`, `2h`, `0s`) for a whole number of seconds. */
export function promDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new RangeError(`Prometheus durations here are whole seconds >= 0, got ${seconds}`);
  }
  if (seconds === 0) return '0s';
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
