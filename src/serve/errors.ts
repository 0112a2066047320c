/** An error answered to the client as JSON {"error": {"message", "type"}} with `status`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A missing or wrong field: 422 naming the field. */
export function fieldError(field: string, problem: string): HttpError {
  return new HttpError(422, 'invalid_request_error', `${field}: ${problem}`);
}

export function errorBody(message: string, type: string): { error: { message: string; type: string } } {
  return { error: { message, type } };
}

/** The error `type` of each status this service answers. */
export const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_json',
  401: 'authentication_error',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'invalid_request_error',
  429: 'rate_limit_exceeded',
  500: 'internal_error',
  503: 'service_unavailable',
};
