/**
 * MESH amounts. On the wire a decimal string of MESH with at most 6 decimals ("100", "0.1"); inside, a
 * bigint of micro-MESH, so fees (0.1%), rewards and APY are exact integer arithmetic that every
 * replay computes identically (no floating point anywhere in the ledger state).
 */
import { ValidationError } from '@fmp/core';
import { z } from 'zod';

export const MESH_DECIMALS = 6;
/** One MESH in base units (micro-MESH). */
export const MESH: bigint = 10n ** BigInt(MESH_DECIMALS);
/** The largest amount the ledger accepts: 10^15 MESH, far above any supply it will hold. */
export const MAX_AMOUNT: bigint = 10n ** 15n * MESH;

const AMOUNT_RE = /^(0|[1-9]\d{0,14})(\.\d{1,6})?$/;

/** Parses "12.5" (MESH) into micro-MESH; rejects signs, exponents, more than 6 decimals. */
export function parseMesh(text: string): bigint {
  if (typeof text !== 'string' || !AMOUNT_RE.test(text)) {
    throw new ValidationError(`"${String(text).slice(0, 40)}" is not a MESH amount (like "100" or "0.5")`);
  }
  const [whole, frac = ''] = text.split('.');
  return BigInt(whole!) * MESH + BigInt(frac.padEnd(MESH_DECIMALS, '0'));
}

/** Formats micro-MESH as the shortest decimal string of MESH ("100", "0.1", "-3.25"). */
export function formatMesh(units: bigint): string {
  const sign = units < 0n ? '-' : '';
  const abs = units < 0n ? -units : units;
  const whole = abs / MESH;
  const frac = (abs % MESH).toString().padStart(MESH_DECIMALS, '0').replace(/0+$/, '');
  return `${sign}${whole}${frac ? `.${frac}` : ''}`;
}

/** A positive MESH amount as a wire string. */
export const AmountSchema = z
  .string()
  .regex(AMOUNT_RE, 'a MESH amount like "100" or "0.5" (at most 6 decimals)')
  // The regex check does not stop zod from running this one: test the form again before parsing.
  .refine((s) => AMOUNT_RE.test(s) && parseMesh(s) > 0n, 'must be more than 0');

/** A MESH amount that may be zero. */
export const AmountOrZeroSchema = z.string().regex(AMOUNT_RE, 'a MESH amount like "100" or "0.5"');

/** `value * bps / 10,000`, rounded down. */
export function bpsOf(value: bigint, bps: number): bigint {
  return (value * BigInt(bps)) / 10_000n;
}
