/**
 * The weather pipeline's model: imported by the platform (app.ts) AND by the handlers, so both sides
 * name each topic and function once and agree on its payload's type. `kubefaas/refs` has no cdk8s in
 * it, so the handlers' bundles stay small.
 */
import { fn, topic } from 'kubefaas/refs';

/** A measurement as stations send it. */
export interface Reading {
  readonly city: string;
  readonly tempF: number;
}

/** The same, converted. */
export interface Celsius {
  readonly city: string;
  readonly tempC: number;
}

/** Raw readings, as `readings` accepted them. */
export const rawReadings = topic<Reading>('weather.raw');
/** Converted readings, for whoever wants them (subscribe to `topics.weather.celsius`). */
export const celsius = topic<Celsius>('weather.celsius');
/** Converts one reading; called synchronously by `to-celsius` and `convert`. */
export const converter = fn<Reading, Celsius>('converter');
