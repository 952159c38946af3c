/**
 * Who is present in a room: the awareness states of its connections, which
 * connection owns which client id, and what each may present. No I/O: the
 * room sends what `apply` and `remove` return.
 */
import { ProtocolError } from '../protocol/errors.js'
import type { AwarenessEntry } from '../protocol/awareness.js'

/** Limits of a room's presence; fields as in `Config`. */
export interface PresenceLimits {
  /** Client ids one owner may introduce. */
  readonly maxAwarenessClientsPerConnection: number
  /** Bytes of one state's JSON. */
  readonly maxAwarenessStateBytes: number
  /** Bytes of every present state's JSON together. */
  readonly maxAwarenessBytesPerRoom: number
}

/** What a presence change accepted, and whether it differs from what the owner sent. */
export interface PresenceChange {
  /** The entries others should hear, in the order received. */
  readonly accepted: AwarenessEntry[]
  /** True when `accepted` is exactly what was sent: the raw message may be forwarded as it is. */
  readonly verbatim: boolean
}

interface PresenceEntry<Owner> {
  clock: number
  state: string | null
  /** UTF-8 bytes of `state`. */
  bytes: number
  readonly owner: Owner
}

/** Departed client ids a room remembers to tell echoes from returns. */
const maxDepartedClients = 1000

/** Colours as y-codemirror.next writes them into cursor styles: `#rgb`, `#rrggbb` or with alpha. */
const cssColor = /^#[0-9a-fA-F]{3,8}$/

/**
 * The presence of one room. `Owner` is whatever identifies a connection;
 * `nameOf` gives the display name its token fixes (null lets the client choose).
 */
export class Presence<Owner> {
  private readonly entries = new Map<number, PresenceEntry<Owner>>()
  /**
   * The last clock of client ids whose owner left, oldest first. Other
   * clients echo what they heard, so a state at or below that clock is an
   * echo, not the client coming back, and must not claim its id.
   */
  private readonly departed = new Map<number, number>()
  /** Bytes of the JSON of every present state. */
  private bytes = 0

  constructor (private readonly limits: PresenceLimits, private readonly nameOf: (owner: Owner) => string | null) {}

  /** Bytes of every present state together. */
  get totalBytes (): number {
    return this.bytes
  }

  /**
   * Applies an awareness update from `owner`. Entries for ids another owner
   * holds, removals of absent ids, echoes of departed ids and stale clocks
   * are ignored. Throws `ProtocolError` ('policy') when `owner` would hold
   * more ids than allowed, or ('too-large') for a state past the byte limits;
   * the entries before the offending one stay applied, and the caller closes
   * the owner, which removes them. A `trusted` owner (another process, which
   * checked its own clients) is held to no limit.
   */
  apply (owner: Owner, update: readonly AwarenessEntry[], trusted = false): PresenceChange {
    const accepted: AwarenessEntry[] = []
    let verbatim = true
    for (const entry of update) {
      const current = this.entries.get(entry.clientId)
      if (current && current.owner !== owner) { verbatim = false; continue }
      // The stock client passes on every removal it hears. Removing someone who is not
      // here changes nothing, and must not claim their id: their own state, when they
      // come back, would be ignored, and the echoes would count against this owner's limit.
      if (!current && entry.state === null) { verbatim = false; continue }
      if (!current && entry.clock <= (this.departed.get(entry.clientId) ?? -1)) { verbatim = false; continue }
      if (current && !(current.clock < entry.clock || (current.clock === entry.clock && entry.state === null && current.state !== null))) {
        verbatim = false
        continue
      }
      const state = entry.state === null ? null : presentableState(entry.state, entry.value, this.nameOf(owner))
      const size = state === null ? 0 : Buffer.byteLength(state)
      if (!trusted && size > this.limits.maxAwarenessStateBytes) {
        throw new ProtocolError('too-large', `a presence state may hold at most ${this.limits.maxAwarenessStateBytes} bytes`)
      }
      const growth = size - (current?.bytes ?? 0)
      if (!trusted && growth > 0 && this.bytes + growth > this.limits.maxAwarenessBytesPerRoom) {
        throw new ProtocolError('too-large', `the presence of everyone in a document may hold at most ${this.limits.maxAwarenessBytesPerRoom} bytes`)
      }
      if (current) {
        current.clock = entry.clock
        current.state = state
        current.bytes = size
      } else {
        if (!trusted && this.countOwned(owner) >= this.limits.maxAwarenessClientsPerConnection) {
          throw new ProtocolError('policy', `a connection may present at most ${this.limits.maxAwarenessClientsPerConnection} awareness client ids`)
        }
        this.entries.set(entry.clientId, { clock: entry.clock, state, bytes: size, owner })
      }
      this.bytes += growth
      if (state !== entry.state) verbatim = false
      accepted.push({ clientId: entry.clientId, clock: entry.clock, state })
    }
    return { accepted, verbatim }
  }

  /** Forgets every id `owner` introduced; returns the removals others should hear (only for ids with a state). */
  remove (owner: Owner): AwarenessEntry[] {
    const removed: AwarenessEntry[] = []
    for (const [clientId, entry] of this.entries) {
      if (entry.owner !== owner) continue
      this.entries.delete(clientId)
      this.bytes -= entry.bytes
      this.departed.delete(clientId)
      this.departed.set(clientId, entry.clock)
      if (this.departed.size > maxDepartedClients) this.departed.delete(this.departed.keys().next().value as number)
      // Removal at the same clock is accepted by y-protocols, and lets the client
      // come back with its next clock without being taken for an old message.
      if (entry.state !== null) removed.push({ clientId, clock: entry.clock, state: null })
    }
    return removed
  }

  /** Every present state (ids whose state is not null), or those of the owners `include` picks. */
  present (include: (owner: Owner) => boolean = () => true): AwarenessEntry[] {
    const entries: AwarenessEntry[] = []
    for (const [clientId, entry] of this.entries) {
      if (entry.state !== null && include(entry.owner)) entries.push({ clientId, clock: entry.clock, state: entry.state })
    }
    return entries
  }

  private countOwned (owner: Owner): number {
    let count = 0
    for (const entry of this.entries.values()) if (entry.owner === owner) count++
    return count
  }
}

/**
 * The awareness state others may see: `user.name` set to `displayName` when
 * a token fixes it, and `user.color` / `user.colorLight` dropped unless they
 * are plain hex colours, since editors put them into style attributes.
 * Returns `json` itself when nothing changes.
 */
function presentableState (json: string, value: unknown, displayName: string | null): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return json
  try {
    return rewrittenState(json, value as Record<string, unknown>, displayName)
  } catch (err) {
    // JSON.stringify recurses: a state nested thousands deep cannot be rewritten.
    throw new ProtocolError('invalid-update', `presence state cannot be re-encoded: ${(err as Error).message}`)
  }
}

function rewrittenState (json: string, record: Record<string, unknown>, displayName: string | null): string {
  const user = record.user
  if (typeof user !== 'object' || user === null || Array.isArray(user)) {
    return displayName === null ? json : JSON.stringify({ ...record, user: { name: displayName } })
  }
  const fields = user as Record<string, unknown>
  const badColor = (key: string): boolean => key in fields && !(typeof fields[key] === 'string' && cssColor.test(fields[key] as string))
  const rename = displayName !== null && fields.name !== displayName
  if (!rename && !badColor('color') && !badColor('colorLight')) return json
  const cleaned: Record<string, unknown> = { ...fields }
  if (badColor('color')) delete cleaned.color
  if (badColor('colorLight')) delete cleaned.colorLight
  if (displayName !== null) cleaned.name = displayName
  return JSON.stringify({ ...record, user: cleaned })
}
