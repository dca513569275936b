import { BodyTooLargeError, type HttpExchange } from './http-exchange.js';

/** Graph's error codes the emulator answers with, by the status they go with. */
export type GraphErrorCode =
  | 'BadRequest'
  | 'InvalidAuthenticationToken'
  | 'ResourceNotFound'
  | 'MethodNotAllowed'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  | 'InternalServerError'
  | 'ServiceUnavailable'
  | 'BadGateway'
  | 'GatewayTimeout';

/**
 * Answers with Graph's error shape: `{"error": {"code", "message", "innerError": {"date",
 * "request-id", "client-request-id"}}}`. The innerError carries the same ids as the headers so a
 * client that logs only the body still has what support would ask for.
 */
export function sendGraphError(
  exchange: HttpExchange,
  status: number,
  code: GraphErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  const innerError: Record<string, string> = {
    // Graph writes the date without milliseconds or zone letter, e.g. 2024-05-01T10:20:30.
    date: new Date().toISOString().slice(0, 19),
    'request-id': exchange.requestId,
  };
  if (exchange.clientRequestId !== undefined) innerError['client-request-id'] = exchange.clientRequestId;
  exchange.sendJson(status, { error: { code, message, innerError } }, headers);
}

/** The request body as text, or undefined after answering 413 in Graph's shape. */
export async function readGraphBody(exchange: HttpExchange): Promise<string | undefined> {
  try {
    return await exchange.readText();
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      sendGraphError(exchange, 413, 'RequestEntityTooLarge', error.message);
      return undefined;
    }
    throw error;
  }
}
