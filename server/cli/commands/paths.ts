/** `/v1/rollouts/<id>` with the id escaped, so a typo never turns into another route. */
export function rolloutPath(id: string): string {
  return `/v1/rollouts/${encodeURIComponent(id)}`;
}
