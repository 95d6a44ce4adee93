// The status badge while a shipped log's Redis is away. The stream itself stays open (the node is up), so
// the EventSource says "live"; the node's `unreachable` notice (sent at once to a client that connects
// during an outage) and its `reconnected` notice say what the badge must: "Redis unreachable" until then.

export class OutageBadge {
  /** @param {(kind: string, text: string) => void} show  sets the badge's state and text */
  constructor(show) {
    this.show = show;
    this.away = new Set(); // logs whose source is unreachable, as the notices of this connection say
    this.kind = "idle";
    this.text = "idle";
  }

  /** The connection's own state: a new connection hears of an outage again, at once. */
  status(kind, text) {
    this.kind = kind;
    this.text = text;
    if (kind !== "live") this.away.clear();
    this.render();
  }

  /** A notice of the stream: {kind, log}. */
  notice(data) {
    const log = String(data?.log ?? "");
    if (data?.kind === "unreachable") this.away.add(log);
    else if (data?.kind === "reconnected") this.away.delete(log);
    else return;
    this.render();
  }

  render() {
    if (this.kind === "live" && this.away.size > 0) this.show("unreachable", "Redis unreachable");
    else this.show(this.kind, this.text);
  }
}
