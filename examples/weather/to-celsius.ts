import { defineHandler } from 'kubefaas/refs';
import { celsius, converter, rawReadings } from './model';

/** Consumes rawReadings (its QueueTrigger), has `converter` convert each one, publishes the result. */
export default defineHandler(rawReadings, async (reading, ctx) => {
  const converted = await ctx.invoke(converter, reading);
  await ctx.publish(celsius, converted);
});
