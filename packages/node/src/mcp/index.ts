export {
  describeFailure,
  type ExplanationRecord,
  type McpAccessRule,
  McpBridge,
  type McpBridgeOptions,
  type RemoteCallOptions,
  type RemoteCallResult,
  type RemoteTool,
} from './bridge.js';
export { writeResponse as writeMcpResponse } from './http-response.js';
export { exposedToolName, partnerAliases } from './names.js';
export {
  type Agent,
  type Catalog,
  type CatalogTool,
  MCP_MESSAGE_TYPES,
  TASK_ERROR_CODES,
  type TaskErrorCode,
} from './protocol.js';
export {
  createFederatedToolsServer,
  type FederatedToolsServerOptions,
  type FederatedToolsStdioOptions,
  MAX_BODY_BYTES as MAX_MCP_BODY_BYTES,
  McpHttpEndpoint,
  type McpHttpEndpointOptions,
  type McpIncoming,
  META_KEYS,
  serveFederatedToolsStdio,
  toolError,
} from './server.js';
export {
  type CallOptions,
  TaskFailure,
  UpstreamPool,
  type UpstreamPoolOptions,
  type UpstreamServerConfig,
  type UpstreamTool,
  upstreamServerSchema,
} from './upstream.js';
