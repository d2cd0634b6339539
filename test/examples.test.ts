import { describe, expect, it } from 'vitest';
import { main as issueAndVerify } from '../examples/issue-and-verify.js';

describe('examples', () => {
  it('issue-and-verify: verifies, then fails after revocation', async () => {
    expect(await issueAndVerify()).toEqual({ before: true, after: false });
  });
});
