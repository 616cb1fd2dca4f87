/**
 * How a handler's value travels as bytes, the same for `context.publish` (a message) and
 * `context.invoke` / `invokeAsync` (a request body): bytes as they are, strings as UTF-8 text,
 * everything else as JSON.
 */
export function encodeData(data: unknown): { bytes: Uint8Array; contentType: string } {
  if (data instanceof Uint8Array) return { bytes: data, contentType: 'application/octet-stream' };
  if (typeof data === 'string') return { bytes: Buffer.from(data, 'utf8'), contentType: 'text/plain; charset=utf-8' };
  if (data === undefined) return { bytes: new Uint8Array(0), contentType: 'application/octet-stream' };
  return { bytes: Buffer.from(JSON.stringify(data), 'utf8'), contentType: 'application/json' };
}
