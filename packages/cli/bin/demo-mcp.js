#!/usr/bin/env node
// Serves a demo organization's MCP server on stdio (`demo-mcp.js <org>`), through tsx's loader like fmp.js.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/demo-mcp/main.ts');
const code = main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
