/**
 * Decaying counters, in the manner of libp2p gossipsub v1.1 peer scoring (counters multiplied by a
 * decay factor, snapped to zero below a floor) but in continuous time: the value halves every
 * `halfLifeMs`, computed lazily from the last update, so nothing has to tick. Time is passed in.
 *
 * @example
 * ```ts
 * const failures = new DecayingValue({ halfLifeMs: 3_600_000 });
 * failures.add(1, now);
 * failures.value(now + 3_600_000); // 0.5
 * const saved = failures.toJSON(); // { value, at }: restore with new DecayingValue(options, saved)
 * ```
 */
import { ValidationError } from '@fmp/core';

export interface DecayOptions {
  /** Time for the value to halve, in ms (> 0). */
  readonly halfLifeMs: number;
  /** Below this (in absolute value) the value snaps to 0. Default 0.01. */
  readonly floor?: number;
}

export const DEFAULT_DECAY_FLOOR = 0.01;

function finite(name: string, x: number): void {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new ValidationError(`${name} must be a finite number`, [{ path: name, message: 'finite number' }]);
  }
}

/**
 * One decaying number. `value` and `at` are the value as of time `at`; reads decay it to the time
 * asked for without changing the stored state, writes fold the decay in and move `at` forward.
 *
 * A clock that steps backwards (now < at) decays nothing and never moves `at` back, so it can never
 * increase the value: the decay already applied is kept.
 */
export class DecayingValue {
  readonly halfLifeMs: number;
  readonly floor: number;
  private v: number;
  private at: number;

  constructor(options: DecayOptions, initial?: { value: number; at: number }) {
    finite('halfLifeMs', options.halfLifeMs);
    if (options.halfLifeMs <= 0) {
      throw new ValidationError('halfLifeMs must be positive', [{ path: 'halfLifeMs', message: '> 0' }]);
    }
    const floor = options.floor ?? DEFAULT_DECAY_FLOOR;
    finite('floor', floor);
    if (floor < 0) throw new ValidationError('floor must be >= 0', [{ path: 'floor', message: '>= 0' }]);
    this.halfLifeMs = options.halfLifeMs;
    this.floor = floor;
    if (initial) {
      finite('initial.value', initial.value);
      finite('initial.at', initial.at);
      this.v = initial.value;
      this.at = initial.at;
    } else {
      this.v = 0;
      // -Infinity would make the first elapsed time infinite; a zero value makes `at` irrelevant
      // until the first add, which sets it.
      this.at = Number.NEGATIVE_INFINITY;
    }
  }

  /** The value decayed to `now`, snapped to 0 when its magnitude is below the floor. */
  value(now: number): number {
    finite('now', now);
    return this.decayed(now);
  }

  /**
   * Decays to `now` (snapping below the floor, as `value(now)` does), then adds `amount` (any finite
   * number); returns the new value as `value(now)` reports it. As in gossipsub, what sits below the
   * floor is gone: choose a floor well below the smallest increment.
   */
  add(amount: number, now: number): number {
    finite('amount', amount);
    finite('now', now);
    this.v = this.snap(this.decayed(now) + amount);
    if (now > this.at) this.at = now;
    return this.v;
  }

  /** The stored state, for persistence (a never-touched value reports `{ value: 0, at: 0 }`). */
  toJSON(): { value: number; at: number } {
    return { value: this.v, at: Number.isFinite(this.at) ? this.at : 0 };
  }

  private decayed(now: number): number {
    const dt = now - this.at;
    if (this.v === 0 || dt <= 0) return this.snap(this.v);
    // 2 ** -x is exact for whole half-lives (2 ** -1 === 0.5), unlike exp(-x * LN2).
    return this.snap(this.v * 2 ** (-dt / this.halfLifeMs));
  }

  private snap(v: number): number {
    return Math.abs(v) < this.floor ? 0 : v;
  }
}
