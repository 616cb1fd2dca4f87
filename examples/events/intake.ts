import type { FunctionContext, FunctionEvent } from 'kubefaas';

/**
 * First stage of the order pipeline: accepts `POST /orders` with `{ "item": string, "quantity": number }`,
 * publishes it to the `orders` topic and answers 202 with the order id. Everything after this runs
 * from the queue, so a slow or failing pricer never slows the caller down.
 */
export default async function intake(event: FunctionEvent, context: FunctionContext): Promise<Response> {
  const order = event.json<{ item?: unknown; quantity?: unknown }>();
  if (typeof order.item !== 'string' || typeof order.quantity !== 'number' || order.quantity <= 0) {
    return Response.json({ error: 'expected { "item": string, "quantity": number > 0 }' }, { status: 400 });
  }
  const id = event.id;
  await context.publish('orders', { id, item: order.item, quantity: order.quantity, receivedAt: event.time });
  return Response.json({ id, status: 'accepted' }, { status: 202 });
}
