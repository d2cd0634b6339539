import { describe, expect, it } from 'vitest';
import { main as federate } from '../examples/federate.js';
import { main as issueAndVerify } from '../examples/issue-and-verify.js';
import { main as mcpFederation } from '../examples/mcp-federation.js';

describe('examples', () => {
  it('issue-and-verify: verifies, then fails after revocation', async () => {
    expect(await issueAndVerify()).toEqual({ before: true, after: false });
  });

  it('federate: a task crosses a real hub and the partner answers', async () => {
    const { federationId, answer } = await federate();
    expect(federationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer).toMatchObject({ label: 'class B' });
  });

  it("mcp-federation: an MCP client at ACME calls MIT's tool through the federation", async () => {
    const { tools, words } = await mcpFederation();
    expect(tools).toEqual(['mit-001__word_count']);
    expect(words).toEqual({ words: 5 });
  });
});
