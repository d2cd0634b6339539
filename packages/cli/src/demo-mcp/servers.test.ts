import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type CallToolResult, Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { InMemoryTransport, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it } from 'vitest';
import { LIBRARY_BOOKS } from './data.js';
import {
  CAPABILITY_META_KEY,
  createDemoMcpServer,
  DEMO_ORGS,
  DEMO_TOOL_CAPABILITIES,
  type DemoOrg,
} from './servers.js';

const BIN = fileURLToPath(new URL('../../bin/demo-mcp.js', import.meta.url));

const open: Client[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

interface Connected {
  client: Client;
  /** Every message the server wrote, in order. */
  sent: JSONRPCMessage[];
}

async function connect(org: DemoOrg): Promise<Connected> {
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  const sent: JSONRPCMessage[] = [];
  const send = serverTransport.send.bind(serverTransport);
  serverTransport.send = (message, options) => {
    sent.push(message);
    return send(message, options);
  };
  await createDemoMcpServer(org).connect(serverTransport);
  const client = new Client({ name: 'fmp-test', version: '0.1.0' });
  await client.connect(clientTransport);
  open.push(client);
  return { client, sent };
}

function textOf(result: CallToolResult): string {
  const [first] = result.content;
  if (first?.type !== 'text')
    throw new Error(`expected a text result, got ${JSON.stringify(result.content)}`);
  return first.text;
}

/** The structured result of a successful call, checked against its JSON text twin. */
// biome-ignore lint/suspicious/noExplicitAny: tests read the structured results field by field
async function call(client: Client, name: string, args: Record<string, unknown>): Promise<any> {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError, textOf(result)).toBeFalsy();
  expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);
  return result.structuredContent;
}

async function callError(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError).toBe(true);
  return textOf(result);
}

describe('demo MCP servers', () => {
  it.each(DEMO_ORGS)('%s lists exactly its tools, each with its capability and schemas', async (org) => {
    const { client } = await connect(org);
    expect(client.getServerVersion()).toMatchObject({ name: `fmp-demo-${org}`, version: '0.1.0' });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(Object.keys(DEMO_TOOL_CAPABILITIES[org]).sort());
    for (const tool of tools) {
      expect(tool._meta?.[CAPABILITY_META_KEY]).toBe(DEMO_TOOL_CAPABILITIES[org][tool.name]);
      expect(tool.inputSchema.type).toBe('object');
      expect(tool.outputSchema?.type).toBe('object');
    }
  });

  it('ent dedupe_records keeps the first record per key value and counts the rest', async () => {
    const { client } = await connect('ent');
    const records = [
      { id: 1, name: 'first' },
      { id: 2 },
      { id: 1, name: 'again' },
      { name: 'no id' },
      { id: '1', name: 'a string is another value' },
      { id: { region: 'eu', n: 7 } },
      { id: { n: 7, region: 'eu' }, name: 'same object, other member order' },
    ];
    const out = await call(client, 'dedupe_records', { records, key: 'id' });
    expect(out.records).toEqual([records[0], records[1], records[3], records[4], records[5]]);
    expect(out).toMatchObject({ key: 'id', total: 7, kept: 5, duplicatesRemoved: 2, missingKey: 1 });

    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ id: i }));
    expect(await callError(client, 'dedupe_records', { records: tooMany, key: 'id' })).toMatch(
      /Input validation error/,
    );
    expect(await callError(client, 'dedupe_records', { records: [1, 2], key: 'id' })).toMatch(
      /Input validation error/,
    );
  });

  it('edu sentiment scores with the lexicon, negation included', async () => {
    const { client } = await connect('edu');
    const mixed = await call(client, 'sentiment', {
      text: 'The staff were Excellent and helpful, but the app is slow.',
    });
    expect(mixed.matched).toEqual([
      { word: 'excellent', weight: 1, negated: false },
      { word: 'helpful', weight: 0.5, negated: false },
      { word: 'slow', weight: -0.4, negated: false },
    ]);
    expect(mixed).toMatchObject({ score: 0.3667, label: 'positive', wordCount: 11 });

    const negated = await call(client, 'sentiment', { text: 'This is not good. It’s terrible.' });
    expect(negated.matched).toEqual([
      { word: 'good', weight: -0.3, negated: true },
      { word: 'terrible', weight: -0.9, negated: false },
    ]);
    expect(negated).toMatchObject({ score: -0.6, label: 'negative' });

    expect(await call(client, 'sentiment', { text: 'The meeting is at noon.' })).toEqual({
      score: 0,
      label: 'neutral',
      wordCount: 5,
      matched: [],
    });
    expect(await callError(client, 'sentiment', { text: 'a'.repeat(10_001) })).toMatch(
      /Input validation error/,
    );
  });

  it('edu describe_numbers computes the summary statistics', async () => {
    const { client } = await connect('edu');
    const four = await call(client, 'describe_numbers', { values: [4, 1, 3, 2] });
    expect(four).toMatchObject({ count: 4, mean: 2.5, median: 2.5, min: 1, max: 4 });
    expect(four.stddev).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(four.p95).toBeCloseTo(3.85, 12);

    const hundred = await call(client, 'describe_numbers', {
      values: Array.from({ length: 100 }, (_, i) => i + 1),
    });
    expect(hundred).toMatchObject({ count: 100, mean: 50.5, median: 50.5, min: 1, max: 100 });
    expect(hundred.p95).toBeCloseTo(95.05, 10);
    expect(hundred.stddev).toBeCloseTo(29.011491975882016, 10);

    expect(await call(client, 'describe_numbers', { values: [7] })).toEqual({
      count: 1,
      mean: 7,
      median: 7,
      stddev: null,
      min: 7,
      max: 7,
      p95: 7,
    });
    expect(await callError(client, 'describe_numbers', { values: [] })).toMatch(/Input validation error/);
    expect(await callError(client, 'describe_numbers', { values: [1, 'two'] })).toMatch(
      /Input validation error/,
    );
  });

  it('edu train_toy_model fits a line and reports progress for every step', async () => {
    const { client } = await connect('edu');
    const points = Array.from({ length: 10 }, (_, x) => [x, 2 * x + 1]);
    const progress: { progress: number; total?: number; message?: string }[] = [];
    const result = await client.callTool(
      { name: 'train_toy_model', arguments: { points, steps: 200 } },
      { onprogress: (p) => progress.push(p) },
    );
    const model = result.structuredContent as {
      a: number;
      b: number;
      loss: number;
      initialLoss: number;
      steps: number;
    };
    expect(model.a).toBeCloseTo(2, 6);
    expect(model.b).toBeCloseTo(1, 6);
    expect(model.loss).toBeLessThan(1e-12);
    // Training starts from the flat line at the mean of y, whose loss is the variance of y.
    expect(model.initialLoss).toBeCloseTo(33, 10);
    expect(model.steps).toBe(200);
    expect(progress.map((p) => p.progress)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(progress.every((p) => p.total === 200)).toBe(true);
    expect(progress[0]?.message).toMatch(/^step 1\/200: loss /);

    expect(await callError(client, 'train_toy_model', { points: [[0, 1]], steps: 5 })).toMatch(
      /Input validation error/,
    );
    expect(await callError(client, 'train_toy_model', { points, steps: 201 })).toMatch(
      /Input validation error/,
    );
  });

  it('edu train_toy_model stops when the call is aborted', async () => {
    const { client, sent } = await connect('edu');
    const abort = new AbortController();
    let seen = 0;
    const before = sent.length;
    const started = Date.now();
    const pending = client.callTool(
      {
        name: 'train_toy_model',
        arguments: {
          points: [
            [0, 0],
            [1, 1],
            [2, 2],
          ],
          steps: 200,
        },
      },
      {
        signal: abort.signal,
        onprogress: () => {
          if (++seen === 3) abort.abort();
        },
      },
    );
    await expect(pending).rejects.toThrow(/abort/i);
    expect(Date.now() - started).toBeLessThan(1000);
    // Give a still-running handler time for many more steps, then check the server fell silent: it
    // wrote the three progress notifications and nothing else (no further steps, no result).
    await new Promise((resolve) => setTimeout(resolve, 200));
    const written = sent.slice(before);
    expect(written).toHaveLength(3);
    expect(written.every((m) => 'method' in m && m.method === 'notifications/progress')).toBe(true);
    // The connection still serves.
    expect((await call(client, 'describe_numbers', { values: [1, 2, 3] })).mean).toBe(2);
  });

  it('gov lookup_dataset ranks the catalog; restricted_records answers with the aggregate', async () => {
    const { client } = await connect('gov');
    const air = await call(client, 'lookup_dataset', { query: 'air quality' });
    expect(air.results[0]).toMatchObject({ id: 'nv-air-quality-hourly', license: 'CC-BY-4.0' });
    expect(air.results[0]).not.toHaveProperty('aggregate');

    const water = await call(client, 'lookup_dataset', { query: 'water', limit: 1 });
    expect(water.total).toBe(2);
    expect(water.results.map((d: { id: string }) => d.id)).toEqual(['nv-river-water-quality']);
    const flood = await call(client, 'lookup_dataset', { query: 'Flood' });
    expect(flood.results[0].id).toBe('nv-flood-risk-zones');
    expect(await call(client, 'lookup_dataset', { query: 'zebra' })).toEqual({
      query: 'zebra',
      total: 0,
      results: [],
    });
    expect(await callError(client, 'lookup_dataset', { query: 'water', limit: 21 })).toMatch(
      /Input validation error/,
    );

    expect(await call(client, 'restricted_records', { datasetId: 'nv-census-2021-households' })).toEqual({
      datasetId: 'nv-census-2021-households',
      title: 'Population census 2021: households and age structure',
      publisher: 'Northvale Statistics Office',
      statistic: 'mean household size',
      value: 2.31,
      unit: 'persons',
      period: '2021',
      basedOnRecords: 1_284_506,
    });
    expect(await callError(client, 'restricted_records', { datasetId: 'nv-nope' })).toMatch(/nv-nope/);
  });

  it('ngo translate_term uses the glossary; unknown terms are tool errors', async () => {
    const { client } = await connect('ngo');
    expect(await call(client, 'translate_term', { term: 'water', to: 'sw' })).toEqual({
      term: 'water',
      to: 'sw',
      language: 'Swahili',
      translation: 'maji',
    });
    expect((await call(client, 'translate_term', { term: '  First   Aid ', to: 'fr' })).translation).toBe(
      'premiers secours',
    );
    expect((await call(client, 'translate_term', { term: 'vaccine', to: 'ar' })).translation).toBe('لقاح');
    expect(await callError(client, 'translate_term', { term: 'spaceship', to: 'es' })).toMatch(/"spaceship"/);
    expect(await callError(client, 'translate_term', { term: 'toString', to: 'es' })).toMatch(/"toString"/);
    expect(await callError(client, 'translate_term', { term: 'water', to: 'de' })).toMatch(
      /Input validation error/,
    );

    const languages = await call(client, 'list_languages', {});
    expect(languages.languages.map((l: { code: string }) => l.code)).toEqual(['fr', 'es', 'sw', 'ar']);
    expect(languages.terms).toHaveLength(25);
    expect(languages.terms).toContain('shelter');
  });

  it('pub search_catalog finds books by author, subject and ISBN', async () => {
    const { client } = await connect('pub');
    const bronte = await call(client, 'search_catalog', { query: 'Bronte' });
    expect(bronte.results.map((b: { title: string }) => b.title).sort()).toEqual([
      'Jane Eyre',
      'Wuthering Heights',
    ]);
    const scifi = await call(client, 'search_catalog', { query: 'science fiction', limit: 2 });
    expect(scifi.results.map((b: { title: string }) => b.title).sort()).toEqual([
      'Frankenstein',
      'The Time Machine',
    ]);
    const byIsbn = await call(client, 'search_catalog', { query: '978-0-14-143947-1' });
    expect(byIsbn.results[0]).toMatchObject({ title: 'Frankenstein', author: 'Mary Shelley', year: 1818 });
    expect((await call(client, 'search_catalog', { query: 'cholera' })).results[0].title).toBe(
      'The Ghost Map',
    );
    expect(await callError(client, 'search_catalog', { query: '' })).toMatch(/Input validation error/);
  });

  it('the library holds books with valid ISBN-13s', () => {
    expect(LIBRARY_BOOKS.length).toBeGreaterThanOrEqual(15);
    for (const { isbn } of LIBRARY_BOOKS) {
      const sum = [...isbn].reduce((acc, d, i) => acc + Number(d) * (i % 2 === 0 ? 1 : 3), 0);
      expect(isbn, isbn).toMatch(/^97[89]\d{10}$/);
      expect(sum % 10, isbn).toBe(0);
    }
  });
});

describe('bin/demo-mcp.js', () => {
  it('serves an organization over stdio', async () => {
    const client = new Client({ name: 'fmp-test', version: '0.1.0' });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'ngo'],
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await client.connect(transport);
    open.push(client);
    expect(client.getServerVersion()).toMatchObject({ name: 'fmp-demo-ngo' });
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([
      'list_languages',
      'translate_term',
    ]);
    expect((await call(client, 'translate_term', { term: 'shelter', to: 'es' })).translation).toBe('refugio');
    expect(stderr).toBe('');
  });

  it('refuses an unknown organization with exit code 2 and nothing on stdout', () => {
    const run = spawnSync(process.execPath, [BIN, 'acme'], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/usage: demo-mcp <org>/);
  });
});
