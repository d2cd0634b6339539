/**
 * Drives the three roles through every phase in one process, with no transport between them.
 * Used by the demo, the benchmarks and tests; a networked hub passes the same messages over
 * WebSocket instead. A target that declines ends in a ProtocolError with its reject code.
 */
import { ProtocolError } from '../wire/errors.js';
import type { Session } from './common.js';
import type { FederationRecord, HandshakeCoordinator } from './coordinator.js';
import type { HandshakeInitiator, StartOptions } from './initiator.js';
import type { HandshakeResponder } from './responder.js';

export interface InMemoryHandshakeResult {
  readonly source: Session;
  readonly target: Session;
  readonly federation: FederationRecord;
}

export async function runHandshakeInMemory(
  parties: {
    initiator: HandshakeInitiator;
    coordinator: HandshakeCoordinator;
    responder: HandshakeResponder;
  },
  start: StartOptions,
): Promise<InMemoryHandshakeResult> {
  const { initiator, coordinator, responder } = parties;
  const challenge = coordinator.onInitiate(initiator.start(start));
  const request = await coordinator.onResponse(await initiator.onChallenge(challenge));
  const answer = await responder.onRequest(request);
  if (answer.type !== 'FederationAccept') {
    coordinator.onReject(answer, 'responder');
    throw new ProtocolError(answer.code, `${start.targetMeshId} declined: ${answer.reason}`);
  }
  const { session, confirm } = await initiator.onEstablished(await coordinator.onAccept(answer));
  const { confirm: relayed, federation } = coordinator.onConfirm(confirm);
  return { source: session, target: responder.onConfirm(relayed), federation };
}
