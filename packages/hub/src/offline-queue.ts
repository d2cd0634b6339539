/**
 * Messages held for a target mesh that is not connected: bounded per mesh and in total, each with
 * a deadline. What expires is returned to the caller, which sends `unreachable` to the source:
 * nothing is dropped silently.
 */
import type { Envelope } from '@fmp/core';

export interface QueuedMessage {
  readonly envelope: Envelope;
  readonly frame: string;
  readonly enqueuedAt: number;
  readonly deadline: number;
}

export type EnqueueResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'mesh_full' | 'hub_full' };

export class OfflineQueue {
  private readonly byMesh = new Map<string, QueuedMessage[]>();
  private total = 0;

  constructor(
    readonly maxPerMesh: number,
    readonly maxTotal: number,
  ) {}

  get size(): number {
    return this.total;
  }

  sizeFor(meshId: string): number {
    return this.byMesh.get(meshId)?.length ?? 0;
  }

  push(meshId: string, message: QueuedMessage): EnqueueResult {
    if (this.total >= this.maxTotal) return { ok: false, reason: 'hub_full' };
    const list = this.byMesh.get(meshId) ?? [];
    if (list.length >= this.maxPerMesh) return { ok: false, reason: 'mesh_full' };
    list.push(message);
    this.byMesh.set(meshId, list);
    this.total++;
    return { ok: true };
  }

  /** Removes and returns everything queued for the mesh, oldest first. */
  take(meshId: string): QueuedMessage[] {
    const list = this.byMesh.get(meshId) ?? [];
    this.byMesh.delete(meshId);
    this.total -= list.length;
    return list;
  }

  /** Removes and returns the messages whose deadline has passed. */
  expire(now: number): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    for (const [meshId, list] of this.byMesh) {
      const keep = list.filter((m) => {
        if (m.deadline > now) return true;
        out.push(m);
        return false;
      });
      if (keep.length === 0) this.byMesh.delete(meshId);
      else this.byMesh.set(meshId, keep);
    }
    this.total -= out.length;
    return out;
  }

  clear(): QueuedMessage[] {
    const all = [...this.byMesh.values()].flat();
    this.byMesh.clear();
    this.total = 0;
    return all;
  }
}
