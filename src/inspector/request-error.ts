/** An error the client caused: the server sends it as this HTTP status with the message; the page shows the message. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}
