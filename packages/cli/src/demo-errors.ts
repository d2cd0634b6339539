import { FmpError } from '@fmp/core';

/** The demo could not run or did not show what it means to show. */
export class DemoError extends FmpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('demo_failed', message, options);
  }
}
