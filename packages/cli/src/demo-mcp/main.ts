/**
 * `node packages/cli/bin/demo-mcp.js <org>`: serves one demo organization's MCP server on stdio. Stdout
 * carries only the MCP protocol, so everything else goes to stderr. Imports nothing from the rest of
 * the CLI, to start fast.
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { createDemoMcpServer, DEMO_ORGS, isDemoOrg } from './servers.js';

/** Starts serving and returns undefined, or returns the exit code of a usage error. */
export function main(argv: string[]): number | undefined {
  const [org, ...rest] = argv;
  if (org === undefined || !isDemoOrg(org) || rest.length > 0) {
    process.stderr.write(
      `usage: demo-mcp <org>  (org: ${DEMO_ORGS.join(', ')}; got ${JSON.stringify(argv)})\n`,
    );
    return 2;
  }
  // The process ends when the client closes stdin: the transport closes and nothing else holds it open.
  serveStdio(() => createDemoMcpServer(org), {
    onerror: (err) => process.stderr.write(`fmp-demo-${org}: ${err.message}\n`),
  });
  return undefined;
}
