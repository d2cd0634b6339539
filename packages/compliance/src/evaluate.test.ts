import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { complianceContextSchema, ValidationError } from '@fmp/core';
import { afterAll, describe, expect, it } from 'vitest';
import { PERSONAL, party, transaction as tx } from './adapters/testing.js';
import {
  AdapterModuleError,
  DEFAULT_ADAPTERS,
  evaluateCompliance,
  GEOGRAPHY,
  loadAdapterModule,
} from './evaluate.js';
import { benchEvaluateCompliance } from './evaluate-bench.js';
import type { ComplianceAdapter, Obligation } from './types.js';

describe('evaluateCompliance: geography', () => {
  it('allows when the target and every hub are within the restriction', () => {
    const d = evaluateCompliance(
      tx({ from: 'eu', to: 'eu-west', via: ['eu-central', 'eu'], ctx: { geographicRestrictions: ['eu'] } }),
    );
    expect(d.allow).toBe(true);
    expect(d.decisions[0]).toMatchObject({ adapter: GEOGRAPHY, allow: true });
    expect(d.reasons).toEqual([]);
  });

  it('names the hub outside the restriction and its region', () => {
    const d = evaluateCompliance(
      tx({ from: 'eu', to: 'eu-west', via: ['eu-central', 'apac'], ctx: { geographicRestrictions: ['eu'] } }),
    );
    expect(d.allow).toBe(false);
    expect(d.decisions[0]).toMatchObject({ adapter: GEOGRAPHY, allow: false });
    expect(d.reasons).toEqual(['geographicRestrictions [eu]: transit hub did:fmp:hub:apac is in apac']);
  });

  it('names a target outside the restriction', () => {
    const d = evaluateCompliance(
      tx({ from: 'eu', to: 'us-east', ctx: { geographicRestrictions: ['eu', 'uk'] } }),
    );
    expect(d.reasons).toEqual(['geographicRestrictions [eu, uk]: target did:fmp:mesh:us-east is in us-east']);
  });

  it('no restriction allows anywhere (an empty list is refused by the schema)', () => {
    expect(
      complianceContextSchema.safeParse({
        dataClassification: 'public',
        auditTrail: false,
        geographicRestrictions: [],
      }).success,
    ).toBe(false);
    const free = evaluateCompliance(tx({ from: 'eu', to: 'apac' }));
    expect(free.allow).toBe(true);
    expect(free.decisions.map((d) => d.adapter)).toEqual(['gdpr']);
  });
});

describe('evaluateCompliance: adapters', () => {
  it('runs only the adapters that apply and collects their obligations', () => {
    const d = evaluateCompliance(
      tx({
        from: party('us-ca', ['SOC2']),
        to: 'us',
        kind: 'tool_call',
        ctx: { ...PERSONAL, purpose: 'support' },
      }),
    );
    expect(d.allow).toBe(true);
    expect(d.decisions.map((x) => x.adapter)).toEqual(['soc2-ccpa', 'iso42001']);
    expect(d.obligations.map((o) => `${o.adapter}:${o.kind}`)).toEqual([
      'soc2-ccpa:retention',
      'soc2-ccpa:purpose_limitation',
      'soc2-ccpa:logging',
      'soc2-ccpa:retention',
      'iso42001:explanation',
      'iso42001:logging',
    ]);
  });

  it('denies when any adapter denies, with every denying reason, and reports all that apply', () => {
    const d = evaluateCompliance(
      tx({
        from: 'eu',
        to: 'us-ca',
        via: ['apac'],
        ctx: { ...PERSONAL, saleOrShare: true, optOut: true, geographicRestrictions: ['eu', 'us'] },
      }),
    );
    expect(d.allow).toBe(false);
    expect(d.decisions.map((x) => [x.adapter, x.allow])).toEqual([
      [GEOGRAPHY, false],
      ['gdpr', false],
      ['soc2-ccpa', false],
    ]);
    expect(d.reasons).toEqual([
      'geographicRestrictions [eu, us]: transit hub did:fmp:hub:apac is in apac',
      expect.stringContaining(
        'GDPR Art. 44-46: personal data may not go to did:fmp:mesh:us-ca in US-CA (us-ca)',
      ),
      expect.stringContaining(
        'GDPR Art. 44-46: personal data may not transit hub did:fmp:hub:apac in OTHER (apac)',
      ),
      'CCPA §1798.120: the consumer opted out of sale/sharing of their personal information',
    ]);
    expect(d.obligations).toEqual([]);
  });

  it("keeps the allowing adapters' obligations when another denies", () => {
    const d = evaluateCompliance(
      tx({ from: 'ca', to: 'ca', kind: 'tool_call', ctx: { ...PERSONAL, purpose: 'hr' } }),
    );
    // PIPEDA denies (contract is no consent exception); ISO 42001 allows with its obligations.
    expect(d.allow).toBe(false);
    expect(d.reasons).toEqual([expect.stringContaining('PIPEDA Principle 4.3')]);
    expect(d.obligations.map((o) => o.adapter)).toEqual(['iso42001', 'iso42001']);
  });

  const audit: Obligation = { kind: 'audit', detail: 'keep an audit entry', adapter: 'a' };
  const fixed = (id: string, allow: boolean, obligations: readonly Obligation[]): ComplianceAdapter => ({
    id,
    name: id,
    appliesTo: () => true,
    evaluate: () => ({ adapter: id, allow, reasons: [`${id} says ${allow}`], obligations }),
  });

  it('takes an operator adapter list and de-duplicates obligations by kind and detail', () => {
    const d = evaluateCompliance(tx({ from: 'eu', to: 'eu' }), [
      fixed('a', true, [audit, audit]),
      fixed('b', true, [
        { ...audit, adapter: 'b' },
        { kind: 'notice', detail: 'tell them', adapter: 'b' },
      ]),
    ]);
    expect(d.allow).toBe(true);
    expect(d.obligations).toEqual([audit, { kind: 'notice', detail: 'tell them', adapter: 'b' }]);
  });

  it('fails closed when an adapter throws or returns something else', () => {
    const throws: ComplianceAdapter = {
      id: 'throws',
      name: 'throws',
      appliesTo: () => true,
      evaluate: () => {
        throw new Error('database down');
      },
    };
    const garbage = { id: 'garbage', name: 'g', appliesTo: () => true, evaluate: () => ({ ok: true }) };
    const d = evaluateCompliance(tx({ from: 'eu', to: 'eu' }), [
      fixed('a', true, []),
      throws,
      garbage as unknown as ComplianceAdapter,
    ]);
    expect(d.allow).toBe(false);
    expect(d.reasons).toEqual([
      'adapter throws failed: database down',
      'adapter garbage failed: evaluate() did not return an AdapterDecision',
    ]);
  });

  it('p50 stays far below the 50 µs per-message budget', () => {
    for (const r of benchEvaluateCompliance(200, 50)) expect(r.p50Us, r.scenario).toBeLessThan(50);
  });
});

describe('loadAdapterModule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmp-adapter-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fixture = fileURLToPath(new URL('./adapters/fixtures/data-residency.ts', import.meta.url));

  it("loads an operator's adapter module and evaluates with it beside the defaults", async () => {
    const adapter = await loadAdapterModule(fixture);
    expect(adapter.id).toBe('acme-residency');
    const adapters = [...DEFAULT_ADAPTERS, adapter];
    const special = { ...PERSONAL, dataClassification: 'special-category', explicitConsent: true } as const;

    const home = evaluateCompliance(tx({ from: 'eu', to: 'eu-west', ctx: special }), adapters);
    expect(home.allow).toBe(true);
    expect(home.obligations).toContainEqual({
      kind: 'audit',
      detail: 'ACME: audit special-category transfers',
      adapter: 'acme-residency',
    });

    const abroad = evaluateCompliance(tx({ from: 'eu', to: 'jp', ctx: special }), adapters);
    expect(abroad.allow).toBe(false);
    expect(abroad.decisions.find((x) => x.adapter === 'gdpr')?.allow).toBe(true);
    expect(abroad.reasons).toEqual([
      'ACME residency: special-category data stays in EU, not did:fmp:mesh:jp (jp)',
    ]);
  });

  it('accepts a file: URL and a plain JavaScript module', async () => {
    const file = join(dir, 'plain.mjs');
    writeFileSync(
      file,
      `export default {
        id: 'plain', name: 'Plain JS',
        appliesTo: () => true,
        evaluate: () => ({ adapter: 'plain', allow: true, reasons: ['ok'], obligations: [] }),
      };\n`,
    );
    const adapter = await loadAdapterModule(pathToFileURL(file).href);
    expect(evaluateCompliance(tx({ from: 'eu', to: 'eu' }), [adapter]).decisions).toEqual([
      { adapter: 'plain', allow: true, reasons: ['ok'], obligations: [] },
    ]);
  });

  it('keeps a class-based adapter intact (its prototype and this)', async () => {
    const file = join(dir, 'class.mjs');
    writeFileSync(
      file,
      `class Quota {
        id = 'quota'; name = 'Quota'; limit = 0;
        appliesTo() { return true; }
        evaluate() { return { adapter: this.id, allow: this.limit > 0, reasons: ['quota ' + this.limit], obligations: [] }; }
      }
      export default new Quota();\n`,
    );
    const adapter = await loadAdapterModule(file);
    expect(adapter.evaluate(tx({ from: 'eu', to: 'eu' }))).toMatchObject({ adapter: 'quota', allow: false });
  });

  it('rejects a default export that is not an adapter, saying what is wrong', async () => {
    const file = join(dir, 'bad.mjs');
    writeFileSync(file, `export default { id: 'Bad Id', name: 'x', appliesTo: () => true };\n`);
    const err = await loadAdapterModule(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toContain('the default export is not a ComplianceAdapter');
    expect((err as ValidationError).issues.map((i) => i.path).sort()).toEqual(['evaluate', 'id']);

    const none = join(dir, 'none.mjs');
    writeFileSync(none, 'export const adapter = 1;\n');
    await expect(loadAdapterModule(none)).rejects.toBeInstanceOf(ValidationError);

    const reserved = join(dir, 'reserved.mjs');
    writeFileSync(
      reserved,
      `export default { id: 'geography', name: 'x', appliesTo() { return true; }, evaluate() { return {}; } };\n`,
    );
    await expect(loadAdapterModule(reserved)).rejects.toThrow(ValidationError);
  });

  it('reports a module that cannot be imported', async () => {
    const missing = join(dir, 'missing.mjs');
    await expect(loadAdapterModule(missing)).rejects.toBeInstanceOf(AdapterModuleError);
    const broken = join(dir, 'broken.mjs');
    writeFileSync(broken, 'export default {;\n');
    await expect(loadAdapterModule(broken)).rejects.toThrow(/cannot import compliance adapter module/);
  });
});
