import { AppError } from './app-error.ts';

/** A credential guessed too often: the attempt waits (`retryAfterSeconds`) or the key is locked. */
export class TooManyAttempts extends AppError {
  readonly retryAfterSeconds: number;
  readonly locked: boolean;

  constructor(retryAfterSeconds: number, locked: boolean) {
    super(
      'too_many_requests',
      429,
      locked
        ? `Too many failed attempts: locked for ${Math.ceil(retryAfterSeconds / 60)} minute(s).`
        : `Too many failed attempts: wait ${retryAfterSeconds} second(s) before trying again.`,
    );
    this.retryAfterSeconds = retryAfterSeconds;
    this.locked = locked;
  }
}
