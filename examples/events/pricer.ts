import type { FunctionContext, FunctionEvent } from 'kubefaas';

/** Prices in cents; unknown items fail (and land on the dead-letter topic after the retries). */
const PRICES: Readonly<Record<string, number>> = { apple: 50, pear: 65, coffee: 450 };

/**
 * Second stage: consumes `orders` (a QueueTrigger); its return value is published to
 * `orders.priced` (the trigger's responseTopic).
 */
export default function pricer(event: FunctionEvent, context: FunctionContext): Record<string, unknown> {
  const order = event.json<{ id: string; item: string; quantity: number }>();
  const unit = PRICES[order.item];
  if (unit === undefined) throw new Error(`no price for item '${order.item}'`);
  context.log.info('priced order', { id: order.id, item: order.item });
  return { ...order, unitCents: unit, totalCents: unit * order.quantity };
}
