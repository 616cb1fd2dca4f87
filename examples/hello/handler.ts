import type { FunctionEvent } from 'kubefaas';

/**
 * The classic first function: answers "Yeah, it works!!!", or "Yeah, <body>" when posted a body.
 * TARGET comes from the function's env so the greeting can change per environment.
 */
export default function hello(event: FunctionEvent): string {
  const body = event.text();
  return body.length > 0 ? `Yeah, ${body}` : (process.env.TARGET ?? 'Yeah, it works!!!');
}
