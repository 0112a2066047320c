/**
 * The identity and lifetime of one loaded model. Embeddings keep their model's ModelLife, so
 * that using one with another model, or after its model was disposed, is refused.
 */
export class ModelLife {
  private isDisposed = false;

  get disposed(): boolean {
    return this.isDisposed;
  }

  end(): void {
    this.isDisposed = true;
  }

  /** Throws unless the model is alive. `call` names the public method, for the message. */
  check(call: string): void {
    if (this.isDisposed) throw new Error(`${call}: this BlipItm model has been disposed; load it again`);
  }

  /** After an await inside `call`: the model may have been disposed meanwhile. */
  checkStill(call: string): void {
    if (this.isDisposed) throw new Error(`${call}: this BlipItm model was disposed while ${call}() was running`);
  }
}
