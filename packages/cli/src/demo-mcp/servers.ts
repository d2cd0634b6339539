/**
 * The MCP servers the five demo organizations run behind their mesh nodes (issue #4). Each tool does
 * real, small, deterministic work over its input or over the data bundled in ./data.ts, so a partner
 * calling it across the federation gets a checkable answer.
 */
import { type CallToolResult, McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import {
  GLOSSARY,
  GLOSSARY_LANGUAGES,
  LIBRARY_BOOKS,
  NEGATORS,
  OPEN_DATASETS,
  SENTIMENT_LEXICON,
} from './data.js';

export type DemoOrg = 'ent' | 'edu' | 'gov' | 'ngo' | 'pub';

export const DEMO_ORGS: readonly DemoOrg[] = ['ent', 'edu', 'gov', 'ngo', 'pub'];

export function isDemoOrg(value: string): value is DemoOrg {
  return (DEMO_ORGS as readonly string[]).includes(value);
}

/** Tool name -> the spec capability a partner must hold a federation for, per organization. */
export const DEMO_TOOL_CAPABILITIES: Record<DemoOrg, Record<string, string>> = {
  ent: { dedupe_records: 'data.processing' },
  edu: { sentiment: 'ml.inference', describe_numbers: 'data.analysis', train_toy_model: 'ml.inference' },
  gov: { lookup_dataset: 'data.opendata', restricted_records: 'data.opendata' },
  ngo: { translate_term: 'translation.glossary', list_languages: 'translation.glossary' },
  pub: { search_catalog: 'data.catalog' },
};

/** `_meta` key under which every tool advertises its capability in `tools/list`. */
export const CAPABILITY_META_KEY = 'fmp/capability';

const ORG_INFO: Record<DemoOrg, string> = {
  ent: 'Acme Corp: record processing tools.',
  edu: 'MIT: sentiment scoring, descriptive statistics and a toy model trainer.',
  gov: 'Northvale open data portal: dataset catalog search and aggregate statistics.',
  ngo: 'Relief NGO: humanitarian field glossary in French, Spanish, Swahili and Arabic.',
  pub: 'Public library: catalog search.',
};

/**
 * Caps the total array elements and object members of one call's arguments: the zod schemas bound each
 * array, but dedupe_records' records may nest, and parsing cost must stay bounded (describe_numbers'
 * 100,000 values are the largest legitimate input).
 */
const MAX_TOOL_INPUT_ELEMENTS = 200_000;

export function createDemoMcpServer(org: DemoOrg): McpServer {
  const server = new McpServer(
    { name: `fmp-demo-${org}`, version: '0.1.0' },
    { instructions: ORG_INFO[org], maxToolInputElements: MAX_TOOL_INPUT_ELEMENTS },
  );
  switch (org) {
    case 'ent':
      registerEnt(server);
      break;
    case 'edu':
      registerEdu(server);
      break;
    case 'gov':
      registerGov(server);
      break;
    case 'ngo':
      registerNgo(server);
      break;
    case 'pub':
      registerPub(server);
      break;
  }
  return server;
}

function capabilityMeta(org: DemoOrg, tool: string): Record<string, unknown> {
  const capability = DEMO_TOOL_CAPABILITIES[org][tool];
  if (capability === undefined) throw new Error(`no capability declared for ${org}/${tool}`);
  return { [CAPABILITY_META_KEY]: capability };
}

function ok<T extends Record<string, unknown>>(result: T): CallToolResult & { structuredContent: T } {
  return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
}

function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

// ---------------------------------------------------------------------------------------------------
// ent: Acme Corp, data.processing

const JsonRecord = z.record(z.string(), z.unknown());

function registerEnt(server: McpServer): void {
  server.registerTool(
    'dedupe_records',
    {
      title: 'Deduplicate records',
      description:
        'Removes records whose value of `key` repeats an earlier record (first one wins, order kept). ' +
        'Records without the key are kept and counted.',
      inputSchema: z.object({
        records: z.array(JsonRecord).max(1000).describe('Up to 1000 JSON objects'),
        key: z.string().min(1).max(256).describe('Field whose value identifies a record'),
      }),
      outputSchema: z.object({
        key: z.string(),
        records: z.array(JsonRecord),
        total: z.number().int(),
        kept: z.number().int(),
        duplicatesRemoved: z.number().int(),
        missingKey: z.number().int(),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('ent', 'dedupe_records'),
    },
    async ({ records, key }) => ok({ key, ...dedupeRecords(records, key) }),
  );
}

export function dedupeRecords(
  records: Record<string, unknown>[],
  key: string,
): {
  records: Record<string, unknown>[];
  total: number;
  kept: number;
  duplicatesRemoved: number;
  missingKey: number;
} {
  const seen = new Set<string>();
  const kept: Record<string, unknown>[] = [];
  let missingKey = 0;
  for (const record of records) {
    if (!Object.hasOwn(record, key)) {
      missingKey++;
      kept.push(record);
      continue;
    }
    // Canonical JSON so {a:1,b:2} and {b:2,a:1} are the same key value, while 1 and "1" are not.
    const id = canonicalJson(record[key]);
    if (seen.has(id)) continue;
    seen.add(id);
    kept.push(record);
  }
  return {
    records: kept,
    total: records.length,
    kept: kept.length,
    duplicatesRemoved: records.length - kept.length,
    missingKey,
  };
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// ---------------------------------------------------------------------------------------------------
// edu: MIT, ml.inference and data.analysis

const TRAIN_STEP_DELAY_MS = 10;
/** Gradient descent runs on standardized x and y, where this rate converges by a factor 0.9 per step. */
const TRAIN_LEARNING_RATE = 0.05;

function registerEdu(server: McpServer): void {
  server.registerTool(
    'sentiment',
    {
      title: 'Lexicon sentiment',
      description:
        'Scores English text with a ~60-word weighted lexicon. A negator ("not", "never", ...) up to two ' +
        'words before a lexicon word flips and halves its weight. Score in [-1, 1] is the mean weight.',
      inputSchema: z.object({
        text: z.string().max(10_000).describe('English text, up to 10,000 characters'),
      }),
      outputSchema: z.object({
        score: z.number().min(-1).max(1),
        label: z.enum(['positive', 'negative', 'neutral']),
        wordCount: z.number().int(),
        matched: z.array(z.object({ word: z.string(), weight: z.number(), negated: z.boolean() })),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('edu', 'sentiment'),
    },
    async ({ text }) => ok(sentiment(text)),
  );

  server.registerTool(
    'describe_numbers',
    {
      title: 'Descriptive statistics',
      description:
        'Count, mean, median, sample standard deviation (null for a single value), min, max and the 95th ' +
        'percentile (linear interpolation between closest ranks).',
      inputSchema: z.object({ values: z.array(z.number()).min(1).max(100_000) }),
      outputSchema: z.object({
        count: z.number().int(),
        mean: z.number(),
        median: z.number(),
        stddev: z.number().nullable(),
        min: z.number(),
        max: z.number(),
        p95: z.number(),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('edu', 'describe_numbers'),
    },
    async ({ values }) => {
      const stats = describeNumbers(values);
      if (stats === null) return toolError('values are too large to summarize in double precision');
      return ok(stats);
    },
  );

  server.registerTool(
    'train_toy_model',
    {
      title: 'Train a toy linear model',
      description:
        'Fits y = a*x + b to the points by gradient descent on the mean squared error, one step every ~10 ms, ' +
        'reporting progress per step (when the request carries a progress token). Cancellable.',
      inputSchema: z.object({
        points: z
          .array(z.tuple([z.number(), z.number()]))
          .min(2)
          .max(10_000)
          .describe('[x, y] pairs'),
        steps: z.number().int().min(1).max(200),
      }),
      outputSchema: z.object({
        a: z.number(),
        b: z.number(),
        loss: z.number(),
        initialLoss: z.number(),
        steps: z.number().int(),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('edu', 'train_toy_model'),
    },
    async ({ points, steps }, ctx) => {
      const result = await trainToyModel(points, steps, ctx);
      if (result === null) return toolError('points are too large to fit in double precision');
      return ok(result);
    },
  );
}

type Sentiment = {
  score: number;
  label: 'positive' | 'negative' | 'neutral';
  wordCount: number;
  matched: { word: string; weight: number; negated: boolean }[];
};

export function sentiment(text: string): Sentiment {
  const words =
    text
      .toLowerCase()
      .replace(/\u2019/g, "'")
      .match(/[a-z]+(?:'[a-z]+)?/g) ?? [];
  const matched: Sentiment['matched'] = [];
  let sum = 0;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const base = SENTIMENT_LEXICON[word];
    if (base === undefined) continue;
    const negated = NEGATORS.has(words[i - 1] ?? '') || NEGATORS.has(words[i - 2] ?? '');
    const weight = negated ? -base / 2 : base;
    matched.push({ word, weight, negated });
    sum += weight;
  }
  const score = matched.length === 0 ? 0 : Math.round((sum / matched.length) * 10_000) / 10_000;
  const label = score >= 0.05 ? 'positive' : score <= -0.05 ? 'negative' : 'neutral';
  return { score, label, wordCount: words.length, matched };
}

type NumberSummary = {
  count: number;
  mean: number;
  median: number;
  stddev: number | null;
  min: number;
  max: number;
  p95: number;
};

/** Null when an intermediate overflows (values near ±1.8e308). */
export function describeNumbers(values: number[]): NumberSummary | null {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  // Welford: no catastrophic cancellation for values with a large common offset.
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const x = sorted[i]!;
    const delta = x - mean;
    mean += delta / (i + 1);
    m2 += delta * (x - mean);
  }
  const summary: NumberSummary = {
    count: n,
    mean,
    median: quantile(sorted, 0.5),
    stddev: n > 1 ? Math.sqrt(m2 / (n - 1)) : null,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    p95: quantile(sorted, 0.95),
  };
  const finite = [summary.mean, summary.median, summary.p95, summary.stddev ?? 0].every(Number.isFinite);
  return finite ? summary : null;
}

/** Linear interpolation between closest ranks (Hyndman-Fan type 7, the numpy and R default). */
function quantile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const low = sorted[lo]!;
  const high = sorted[Math.min(lo + 1, sorted.length - 1)]!;
  return low + (h - lo) * (high - low);
}

type ToyModel = { a: number; b: number; loss: number; initialLoss: number; steps: number };

async function trainToyModel(
  points: [number, number][],
  steps: number,
  ctx: ServerContext,
): Promise<ToyModel | null> {
  const { signal } = ctx.mcpReq;
  const progressToken = ctx.mcpReq._meta?.progressToken;
  const n = points.length;
  const mx = mean(points.map((p) => p[0]));
  const my = mean(points.map((p) => p[1]));
  // Standardizing makes one learning rate converge for any scale of data; a constant column keeps 1.
  const sx = Math.sqrt(mean(points.map((p) => (p[0] - mx) ** 2))) || 1;
  const sy = Math.sqrt(mean(points.map((p) => (p[1] - my) ** 2))) || 1;
  const xs = points.map((p) => (p[0] - mx) / sx);
  const ys = points.map((p) => (p[1] - my) / sy);
  if (![mx, my, sx, sy].every(Number.isFinite)) return null;

  let w = 0;
  let c = 0;
  const original = (): { a: number; b: number } => {
    const a = (w * sy) / sx;
    return { a, b: my + c * sy - a * mx };
  };
  const lossOf = ({ a, b }: { a: number; b: number }): number => {
    let sum = 0;
    for (const [x, y] of points) sum += (a * x + b - y) ** 2;
    return sum / n;
  };
  const initialLoss = lossOf(original());

  for (let step = 1; step <= steps; step++) {
    if (signal.aborted) throw new Error(`train_toy_model cancelled after ${step - 1} of ${steps} steps`);
    let gw = 0;
    let gc = 0;
    for (let i = 0; i < n; i++) {
      const residual = w * xs[i]! + c - ys[i]!;
      gw += residual * xs[i]!;
      gc += residual;
    }
    w -= (TRAIN_LEARNING_RATE * 2 * gw) / n;
    c -= (TRAIN_LEARNING_RATE * 2 * gc) / n;
    const loss = lossOf(original());
    if (progressToken !== undefined) {
      await ctx.mcpReq.notify({
        method: 'notifications/progress',
        params: {
          progressToken,
          progress: step,
          total: steps,
          message: `step ${step}/${steps}: loss ${loss}`,
        },
      });
    }
    await sleep(TRAIN_STEP_DELAY_MS, signal);
  }
  const model = original();
  return { ...model, loss: lossOf(model), initialLoss, steps };
}

function mean(values: number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Rejects as soon as the signal aborts, so a cancelled call stops within the current step. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Error('cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------------
// Keyword search shared by the open data catalog and the library catalog.

function normalize(text: string): string {
  // Strip diacritics so "bronte" finds "Brontë".
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

function tokenize(text: string): string[] {
  return normalize(text).match(/[\p{L}\p{N}]+(?:[.'-][\p{L}\p{N}]+)*/gu) ?? [];
}

interface SearchField {
  tokens: string[];
  weight: number;
}

interface Indexed<T> {
  item: T;
  fields: SearchField[];
  /** Normalized title words joined by single spaces, for the phrase bonus. */
  phrase: string;
  /** Exact identifier (dataset id, ISBN) that scores on its own. */
  id: string;
}

/** Each query word scores a field's weight on an exact word match, half of it on a prefix match. */
function search<T>(
  index: Indexed<T>[],
  query: string,
  limit: number,
): { total: number; hits: { item: T; score: number }[] } {
  const terms = [...new Set(tokenize(query))];
  const phrase = terms.join(' ');
  const exactId = normalize(query.trim()).replace(/[\s-]/g, '');
  const hits: { item: T; score: number; order: number }[] = [];
  index.forEach((entry, order) => {
    let score = entry.id.replace(/-/g, '') === exactId ? 10 : 0;
    for (const term of terms) {
      for (const field of entry.fields) {
        if (field.tokens.includes(term)) score += field.weight;
        else if (term.length >= 3 && field.tokens.some((t) => t.startsWith(term))) score += field.weight / 2;
      }
    }
    if (terms.length > 1 && entry.phrase.includes(phrase)) score += 2;
    if (score > 0) hits.push({ item: entry.item, score, order });
  });
  hits.sort((x, y) => y.score - x.score || x.order - y.order);
  return { total: hits.length, hits: hits.slice(0, limit).map(({ item, score }) => ({ item, score })) };
}

const SearchInput = z.object({
  query: z.string().min(1).max(200),
  limit: z.number().int().min(1).max(20).optional().describe('Maximum results, default 5'),
});
const DEFAULT_LIMIT = 5;

// ---------------------------------------------------------------------------------------------------
// gov: Northvale open data, data.opendata

const DATASET_INDEX: Indexed<(typeof OPEN_DATASETS)[number]>[] = OPEN_DATASETS.map((d) => ({
  item: d,
  fields: [
    { tokens: tokenize(d.title), weight: 3 },
    { tokens: d.keywords.flatMap(tokenize), weight: 2 },
    { tokens: tokenize(d.publisher), weight: 1 },
  ],
  phrase: tokenize(d.title).join(' '),
  id: d.id,
}));

const DatasetSummary = z.object({
  id: z.string(),
  title: z.string(),
  publisher: z.string(),
  license: z.string(),
  keywords: z.array(z.string()),
  updated: z.string(),
  score: z.number(),
});

function registerGov(server: McpServer): void {
  server.registerTool(
    'lookup_dataset',
    {
      title: 'Search the open data catalog',
      description:
        'Searches the Northvale open data catalog by title, keyword and publisher, best match first.',
      inputSchema: SearchInput,
      outputSchema: z.object({
        query: z.string(),
        total: z.number().int(),
        results: z.array(DatasetSummary),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('gov', 'lookup_dataset'),
    },
    async ({ query, limit }) => {
      const { total, hits } = search(DATASET_INDEX, query, limit ?? DEFAULT_LIMIT);
      const results = hits.map(({ item: { aggregate: _restricted, ...metadata }, score }) => ({
        ...metadata,
        score,
      }));
      return ok({ query, total, results });
    },
  );

  server.registerTool(
    'restricted_records',
    {
      title: 'Restricted aggregate statistic',
      description:
        'Returns the aggregate statistic computed over the restricted records of a dataset (never row-level data).',
      inputSchema: z.object({ datasetId: z.string().min(1).max(100) }),
      outputSchema: z.object({
        datasetId: z.string(),
        title: z.string(),
        publisher: z.string(),
        statistic: z.string(),
        value: z.number(),
        unit: z.string(),
        period: z.string(),
        basedOnRecords: z.number().int(),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('gov', 'restricted_records'),
    },
    async ({ datasetId }) => {
      const dataset = OPEN_DATASETS.find((d) => d.id === datasetId);
      if (dataset === undefined) return toolError(`unknown dataset id ${JSON.stringify(datasetId)}`);
      return ok({ datasetId, title: dataset.title, publisher: dataset.publisher, ...dataset.aggregate });
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// ngo: relief NGO, translation.glossary

const LANGUAGE_CODES = ['fr', 'es', 'sw', 'ar'] as const;

function registerNgo(server: McpServer): void {
  server.registerTool(
    'translate_term',
    {
      title: 'Translate a glossary term',
      description:
        'Translates an English humanitarian field term (water, shelter, vaccine, ...) from the glossary ' +
        'into French, Spanish, Swahili or Arabic. Unknown terms are an error.',
      inputSchema: z.object({
        term: z.string().min(1).max(100),
        to: z.enum(LANGUAGE_CODES),
      }),
      outputSchema: z.object({
        term: z.string(),
        to: z.enum(LANGUAGE_CODES),
        language: z.string(),
        translation: z.string(),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('ngo', 'translate_term'),
    },
    async ({ term, to }) => {
      const key = term.trim().toLowerCase().replace(/\s+/g, ' ');
      const entry = Object.hasOwn(GLOSSARY, key) ? GLOSSARY[key] : undefined;
      if (entry === undefined) return toolError(`term ${JSON.stringify(term)} is not in the glossary`);
      const language = GLOSSARY_LANGUAGES.find((l) => l.code === to)!.name;
      return ok({ term: key, to, language, translation: entry[to] });
    },
  );

  server.registerTool(
    'list_languages',
    {
      title: 'Glossary languages',
      description: 'Lists the target languages and the English terms of the glossary.',
      inputSchema: z.object({}),
      outputSchema: z.object({
        languages: z.array(z.object({ code: z.string(), name: z.string(), nativeName: z.string() })),
        terms: z.array(z.string()),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('ngo', 'list_languages'),
    },
    async () =>
      ok({
        languages: GLOSSARY_LANGUAGES.map((l) => ({ ...l })),
        terms: Object.keys(GLOSSARY).sort(),
      }),
  );
}

// ---------------------------------------------------------------------------------------------------
// pub: public library, data.catalog

const BOOK_INDEX: Indexed<(typeof LIBRARY_BOOKS)[number]>[] = LIBRARY_BOOKS.map((b) => ({
  item: b,
  fields: [
    { tokens: tokenize(b.title), weight: 3 },
    { tokens: tokenize(b.author), weight: 2 },
    { tokens: b.subjects.flatMap(tokenize), weight: 2 },
  ],
  phrase: tokenize(b.title).join(' '),
  id: b.isbn,
}));

function registerPub(server: McpServer): void {
  server.registerTool(
    'search_catalog',
    {
      title: 'Search the library catalog',
      description: 'Searches books by title, author, subject or ISBN, best match first.',
      inputSchema: SearchInput,
      outputSchema: z.object({
        query: z.string(),
        total: z.number().int(),
        results: z.array(
          z.object({
            title: z.string(),
            author: z.string(),
            year: z.number().int(),
            isbn: z.string(),
            subjects: z.array(z.string()),
            score: z.number(),
          }),
        ),
      }),
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      _meta: capabilityMeta('pub', 'search_catalog'),
    },
    async ({ query, limit }) => {
      const { total, hits } = search(BOOK_INDEX, query, limit ?? DEFAULT_LIMIT);
      return ok({ query, total, results: hits.map(({ item, score }) => ({ ...item, score })) });
    },
  );
}
