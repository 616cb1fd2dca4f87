import { MessageHeaders, PLATFORM_HEADER_PREFIX } from '../contract';

/**
 * Platform message headers (`Kubefaas-*`) are facts the platform states — attempts, error, original
 * subject of a dead letter — so nothing a publisher sends may pose as one. NATS header names are
 * case-sensitive: a forged `kubefaas-attempts` would sit beside the real `Kubefaas-Attempts`, and
 * readers that match names case-insensitively take whichever comes first. Hence every check here
 * lower-cases the name.
 */

/** The headers the dead-letter step writes, lower-cased. */
const DEAD_LETTER_HEADERS = new Set(
  [
    MessageHeaders.error,
    MessageHeaders.attempts,
    MessageHeaders.function,
    MessageHeaders.trigger,
    MessageHeaders.originalSubject,
    MessageHeaders.originalStream,
    MessageHeaders.originalSequence,
  ].map((name) => name.toLowerCase()),
);

/** True for a name in the platform's namespace (`Kubefaas-*`, any case). */
export function isPlatformHeader(name: string): boolean {
  return (
    name.length >= PLATFORM_HEADER_PREFIX.length &&
    name.slice(0, PLATFORM_HEADER_PREFIX.length).toLowerCase() === PLATFORM_HEADER_PREFIX
  );
}

/** Names only the server or the publish path may set (`Nats-*`: de-duplication id, rollups, expected sequences). */
function isServerHeader(name: string): boolean {
  return name.length >= 5 && name.slice(0, 5).toLowerCase() === 'nats-';
}

/**
 * Whether an original message's header is copied onto its dead letter. Topic messages come from
 * any publisher and carry no platform header legitimately, so all of them are dropped. Async calls
 * and cron ticks (calls stream, written by the router and the cron sender) keep theirs — the call
 * id, method, path — except the dead-letter ones, which the dead-letter step writes itself.
 */
export function keptOnDeadLetter(name: string, kind: 'topic' | 'async' | 'cron'): boolean {
  if (isServerHeader(name)) return false;
  if (!isPlatformHeader(name)) return true;
  return kind !== 'topic' && !DEAD_LETTER_HEADERS.has(name.toLowerCase());
}

/** Headers a publisher or a handler's reply may set: not the platform's, not the server's. */
export function isUserHeader(name: string): boolean {
  return !isPlatformHeader(name) && !isServerHeader(name);
}
