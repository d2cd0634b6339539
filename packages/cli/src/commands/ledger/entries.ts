/**
 * Building the bodies of the entries the CLI signs from command-line text: MESH amounts, proposal
 * actions (`--param name=value`, `--grant did:amount`, `--text`) and basis points. Bad text is a
 * UsageError (exit 2) before anything is signed or sent.
 */
import {
  AmountOrZeroSchema,
  type EntryBody,
  PARAM_NAMES,
  type ParamName,
  ParamsSchema,
  parseMesh,
} from '@fmp/ledger';
import { UsageError } from '../../errors.js';

export function meshAmount(text: string, what = 'amount'): string {
  // The format first: AmountSchema's "more than 0" refinement parses, and throws on garbage.
  if (!AmountOrZeroSchema.safeParse(text).success || parseMesh(text) === 0n) {
    throw new UsageError(`${what}: a MESH amount above 0 like "100" or "0.5" (at most 6 decimals)`);
  }
  return text;
}

export function basisPoints(text: string, what = '--slash-bps'): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 10_000) {
    throw new UsageError(`${what}: basis points, a whole number from 0 to 10000`);
  }
  return Number(text);
}

/**
 * `name=value` for a governance parameter. The value takes the first reading the parameter accepts:
 * a JSON object (trustWeightsBps), a number, else the text itself (MESH amounts are strings).
 */
export function paramAssignment(text: string): [ParamName, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--param ${text}: expected name=value`);
  const name = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  if (!(PARAM_NAMES as string[]).includes(name)) {
    throw new UsageError(`--param: unknown parameter "${name}" (one of ${PARAM_NAMES.join(', ')})`);
  }
  const schema = ParamsSchema.shape[name as ParamName];
  const readings: unknown[] = [];
  if (raw.trimStart().startsWith('{')) {
    try {
      readings.push(JSON.parse(raw));
    } catch {
      throw new UsageError(`--param ${name}: the value is not valid JSON`);
    }
  }
  if (/^-?\d+(\.\d+)?$/.test(raw)) readings.push(Number(raw));
  readings.push(raw);
  // The first reading's problem is the one to tell (maxHops=9: "too big", not "expected number").
  let problem: string | undefined;
  for (const value of readings) {
    try {
      const r = schema.safeParse(value);
      if (r.success) return [name as ParamName, value];
      problem ??= r.error.issues[0]?.message;
    } catch (err) {
      // AmountSchema's refinement throws (a ValidationError) on text that is not an amount.
      problem ??= (err as Error).message;
    }
  }
  throw new UsageError(`--param ${name}=${raw}: ${problem ?? 'not a valid value'}`);
}

/** `<did>:<amount>`; the DID has colons of its own, so the amount is after the last one. */
export function grantOf(text: string): { to: string; amount: string } {
  const colon = text.lastIndexOf(':');
  const to = text.slice(0, colon);
  if (colon <= 0 || !/^did:[a-z0-9]+:.+/.test(to)) {
    throw new UsageError(`--grant ${text}: expected <did>:<amount>, like did:key:z6Mk...:250`);
  }
  return { to, amount: meshAmount(text.slice(colon + 1), '--grant amount') };
}

export interface ProposeOptions {
  title: string;
  description?: string;
  param?: string[];
  grant?: string;
  text?: boolean;
}

export function proposalBody(opts: ProposeOptions): EntryBody<'gov.propose'> {
  const kinds = [opts.param?.length ? '--param' : '', opts.grant ? '--grant' : '', opts.text ? '--text' : ''];
  const given = kinds.filter((k) => k !== '');
  if (given.length !== 1) {
    throw new UsageError(
      'a proposal is one of: --param name=value (repeatable), --grant <did>:<amount>, --text',
    );
  }
  let action: EntryBody<'gov.propose'>['action'];
  if (opts.param?.length) {
    const changes: Record<string, unknown> = {};
    for (const p of opts.param) {
      const [name, value] = paramAssignment(p);
      if (name in changes) throw new UsageError(`--param ${name} is given twice`);
      changes[name] = value;
    }
    action = { kind: 'parameters', changes };
  } else if (opts.grant) {
    action = { kind: 'grant', ...grantOf(opts.grant) };
  } else {
    action = { kind: 'text' };
  }
  if (opts.title.length === 0 || opts.title.length > 200)
    throw new UsageError('--title: 1 to 200 characters');
  const description = opts.description ?? '';
  if (description.length > 10_000) throw new UsageError('--description: at most 10,000 characters');
  return { title: opts.title, description, action };
}
