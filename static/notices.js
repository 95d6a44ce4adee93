// How serious each notice kind is, for its style: an `error` (the log cannot be followed now: Redis away, its
// host stopped, a file unreadable, the server stopping, access revoked), a `warning` (lines were or may be
// lost or skipped: gap, truncated, missing) or `info` (the log goes on: rotated, appeared, back again).

const SEVERITY = Object.freeze({
  unreachable: "error",
  host_down: "error",
  unreadable: "error",
  shutdown: "error",
  revoked: "error",
  gap: "warning",
  truncated: "warning",
  missing: "warning",
  rotated: "info",
  appeared: "info",
  reconnected: "info",
  host_up: "info",
});

/** "error", "warning" or "info" for a notice kind (info for a kind this page does not know). */
export function severityOf(kind) {
  return Object.hasOwn(SEVERITY, kind) ? SEVERITY[kind] : "info";
}
