#!/usr/bin/env node
// Serves a demo organization's MCP server on stdio (`demo-mcp.js <org>`), through tsx's loader like fmp.js.
import { register } from 'tsx/esm/api';

register();
await import('../src/demo-mcp/run.ts');
