import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../wire/errors.js';
import { runHandshakeInMemory } from './in-memory.js';
import { ACME, MIT, makeWorld, START } from './test-fixtures.js';

describe('runHandshakeInMemory', () => {
  it('establishes matching sessions on both ends', async () => {
    const w = makeWorld();
    const { source, target, federation } = await runHandshakeInMemory(
      { initiator: w.initiator, coordinator: w.hub, responder: w.responder },
      START,
    );
    expect(Buffer.from(source.sendKey)).toEqual(Buffer.from(target.receiveKey));
    expect(federation).toMatchObject({ sourceMeshId: ACME, targetMeshId: MIT });
    expect(w.hub.pendingCount).toBe(0);
  });

  it("ends with the target's reject code when it declines, and clears the hub", async () => {
    const w = makeWorld();
    w.consent = () => ({ accept: false, reason: 'not today' });
    const attempt = runHandshakeInMemory(
      { initiator: w.initiator, coordinator: w.hub, responder: w.responder },
      START,
    );
    await expect(attempt).rejects.toBeInstanceOf(ProtocolError);
    await expect(attempt).rejects.toMatchObject({ wireCode: 'handshake_rejected' });
    expect(w.hub.pendingCount).toBe(0);
  });
});
