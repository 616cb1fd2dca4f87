/**
 * `kubefaas/refs`: typed references to topics and functions, and handlers typed by them (issue 16).
 *
 * Imported by the platform (constructs take the references) AND by handlers, which esbuild bundles
 * into the function's code: so this entry depends on nothing but the contract (no cdk8s, no npm
 * package, no node built-in; dependency-cruiser enforces it) and stays a few hundred bytes.
 *
 * ```ts
 * // model.ts
 * export const rawReadings = topic<Reading>('weather.raw');
 * export const converter = fn<Reading, Celsius>('converter');
 * // handler.ts
 * export default defineHandler(rawReadings, async (reading, ctx) => {
 *   await ctx.publish(celsius, await ctx.invoke(converter, reading));
 * });
 * ```
 */
export { fn, topic } from './references';
export { cron, defineHandler, http } from './define-handler';
export type { CallEvent, CronSource, HandlerSource, HttpSource, TypedHandler } from './define-handler';
export { InvokeError, isFunctionRef, isTopicRef } from '../contract/refs';
export type { FunctionRef, InvokeAsyncOptions, InvokeOptions, TopicRef } from '../contract/refs';
export type { CronTick } from '../contract/cron';
export type { FunctionContext, FunctionEvent, Handler, HandlerResult } from '../contract/handler';
