/**
 * The rooms held in memory. Each room loads once however many connections
 * race for it, and leaves memory only after its last connection left, a
 * grace period passed, and its last write is durable.
 */
import { Room, type RoomConnection, type RoomOptions } from './room.js'
import type { DocStore } from '../storage/store.js'
import { CloseCode } from '../protocol/errors.js'

/** Registry behaviour that comes from configuration. */
export interface RegistryOptions extends RoomOptions {
  /** How long an empty room stays loaded, in case someone comes back. */
  readonly unloadGraceMs: number
  /** Most rooms held in memory at once; joining another fails with `RoomLimitError`. */
  readonly maxRooms: number
}

/** Thrown by `join` when `maxRooms` rooms are loaded already. */
export class RoomLimitError extends Error {
  override readonly name = 'RoomLimitError'
}

/** Thrown by `join` once the registry is closing. */
export class RegistryClosedError extends Error {
  override readonly name = 'RegistryClosedError'
}

/** Loads, shares and unloads rooms. One per relay; no state outside the instance. */
export class RoomRegistry {
  private readonly rooms = new Map<string, Room>()
  private readonly loading = new Map<string, Promise<Room>>()
  private readonly unloading = new Map<string, Promise<void>>()
  private readonly unloadTimers = new Map<Room, NodeJS.Timeout>()
  private closed = false

  constructor (private readonly store: DocStore, private readonly options: RegistryOptions) {}

  /** Rooms currently in memory. */
  get size (): number {
    return this.rooms.size
  }

  /** The loaded room of that name, if any. */
  get (name: string): Room | undefined {
    return this.rooms.get(name)
  }

  /**
   * Adds `connection` to the room `name`, loading the room first if needed.
   * Rejects with `CorruptDocumentError` when the stored document is damaged,
   * `RoomLimitError` at the room limit, `RegistryClosedError` during
   * shutdown, or the store's error.
   */
  async join (name: string, connection: RoomConnection): Promise<Room> {
    const room = await this.acquire(name)
    const timer = this.unloadTimers.get(room)
    if (timer) {
      clearTimeout(timer)
      this.unloadTimers.delete(room)
    }
    room.join(connection)
    return room
  }

  /** Removes `connection` from `room`; an empty room unloads after the grace period. */
  leave (room: Room, connection: RoomConnection): void {
    room.leave(connection)
    if (room.size > 0 || this.rooms.get(room.name) !== room || this.unloadTimers.has(room)) return
    const timer = setTimeout(() => {
      this.unloadTimers.delete(room)
      if (room.size === 0) void this.unload(room)
    }, this.options.unloadGraceMs)
    timer.unref()
    this.unloadTimers.set(room, timer)
  }

  /** Saves every room, closes every connection with 1012 (service restart) and empties the registry. */
  async close (): Promise<void> {
    this.closed = true
    for (const timer of this.unloadTimers.values()) clearTimeout(timer)
    this.unloadTimers.clear()
    await Promise.allSettled(this.loading.values())
    await Promise.all([...this.rooms.values()].map((room) => this.unload(room)))
    await Promise.all(this.unloading.values())
  }

  private async acquire (name: string): Promise<Room> {
    for (;;) {
      if (this.closed) throw new RegistryClosedError('the server is shutting down')
      const loaded = this.rooms.get(name)
      if (loaded) return loaded
      const loading = this.loading.get(name)
      if (loading) return await loading
      const unloading = this.unloading.get(name)
      if (!unloading) break
      await unloading
    }
    if (this.rooms.size + this.loading.size >= this.options.maxRooms) {
      throw new RoomLimitError(`${this.options.maxRooms} documents are open; try again later`)
    }
    const load = this.load(name)
    this.loading.set(name, load)
    try {
      return await load
    } finally {
      this.loading.delete(name)
    }
  }

  private async load (name: string): Promise<Room> {
    const stored = await this.store.load(name)
    const room = new Room(name, this.store, stored, this.options, (failed) => this.forget(failed))
    this.rooms.set(name, room)
    return room
  }

  private async unload (room: Room): Promise<void> {
    if (this.rooms.get(room.name) !== room) return
    this.rooms.delete(room.name)
    const done = (async () => {
      await room.compact()
      await room.whenDurable()
      room.destroy(CloseCode.serviceRestart, 'server shutting down')
    })()
    this.unloading.set(room.name, done)
    try {
      await done
    } finally {
      this.unloading.delete(room.name)
    }
  }

  private forget (room: Room): void {
    if (this.rooms.get(room.name) === room) this.rooms.delete(room.name)
    const timer = this.unloadTimers.get(room)
    if (timer) clearTimeout(timer)
    this.unloadTimers.delete(room)
  }
}
