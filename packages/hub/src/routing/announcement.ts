/**
 * Reachability announcements exchanged by peer hubs (docs/routing.md). A route names a mesh, the
 * hub path to it as seen by the receiver (first element: the announcing hub, last: the hub the
 * mesh is attached to) and the latency the announcer measured along that path.
 */
import { capabilitySchema, didSchema, MAX_HOPS, regionCodeSchema, trustScoreSchema } from '@fmp/core';
import { z } from 'zod';

/** Most entries in one announcement frame; larger tables are sent in several frames (splitAnnouncement). */
export const MAX_ANNOUNCEMENT_ENTRIES = 1024;
/** Latency ceiling (one day) so sums stay exact and absurd values are refused at the boundary. */
export const MAX_ROUTE_LATENCY_MS = 86_400_000;

/** What discovery shows of a mesh behind a peer, as its home hub saw it at authentication. */
export const meshInfoSchema = z.strictObject({
  region: regionCodeSchema,
  capabilities: z.array(capabilitySchema).max(64),
  trustScore: trustScoreSchema,
  /** The complianceCertifications of its credential (for the parties' compliance checks). */
  certifications: z.array(z.string().min(1).max(64)).max(64).optional(),
});
export type MeshInfo = z.infer<typeof meshInfoSchema>;

export const meshRouteSchema = z
  .strictObject({
    meshId: didSchema,
    path: z.array(didSchema).min(1).max(MAX_HOPS),
    latencyMs: z.number().min(0).max(MAX_ROUTE_LATENCY_MS),
    /**
     * The region of each hub of `path`, in the same order: compliance-aware routing picks a path
     * whose hubs all lie where a message may go (geographicRestrictions). Absent: unknown regions.
     */
    regions: z.array(regionCodeSchema).min(1).max(MAX_HOPS).optional(),
    /** Discovery data (absent for hubs as destinations); not used for route selection. */
    info: meshInfoSchema.optional(),
  })
  .refine((r) => r.regions === undefined || r.regions.length === r.path.length, {
    message: 'regions must name the region of each hub of path',
  });
export type MeshRoute = z.infer<typeof meshRouteSchema>;

export const routeAnnouncementSchema = z.strictObject({
  meshes: z.array(meshRouteSchema).max(MAX_ANNOUNCEMENT_ENTRIES),
  withdrawn: z.array(didSchema).max(MAX_ANNOUNCEMENT_ENTRIES),
});
export type RouteAnnouncement = z.infer<typeof routeAnnouncementSchema>;

/** Splits an announcement into pieces that each fit the frame limit; withdrawals go first. */
export function splitAnnouncement(
  announcement: RouteAnnouncement,
  maxEntries: number = MAX_ANNOUNCEMENT_ENTRIES,
): RouteAnnouncement[] {
  const out: RouteAnnouncement[] = [];
  for (let i = 0; i < announcement.withdrawn.length; i += maxEntries) {
    out.push({ meshes: [], withdrawn: announcement.withdrawn.slice(i, i + maxEntries) });
  }
  for (let i = 0; i < announcement.meshes.length; i += maxEntries) {
    out.push({ meshes: announcement.meshes.slice(i, i + maxEntries), withdrawn: [] });
  }
  return out;
}
