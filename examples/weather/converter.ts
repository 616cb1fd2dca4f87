import { defineHandler } from 'kubefaas/refs';
import { converter } from './model';

/** A Reading in, a Celsius out: the types come from the `converter` reference. */
export default defineHandler(converter, (reading) => ({
  city: reading.city,
  tempC: Math.round((((reading.tempF - 32) * 5) / 9) * 10) / 10,
}));
