/** Serves a demo organization's MCP server on stdio (`demo-mcp.js <org>`, or its bundle). */
import { main } from './main.js';

const code = main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
